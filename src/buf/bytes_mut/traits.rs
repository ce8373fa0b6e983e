//! The standard and `bytes` traits of [`PooledBytesMut`]: `Deref`,
//! `BufMut`, `Buf`, `io::Write`, `fmt::Write`, `Extend`, `IntoIterator`,
//! `Clone`, `Default`'s neighbours and the conversions.

use super::*;

impl Clone for PooledBytesMut {
    /// A copy of the bytes in a new buffer of the same pool.
    ///
    /// # Panics
    /// As [`Pool::alloc`](crate::Pool::alloc).
    fn clone(&self) -> Self {
        let pool = self.home();
        if self.len == 0 {
            return PooledBytesMut::empty_in(Some(pool));
        }
        let mut copy = match pool.allocate(self.len) {
            Ok(grant) => PooledBytesMut::new(grant),
            Err(err) => alloc_failed(err),
        };
        copy.extend_from_slice(self);
        copy
    }
}

impl Deref for PooledBytesMut {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of our view are initialised (for an
        // empty buffer `ptr` is non-null and `len` 0).
        unsafe { slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for PooledBytesMut {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and we hold the view uniquely.
        unsafe { slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsMut<[u8]> for PooledBytesMut {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl std::borrow::BorrowMut<[u8]> for PooledBytesMut {
    fn borrow_mut(&mut self) -> &mut [u8] {
        self
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

impl fmt::Write for PooledBytesMut {
    /// Appends `s`; `Err` (never a panic) if the pool refuses the memory.
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.try_reserve(s.len()).map_err(|_| fmt::Error)?;
        self.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writing grows the buffer as [`reserve`](PooledBytesMut::reserve) does.
///
/// # Panics
/// `chunk_mut` and the `put_*` methods panic (unwinding) when `max_memory`
/// refuses the growth — as when `AsyncReadExt::read_buf` fills a full
/// buffer — and on capacity overflow; only a refusal by the OS aborts.
// SAFETY: `chunk_mut` returns only the uninitialised tail of our view, and
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
            "advance out of bounds: the len is {} but advancing by {cnt}",
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

    fn put_bytes(&mut self, val: u8, cnt: usize) {
        self.resize(self.len.checked_add(cnt).expect("capacity overflow"), val);
    }
}

/// Reading consumes from the front; the bytes read are released with the
/// view once it is drained.
impl bytes::Buf for PooledBytesMut {
    #[inline]
    fn remaining(&self) -> usize {
        self.len
    }

    #[inline]
    fn chunk(&self) -> &[u8] {
        self
    }

    fn advance(&mut self, cnt: usize) {
        assert!(
            cnt <= self.len,
            "cannot advance past `remaining`: {cnt} <= {}",
            self.len
        );
        if cnt == 0 {
            return;
        }
        self.skip(cnt);
        self.release_if_empty();
    }

    /// Zero-copy: the returned `Bytes` is a view of this region.
    fn copy_to_bytes(&mut self, len: usize) -> bytes::Bytes {
        self.split_to(len).into_bytes()
    }
}

impl From<PooledBytesMut> for bytes::Bytes {
    /// Zero-copy through `Bytes::from_owner` (see `From<PooledBytes>`).
    fn from(buf: PooledBytesMut) -> bytes::Bytes {
        buf.into_bytes()
    }
}

impl Extend<u8> for PooledBytesMut {
    /// # Panics
    /// As [`reserve`](PooledBytesMut::reserve).
    fn extend<T: IntoIterator<Item = u8>>(&mut self, iter: T) {
        let iter = iter.into_iter();
        self.reserve(iter.size_hint().0);
        for b in iter {
            self.reserve(1);
            // SAFETY: `reserve(1)` made room for one byte.
            unsafe { self.ptr.as_ptr().add(self.len).write(b) };
            self.len += 1;
        }
    }
}

impl<'a> Extend<&'a u8> for PooledBytesMut {
    /// # Panics
    /// As [`reserve`](PooledBytesMut::reserve).
    fn extend<T: IntoIterator<Item = &'a u8>>(&mut self, iter: T) {
        self.extend(iter.into_iter().copied());
    }
}

impl Extend<bytes::Bytes> for PooledBytesMut {
    /// # Panics
    /// As [`reserve`](PooledBytesMut::reserve).
    fn extend<T: IntoIterator<Item = bytes::Bytes>>(&mut self, iter: T) {
        for b in iter {
            self.extend_from_slice(&b);
        }
    }
}
