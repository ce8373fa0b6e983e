//! A pool whose last handle is gone still serves its live buffers — and
//! lets go of everything the moment the last of them goes, even when one
//! of them grew after the close. Chunks come from the global allocator
//! here (`Backing::Heap`), so a counting allocator sees whether they are
//! freed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use tidebuf::{Backing, Pool, TrimPolicy};

struct Counting;

/// Allocations of at least this size are chunks or huge buffers.
const BIG: usize = 1 << 20;

thread_local! {
    // Per thread, so the harness's other threads do not interfere.
    static BIG_LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(layout: Layout, sign: isize) {
    if layout.size() >= BIG {
        let _ = BIG_LIVE.try_with(|c| c.set(c.get() + sign * layout.size() as isize));
    }
}

// SAFETY: forwards every call unchanged to `System`, only counting them.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout, 1);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(layout, -1);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn big_live() -> isize {
    BIG_LIVE.with(Cell::get)
}

/// Pinned, so that 5 MiB is huge.
const CHUNK: isize = 4 << 20;

fn pool() -> Pool {
    Pool::builder()
        .backing(Backing::Heap)
        .chunk_size(CHUNK as usize)
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap()
}

#[test]
fn a_buffer_grown_after_close_pins_nothing_once_dropped() {
    let pool = pool();
    let mut buf = pool.alloc(100);
    buf.extend_from_slice(b"kept");
    drop(pool);
    assert_eq!(big_live(), CHUNK, "the live buffer keeps its chunk");
    // Growth after the close goes to a cached size class: it must allocate
    // exactly one region, not refill a cache nobody will drain.
    buf.reserve(2000);
    assert!(buf.capacity() >= 2004);
    assert_eq!(&buf[..], b"kept");
    buf.extend_from_slice(&[1; 2000]);
    drop(buf);
    assert_eq!(big_live(), 0, "the last buffer's release frees the chunk");
}

#[test]
fn buffers_of_every_kind_free_everything_after_close() {
    let pool = pool();
    let small = pool.alloc(64);
    let normal = pool.alloc(100 << 10);
    let huge = pool.copy_from_slice(&[1; 5 << 20]).freeze();
    let view = huge.slice(..);
    drop(pool);
    assert!(big_live() >= CHUNK + (5 << 20));
    drop((small, normal, huge));
    assert!(big_live() >= 5 << 20, "a view keeps the huge buffer");
    drop(view);
    assert_eq!(big_live(), 0);
}

/// Bins handed to the arena's depot whole (a thread releasing more than
/// its bin holds) go back when the pool closes, and a bin that fills after
/// the close is not deposited: once every buffer is gone, so is the chunk.
#[test]
fn deposited_bins_pin_nothing_after_close() {
    let pool = Pool::builder()
        .backing(Backing::Heap)
        .chunk_size(CHUNK as usize)
        .trim_policy(TrimPolicy::Never)
        .small_cache_size(8)
        .build()
        .unwrap();
    let first: Vec<_> = (0..64).map(|_| pool.alloc(100)).collect();
    let second: Vec<_> = (0..64).map(|_| pool.alloc(100)).collect();
    drop(first); // fills the bin: whole bins go to the depot
    assert!(pool.metrics().cached_bytes > 8 * 112);
    drop(pool); // closes: the depot is drained
    assert_eq!(big_live(), CHUNK, "`second` keeps its chunk");
    drop(second); // releases after the close: nothing parked or deposited
    assert_eq!(big_live(), 0);
}
