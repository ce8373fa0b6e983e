//! The arena's depot of full thread-cache bins keeps every bin within its
//! bound: a spare vector from a class of more entries (a 1 KiB bin keeps
//! 256) once let a 64 KiB bin (then 4 entries) park 16 MiB. Now the spare
//! a deposit hands back has the bin's own capacity, and a bin's `limit`
//! is never above its `max` either. Measured on a 32 KiB bin (64 entries,
//! 2 MiB), the largest class whose bins deposit (larger ones draw on the
//! pool-wide room instead).

use std::sync::mpsc;
use std::thread;
use tidebuf::{Pool, PooledBytesMut, TrimPolicy};

/// A producer allocates, a consumer thread releases (so its bins fill and
/// go to the depot whole); returns `cached_bytes` after 300 buffers of
/// 32 KiB went that way — first, if `prime`, after a full 1 KiB bin went
/// through the depot and left its vector behind as a spare.
fn cached_after_32k_handoff(prime: bool) -> usize {
    let pool = Pool::builder()
        .arenas(1)
        .max_cached_buffer_capacity(1 << 20)
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel::<Vec<PooledBytesMut>>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let consumer = thread::spawn(move || {
        for bufs in rx {
            drop(bufs); // released here: parked in this thread's bins
            done_tx.send(()).unwrap();
        }
    });
    let mut keep = Vec::new();
    if prime {
        // The consumer's 1 KiB bin fills and is deposited whole ...
        tx.send((0..300).map(|_| pool.alloc(1024)).collect())
            .unwrap();
        done_rx.recv().unwrap();
        // ... and the producer's refills withdraw it: the producer's
        // emptied 256-entry vector becomes a spare.
        keep.extend((0..600).map(|_| pool.alloc(1024)));
    }
    tx.send((0..300).map(|_| pool.alloc(32 << 10)).collect())
        .unwrap();
    done_rx.recv().unwrap();
    let cached = pool.metrics().cached_bytes;
    drop(tx);
    consumer.join().unwrap();
    drop(keep);
    cached
}

#[test]
fn a_spare_from_another_class_does_not_lift_a_bins_bound() {
    let alone = cached_after_32k_handoff(false);
    let primed = cached_after_32k_handoff(true);
    // The priming may leave up to a depot's worth (1 MiB) of 1 KiB
    // regions parked; the 32 KiB bin itself must stay at its 2 MiB (a
    // 256-entry spare would let it park 8 MiB).
    assert!(
        primed <= alone + (1 << 20),
        "cached {} KiB after the 1 KiB priming against {} KiB without",
        primed >> 10,
        alone >> 10
    );
}
