//! [`PooledBytesMut`]: a unique, growable, writable view of a pooled region,
//! with the framing API of `bytes::BytesMut`.
//!
//! ```text
//!  region  [ frame 1 | frame 2 |  rest, being read into  ......... ]
//!           └ split_to ┘         ptr ─▶ [ len ][ spare capacity   ]
//!  base ── off ──▶ ptr                 └──────── cap ─────────────┘
//! ```
//!
//! A buffer is a view `[ptr, ptr + cap)` of a region, written up to `len`.
//! Alone in its region it is *unique* and releases the region on drop
//! without touching a reference count (the hot path). Splitting makes it
//! *shared*: the views are disjoint and count themselves in the region's
//! reference-count slot (the one `PooledBytes` uses), and the last one
//! returns the region. A view left with no bytes by a split or an advance
//! releases its reference at once — a connection that handed out all its
//! frames pins nothing — and remembers its pool, to grow there on the next
//! write. `Default` (for `mem::take`) holds nothing and grows in
//! [`Pool::global`](crate::Pool::global).

use crate::chunk::ChunkHeader;
use crate::error::{AllocError, AllocErrorKind};
use crate::pool::{alloc_failed, release, PoolInner};
use crate::region::{Region, HUGE_CLASS};
use crate::size_class::ClassIdx;
use crate::sync::atomic::AtomicU32;
use crate::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::sync::Arc;
use crate::PooledBytes;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut, RangeBounds};
use std::ptr::NonNull;
use std::{fmt, io, ptr, slice};

/// `meta`: the size class in the low byte.
const CLASS_MASK: u64 = 0xFF;
/// `meta`: other views share the region; the count is in its slot.
const SHARED: u64 = 1 << 8;
/// `meta`: no region held (`ptr` is dangling or the home pool, `cap` 0).
const EMPTY: u64 = 1 << 9;
/// `meta` with `EMPTY`: `ptr` is an `Arc<PoolInner>` (from `Arc::into_raw`)
/// to grow in; without it, the buffer grows in `Pool::global()`.
const HOME: u64 = 1 << 10;
/// `meta`: the view's offset from the region's start, above the flags.
const OFF_SHIFT: u32 = 11;

/// Most references to one region; past it, as for `Arc`, the process aborts.
pub(crate) const MAX_REFS: u32 = i32::MAX as u32;

/// A unique, writable buffer from a [`Pool`](crate::Pool), a drop-in for
/// `bytes::BytesMut`.
///
/// Derefs to the written bytes (`len`), with room for `capacity`. Writing
/// past the capacity moves the contents to a larger size class of the same
/// pool. Dropping it returns the memory to the pool; [`freeze`] turns it
/// into a shareable [`PooledBytes`]; [`split_to`] and friends cut it into
/// views of one region without copying.
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
/// let head = buf.split_to(3); // no copy: two views of one region
/// assert_eq!((&head[..], &buf[..2]), (&b"abc"[..], &b"42"[..]));
/// ```
///
/// Deliberate differences from `BytesMut`:
/// - the capacity is a size class (`alloc(10)` has 16 bytes of room);
/// - a view left with no bytes by `split_to`, `split`, `split_off(0)` or
///   `advance` — its bytes taken away — holds no memory (its capacity
///   becomes 0) and grows again in the same pool; `clear` and `truncate`
///   keep the capacity, as for `Vec`, and so does the tail `split_off`
///   returns (room asked for);
/// - a `bytes::Bytes` made from it (`into_bytes`, `From`) is backed by its
///   pooled owner, without a copy: `Bytes::is_unique` is false for it, and
///   `BytesMut::from(bytes)` copies.
///
/// [`freeze`]: PooledBytesMut::freeze
/// [`split_to`]: PooledBytesMut::split_to
pub struct PooledBytesMut {
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
    chunk: NonNull<ChunkHeader>,
    /// Size class, flags and offset; a whole word on purpose: the buffer is
    /// returned through memory, and a narrow store read back by the 8-byte
    /// copy of the struct's last word cannot be store-forwarded (a measured
    /// stall).
    meta: u64,
}

// SAFETY: the buffer owns its view exclusively (disjoint from every other
// view of the region); the shared reference count is atomic, and releasing
// from any thread is supported (the arena lock or the releasing thread's
// own state serialises the return).
unsafe impl Send for PooledBytesMut {}
// SAFETY: `&PooledBytesMut` only reads the bytes.
unsafe impl Sync for PooledBytesMut {}

impl PooledBytesMut {
    /// An empty, unique buffer over `region` of size class `class`.
    #[inline]
    pub(crate) fn new(region: Region, class: ClassIdx, cap: usize) -> PooledBytesMut {
        PooledBytesMut {
            ptr: region.ptr,
            len: 0,
            cap,
            chunk: region.chunk,
            meta: class as u64,
        }
    }

    /// A buffer that holds nothing and grows in `home` (or, if `None`, in
    /// `Pool::global()`).
    pub(crate) fn empty_in(home: Option<Arc<PoolInner>>) -> PooledBytesMut {
        let (ptr, meta) = match home {
            Some(pool) => {
                let raw = Arc::into_raw(pool) as *mut u8;
                // SAFETY: `Arc::into_raw` never returns null.
                (unsafe { NonNull::new_unchecked(raw) }, EMPTY | HOME)
            }
            None => (NonNull::dangling(), EMPTY),
        };
        PooledBytesMut {
            ptr,
            len: 0,
            cap: 0,
            chunk: NonNull::dangling(),
            meta,
        }
    }

    /// Whether no region is held.
    #[inline]
    fn holds_nothing(&self) -> bool {
        self.meta & EMPTY != 0
    }

    #[inline]
    fn class(&self) -> ClassIdx {
        (self.meta & CLASS_MASK) as ClassIdx
    }

    #[inline]
    fn offset(&self) -> usize {
        (self.meta >> OFF_SHIFT) as usize
    }

    /// Start of the region (not empty).
    #[inline]
    fn base(&self) -> NonNull<u8> {
        // SAFETY: `ptr` lies `offset` bytes into the region.
        unsafe { self.ptr.sub(self.offset()) }
    }

    /// The region, for release; the caller makes sure it happens once.
    #[inline]
    fn region(&self) -> Region {
        Region {
            ptr: self.base(),
            chunk: self.chunk,
        }
    }

    /// The chunk header (not empty); valid while the view holds a reference.
    #[inline]
    fn header(&self) -> &ChunkHeader {
        debug_assert!(!self.holds_nothing());
        // SAFETY: the header outlives every outstanding region of its chunk,
        // and this view keeps its region outstanding.
        unsafe { self.chunk.as_ref() }
    }

    /// The whole region's capacity (not empty).
    fn region_cap(&self) -> usize {
        let header = self.header();
        match self.class() {
            HUGE_CLASS => header.memory.len(),
            class => header.pool.classes.size(class),
        }
    }

    /// The region's reference-count slot (not empty).
    fn refs(&self) -> &AtomicU32 {
        let header = self.header();
        let slot = header.refs_slot(self.base(), self.class(), &header.pool.classes);
        // SAFETY: the slot is valid while the region is outstanding.
        unsafe { slot.as_ref() }
    }

    /// Whether no other view shares the region.
    fn is_unique(&self) -> bool {
        // Acquire: pairs with the Release decrement of a view that went, so
        // its writes happen-before our reuse of its bytes.
        self.meta & SHARED == 0 || self.refs().load(Acquire) == 1
    }

    /// A second view of the same region (same fields), counted.
    fn share(&mut self) -> PooledBytesMut {
        debug_assert!(!self.holds_nothing());
        if self.meta & SHARED == 0 {
            // Unique until now: nobody else reads the slot.
            self.refs().store(2, Relaxed);
            self.meta |= SHARED;
        } else {
            // Relaxed: a new reference made from a live one (the `Arc`
            // argument).
            let old = self.refs().fetch_add(1, Relaxed);
            if old >= MAX_REFS {
                std::process::abort();
            }
        }
        PooledBytesMut { ..*self }
    }

    /// Moves the view's start `n` bytes on (`n <= cap`).
    #[inline]
    fn skip(&mut self, n: usize) {
        debug_assert!(n <= self.cap);
        // SAFETY: `n <= cap`: the view stays inside the region.
        self.ptr = unsafe { self.ptr.add(n) };
        self.cap -= n;
        self.len = self.len.saturating_sub(n);
        self.meta += (n as u64) << OFF_SHIFT;
    }

    /// Gives up this view's reference (it must hold one) and leaves the
    /// buffer holding nothing, remembering its pool.
    fn let_go(&mut self) {
        // Take the pool reference first: releasing the region may free its
        // chunk, and with it the chunk's reference.
        let home = self.header().pool.clone();
        let old = std::mem::replace(self, PooledBytesMut::empty_in(Some(home)));
        drop(old);
    }

    /// Releases the region if no bytes are written, keeping the pool: a
    /// view left empty by an advance, or a connection buffer about to wait
    /// (it holds nothing while idle).
    #[inline]
    pub(crate) fn release_if_empty(&mut self) {
        if self.len == 0 && !self.holds_nothing() {
            self.let_go();
        }
    }

    /// Gives a buffer that holds nothing and has no pool of its own (a
    /// `Default`, say, put there by `mem::take`) `pool` to grow in.
    #[cfg(feature = "codec")]
    pub(crate) fn rehome(&mut self, pool: &crate::Pool) {
        if self.holds_nothing() && self.meta & HOME == 0 {
            *self = PooledBytesMut::empty_in(Some(pool.inner_arc()));
        }
    }

    /// The pool this buffer grows in, as a strong reference.
    fn home(&self) -> Arc<PoolInner> {
        if !self.holds_nothing() {
            return self.header().pool.clone();
        }
        if self.meta & HOME != 0 {
            let raw = self.ptr.as_ptr() as *const PoolInner;
            // SAFETY: `ptr` came from `Arc::into_raw` and we still own that
            // reference; count one more for the clone returned.
            unsafe {
                Arc::increment_strong_count(raw);
                Arc::from_raw(raw)
            }
        } else {
            crate::Pool::global().inner_arc()
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

    /// Bytes that fit without growing: the rest of the size class, from
    /// where this view starts.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Forgets the contents; keeps the capacity.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Keeps the first `len` bytes (no effect if `len >= self.len()`); keeps
    /// the capacity.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Resizes to `new_len`, filling new bytes with `value`.
    ///
    /// # Panics
    /// As [`reserve`](Self::reserve), when it must grow.
    pub fn resize(&mut self, new_len: usize, value: u8) {
        if new_len <= self.len {
            self.truncate(new_len);
            return;
        }
        let extra = new_len - self.len;
        self.reserve(extra);
        // SAFETY: `reserve` made `len + extra <= cap`; the bytes are ours.
        unsafe {
            self.ptr.as_ptr().add(self.len).write_bytes(value, extra);
        }
        self.len = new_len;
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
        // overlap our unwritten tail (we hold it uniquely).
        unsafe {
            ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), data.len());
        }
        self.len += data.len();
    }

    /// Appends a copy of `self[range]`.
    ///
    /// # Panics
    /// If the range is out of bounds or decreasing, and as
    /// [`reserve`](Self::reserve).
    pub fn extend_from_within(&mut self, range: impl RangeBounds<usize>) {
        let (start, end) = super::bounds(range, self.len);
        let n = end - start;
        self.reserve(n);
        // SAFETY: `start..end` lies in the written bytes and the target in
        // the spare capacity `reserve` made: disjoint, both ours.
        unsafe {
            let base = self.ptr.as_ptr();
            ptr::copy_nonoverlapping(base.add(start), base.add(self.len), n);
        }
        self.len += n;
    }

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
            self.meta &= (1 << OFF_SHIFT) - 1;
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
            let chunk = pool.classes.chunk_size();
            let doubled = self.cap.saturating_mul(2);
            let target = if needed <= chunk {
                needed.max(doubled.min(chunk))
            } else {
                needed.max(doubled)
            };
            match pool.allocate(target) {
                Ok(grown) => grown,
                // Near the cap, the doubled size may not fit where the exact
                // one does: try that before refusing.
                Err(AllocError {
                    kind: AllocErrorKind::OverLimit { .. },
                    ..
                }) if target > needed => pool.allocate(needed)?,
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
        let contiguous = self.meta & other.meta & SHARED != 0
            && self.chunk == other.chunk
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
        if this.meta & SHARED == 0 {
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
        let mut buf = PooledBytesMut {
            ptr,
            len,
            cap: len,
            chunk: region.chunk,
            meta: class as u64 | SHARED | ((off as u64) << OFF_SHIFT),
        };
        buf.cap = buf.region_cap() - off;
        buf
    }

    /// The unwritten part of the capacity, to fill before
    /// [`set_len`](Self::set_len).
    #[inline]
    pub fn spare_capacity_mut(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        // SAFETY: `len <= cap`, the view holds `cap` bytes and is ours.
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

    #[cold]
    fn drop_slow(&mut self) {
        if self.holds_nothing() {
            if self.meta & HOME != 0 {
                // SAFETY: from `Arc::into_raw` in `empty_in`, given back once.
                drop(unsafe { Arc::from_raw(self.ptr.as_ptr() as *const PoolInner) });
            }
            return;
        }
        let old = self.refs().fetch_sub(1, Release);
        if old != 1 {
            return;
        }
        // Pairs with the other views' Release decrements: their accesses
        // happen-before the region returns to the pool.
        self.refs().load(Acquire);
        // SAFETY: the count reached zero: we are the last view and the
        // region moves out once.
        unsafe { release(self.region(), self.class()) };
    }
}

impl Drop for PooledBytesMut {
    #[inline]
    fn drop(&mut self) {
        if self.meta & (SHARED | EMPTY) == 0 {
            // SAFETY: dropped once; the region is ours alone and unused
            // after this.
            unsafe { release(self.region(), self.class()) };
        } else {
            self.drop_slow();
        }
    }
}

impl Default for PooledBytesMut {
    /// Empty, holding no memory; grows in [`Pool::global`](crate::Pool::global)
    /// on the first write. For `mem::take`.
    fn default() -> Self {
        PooledBytesMut::empty_in(None)
    }
}

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
            Ok(buf) => buf,
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

impl IntoIterator for PooledBytesMut {
    type Item = u8;
    type IntoIter = bytes::buf::IntoIter<PooledBytesMut>;

    fn into_iter(self) -> Self::IntoIter {
        bytes::buf::IntoIter::new(self)
    }
}

impl<'a> IntoIterator for &'a PooledBytesMut {
    type Item = &'a u8;
    type IntoIter = slice::Iter<'a, u8>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl From<PooledBytesMut> for Vec<u8> {
    /// The bytes, copied out of the pool (the region goes back at once).
    fn from(buf: PooledBytesMut) -> Vec<u8> {
        buf.to_vec()
    }
}
