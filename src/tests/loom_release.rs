//! Last-reference release racing clones and slices dropped on other
//! threads: the region returns exactly once, after every holder is done.

use crate::{Backing, Pool, TrimPolicy};
use loom::thread;

fn small_pool() -> Pool {
    Pool::builder()
        .arenas(1)
        .page_size(4096)
        .chunk_size(128 << 10)
        .backing(Backing::Heap)
        .thread_cache(false)
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap()
}

#[test]
fn last_reference_returns_once() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.max_branches = 100_000;
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    builder.check(|| {
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pool = small_pool();
        let mut buf = pool.alloc(100);
        buf.extend_from_slice(b"loom");
        let a = buf.freeze();
        let b = a.slice(1..3);
        let c = a.clone();
        let t1 = thread::spawn(move || {
            assert_eq!(&b[..], b"oo");
            drop(b);
            crate::local::retire_current_thread();
        });
        let t2 = thread::spawn(move || {
            assert_eq!(&c[..], b"loom");
            drop(c);
            crate::local::retire_current_thread();
        });
        drop(a);
        t1.join().unwrap();
        t2.join().unwrap();
        let m = pool.metrics();
        assert_eq!(m.active_bytes, 0);
        assert_eq!(m.deallocations.total(), 1, "returned exactly once");
    });
    // The model must have explored interleavings, not one straight run.
    assert!(RUNS.load(std::sync::atomic::Ordering::Relaxed) > 10);
}

#[test]
fn release_from_two_threads_into_one_arena() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.max_branches = 100_000;
    builder.check(|| {
        let pool = small_pool();
        let x = pool.alloc(100);
        let y = pool.alloc(100);
        let t = thread::spawn(move || {
            drop(x);
            crate::local::retire_current_thread();
        });
        drop(y);
        t.join().unwrap();
        let m = pool.metrics();
        assert_eq!((m.active_bytes, m.deallocations.total()), (0, 2));
        // Both elements are free again: the next two allocations reuse them.
        let p = pool.alloc(100);
        let q = pool.alloc(100);
        assert_eq!(pool.metrics().chunks, 1);
        assert_ne!(p.as_ptr(), q.as_ptr());
        crate::local::retire_current_thread();
    });
}
