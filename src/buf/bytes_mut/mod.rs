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
//!
//! Four words: `ptr`, `len`, `cap`, and the chunk header's address (4096-
//! aligned) tagged with the size class and the flags SHARED, EMPTY, HOME
//! and MOVED in its low 12 bits. A view that moved into its region
//! (`advance`, the tail of a split) finds the region's start again from the
//! chunk's page map (`ChunkHeader::region_start`) when it goes.
//!
//! Files: this one — the representation, the basic accessors and release;
//! `grow.rs` — reserve and reclaim; `split.rs` — splitting, joining and
//! freezing; `traits.rs` — the std and `bytes` traits.

mod grow;
mod split;
mod traits;

use crate::alloc::Grant;
use crate::chunk::ChunkHeader;
use crate::error::alloc_failed;
use crate::error::{AllocError, AllocErrorKind};
use crate::heap::Heap;
use crate::local::Memo;
use crate::region::Region;
use crate::release::{release, release_with};
use crate::size_class::{ClassIdx, HUGE_CLASS};
use crate::sync::atomic::AtomicU32;
use crate::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::sync::Arc;
use crate::PooledBytes;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut, RangeBounds};
use std::ptr::NonNull;
use std::{fmt, io, ptr, slice};

// `tagged` is the chunk header's address (4096-aligned) with these in its
// low bits:
/// The size class, in the low byte.
const CLASS_MASK: usize = 0xFF;
/// Other views share the region; the count is in its slot.
const SHARED: usize = 1 << 8;
/// No region held (`ptr` is dangling or the home pool, `cap` 0, no header).
const EMPTY: usize = 1 << 9;
/// With `EMPTY`: `ptr` is an `Arc<Heap>` (from `Arc::into_raw`) to grow in;
/// without it, the buffer grows in `Pool::global()`.
const HOME: usize = 1 << 10;
/// `ptr` is not the region's start (the view moved into it): the start is
/// derived from the chunk's page map when the region goes back.
const MOVED: usize = 1 << 11;
/// Every flag and the class.
const BITS: usize = 0xFFF;
const _: () = assert!(std::mem::align_of::<ChunkHeader>() > BITS);

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
    /// The chunk header with the size class and flags in its low bits (see
    /// `BITS`): four words in all, so the buffer is returned through
    /// memory in two full-width moves that store-forward, where five words
    /// left one half-width store read back by a wider load (a measured
    /// stall of several nanoseconds).
    tagged: *mut ChunkHeader,
}

// SAFETY: the buffer owns its view exclusively (disjoint from every other
// view of the region); the shared reference count is atomic, and releasing
// from any thread is supported (the arena lock or the releasing thread's
// own state serialises the return).
unsafe impl Send for PooledBytesMut {}
// SAFETY: `&PooledBytesMut` only reads the bytes.
unsafe impl Sync for PooledBytesMut {}

impl PooledBytesMut {
    /// An empty, unique buffer over a granted region.
    #[inline(always)]
    pub(crate) fn new(grant: Grant) -> PooledBytesMut {
        PooledBytesMut {
            ptr: grant.region.ptr,
            len: 0,
            cap: grant.cap,
            // An add, not an or: the header's low `BITS` are zero (asserted
            // above), and an or of an address the compiler cannot see is
            // aligned costs it three more instructions.
            tagged: grant
                .region
                .chunk
                .as_ptr()
                .wrapping_byte_add(grant.class as usize),
        }
    }

    /// A buffer that holds nothing and grows in `home` (or, if `None`, in
    /// `Pool::global()`).
    pub(crate) fn empty_in(home: Option<Arc<Heap>>) -> PooledBytesMut {
        let (ptr, bits) = match home {
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
            tagged: ptr::without_provenance_mut(bits),
        }
    }

    /// The flags and class.
    #[inline(always)]
    fn bits(&self) -> usize {
        self.tagged.addr() & BITS
    }

    #[inline(always)]
    fn set_bits(&mut self, bits: usize) {
        self.tagged = self.tagged.map_addr(|a| a | bits);
    }

    /// Whether no region is held.
    #[inline]
    fn holds_nothing(&self) -> bool {
        self.bits() & EMPTY != 0
    }

    #[inline]
    fn class(&self) -> ClassIdx {
        (self.bits() & CLASS_MASK) as ClassIdx
    }

    /// The chunk header's address (not empty).
    #[inline(always)]
    fn chunk(&self) -> NonNull<ChunkHeader> {
        debug_assert!(!self.holds_nothing());
        // SAFETY: a view that holds a region was made from a header pointer
        // (non-null) with only the low `BITS` added.
        unsafe { NonNull::new_unchecked(self.tagged.map_addr(|a| a & !BITS)) }
    }

    /// How far `ptr` lies into the region (not empty).
    #[inline]
    fn offset(&self) -> usize {
        self.ptr.as_ptr() as usize - self.base().as_ptr() as usize
    }

    /// Start of the region (not empty): `ptr` itself unless the view moved,
    /// else derived from the chunk's page map.
    #[inline]
    fn base(&self) -> NonNull<u8> {
        if self.bits() & MOVED == 0 {
            return self.ptr;
        }
        // A view holding a region has room in it (`cap > 0`), so `ptr` lies
        // inside; one that just gave up its last byte of room (`let_go` after
        // an advance to the end) ends exactly at the region's end, and the
        // byte before lies inside.
        let inside = match self.cap {
            // SAFETY: moved, so `ptr` is past the region's first byte.
            0 => unsafe { self.ptr.sub(1) },
            _ => self.ptr,
        };
        let header = self.header();
        header.region_start(inside, self.class(), Heap::of(header).classes())
    }

    /// The region, for release; the caller makes sure it happens once.
    #[inline]
    fn region(&self) -> Region {
        Region {
            ptr: self.base(),
            chunk: self.chunk(),
        }
    }

    /// The chunk header (not empty); valid while the view holds a reference.
    #[inline]
    fn header(&self) -> &ChunkHeader {
        // SAFETY: the header outlives every outstanding region of its chunk,
        // and this view keeps its region outstanding.
        unsafe { self.chunk().as_ref() }
    }

    /// The whole region's capacity (not empty).
    fn region_cap(&self) -> usize {
        let header = self.header();
        match self.class() {
            HUGE_CLASS => header.memory.len(),
            class => Heap::of(header).classes().size(class),
        }
    }

    /// The region's reference-count slot (not empty).
    fn refs(&self) -> &AtomicU32 {
        let header = self.header();
        let slot = header.refs_slot(self.base(), self.class(), Heap::of(header).classes());
        // SAFETY: the slot is valid while the region is outstanding.
        unsafe { slot.as_ref() }
    }

    /// Whether no other view shares the region.
    fn is_unique(&self) -> bool {
        // Acquire: pairs with the Release decrement of a view that went, so
        // its writes happen-before our reuse of its bytes.
        self.bits() & SHARED == 0 || self.refs().load(Acquire) == 1
    }

    /// A second view of the same region (same fields), counted.
    fn share(&mut self) -> PooledBytesMut {
        debug_assert!(!self.holds_nothing());
        if self.bits() & SHARED == 0 {
            // Unique until now: nobody else reads the slot.
            self.refs().store(2, Relaxed);
            self.set_bits(SHARED);
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
        if n > 0 {
            self.set_bits(MOVED);
        }
    }

    /// Gives up this view's reference (it must hold one) and leaves the
    /// buffer holding nothing, remembering its pool.
    fn let_go(&mut self) {
        // Take the pool reference first: releasing the region may free its
        // chunk, and with it the chunk's reference.
        let home = Heap::of(self.header()).strong();
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
    pub(crate) fn rehome(&mut self, heap: &Arc<Heap>) {
        if self.holds_nothing() && self.bits() & HOME == 0 {
            *self = PooledBytesMut::empty_in(Some(heap.clone()));
        }
    }

    /// The pool this buffer grows in, as a strong reference.
    fn home(&self) -> Arc<Heap> {
        if !self.holds_nothing() {
            return Heap::of(self.header()).strong();
        }
        if self.bits() & HOME != 0 {
            let raw = self.ptr.as_ptr() as *const Heap;
            // SAFETY: `ptr` came from `Arc::into_raw` and we still own that
            // reference; count one more for the clone returned.
            unsafe {
                Arc::increment_strong_count(raw);
                Arc::from_raw(raw)
            }
        } else {
            crate::builder::global_heap().clone()
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

    /// The four words, for the out-of-line paths that take the buffer by
    /// value (`grow_parts`, `drop_slow`).
    #[inline(always)]
    fn parts(&self) -> Parts {
        (self.ptr, self.len, self.cap, self.tagged)
    }

    /// A buffer from [`parts`](Self::parts).
    ///
    /// # Safety
    /// `parts` are the words of a buffer that is not otherwise used or
    /// dropped while the result is: the result is that buffer.
    #[inline(always)]
    unsafe fn from_parts((ptr, len, cap, tagged): Parts) -> PooledBytesMut {
        PooledBytesMut {
            ptr,
            len,
            cap,
            tagged,
        }
    }

    #[inline(always)]
    fn drop_remaining(&mut self) {
        if self.holds_nothing() {
            if self.bits() & HOME != 0 {
                // SAFETY: from `Arc::into_raw` in `empty_in`, given back once.
                drop(unsafe { Arc::from_raw(self.ptr.as_ptr() as *const Heap) });
            }
            return;
        }
        if self.bits() & SHARED == 0 {
            // A unique view that moved into its region.
            // SAFETY: dropped once; the region is ours alone and unused
            // after this.
            unsafe { release(self.region(), self.class()) };
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

/// A buffer's words: `ptr`, `len`, `cap`, `tagged`.
type Parts = (NonNull<u8>, usize, usize, *mut ChunkHeader);

/// Drops a buffer that is shared, moved or empty, given its words.
#[cold]
#[inline(never)]
fn drop_slow(ptr: NonNull<u8>, len: usize, cap: usize, tagged: *mut ChunkHeader) {
    // SAFETY: called from `drop` with the words of the buffer being
    // dropped, which is not used after it.
    let mut this =
        ManuallyDrop::new(unsafe { PooledBytesMut::from_parts((ptr, len, cap, tagged)) });
    this.drop_remaining();
}

impl Drop for PooledBytesMut {
    // Out of line, and by value: the compiler's drop glue, which unwinding
    // paths call with the buffer's address, then only loads the four words.
    // A buffer whose address reaches a call lives on the stack for the whole
    // function that holds it; kept out of memory, a buffer made in a
    // function is returned with the stores that built it.
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: this buffer's own words, not used after; the memo read
        // here, on this thread, just now.
        unsafe { drop_words(self.ptr, self.len, self.cap, self.tagged, Memo::now()) };
    }
}

/// Drops a buffer given its words (as separate arguments, so they travel
/// in registers) and this thread's [`Memo`], read at the drop site: the
/// release fast path for a unique view at its region's start, else
/// [`drop_slow`].
///
/// # Safety
/// The words are those of a buffer being dropped, not used afterwards;
/// `memo` was read on this thread just before the call (see
/// [`Memo::cache_for`]).
#[inline(never)]
unsafe fn drop_words(
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
    tagged: *mut ChunkHeader,
    memo: Memo,
) {
    if tagged.addr() & (SHARED | EMPTY | MOVED) == 0 {
        let region = Region {
            ptr,
            // SAFETY: a view holding a region has the header's (non-null)
            // address in `tagged`, with only the class in the low bits.
            chunk: unsafe { NonNull::new_unchecked(tagged.map_addr(|a| a & !BITS)) },
        };
        // SAFETY: by the contract, the words of a buffer being dropped and
        // not used after; the region (starting at `ptr`: not moved) is ours
        // alone. `memo` is this thread's, and the entry it names cannot go
        // before the release uses it (see `Memo::cache_for`).
        unsafe { release_with(region, (tagged.addr() & CLASS_MASK) as ClassIdx, memo) };
    } else {
        drop_slow(ptr, len, cap, tagged);
    }
}

impl Default for PooledBytesMut {
    /// Empty, holding no memory; grows in [`Pool::global`](crate::Pool::global)
    /// on the first write. For `mem::take`.
    fn default() -> Self {
        PooledBytesMut::empty_in(None)
    }
}
