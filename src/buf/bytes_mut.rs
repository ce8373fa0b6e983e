//! [`PooledBytesMut`]: a unique, growable, writable pooled buffer.

use crate::chunk::ChunkHeader;
use crate::error::{AllocError, AllocErrorKind};
use crate::pool::{alloc_failed, release};
use crate::region::Region;
use crate::size_class::ClassIdx;
use crate::sync::atomic::Ordering::Relaxed;
use crate::PooledBytes;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::{fmt, io, ptr, slice};

/// A unique, writable buffer from a [`Pool`](crate::Pool).
///
/// Derefs to the written bytes (`len`), with room for `capacity` (its size
/// class). Writing past the capacity moves the contents to a larger class of
/// the same pool. Dropping it returns the memory to the pool; [`freeze`]
/// turns it into a shareable [`PooledBytes`].
///
/// ```
/// use std::io::Write;
/// use bytes::BufMut;
/// let pool = tidebuf::Pool::new();
/// let mut buf = pool.alloc(10);
/// assert_eq!(buf.capacity(), 16);
/// buf.extend_from_slice(b"ab");
/// buf.put_u8(b'c');
/// write!(buf, "{}", 42).unwrap();
/// buf.extend_from_slice(&[b'x'; 20]); // grows to the 32 B class
/// assert_eq!(buf.capacity(), 32);
/// assert_eq!(&buf[..5], b"abc42");
/// ```
///
/// [`freeze`]: PooledBytesMut::freeze
pub struct PooledBytesMut {
    ptr: NonNull<u8>,
    chunk: NonNull<ChunkHeader>,
    len: usize,
    cap: usize,
    /// Size class, word-sized on purpose: the buffer is returned through
    /// memory, and a 1-byte store read back by the 8-byte copy of the
    /// struct's last word cannot be store-forwarded (a measured stall).
    class: usize,
}

// SAFETY: the buffer owns its region exclusively; releasing it from any
// thread is supported (the arena lock or the releasing thread's own state
// serialises the return).
unsafe impl Send for PooledBytesMut {}
// SAFETY: `&PooledBytesMut` only reads the bytes.
unsafe impl Sync for PooledBytesMut {}

impl PooledBytesMut {
    /// An empty buffer over `region` of size class `class` (capacity `cap`).
    #[inline]
    pub(crate) fn new(region: Region, class: ClassIdx, cap: usize) -> PooledBytesMut {
        PooledBytesMut {
            ptr: region.ptr,
            chunk: region.chunk,
            len: 0,
            cap,
            class: class as usize,
        }
    }

    /// The region, for release; the caller makes sure it happens once.
    #[inline]
    fn region(&self) -> Region {
        Region {
            ptr: self.ptr,
            chunk: self.chunk,
        }
    }

    /// Bytes written.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes that fit without growing: the size-class capacity.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Forgets the contents; keeps the capacity.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Keeps the first `len` bytes (no effect if `len >= self.len()`).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `data`, growing if needed (see [`reserve`](Self::reserve)).
    ///
    /// # Panics
    /// As [`reserve`](Self::reserve): on capacity overflow, and when
    /// `max_memory` refuses the growth.
    #[inline]
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.reserve(data.len());
        // SAFETY: `reserve` made `len + data.len() <= cap`; `data` cannot
        // overlap our region (we hold it uniquely and `data` is borrowed).
        unsafe {
            ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), data.len());
        }
        self.len += data.len();
    }

    /// Makes room for `additional` more bytes. If they do not fit, the
    /// contents move to a larger size class of the same pool (at least
    /// double, up to the chunk size, so repeated appends stay linear).
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
            if let Err(err) = self.grow(additional) {
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
        self.grow(additional)
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
        let mut grown = {
            // SAFETY: the header outlives our outstanding region. The borrow
            // ends in this block: the old region's release below may free
            // the pool.
            let pool = &unsafe { self.chunk.as_ref() }.pool;
            // Double, but do not leave the pooled range for a request that
            // fits in it; above it keep doubling, so appends stay linear.
            let chunk = pool.classes.chunk_size();
            let doubled = self.cap.saturating_mul(2);
            let target = if needed <= chunk {
                needed.max(doubled.min(chunk))
            } else {
                needed.max(doubled)
            };
            pool.allocate(target)?
        };
        // SAFETY: the new buffer holds `target >= len` bytes; outstanding
        // regions never overlap.
        unsafe { ptr::copy_nonoverlapping(self.ptr.as_ptr(), grown.ptr.as_ptr(), self.len) };
        grown.len = self.len;
        *self = grown; // the old buffer drops: its region goes back
        Ok(())
    }

    /// Turns the buffer into a shared, read-only [`PooledBytes`] over the
    /// written bytes. No copy, no allocation.
    #[inline]
    pub fn freeze(self) -> PooledBytes {
        let this = ManuallyDrop::new(self);
        // SAFETY: the header outlives our outstanding region.
        let header = unsafe { this.chunk.as_ref() };
        let refs = header.refs_slot(this.ptr, this.class as ClassIdx, &header.pool.classes);
        // We hold the region uniquely, so nobody else reads the slot now;
        // publishing to other threads goes through whatever sends the
        // `PooledBytes` (a channel, a join), which orders this store.
        // SAFETY: the slot is valid while the region is outstanding.
        unsafe { refs.as_ref() }.store(1, Relaxed);
        // `this` is never dropped: the region moves into the shared form.
        PooledBytes::from_parts(this.region(), this.class as ClassIdx, refs, this.len)
    }

    /// The unwritten part of the capacity, to fill before
    /// [`set_len`](Self::set_len).
    #[inline]
    pub fn spare_capacity_mut(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        // SAFETY: `len <= cap`, the region holds `cap` bytes and is ours.
        unsafe {
            slice::from_raw_parts_mut(self.ptr.as_ptr().add(self.len).cast(), self.cap - self.len)
        }
    }

    /// Sets the length.
    ///
    /// # Safety
    /// `len <= capacity()`, and the first `len` bytes are initialised.
    #[inline]
    pub unsafe fn set_len(&mut self, len: usize) {
        debug_assert!(len <= self.cap);
        self.len = len;
    }
}

impl Drop for PooledBytesMut {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped once; the region is ours and unused after this.
        unsafe { release(self.region(), self.class as ClassIdx) };
    }
}

impl Deref for PooledBytesMut {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of our region are initialised.
        unsafe { slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for PooledBytesMut {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and we hold the region uniquely.
        unsafe { slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for PooledBytesMut {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for PooledBytesMut {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl fmt::Debug for PooledBytesMut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBytesMut")
            .field("len", &self.len)
            .field("capacity", &self.cap)
            .finish()
    }
}

impl PartialEq<[u8]> for PooledBytesMut {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl io::Write for PooledBytesMut {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.try_reserve(data.len())
            .map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, e))?;
        self.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writing grows the buffer as [`reserve`](PooledBytesMut::reserve) does.
///
/// # Panics
/// `chunk_mut` and the `put_*` methods panic (unwinding) when `max_memory`
/// refuses the growth — as when `AsyncReadExt::read_buf` fills a full
/// buffer — and on capacity overflow; only a refusal by the OS aborts.
// SAFETY: `chunk_mut` returns only the uninitialised tail of our region, and
// `advance_mut` only accepts counts inside it.
unsafe impl bytes::BufMut for PooledBytesMut {
    #[inline]
    fn remaining_mut(&self) -> usize {
        isize::MAX as usize - self.len
    }

    #[inline]
    unsafe fn advance_mut(&mut self, cnt: usize) {
        assert!(
            cnt <= self.cap - self.len,
            "advance_mut: {cnt} past the capacity ({} spare)",
            self.cap - self.len
        );
        self.len += cnt;
    }

    #[inline]
    fn chunk_mut(&mut self) -> &mut bytes::buf::UninitSlice {
        if self.len == self.cap {
            self.reserve(64);
        }
        self.spare_capacity_mut().into()
    }

    #[inline]
    fn put_slice(&mut self, src: &[u8]) {
        self.extend_from_slice(src);
    }
}
