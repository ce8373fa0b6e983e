//! The incident's burst: 32 threads allocate 1–5 MiB buffers, fill every
//! byte, hold them a few ms and drop them, for about 2 s; then they stay
//! alive and idle, never calling into the pool again.
//!
//! With the decay policy (200 ms), `used_bytes` falls to ≤ 10 % of its peak
//! within 1 s of idle. With `TrimPolicy::Never` the pooled memory stays:
//! judged over chunk memory only, because huge buffers (> chunk) are freed
//! on release under every policy (with the default 8 MiB chunk, every
//! buffer here is a page run in a chunk).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tidebuf::{Pool, TrimPolicy};

const THREADS: usize = 32;
const BURST: Duration = Duration::from_secs(2);

struct Outcome {
    peak_used: usize,
    peak_pooled: usize,
    /// `used_bytes` after idle, and how long it took to get there.
    settled: Vec<(Duration, usize)>,
    chunk_size: usize,
}

fn run(policy: TrimPolicy, watch_idle: Duration) -> Outcome {
    let pool = Pool::builder().trim_policy(policy).build().unwrap();
    let chunk_size = pool.chunk_size();
    let stop = Arc::new(AtomicBool::new(false));
    let idle = Arc::new(Barrier::new(THREADS + 1));
    let release = Arc::new(Barrier::new(THREADS + 1));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (pool, stop, idle, release) =
                (pool.clone(), stop.clone(), idle.clone(), release.clone());
            std::thread::spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64) << 32;
                while !stop.load(Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let size = (1 << 20) + (x % (4 << 20)) as usize;
                    let mut buf = pool.alloc(size);
                    buf.spare_capacity_mut()[..size].fill(std::mem::MaybeUninit::new(t as u8));
                    // SAFETY: the first `size` bytes were just written.
                    unsafe { buf.set_len(size) };
                    std::thread::sleep(Duration::from_millis(2 + x % 4));
                    assert!(buf[size - 1] == t as u8);
                    drop(buf);
                }
                idle.wait();
                // Alive and idle: no call into the pool from here on.
                release.wait();
            })
        })
        .collect();
    // Sample the peak while the burst runs (metrics read counters only).
    let (peak_used, peak_pooled) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let start = Instant::now();
    while start.elapsed() < BURST {
        let m = pool.metrics();
        peak_used.fetch_max(m.used_bytes, Relaxed);
        peak_pooled.fetch_max(m.chunks * chunk_size, Relaxed);
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Relaxed);
    idle.wait();
    let idle_start = Instant::now();
    let mut settled = Vec::new();
    while idle_start.elapsed() < watch_idle {
        settled.push((idle_start.elapsed(), pool.metrics().used_bytes));
        std::thread::sleep(Duration::from_millis(10));
    }
    release.wait();
    for w in workers {
        w.join().unwrap();
    }
    Outcome {
        peak_used: peak_used.into_inner(),
        peak_pooled: peak_pooled.into_inner(),
        settled,
        chunk_size,
    }
}

#[test]
fn decay_gives_back_after_the_burst() {
    let out = run(
        TrimPolicy::decay(Duration::from_millis(200)),
        Duration::from_secs(1),
    );
    let limit = out.peak_used / 10;
    let reached = out.settled.iter().find(|(_, used)| *used <= limit);
    let last = out.settled.last().unwrap().1;
    eprintln!(
        "decay 200 ms: peak used {} MiB, after 1 s idle {} MiB; <= 10% after {:?}",
        out.peak_used >> 20,
        last >> 20,
        reached.map(|r| r.0)
    );
    assert!(
        out.peak_used >= 8 * out.chunk_size,
        "the burst pooled memory: {}",
        out.peak_used
    );
    assert!(
        reached.is_some(),
        "used stayed above 10% of {}: {last}",
        out.peak_used
    );
}

#[test]
fn never_keeps_the_pooled_memory() {
    let out = run(TrimPolicy::Never, Duration::from_millis(500));
    let last = out.settled.last().unwrap().1;
    eprintln!(
        "never: peak used {} MiB, peak pooled {} MiB, after idle {} MiB",
        out.peak_used >> 20,
        out.peak_pooled >> 20,
        last >> 20
    );
    // Every huge buffer is gone; the chunks are all still held.
    assert!(
        last * 10 >= out.peak_pooled * 8,
        "kept {last} of pooled peak {}",
        out.peak_pooled
    );
}
