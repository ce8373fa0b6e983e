//! [`PooledBytesMut`]: a unique, growable, writable pooled buffer.

use crate::error::{AllocError, AllocErrorKind};
use crate::pool::{alloc_failed, release};
use crate::region::Region;
use crate::sync::atomic::Ordering::Relaxed;
use crate::PooledBytes;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
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
    region: ManuallyDrop<Region>,
    len: usize,
}

// SAFETY: the buffer owns its region exclusively; releasing it from any
// thread is supported (the arena lock or the releasing thread's own state
// serialises the return).
unsafe impl Send for PooledBytesMut {}
// SAFETY: `&PooledBytesMut` only reads the bytes.
unsafe impl Sync for PooledBytesMut {}

impl PooledBytesMut {
    #[inline]
    pub(crate) fn from_region(region: Region) -> PooledBytesMut {
        PooledBytesMut {
            region: ManuallyDrop::new(region),
            len: 0,
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
        self.region.cap
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
    #[inline]
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.reserve(data.len());
        // SAFETY: `reserve` made `len + data.len() <= cap`; `data` cannot
        // overlap our region (we hold it uniquely and `data` is borrowed).
        unsafe {
            ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.region.ptr.as_ptr().add(self.len),
                data.len(),
            );
        }
        self.len += data.len();
    }

    /// Makes room for `additional` more bytes. If they do not fit, the
    /// contents move to a larger size class of the same pool (at least
    /// double, up to the chunk size, so repeated appends stay linear).
    ///
    /// Panics on `len + additional > isize::MAX` ("capacity overflow") and
    /// aborts if the memory is refused, like `Vec::reserve`; see
    /// [`try_reserve`](Self::try_reserve).
    #[inline]
    pub fn reserve(&mut self, additional: usize) {
        if additional > self.region.cap - self.len {
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
        if additional <= self.region.cap - self.len {
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
        let pool = &self.region.header().pool;
        // Double, but do not leave the pooled range for a request that fits
        // in it; above it keep doubling, so appends stay linear.
        let chunk = pool.classes.chunk_size();
        let doubled = self.region.cap.saturating_mul(2);
        let target = if needed <= chunk {
            needed.max(doubled.min(chunk))
        } else {
            needed.max(doubled)
        };
        let region = pool.allocate(target)?;
        // SAFETY: the new region holds `target >= len` bytes; regions never
        // overlap while both are outstanding.
        unsafe {
            ptr::copy_nonoverlapping(self.region.ptr.as_ptr(), region.ptr.as_ptr(), self.len)
        };
        let old = std::mem::replace(&mut *self.region, region);
        // SAFETY: `old` was ours and nothing points into it any more.
        unsafe { release(old) };
        Ok(())
    }

    /// Turns the buffer into a shared, read-only [`PooledBytes`] over the
    /// written bytes. No copy, no allocation.
    #[inline]
    pub fn freeze(self) -> PooledBytes {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the region moves out once.
        let region = unsafe { ManuallyDrop::take(&mut this.region) };
        // We hold the region uniquely, so nobody else reads the slot now;
        // publishing to other threads goes through whatever sends the
        // `PooledBytes` (a channel, a join), which orders this store.
        // SAFETY: the slot is valid while the region is outstanding.
        unsafe { region.refs.as_ref() }.store(1, Relaxed);
        PooledBytes::from_region(region, this.len)
    }

    /// The unwritten part of the capacity, to fill before
    /// [`set_len`](Self::set_len).
    #[inline]
    pub fn spare_capacity_mut(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        // SAFETY: `len <= cap`, the region holds `cap` bytes and is ours.
        unsafe {
            slice::from_raw_parts_mut(
                self.region.ptr.as_ptr().add(self.len).cast(),
                self.region.cap - self.len,
            )
        }
    }

    /// Sets the length.
    ///
    /// # Safety
    /// `len <= capacity()`, and the first `len` bytes are initialised.
    #[inline]
    pub unsafe fn set_len(&mut self, len: usize) {
        debug_assert!(len <= self.region.cap);
        self.len = len;
    }
}

impl Drop for PooledBytesMut {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped once; the region is ours and unused after this.
        unsafe { release(ManuallyDrop::take(&mut self.region)) };
    }
}

impl Deref for PooledBytesMut {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of our region are initialised.
        unsafe { slice::from_raw_parts(self.region.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for PooledBytesMut {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and we hold the region uniquely.
        unsafe { slice::from_raw_parts_mut(self.region.ptr.as_ptr(), self.len) }
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
            .field("capacity", &self.region.cap)
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
            cnt <= self.region.cap - self.len,
            "advance_mut: {cnt} past the capacity ({} spare)",
            self.region.cap - self.len
        );
        self.len += cnt;
    }

    #[inline]
    fn chunk_mut(&mut self) -> &mut bytes::buf::UninitSlice {
        if self.len == self.region.cap {
            self.reserve(64);
        }
        self.spare_capacity_mut().into()
    }

    #[inline]
    fn put_slice(&mut self, src: &[u8]) {
        self.extend_from_slice(src);
    }
}
