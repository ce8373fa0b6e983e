//! Cutting a [`PooledBytesMut`] into views of one region, joining them
//! again, and freezing: no copy, no allocation.
//!
//! ```text
//!  [ head │ self ]  split_to(at): head = [0, at), self keeps [at, cap)
//!  [ self │ tail ]  split_off(at): tail = [at, cap) (its room too)
//!  both views count in the region's slot (SHARED); unsplit undoes it in O(1)
//! ```

use super::*;

impl PooledBytesMut {
    /// Splits off `[at, capacity)` and returns it; `self` keeps `[0, at)`.
    /// No copy: both are views of one region.
    ///
    /// # Panics
    /// If `at > capacity()`, like `BytesMut::split_off`.
    #[must_use = "the tail is returned, not kept"]
    pub fn split_off(&mut self, at: usize) -> PooledBytesMut {
        assert!(
            at <= self.cap,
            "split_off out of bounds: {at} <= {}",
            self.cap
        );
        if at == 0 {
            let home = self.home();
            return std::mem::replace(self, PooledBytesMut::empty_in(Some(home)));
        }
        if at == self.cap {
            // Nothing to hand over: the tail holds no memory.
            return PooledBytesMut::empty_in(Some(self.home()));
        }
        // The tail may have no bytes yet, only room (`len <= at`): that
        // room is what it was asked for, as with `BytesMut`.
        let mut tail = self.share();
        tail.skip(at);
        self.cap = at;
        self.len = self.len.min(at);
        tail
    }

    /// Splits off `[0, at)` and returns it; `self` keeps `[at, len)` and the
    /// capacity after it. No copy: both are views of one region. A `self`
    /// left empty releases its reference.
    ///
    /// # Panics
    /// If `at > len()`, like `BytesMut::split_to`.
    #[must_use = "the head is returned, not kept"]
    pub fn split_to(&mut self, at: usize) -> PooledBytesMut {
        assert!(
            at <= self.len,
            "split_to out of bounds: {at} <= {}",
            self.len
        );
        if at == 0 {
            return PooledBytesMut::empty_in(Some(self.home()));
        }
        if at == self.len {
            // Everything goes: hand over the region itself, keep nothing.
            let home = self.home();
            let mut head = std::mem::replace(self, PooledBytesMut::empty_in(Some(home)));
            head.cap = head.len;
            return head;
        }
        let mut head = self.share();
        head.cap = at;
        head.len = at;
        self.skip(at);
        head
    }

    /// Removes the written bytes and returns them; `self` keeps nothing (it
    /// grows again in the same pool). `split_to(len())`.
    #[must_use = "the bytes are returned, not kept"]
    pub fn split(&mut self) -> PooledBytesMut {
        self.split_to(self.len)
    }

    /// Appends `other`: O(1) when `other` directly follows `self` in one
    /// region (a `split` undone), a copy otherwise.
    ///
    /// # Panics
    /// As [`reserve`](Self::reserve), when it must copy.
    pub fn unsplit(&mut self, other: PooledBytesMut) {
        if let Err(other) = self.try_unsplit(other) {
            self.extend_from_slice(&other);
        }
    }

    /// Appends `other` if that is O(1) — `other` directly follows `self` in
    /// one region, or one of them is empty — and gives it back otherwise.
    pub fn try_unsplit(&mut self, other: PooledBytesMut) -> Result<(), PooledBytesMut> {
        if other.is_empty() && other.capacity() == 0 {
            return Ok(());
        }
        if self.is_empty() && self.capacity() == 0 {
            *self = other;
            return Ok(());
        }
        let contiguous = self.bits() & other.bits() & SHARED != 0
            && self.chunk() == other.chunk()
            && self.base() == other.base()
            && self.len == self.cap
            // SAFETY: `len == cap`: one past the end of our view, in or at
            // the end of the region.
            && unsafe { self.ptr.add(self.len) } == other.ptr;
        if !contiguous {
            return Err(other);
        }
        self.len += other.len;
        self.cap += other.cap;
        // `other`'s reference goes; ours keeps the region.
        drop(other);
        Ok(())
    }

    /// Turns the buffer into a shared, read-only [`PooledBytes`] over the
    /// written bytes. No copy, no allocation. An empty buffer gives an
    /// empty `PooledBytes` that holds nothing.
    #[inline]
    pub fn freeze(self) -> PooledBytes {
        if self.len == 0 {
            return PooledBytes::default();
        }
        let this = ManuallyDrop::new(self);
        let refs = NonNull::from(this.refs());
        if this.bits() & SHARED == 0 {
            // We hold the region uniquely, so nobody else reads the slot now;
            // publishing to other threads goes through whatever sends the
            // `PooledBytes` (a channel, a join), which orders this store.
            this.refs().store(1, Relaxed);
        }
        // `this` is never dropped: its reference moves into the shared form.
        PooledBytes::from_view(this.region(), this.class(), refs, this.ptr, this.len)
    }

    /// The bytes as a `bytes::Bytes`, without copying (see `From`).
    pub fn into_bytes(self) -> bytes::Bytes {
        self.freeze().into()
    }

    /// A view of `region` at `ptr` with `len` bytes and room to the end of
    /// the region, sharing its count (from `PooledBytes::try_into_mut`).
    pub(crate) fn from_shared(
        region: Region,
        class: ClassIdx,
        ptr: NonNull<u8>,
        len: usize,
    ) -> PooledBytesMut {
        let off = ptr.as_ptr() as usize - region.ptr.as_ptr() as usize;
        let moved = if off > 0 { MOVED } else { 0 };
        let mut buf = PooledBytesMut {
            ptr,
            len,
            cap: len,
            tagged: region
                .chunk
                .as_ptr()
                .map_addr(|a| a | class as usize | SHARED | moved),
        };
        buf.cap = buf.region_cap() - off;
        buf
    }
}
