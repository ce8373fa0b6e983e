//! The pool-wide count of bytes parked in large bins (classes above 32 KiB)
//! follows every way entries come and go — parks, pops, a bin full, a
//! sweep, a flush, a thread's exit — so the bound it enforces is the bytes
//! really parked. Only large classes are used, so the metrics' cached bytes
//! are exactly those.

use crate::{Pool, TrimPolicy};

#[test]
fn the_pool_wide_large_count_is_what_the_large_bins_hold() {
    let pool = Pool::builder()
        .arenas(1)
        .cache_sweep_threshold(16)
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap();
    let large = pool.heap().large_parked.clone();
    let agrees = |when: &str| {
        assert_eq!(large.get(), pool.metrics().cached_bytes, "{when}");
    };
    let sizes = [48 << 10, 64 << 10, 200 << 10, 512 << 10, 1 << 20];
    for round in 0..3 {
        let bufs: Vec<_> = sizes
            .iter()
            .flat_map(|&s| (0..3).map(move |_| s))
            .map(|s| pool.alloc(s))
            .collect();
        agrees("all handed out");
        drop(bufs); // parks up to each bin's bound; the rest to the arena
        agrees("released");
        assert!(large.get() > 0, "round {round}");
        // Reuse one size for a while: the sweep gives back what the other
        // bins did not serve.
        for _ in 0..40 {
            drop(pool.alloc(64 << 10));
        }
        agrees("after sweeps");
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            drop(pool.alloc(256 << 10));
            agrees("another thread parked");
        });
    });
    agrees("that thread exited");
    pool.trim(); // flushes this thread's cache
    assert_eq!(large.get(), 0);
    agrees("trimmed");
}
