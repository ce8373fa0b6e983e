//! Arenas on demand: one arena under a trickle, more as lock contention
//! appears, never more than configured.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tidebuf::Pool;

#[test]
fn contention_puts_more_arenas_in_use() {
    let pool = Pool::builder()
        .arenas(4)
        .thread_cache(false)
        .build()
        .unwrap();
    assert_eq!(pool.arena_count(), 4);
    let deadline = Instant::now() + Duration::from_secs(10);
    // Most arenas seen in use at once (threads unbind when they exit, so
    // this is sampled while they run).
    let most = AtomicUsize::new(1);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                // Arena-path allocations (64 KiB, no cache) until the threads
                // spread out or the deadline passes.
                while most.load(Relaxed) < 2 && Instant::now() < deadline {
                    for _ in 0..64 {
                        drop(pool.alloc(64 << 10));
                    }
                    let in_use = pool
                        .metrics()
                        .arenas
                        .iter()
                        .filter(|a| a.threads > 0)
                        .count();
                    most.fetch_max(in_use, Relaxed);
                }
            });
        }
    });
    assert!(
        most.into_inner() >= 2,
        "threads never spread to a second arena"
    );
    assert_eq!(pool.metrics().arenas.len(), 4, "never more than configured");
}

#[test]
fn a_trickle_shares_one_arena() {
    let pool = Pool::builder().arenas(8).build().unwrap();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(i * 5));
                drop(pool.alloc(100_000));
            })
        })
        .collect();
    let bound = pool
        .metrics()
        .arenas
        .iter()
        .map(|a| a.threads)
        .sum::<usize>();
    for t in threads {
        t.join().unwrap();
    }
    let m = pool.metrics();
    assert!(
        m.chunks <= 1,
        "a trickle needs one chunk, not one per arena: {}",
        m.chunks
    );
    assert!(bound <= 16);
}

/// A large run goes back where the last large run was freed, if it fits
/// there — memory just written is warm — rather than into the fuller chunk
/// the search order would pick. (The 8-thread 1–5 MiB mix of
/// `benches/large.rs` runs ~7 % faster for it.)
#[test]
fn a_large_run_reuses_the_chunk_a_large_run_just_left() {
    let pool = tidebuf::Pool::builder()
        .arenas(1)
        .chunk_size(4 << 20)
        .trim_policy(tidebuf::TrimPolicy::Never)
        .build()
        .unwrap();
    let half = pool.alloc(2 << 20); // chunk A, half used
    let big = pool.alloc(3 << 20); // does not fit in A: chunk B
    let freed_at = big.as_ptr();
    drop(big); // B is empty now, and warm
    let again = pool.alloc(2 << 20);
    assert_eq!(again.as_ptr(), freed_at, "B, not A's free half");
    assert_eq!(pool.metrics().chunks, 2);
    drop((half, again));
}
