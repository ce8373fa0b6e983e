//! Thread caches under loom: cross-thread release into the releasing
//! thread's cache, the trimmer taking an idle owner's cache while the owner
//! allocates and releases, and a thread's exit flush racing the trimmer.
//! The entries live in a loom `UnsafeCell`: any overlapping access by the
//! owner and the trimmer fails the model.
//!
//! Threads end by calling `retire_current_thread`, the code their
//! thread-local destructor runs: loom runs those destructors outside the
//! causality it tracks, and reports false races there.

use crate::thread_cache::ThreadCache;
use crate::{Backing, Pool, TrimPolicy};
use loom::thread;
use std::sync::Arc;

fn pool() -> Pool {
    Pool::builder()
        .arenas(1)
        .page_size(4096)
        .chunk_size(128 << 10)
        .backing(Backing::Heap)
        .small_cache_size(2)
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap()
}

fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(bound);
    // Allocation paths touch many counters; each access is a branch.
    builder.max_branches = 100_000;
    builder.check(f);
}

/// The cache registered for the calling thread.
fn own_cache(pool: &Pool) -> Arc<ThreadCache> {
    let inner = pool.heap();
    let own =
        crate::local::existing_cache(inner).expect("this thread has a cache") as *const ThreadCache;
    let caches = inner.caches_except(None);
    caches
        .into_iter()
        .find(|c| Arc::as_ptr(c) == own)
        .expect("registered")
}

/// Everything handed out came back exactly once: nothing live, and what the
/// arena handed out is exactly what caches hold.
fn assert_balanced(pool: &Pool) {
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 0);
    assert_eq!(m.allocations.total(), m.deallocations.total());
    // Per arena: nothing live, and what it handed out sits in caches.
    assert!(m.arenas.iter().all(|a| a.active_bytes == 0));
    let arena_cached: usize = m.arenas.iter().map(|a| a.cached_bytes).sum();
    assert_eq!(arena_cached, m.cached_bytes);
}

#[test]
fn loom_cross_thread_release_into_the_releasers_cache() {
    model(3, || {
        let pool = pool();
        let a = pool.alloc(100);
        let b = pool.alloc(100);
        let p2 = pool.clone();
        let t = thread::spawn(move || {
            drop(a); // into this thread's cache
            drop(p2.alloc(100)); // a hit from it
            crate::local::retire_current_thread();
        });
        drop(b);
        t.join().unwrap();
        assert_balanced(&pool);
        crate::local::retire_current_thread();
    });
}

#[test]
fn loom_trimmer_flush_races_the_owner() {
    model(2, || {
        let pool = pool();
        drop(pool.alloc(100)); // the owner's cache now holds entries
        let cache = own_cache(&pool);
        let p2 = pool.clone();
        let trimmer = thread::spawn(move || {
            let flushed = cache.flush_foreign(&p2.heap().arenas);
            // Either it took the entries or the owner was busy.
            assert!(flushed.is_none_or(|n| n <= 2));
        });
        // The owner keeps working meanwhile: a hit or a fall-back to the
        // arena, never a shared entry.
        let x = pool.alloc(100);
        let y = pool.alloc(100);
        assert_ne!(x.as_ptr(), y.as_ptr());
        drop(x);
        trimmer.join().unwrap();
        drop(y);
        assert_balanced(&pool);
        crate::local::retire_current_thread();
    });
}

#[test]
fn loom_exit_flush_races_the_trimmer() {
    model(2, || {
        let pool = pool();
        let p1 = pool.clone();
        let (tx, rx) = loom::sync::mpsc::channel();
        let owner = thread::spawn(move || {
            drop(p1.alloc(100));
            tx.send(own_cache(&p1)).unwrap();
            // Exits: the flush its thread-local destructor runs.
            crate::local::retire_current_thread();
        });
        let cache = rx.recv().unwrap();
        let _ = cache.flush_foreign(&pool.heap().arenas);
        owner.join().unwrap();
        let m = pool.metrics();
        assert_eq!((m.cached_bytes, m.active_bytes), (0, 0));
        assert!(m
            .arenas
            .iter()
            .all(|a| a.active_bytes == 0 && a.threads == 0));
        crate::local::retire_current_thread();
    });
}

/// Two threads release a large buffer (80 KiB: above 32 KiB, so its bin
/// reserves room in the pool-wide bound) into their own caches at once,
/// while the bound (one 128 KiB chunk) has room for one: at most one
/// parks, the other goes to the arena; the count never passes the bound,
/// even for an instant another thread could see; and once the other
/// thread exits, the count is exactly the room this thread's bins hold.
#[test]
fn loom_large_room_reserved_by_two_threads_stays_within_the_bound() {
    const LARGE: usize = 80 << 10;
    model(2, || {
        let pool = pool();
        let large = pool.heap().large_room.clone();
        let a = pool.alloc(LARGE);
        let p2 = pool.clone();
        let l2 = large.clone();
        let t = thread::spawn(move || {
            let b = p2.alloc(LARGE);
            drop(b);
            assert!(l2.get() <= 128 << 10);
            crate::local::retire_current_thread();
        });
        drop(a);
        assert!(large.get() <= 128 << 10);
        t.join().unwrap();
        // The other thread's exit gave its room back.
        assert_eq!(large.get(), own_cache(&pool).reserved_large());
        assert_eq!(pool.metrics().cached_bytes, large.get());
        assert_balanced(&pool);
        crate::local::retire_current_thread();
        assert_eq!(large.get(), 0);
    });
}
