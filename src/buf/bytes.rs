//! [`PooledBytes`]: a shared, read-only view of a pooled region.

use crate::chunk::ChunkHeader;
use crate::pool::release;
use crate::region::Region;
use crate::size_class::ClassIdx;
use crate::sync::atomic::AtomicU32;
use crate::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::ops::{Bound, Deref, RangeBounds};
use std::ptr::NonNull;
use std::{fmt, slice};

/// Most references to one region; past it `clone` aborts, like `Arc`.
const MAX_REFS: u32 = i32::MAX as u32;

/// A shared, read-only buffer from a [`Pool`](crate::Pool): cheap to clone
/// and slice (a reference count, no copy); the last reference dropped
/// returns the memory to the pool.
///
/// ```
/// let pool = tidebuf::Pool::new();
/// let mut buf = pool.alloc(64);
/// buf.extend_from_slice(b"hello world");
/// let hello = buf.freeze();
/// let world = hello.slice(6..);
/// assert_eq!(&world[..], b"world");
/// assert_eq!(hello.ref_count(), 2);
/// let b: bytes::Bytes = world.into(); // zero-copy
/// assert_eq!(&b[..], b"world");
/// ```
pub struct PooledBytes {
    /// Start of this view.
    ptr: NonNull<u8>,
    /// Length of this view.
    len: usize,
    /// Start of the region (what goes back to the pool).
    base: NonNull<u8>,
    chunk: NonNull<ChunkHeader>,
    refs: NonNull<AtomicU32>,
    /// Word-sized for the same reason as in `PooledBytesMut`.
    class: usize,
}

// SAFETY: the bytes are immutable while shared; the reference count is
// atomic and the last holder, on whatever thread, returns the region.
unsafe impl Send for PooledBytes {}
// SAFETY: as above; `&PooledBytes` only reads.
unsafe impl Sync for PooledBytes {}

impl PooledBytes {
    /// Wraps a region of `class` whose reference count (at `refs`) is
    /// already 1.
    pub(crate) fn from_parts(
        region: Region,
        class: ClassIdx,
        refs: NonNull<AtomicU32>,
        len: usize,
    ) -> PooledBytes {
        PooledBytes {
            ptr: region.ptr,
            len,
            base: region.ptr,
            chunk: region.chunk,
            refs,
            class: class as usize,
        }
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

    /// References to the underlying region (this one included). A snapshot:
    /// other threads may change it at any time.
    pub fn ref_count(&self) -> usize {
        self.refs().load(Relaxed) as usize
    }

    #[inline]
    fn refs(&self) -> &AtomicU32 {
        // SAFETY: the slot is valid while the region is outstanding, which
        // it is while this reference lives.
        unsafe { self.refs.as_ref() }
    }

    /// A view of `range` (relative to this view) sharing the same memory.
    ///
    /// Panics if the range is out of bounds or decreasing, like slicing a
    /// `[u8]` (and like `bytes::Bytes::slice`).
    pub fn slice(&self, range: impl RangeBounds<usize>) -> PooledBytes {
        let start = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n.checked_add(1).expect("slice start overflows usize"),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n.checked_add(1).expect("slice end overflows usize"),
            Bound::Excluded(&n) => n,
            Bound::Unbounded => self.len,
        };
        assert!(
            start <= end,
            "slice index starts at {start} but ends at {end}"
        );
        assert!(
            end <= self.len,
            "range end {end} out of range for a view of length {}",
            self.len
        );
        let mut view = self.clone();
        // SAFETY: `start <= end <= len`, so the new view stays inside ours.
        view.ptr = unsafe { view.ptr.add(start) };
        view.len = end - start;
        view
    }
}

impl PooledBytes {
    /// Splits off `[at, len)` and returns it; `self` keeps `[0, at)`. Both
    /// share the memory. Panics if `at > len`, like `bytes::Bytes`.
    ///
    /// ```
    /// let pool = tidebuf::Pool::new();
    /// let mut buf = pool.alloc(16);
    /// buf.extend_from_slice(b"headbody");
    /// let mut head = buf.freeze();
    /// let body = head.split_off(4);
    /// assert_eq!((&head[..], &body[..]), (&b"head"[..], &b"body"[..]));
    /// ```
    #[must_use = "the tail is returned, not kept"]
    pub fn split_off(&mut self, at: usize) -> PooledBytes {
        assert!(
            at <= self.len,
            "split_off at {at} past the end ({})",
            self.len
        );
        let tail = self.slice(at..);
        self.len = at;
        tail
    }

    /// Splits off `[0, at)` and returns it; `self` keeps `[at, len)`.
    /// Panics if `at > len`.
    #[must_use = "the head is returned, not kept"]
    pub fn split_to(&mut self, at: usize) -> PooledBytes {
        assert!(
            at <= self.len,
            "split_to at {at} past the end ({})",
            self.len
        );
        let head = self.slice(..at);
        // SAFETY: `at <= len`: the view stays inside the region.
        self.ptr = unsafe { self.ptr.add(at) };
        self.len -= at;
        head
    }
}

impl Clone for PooledBytes {
    #[inline]
    fn clone(&self) -> PooledBytes {
        // Relaxed: a new reference is made from an existing one, which
        // already keeps the region alive (the `Arc` argument).
        let old = self.refs().fetch_add(1, Relaxed);
        if old >= MAX_REFS {
            #[cfg(feature = "debug-checks")]
            panic!("tidebuf: reference count overflow ({old} references to one buffer)");
            #[cfg(not(feature = "debug-checks"))]
            std::process::abort();
        }
        // The count above records the extra holder; only the last one
        // releases the region.
        PooledBytes { ..*self }
    }
}

impl Drop for PooledBytes {
    #[inline]
    fn drop(&mut self) {
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
        unsafe {
            release(
                Region {
                    ptr: self.base,
                    chunk: self.chunk,
                },
                self.class as ClassIdx,
            )
        };
    }
}

impl Deref for PooledBytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the view lies inside the written part of the region, which
        // is immutable while shared and alive while we hold a reference.
        unsafe { slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for PooledBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for PooledBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBytes")
            .field("len", &self.len)
            .field("ref_count", &self.ref_count())
            .finish()
    }
}

impl PartialEq<[u8]> for PooledBytes {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
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
            "advance: {cnt} past the end ({} remaining)",
            self.len
        );
        // SAFETY: `cnt <= len`, so the view stays inside the region.
        self.ptr = unsafe { self.ptr.add(cnt) };
        self.len -= cnt;
    }

    /// Zero-copy: the returned `Bytes` shares this region.
    fn copy_to_bytes(&mut self, len: usize) -> bytes::Bytes {
        assert!(
            len <= self.len,
            "copy_to_bytes: {len} past the end ({} remaining)",
            self.len
        );
        let head = self.slice(..len);
        self.advance(len);
        head.into()
    }
}

impl From<PooledBytes> for bytes::Bytes {
    /// Zero-copy through `Bytes::from_owner`: the data stays in the pool and
    /// returns to it when the last `Bytes` clone is dropped. Boxes the owner
    /// (one small global allocation per conversion).
    fn from(buf: PooledBytes) -> bytes::Bytes {
        bytes::Bytes::from_owner(buf)
    }
}
