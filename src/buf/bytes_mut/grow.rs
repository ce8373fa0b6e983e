//! Growing a [`PooledBytesMut`]: reuse of its own region when it is the
//! only view (the room after it, or before it), else a larger class of the
//! same pool and one copy.
//!
//! ```text
//!  reserve(n) ─ fits ──▶ done
//!     │ unique: room after the view? ─▶ cap = region end
//!     │         room before, moving ≤ what it frees? ─▶ memmove to the start
//!     └ else: allocate max(needed, min(2·cap, chunk)) (past the chunk: 2·cap),
//!             copy, release the old view
//! ```

use super::*;

impl PooledBytesMut {
    /// Makes room for `additional` more bytes. Space freed at the front of
    /// the region (by `split_to`, `advance`) is reused first when this view
    /// is the region's only one, moving the bytes down if that is cheap
    /// enough (at most as many bytes as it frees); otherwise the contents
    /// move to a larger size class of the same pool (at least double, up to
    /// the chunk size, so repeated appends stay linear).
    ///
    /// # Panics
    /// On `len + additional > isize::MAX` ("capacity overflow", like
    /// `Vec::reserve`), and when the pool's `max_memory` refuses the growth:
    /// the message names `max_memory`, used and limit, and the panic
    /// unwinds (a tokio task dies, the server lives). Only a refusal by the
    /// OS aborts, as std does. [`try_reserve`](Self::try_reserve) reports
    /// instead; `io::Write` returns `ErrorKind::OutOfMemory`.
    #[inline]
    pub fn reserve(&mut self, additional: usize) {
        if additional > self.cap - self.len {
            if let Err(err) = self.grow_detached(additional) {
                alloc_failed(err);
            }
        }
    }

    /// Like [`reserve`](Self::reserve), but reports failure; the buffer is
    /// unchanged then.
    ///
    /// ```
    /// let pool = tidebuf::Pool::new();
    /// let mut buf = pool.alloc(16);
    /// assert!(buf.try_reserve(usize::MAX).is_err());
    /// assert!(buf.try_reserve(100).is_ok());
    /// assert!(buf.capacity() >= 100);
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), AllocError> {
        if additional <= self.cap - self.len {
            return Ok(());
        }
        self.grow_detached(additional)
    }

    /// [`grow`](Self::grow) through a copy of the four words, so that the
    /// caller's buffer never has its address taken on the inlined fast
    /// path: a buffer whose address reaches a call lives on the stack, and
    /// a buffer made in a function and returned by value is then copied out
    /// with wide loads of words just stored narrow — a store-forwarding
    /// stall that cost about 8 ns of a 17 ns make-and-drop. Kept in
    /// registers, it is returned with the stores that built it.
    #[inline(always)]
    fn grow_detached(&mut self, additional: usize) -> Result<(), AllocError> {
        let parts = grow_parts(self.parts(), additional)?;
        // The old view's reference was given up inside `grow_parts` (or
        // the region was reused): these words are the buffer now.
        (self.ptr, self.len, self.cap, self.tagged) = parts;
        Ok(())
    }

    /// Makes room for `additional` more bytes only by reusing this region
    /// (never allocating); `true` if there is room now. Like
    /// `BytesMut::try_reclaim`.
    pub fn try_reclaim(&mut self, additional: usize) -> bool {
        if additional <= self.cap - self.len {
            return true;
        }
        !self.holds_nothing() && self.reclaim(additional)
    }

    /// Reuses the region for `additional` more bytes if this view is its
    /// only one: first the room after the view, then, if moving the bytes
    /// down costs at most what it frees, the room before it.
    fn reclaim(&mut self, additional: usize) -> bool {
        if !self.is_unique() {
            return false;
        }
        let region = self.region_cap();
        let off = self.offset();
        let Some(needed) = self.len.checked_add(additional) else {
            return false;
        };
        if region - off >= needed {
            self.cap = region - off;
            return true;
        }
        if off >= self.len && region >= needed {
            let base = self.base();
            // SAFETY: both ranges lie in our region; they may overlap, so
            // `copy` (memmove).
            unsafe { ptr::copy(self.ptr.as_ptr(), base.as_ptr(), self.len) };
            self.ptr = base;
            self.cap = region;
            self.tagged = self.tagged.map_addr(|a| a & !MOVED);
            return true;
        }
        false
    }

    #[cold]
    fn grow(&mut self, additional: usize) -> Result<(), AllocError> {
        let needed = match self.len.checked_add(additional) {
            Some(n) if n <= isize::MAX as usize => n,
            _ => {
                return Err(AllocError {
                    requested: self.len.saturating_add(additional),
                    kind: AllocErrorKind::TooLarge,
                })
            }
        };
        if !self.holds_nothing() && self.reclaim(additional) {
            return Ok(());
        }
        let mut grown = {
            // A reference of our own to borrow the pool through (an empty
            // buffer's home, or the old region's, which the old view keeps
            // alive until `*self = grown` below; the grown region's chunk
            // keeps the pool alive after that).
            let pool = self.home();
            // Double, but do not leave the pooled range for a request that
            // fits in it; above it keep doubling, so appends stay linear.
            let chunk = pool.classes().chunk_size();
            let doubled = self.cap.saturating_mul(2);
            let target = if needed <= chunk {
                needed.max(doubled.min(chunk))
            } else {
                needed.max(doubled)
            };
            match pool.allocate(target) {
                Ok(grown) => PooledBytesMut::new(grown),
                // Near the cap, the doubled size may not fit where the exact
                // one does: try that before refusing.
                Err(AllocError {
                    kind: AllocErrorKind::OverLimit { .. },
                    ..
                }) if target > needed => PooledBytesMut::new(pool.allocate(needed)?),
                Err(err) => return Err(err),
            }
        };
        // SAFETY: the new buffer holds `target >= len` bytes; outstanding
        // regions never overlap.
        unsafe { ptr::copy_nonoverlapping(self.ptr.as_ptr(), grown.ptr.as_ptr(), self.len) };
        grown.len = self.len;
        *self = grown; // the old view drops: its reference goes
        Ok(())
    }
}

/// The buffer's four words, grown out of line. Ownership of the view moves
/// in with `parts` and out with the result; on an error the view is
/// unchanged and still the caller's.
#[cold]
#[inline(never)]
fn grow_parts(parts: Parts, additional: usize) -> Result<Parts, AllocError> {
    // SAFETY: `parts` are a live buffer's words (`PooledBytesMut::parts`),
    // and its owner (`grow_detached`) neither uses nor drops them until
    // this returns, then takes the result's words in their place. The
    // `ManuallyDrop` never releases anything itself: on success `grow` has
    // released the old view (`*self = grown`, its last step) and the new
    // words go back; on an error `grow` changed nothing and the old words
    // go back unchanged. `grow` reports failures as `Err`; the one panic
    // that can unwind through it is debug-checks' double-release report in
    // that last step, an already corrupt state.
    let mut this = ManuallyDrop::new(unsafe { PooledBytesMut::from_parts(parts) });
    this.grow(additional)?;
    Ok(this.parts())
}
