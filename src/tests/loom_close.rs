//! The pool closing (its last handle dropped) racing releases, and memory
//! given back racing memory taken under the cap:
//! - a huge buffer released while the pool closes is unmapped, never parked
//!   in a cache nobody drains (that would keep the pool alive forever);
//! - a release through a thread cache while the pool closes never frees
//!   the pool while a method still borrows it (the heap's destructor
//!   asserts it under test);
//! - a mapping given back is unmapped before its bytes return to the cap,
//!   so memory held never passes `max_memory` (`holds_memory` asserts it).

use crate::{Backing, Pool, TrimPolicy};
use loom::thread;

fn builder() -> crate::PoolBuilder {
    Pool::builder()
        .arenas(1)
        .page_size(4096)
        .chunk_size(128 << 10)
        .backing(Backing::Heap)
        .thread_cache(false)
        .trim_policy(TrimPolicy::Never)
}

fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(bound);
    b.max_branches = 100_000;
    b.check(f);
}

/// Larger than the 128 KiB chunk: a huge buffer.
/// A huge class above the 128 KiB chunk (four per doubling: 160, 192, 224 …).
const HUGE: usize = 224 << 10;

#[test]
fn loom_huge_release_racing_close_frees_everything() {
    model(2, || {
        let pool = builder().build().unwrap();
        let shared = pool.heap_weak();
        let buf = pool.alloc(HUGE);
        let t = thread::spawn(move || {
            drop(buf);
            crate::local::retire_current_thread();
        });
        drop(pool);
        t.join().unwrap();
        crate::local::retire_current_thread();
        assert_eq!(
            shared.strong_count(),
            0,
            "a mapping parked after the close keeps the pool alive"
        );
    });
}

#[test]
fn loom_cached_release_racing_close_outlives_no_borrow() {
    model(2, || {
        // A zero-size bin: every release takes the cache's slow path, which
        // frees the region (and, once closed, its chunk) at once.
        let pool = builder()
            .thread_cache(true)
            .small_cache_size(0)
            .build()
            .unwrap();
        let shared = pool.heap_weak();
        let buf = pool.alloc(100);
        // The last handle goes on another thread while this one releases.
        let t = thread::spawn(move || drop(pool));
        drop(buf);
        t.join().unwrap();
        crate::local::retire_current_thread();
        assert_eq!(shared.strong_count(), 0);
    });
}

#[test]
fn loom_unmap_comes_before_the_cap_sees_the_bytes_back() {
    model(2, || {
        // Room for 256 KiB; a released 224 KiB mapping is kept for reuse.
        let pool = builder().max_memory(Some(256 << 10)).build().unwrap();
        drop(pool.alloc(HUGE));
        assert_eq!(pool.metrics().cached_bytes, HUGE);
        let p = pool.clone();
        // One thread gives the kept mapping back...
        let t = thread::spawn(move || {
            p.trim();
            crate::local::retire_current_thread();
        });
        // ...while this one needs a larger mapping (the 256 KiB class), which fits only once
        // the kept one is gone (and `holds_memory` asserts that the two
        // never exist at once).
        let big = pool.try_alloc(230 << 10);
        t.join().unwrap();
        let m = pool.metrics();
        assert!(m.used_bytes <= 256 << 10);
        if let Ok(big) = &big {
            assert!(big.capacity() >= 230 << 10);
            assert_eq!(m.used_bytes, big.capacity());
        }
        drop(big);
        crate::local::retire_current_thread();
    });
}
