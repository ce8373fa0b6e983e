//! In steady state (sizes seen before), allocating, writing, freezing,
//! cloning, slicing and dropping makes no call to the global allocator.
//! Converting to `bytes::Bytes` boxes its owner once — the one exception.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use tidebuf::Pool;

struct Counting;

thread_local! {
    // Counted per thread so the test harness's own threads do not interfere.
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn bump() {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = CALLS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards every call unchanged to `System`, only counting them.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn calls() -> usize {
    CALLS.with(Cell::get)
}

const SIZES: [usize; 9] = [0, 16, 100, 1500, 4096, 28 << 10, 32 << 10, 100_000, 4 << 20];

fn workload(pool: &Pool) {
    for &size in &SIZES {
        let mut b = pool.alloc(size);
        b.extend_from_slice(&[1; 16]);
        drop(b);
        let mut b = pool.alloc(size);
        b.extend_from_slice(b"steady");
        let f = b.freeze();
        let g = f.clone();
        let h = g.slice(1..3);
        assert_eq!(&h[..], b"te");
        drop((f, g, h));
        // A batch, so more than one element or run is live at once.
        let batch: Vec<_> = (0..8).map(|_| pool.alloc(size)).collect();
        drop(batch);
    }
}

#[test]
fn steady_state_makes_no_global_allocation() {
    for thread_cache in [false, true] {
        let pool = Pool::builder()
            .thread_cache(thread_cache)
            .arenas(1)
            .build()
            .unwrap();
        workload(&pool); // warm up: chunks, subpages, thread state
        workload(&pool);
        let before = calls();
        for _ in 0..100 {
            workload(&pool);
        }
        // The workload's `Vec` of 8 is the test's own: subtract it.
        let vec_calls = 100 * SIZES.len() * 2;
        assert_eq!(calls() - before, vec_calls, "thread_cache = {thread_cache}");
    }
}

#[test]
fn bytes_conversion_boxes_its_owner_once() {
    let pool = Pool::new();
    let mut b = pool.alloc(64);
    b.extend_from_slice(b"x");
    drop(b.freeze()); // warm up
    let mut b = pool.alloc(64);
    b.extend_from_slice(b"x");
    let frozen = b.freeze();
    let before = calls();
    let bytes: bytes::Bytes = frozen.into();
    assert_eq!(calls() - before, 1, "one box for the owner");
    let before = calls();
    drop(bytes);
    assert_eq!(calls() - before, 1, "and its free");
}
