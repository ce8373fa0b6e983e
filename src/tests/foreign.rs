//! Regions of one arena parked in a cache bound to another. The cache tags
//! them `FOREIGN` and counts their bytes for their own arena (its own
//! arena's parked bytes are derived, not counted), so the per-arena
//! figures stay exact; they leave the cache untagged — valid regions —
//! whether popped, flushed or deposited whole; and a cache that moves to
//! another arena tags what it holds. Threads are placed in arenas with the
//! private lever `spread` reads (a thread's contention count).

use crate::{Pool, PooledBytesMut, TrimPolicy};
use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;

/// (active, cached) bytes of each arena.
fn by_arena(pool: &Pool) -> Vec<(usize, usize)> {
    let m = pool.metrics();
    m.arenas
        .iter()
        .map(|a| (a.active_bytes, a.cached_bytes))
        .collect()
}

/// Binds the calling thread to an arena (0 if it is the first) and, with
/// `next`, moves it on, as contention would. Returns its arena.
fn place(pool: &Pool, next: bool) -> u32 {
    // A 2 MiB run is not cached by default: its requests take the slow
    // path, which binds the thread and runs `spread`.
    drop(pool.alloc(2 << 20));
    let cache = crate::local::existing_cache(pool.heap()).unwrap();
    if next {
        cache.recent_contention.store(u32::MAX / 2, Relaxed);
        drop(pool.alloc(2 << 20));
    }
    cache.arena()
}

fn pool() -> Pool {
    Pool::builder()
        .arenas(2)
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap()
}

fn addrs(bufs: &[PooledBytesMut]) -> HashSet<usize> {
    bufs.iter().map(|b| b.as_ptr() as usize).collect()
}

/// Fills each buffer to its capacity and checks it reads back.
fn fill_and_check(bufs: &mut [PooledBytesMut], byte: u8) {
    for b in bufs.iter_mut() {
        b.clear();
        b.resize(b.capacity(), byte);
    }
    assert!(bufs.iter().all(|b| b.iter().all(|&x| x == byte)));
}

/// `n` buffers of `size` made on a thread moved to arena 1.
fn made_in_arena_1(pool: &Pool, n: usize, size: usize) -> Vec<PooledBytesMut> {
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(place(pool, true), 1);
            (0..n).map(|_| pool.alloc(size)).collect()
        })
        .join()
        .unwrap()
    })
}

#[test]
fn another_arenas_regions_are_counted_for_it_and_served_back_valid() {
    let pool = pool();
    assert_eq!(place(&pool, false), 0);
    let mut theirs = made_in_arena_1(&pool, 10, 1024);
    // Their thread exited: its cache went back, its arena keeps only these.
    assert_eq!(by_arena(&pool), [(0, 0), (10 << 10, 0)]);
    fill_and_check(&mut theirs, 1);
    let sent = addrs(&theirs);

    drop(theirs); // parked here, in arena 0's cache, as foreign
    assert_eq!(by_arena(&pool), [(0, 0), (0, 10 << 10)]);

    // Served back, last parked first: the same regions, usable.
    let mut again: Vec<_> = (0..10).map(|_| pool.alloc(1024)).collect();
    assert_eq!(addrs(&again), sent);
    fill_and_check(&mut again, 2);
    assert_eq!(by_arena(&pool), [(0, 0), (10 << 10, 0)]);

    drop(again);
    pool.trim(); // this thread's cache is flushed: each region to its arena
    assert_eq!(by_arena(&pool), [(0, 0), (0, 0)]);
}

#[test]
fn a_cache_moving_arenas_counts_what_it_holds_for_the_arena_it_left() {
    let pool = pool();
    assert_eq!(place(&pool, false), 0);
    let mut own: Vec<_> = (0..10).map(|_| pool.alloc(2048)).collect();
    fill_and_check(&mut own, 3);
    let parked = addrs(&own);
    drop(own);
    // Parked in the cache of arena 0, counted for it.
    let before = by_arena(&pool);
    assert_eq!(before[0].0, 0);
    assert!(before[0].1 >= 10 * 2048, "{before:?}");
    assert_eq!(before[1], (0, 0));

    let cache = crate::local::existing_cache(pool.heap()).unwrap();
    cache.recent_contention.store(u32::MAX / 2, Relaxed);
    drop(pool.alloc(2 << 20));
    assert_eq!(cache.arena(), 1, "moved");
    // Still arena 0's bytes, though the cache now belongs to arena 1.
    assert_eq!(by_arena(&pool), before);

    let mut again: Vec<_> = (0..10).map(|_| pool.alloc(2048)).collect();
    assert_eq!(addrs(&again), parked);
    fill_and_check(&mut again, 4);
    assert_eq!(by_arena(&pool)[0].0, 10 * 2048);
    drop(again);
    pool.trim();
    assert_eq!(by_arena(&pool), [(0, 0), (0, 0)]);
}

#[test]
fn a_full_bin_of_another_arena_goes_to_its_depot_untagged() {
    let pool = pool();
    assert_eq!(place(&pool, false), 0);
    let class = pool.heap().classes().class_of(1024).unwrap();
    let cache = crate::local::existing_cache(pool.heap()).unwrap();
    let max = cache.bin_max(class) as usize;
    // One more than the bin holds: the push that finds it full deposits the
    // whole bin (all of arena 1) in arena 1's depot.
    let theirs = made_in_arena_1(&pool, max + 1, 1024);
    let sent = addrs(&theirs);
    drop(theirs);
    let (parked, _) = cache.parked(class);
    assert_eq!(parked.len(), 1, "the bin went whole; the last one stays");
    assert_eq!(by_arena(&pool), [(0, 0), (0, (max + 1) << 10)]);

    // A thread of arena 1 refills from the depot: valid regions.
    let mut served = std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(place(&pool, true), 1);
            let mut bufs: Vec<_> = (0..max).map(|_| pool.alloc(1024)).collect();
            fill_and_check(&mut bufs, 5);
            bufs
        })
        .join()
        .unwrap()
    });
    assert!(addrs(&served).is_subset(&sent));
    fill_and_check(&mut served, 6);
    assert_eq!(by_arena(&pool)[1].0, max << 10);
    drop(served);
    pool.trim();
    assert_eq!(by_arena(&pool), [(0, 0), (0, 0)]);
}
