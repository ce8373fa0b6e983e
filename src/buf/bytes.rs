//! [`PooledBytes`]: a shared, read-only view of a pooled region, a drop-in
//! for `bytes::Bytes`.

use super::bytes_mut::MAX_REFS;
use crate::chunk::ChunkHeader;
use crate::heap::Heap;
use crate::region::Region;
use crate::release::release;
use crate::size_class::ClassIdx;
use crate::sync::atomic::AtomicU32;
use crate::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::PooledBytesMut;
use std::ops::{Deref, RangeBounds};
use std::ptr::NonNull;
use std::slice;

/// The size class, in the low bits of `tagged` (the header is aligned
/// far beyond it).
const CLASS_MASK: usize = 0xFF;

/// A shared, read-only buffer from a [`Pool`](crate::Pool): cheap to clone
/// and slice (a reference count, no copy); the last reference dropped
/// returns the memory to the pool. A view of length 0 holds nothing.
///
/// ```
/// let pool = tidebuf::Pool::new();
/// let mut buf = pool.alloc(64);
/// buf.extend_from_slice(b"hello world");
/// let hello = buf.freeze();
/// let world = hello.slice(6..);
/// assert_eq!(world, "world");
/// assert_eq!(hello.ref_count(), 2);
/// let b: bytes::Bytes = world.into(); // zero-copy
/// assert_eq!(&b[..], b"world");
/// ```
///
/// Deliberate differences from `bytes::Bytes`: it is made by a pool
/// (`PooledBytesMut::freeze`, `Pool::copy_from_slice`), not from a static
/// or a `Vec`; a `bytes::Bytes` made from it is backed by its pooled owner
/// without a copy, so `Bytes::is_unique` is false for it and
/// `BytesMut::from(bytes)` copies.
pub struct PooledBytes {
    /// Start of this view.
    ptr: NonNull<u8>,
    /// Length of this view.
    len: usize,
    refs: NonNull<AtomicU32>,
    /// The chunk header with the size class in its low bits; null for a
    /// view that holds nothing. The region's start (what goes back to the
    /// pool) is derived from the header's page map when the last view goes,
    /// so the view is four words, like `PooledBytesMut`.
    tagged: *mut ChunkHeader,
}

// SAFETY: the bytes are immutable while shared; the reference count is
// atomic and the last holder, on whatever thread, returns the region.
unsafe impl Send for PooledBytes {}
// SAFETY: as above; `&PooledBytes` only reads.
unsafe impl Sync for PooledBytes {}

impl PooledBytes {
    /// Wraps the view `[ptr, ptr + len)` (`len > 0`) of a region of `class`
    /// whose reference count (at `refs`) already counts this view.
    pub(crate) fn from_view(
        region: Region,
        class: ClassIdx,
        refs: NonNull<AtomicU32>,
        ptr: NonNull<u8>,
        len: usize,
    ) -> PooledBytes {
        debug_assert!(len > 0);
        PooledBytes {
            ptr,
            len,
            refs,
            tagged: region.chunk.as_ptr().map_addr(|a| a | class as usize),
        }
    }

    /// An empty view that holds no memory (as `Default`).
    pub const fn new() -> PooledBytes {
        PooledBytes {
            ptr: NonNull::dangling(),
            len: 0,
            refs: NonNull::dangling(),
            tagged: std::ptr::null_mut(),
        }
    }

    /// Whether this view holds a reference to a region.
    #[inline]
    fn holds_region(&self) -> bool {
        !self.tagged.is_null()
    }

    #[inline]
    fn class(&self) -> ClassIdx {
        (self.tagged.addr() & CLASS_MASK) as ClassIdx
    }

    /// Bytes in this view.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the view is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// References to the underlying region (this one included); 0 for an
    /// empty view, which holds none. A snapshot: other threads may change
    /// it at any time.
    pub fn ref_count(&self) -> usize {
        match self.holds_region() {
            true => self.refs().load(Relaxed) as usize,
            false => 0,
        }
    }

    /// Whether this is the only reference to its region (so
    /// [`try_into_mut`](Self::try_into_mut) succeeds). False for an empty
    /// view, like an empty `Bytes`.
    pub fn is_unique(&self) -> bool {
        // Acquire: pairs with the Release decrements of views that went, so
        // their reads happen-before a `PooledBytesMut` writes again.
        self.holds_region() && self.refs().load(Acquire) == 1
    }

    /// Back to a writable [`PooledBytesMut`] without copying if this is the
    /// region's only reference (with room to the end of the region);
    /// otherwise `self` unchanged.
    pub fn try_into_mut(self) -> Result<PooledBytesMut, PooledBytes> {
        if !self.is_unique() {
            return Err(self);
        }
        let this = std::mem::ManuallyDrop::new(self);
        // The count (1) moves into the mutable view.
        Ok(PooledBytesMut::from_shared(
            this.region(),
            this.class(),
            this.ptr,
            this.len,
        ))
    }

    /// The bytes as a `bytes::Bytes`, without copying (see `From`).
    pub fn into_bytes(self) -> bytes::Bytes {
        self.into()
    }

    #[inline]
    fn refs(&self) -> &AtomicU32 {
        debug_assert!(self.holds_region());
        // SAFETY: the slot is valid while the region is outstanding, which
        // it is while this reference lives.
        unsafe { self.refs.as_ref() }
    }

    /// The region (held views only): its start derived from `ptr`, which
    /// lies inside it (a held view has `len > 0`).
    fn region(&self) -> Region {
        debug_assert!(self.holds_region() && self.len > 0);
        // SAFETY: held: made from a non-null header pointer with only the
        // class added to its low bits.
        let chunk = unsafe { NonNull::new_unchecked(self.tagged.map_addr(|a| a & !CLASS_MASK)) };
        // SAFETY: the header outlives the region this view holds.
        let header = unsafe { chunk.as_ref() };
        let ptr = header.region_start(self.ptr, self.class(), Heap::of(header).classes());
        Region { ptr, chunk }
    }

    /// A view of `[start, end)` of this one (`start < end <= len`).
    fn subview(&self, start: usize, end: usize) -> PooledBytes {
        debug_assert!(start < end && end <= self.len);
        let mut view = self.clone();
        // SAFETY: `start < end <= len`, so the new view stays inside ours.
        view.ptr = unsafe { view.ptr.add(start) };
        view.len = end - start;
        view
    }

    /// A view of `range` (relative to this view) sharing the same memory;
    /// an empty range gives an empty view that holds nothing.
    ///
    /// # Panics
    /// If the range is out of bounds or decreasing, like slicing a `[u8]`
    /// (and like `bytes::Bytes::slice`).
    pub fn slice(&self, range: impl RangeBounds<usize>) -> PooledBytes {
        let (start, end) = super::bounds(range, self.len);
        if start == end {
            return PooledBytes::new();
        }
        self.subview(start, end)
    }

    /// The view of `subset`, which must lie inside this view (for example a
    /// slice of it found by a parser), sharing the same memory.
    ///
    /// # Panics
    /// If `subset` is not inside this view (an empty `subset` anywhere gives
    /// an empty view), like `bytes::Bytes::slice_ref`.
    pub fn slice_ref(&self, subset: &[u8]) -> PooledBytes {
        if subset.is_empty() {
            return PooledBytes::new();
        }
        let (sub, me) = (subset.as_ptr() as usize, self.ptr.as_ptr() as usize);
        assert!(
            sub >= me,
            "subset pointer ({:p}) is smaller than self pointer ({:p})",
            subset.as_ptr(),
            self.ptr,
        );
        let start = sub - me;
        assert!(
            start + subset.len() <= self.len,
            "subset is out of bounds: self = ({:p}, {}), subset = ({:p}, {})",
            self.ptr,
            self.len,
            subset.as_ptr(),
            subset.len(),
        );
        self.subview(start, start + subset.len())
    }

    /// Keeps the first `len` bytes (no effect if `len >= self.len()`);
    /// truncated to 0, the view releases its reference.
    pub fn truncate(&mut self, len: usize) {
        if len == 0 {
            *self = PooledBytes::new();
        } else if len < self.len {
            self.len = len;
        }
    }

    /// Empties the view and releases its reference.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Splits off `[at, len)` and returns it; `self` keeps `[0, at)`. Both
    /// share the memory; an empty side holds none.
    ///
    /// ```
    /// let pool = tidebuf::Pool::new();
    /// let mut buf = pool.alloc(16);
    /// buf.extend_from_slice(b"headbody");
    /// let mut head = buf.freeze();
    /// let body = head.split_off(4);
    /// assert_eq!((&head[..], &body[..]), (&b"head"[..], &b"body"[..]));
    /// ```
    ///
    /// # Panics
    /// If `at > len`, like `bytes::Bytes::split_off`.
    #[must_use = "the tail is returned, not kept"]
    pub fn split_off(&mut self, at: usize) -> PooledBytes {
        assert!(
            at <= self.len,
            "split_off out of bounds: {at} <= {}",
            self.len
        );
        if at == 0 {
            return std::mem::take(self);
        }
        let tail = self.slice(at..);
        self.len = at;
        tail
    }

    /// Splits off `[0, at)` and returns it; `self` keeps `[at, len)`. Both
    /// share the memory; an empty side holds none.
    ///
    /// # Panics
    /// If `at > len`, like `bytes::Bytes::split_to`.
    #[must_use = "the head is returned, not kept"]
    pub fn split_to(&mut self, at: usize) -> PooledBytes {
        assert!(
            at <= self.len,
            "split_to out of bounds: {at} <= {}",
            self.len
        );
        if at == self.len {
            return std::mem::take(self);
        }
        let head = self.slice(..at);
        // SAFETY: `at < len`: the view stays inside the region.
        self.ptr = unsafe { self.ptr.add(at) };
        self.len -= at;
        head
    }
}

impl Default for PooledBytes {
    /// An empty view that holds no memory.
    fn default() -> Self {
        PooledBytes::new()
    }
}

impl Clone for PooledBytes {
    #[inline]
    fn clone(&self) -> PooledBytes {
        if self.holds_region() {
            // Relaxed: a new reference is made from an existing one, which
            // already keeps the region alive (the `Arc` argument).
            let old = self.refs().fetch_add(1, Relaxed);
            if old >= MAX_REFS {
                #[cfg(feature = "debug-checks")]
                {
                    // Undo ours first: the panic unwinds, and the count
                    // must stay what the live references make it.
                    self.refs().fetch_sub(1, Relaxed);
                    panic!("tidebuf: reference count overflow ({old} references to one buffer)");
                }
                #[cfg(not(feature = "debug-checks"))]
                std::process::abort();
            }
        }
        // The count above records the extra holder; only the last one
        // releases the region.
        PooledBytes { ..*self }
    }
}

impl Drop for PooledBytes {
    #[inline]
    fn drop(&mut self) {
        if !self.holds_region() {
            return;
        }
        let old = self.refs().fetch_sub(1, Release);
        #[cfg(feature = "debug-checks")]
        assert!(
            old != 0,
            "tidebuf: double release (reference count was already 0)"
        );
        if old != 1 {
            return;
        }
        // Pairs with the other holders' Release decrements: their reads of
        // the bytes happen-before the region returns to the pool. A load, not
        // a fence, so thread sanitizers see the edge.
        self.refs().load(Acquire);
        // SAFETY: the count reached zero: we are the last holder and the
        // region moves out once.
        unsafe { release(self.region(), self.class()) };
    }
}

impl Deref for PooledBytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the view lies inside the written part of the region, which
        // is immutable while shared and alive while we hold a reference (an
        // empty view's pointer is dangling, non-null, with length 0).
        unsafe { slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl bytes::Buf for PooledBytes {
    #[inline]
    fn remaining(&self) -> usize {
        self.len
    }

    #[inline]
    fn chunk(&self) -> &[u8] {
        self
    }

    #[inline]
    fn advance(&mut self, cnt: usize) {
        assert!(
            cnt <= self.len,
            "cannot advance past `remaining`: {cnt} <= {}",
            self.len
        );
        if cnt == self.len {
            *self = PooledBytes::new();
            return;
        }
        // SAFETY: `cnt < len`, so the view stays inside the region.
        self.ptr = unsafe { self.ptr.add(cnt) };
        self.len -= cnt;
    }

    /// Zero-copy: the returned `Bytes` shares this region.
    fn copy_to_bytes(&mut self, len: usize) -> bytes::Bytes {
        self.split_to(len).into()
    }
}

impl From<PooledBytes> for bytes::Bytes {
    /// Zero-copy through `Bytes::from_owner`: the data stays in the pool and
    /// returns to it when the last `Bytes` clone is dropped. Boxes the owner
    /// (one small global allocation per conversion); an empty view gives
    /// `Bytes::new()`, with no allocation.
    fn from(buf: PooledBytes) -> bytes::Bytes {
        if buf.is_empty() {
            return bytes::Bytes::new();
        }
        bytes::Bytes::from_owner(buf)
    }
}
