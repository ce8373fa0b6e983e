//! The pool-wide bound on large bins (classes above 32 KiB) counts the room
//! each bin reserved, and that count follows every way room is taken and
//! given — a release at a bin's limit, a sweep, a flush, a thread's exit —
//! so that it always equals the caches' reserved room, which holds every
//! byte parked, within one chunk. Only large classes are used here, so the
//! metrics' cached bytes are exactly the large bins' entries.

use crate::{Pool, TrimPolicy};

#[test]
fn the_pool_wide_large_count_is_the_room_the_large_bins_reserved() {
    let chunk = 1 << 20;
    let pool = Pool::builder()
        .arenas(1)
        .chunk_size(chunk)
        .cache_sweep_threshold(16)
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap();
    let large = pool.heap().large_room.clone();
    let reserved = || {
        let heap = pool.heap();
        let all = heap.caches_except(None);
        all.iter().map(|c| c.reserved_large()).sum::<usize>()
    };
    let agrees = |when: &str| {
        assert_eq!(large.get(), reserved(), "{when}");
        let cached = pool.metrics().cached_bytes;
        assert!(cached <= large.get(), "{when}: {cached} parked");
        assert!(large.get() <= chunk, "{when}: {} reserved", large.get());
    };
    let sizes = [48 << 10, 64 << 10, 200 << 10, 512 << 10];
    for round in 0..3 {
        let bufs: Vec<_> = sizes
            .iter()
            .flat_map(|&s| (0..3).map(move |_| s))
            .map(|s| pool.alloc(s))
            .collect();
        agrees("all handed out");
        drop(bufs); // parks up to each bin's bound and the pool's
        agrees("released");
        // Every release reserved room until the one-chunk bound: the bins
        // are full to their limits, and the bound is nearly reached.
        assert_eq!(pool.metrics().cached_bytes, large.get(), "round {round}");
        assert!(large.get() > chunk - (512 << 10), "round {round}");
        // Reuse one size for a while: the sweeps give back the entries and
        // the room the other bins did not use.
        for _ in 0..40 {
            drop(pool.alloc(64 << 10));
        }
        agrees("after sweeps");
        assert!(
            large.get() <= 4 * (64 << 10),
            "round {round}: {}",
            large.get()
        );
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            drop(pool.alloc(256 << 10));
            agrees("another thread parked");
        });
    });
    agrees("that thread exited");
    pool.trim(); // flushes this thread's cache and gives its room back
    assert_eq!(large.get(), 0);
    agrees("trimmed");
}

/// An idle thread whose large bin holds room but no entry (its buffer is
/// out) gives the room back at the decay trimmer's idle-cache step, as a
/// cache with entries would: otherwise idle threads could hold the whole
/// pool-wide bound with nothing parked.
#[test]
fn an_idle_threads_room_without_entries_goes_with_decay() {
    use std::sync::mpsc;
    let pool = Pool::builder()
        .arenas(1)
        .trim_policy(TrimPolicy::decay(std::time::Duration::from_secs(3600)))
        .background_trimmer(false)
        .build()
        .unwrap();
    let large = pool.heap().large_room.clone();
    let (held_tx, held_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let worker = std::thread::spawn({
        let pool = pool.clone();
        move || {
            drop(pool.alloc(64 << 10)); // reserves room for one, parks it
            let out = pool.alloc(64 << 10); // takes it back: the room stays
            held_tx.send(()).unwrap();
            done_rx.recv().unwrap();
            drop(out);
        }
    });
    held_rx.recv().unwrap();
    assert_eq!((large.get(), pool.metrics().cached_bytes), (64 << 10, 0));
    // Ticks by hand: the worker makes no call, so its cache turns idle.
    let mut ticks = 0;
    while large.get() > 0 {
        pool.heap().decay_tick();
        ticks += 1;
        assert!(
            ticks <= 4 * crate::clock::IDLE_TICKS,
            "the room was never given back"
        );
    }
    done_tx.send(()).unwrap();
    worker.join().unwrap();
}
