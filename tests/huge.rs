//! Huge buffers (> chunk) are recycled: a bounded best-fit cache of
//! released mappings, counted in used and cached, given back by trimming.

use std::time::Duration;
use tidebuf::{Pool, TrimPolicy};

const CHUNK: usize = 1 << 20;

fn pool(policy: TrimPolicy) -> Pool {
    Pool::builder()
        .chunk_size(CHUNK)
        .trim_policy(policy)
        .build()
        .unwrap()
}

#[test]
fn a_released_mapping_serves_the_next_request_that_fits() {
    let pool = pool(TrimPolicy::Never);
    let first = pool.alloc(3 * CHUNK);
    let addr = first.as_ptr();
    drop(first);
    let m = pool.metrics();
    assert_eq!(
        (m.huge_buffers, m.cached_bytes, m.used_bytes),
        (0, 3 * CHUNK, 3 * CHUNK)
    );
    // Slightly smaller: reused (waste under a quarter), already faulted in.
    let again = pool.alloc(3 * CHUNK - 100_000);
    assert_eq!(again.as_ptr(), addr);
    assert_eq!(again.capacity(), 3 * CHUNK);
    let m = pool.metrics();
    assert_eq!(
        (m.huge_buffers, m.cached_bytes, m.active_bytes),
        (1, 0, 3 * CHUNK)
    );
    drop(again);
    // Much smaller: not worth it (waste over a quarter): a new mapping.
    let small = pool.alloc(CHUNK + 1);
    assert_ne!(small.as_ptr(), addr);
    assert_eq!(pool.metrics().cached_bytes, 3 * CHUNK);
}

#[test]
fn of_equal_mappings_the_last_released_serves_first() {
    // The newest mapping is the one whose bytes the CPU caches may still
    // hold: with 8 threads cycling 1–5 MiB buffers, reusing the coldest
    // one sent every fill to DRAM.
    let pool = pool(TrimPolicy::Never);
    let bufs: Vec<_> = (0..3).map(|_| pool.alloc(3 * CHUNK)).collect();
    let addrs: Vec<_> = bufs.iter().map(|b| b.as_ptr()).collect();
    drop(bufs); // released in order: 0, 1, 2
    assert_eq!(pool.metrics().cached_bytes, 9 * CHUNK, "all three kept");
    let newest = pool.alloc(3 * CHUNK);
    assert_eq!(newest.as_ptr(), addrs[2]);
    let next = pool.alloc(3 * CHUNK);
    assert_eq!(next.as_ptr(), addrs[1]);
    drop(next);
    drop(newest); // now newest: 2, then 1, then 0
    assert_eq!(pool.alloc(3 * CHUNK).as_ptr(), addrs[2]);
}

#[test]
fn the_cache_is_bounded() {
    let pool = pool(TrimPolicy::Never);
    let bufs: Vec<_> = (0..40).map(|i| pool.alloc(2 * CHUNK + i * 4096)).collect();
    drop(bufs);
    let m = pool.metrics();
    // At most 8 mappings and 16 chunks' worth, however many were alive.
    assert!(m.cached_bytes <= 16 * CHUNK, "cached {}", m.cached_bytes);
    assert!(m.cached_bytes <= 8 * (2 * CHUNK + 40 * 4096));
    assert_eq!(m.used_bytes, m.cached_bytes);
    assert_eq!(m.huge_buffers, 0);
}

#[test]
fn steady_huge_requests_reuse_mappings() {
    let pool = pool(TrimPolicy::Never);
    drop(pool.alloc(5 * CHUNK));
    let addr = pool.alloc(5 * CHUNK).as_ptr();
    for _ in 0..100 {
        let b = pool.alloc(5 * CHUNK - 4096);
        assert_eq!(b.as_ptr(), addr, "no new mapping in steady state");
    }
    assert_eq!(pool.metrics().allocations.huge, 102);
}

#[test]
fn decay_gives_idle_mappings_back() {
    let pool = pool(TrimPolicy::decay(Duration::from_millis(40)));
    drop(pool.alloc(3 * CHUNK));
    assert_eq!(pool.metrics().cached_bytes, 3 * CHUNK);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while pool.metrics().used_bytes > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(pool.metrics().used_bytes, 0);
}

/// `capacity_for` gives the class of a huge request (four per doubling
/// above the chunk); a recycled mapping of a larger class may be given
/// instead, by at most a quarter more, and `capacity()` says so.
#[test]
fn capacity_for_a_huge_request_bounds_what_a_recycled_mapping_gives() {
    let pool = pool(TrimPolicy::Never);
    let request = 4 * CHUNK + 1;
    let promised = pool.capacity_for(request).unwrap();
    assert_eq!(promised, 5 * CHUNK, "the class above 4 chunks");
    // A fresh mapping has exactly the promised capacity.
    let fresh = pool.alloc(request);
    assert_eq!(fresh.capacity(), promised);
    drop(pool.alloc(5 * CHUNK + 1)); // a 6-chunk mapping, kept for reuse
    let buf = pool.alloc(request);
    assert_eq!(buf.capacity(), 6 * CHUNK, "the recycled 6-chunk mapping");
    assert!(buf.capacity() >= promised && buf.capacity() <= promised + promised / 4);
}

/// Huge sizes that vary within a class reuse one mapping: the incident's
/// 4–5 MiB responses above a 4 MiB chunk map (and fault in) nothing anew in
/// steady state.
#[test]
fn varying_huge_sizes_within_a_class_reuse_one_mapping() {
    let pool = pool(TrimPolicy::Never);
    drop(pool.alloc(4 * CHUNK + 1));
    let mapped = pool.metrics().used_bytes;
    let addr = pool.alloc(5 * CHUNK).as_ptr();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let size = 4 * CHUNK + 1 + (x % CHUNK as u64) as usize;
        let buf = pool.alloc(size);
        assert_eq!(buf.as_ptr(), addr, "{size}: no new mapping");
        assert_eq!(buf.capacity(), 5 * CHUNK);
    }
    assert_eq!(pool.metrics().used_bytes, mapped);
}
