//! Burst, idle, trim: a pool's `used` memory stays at its peak after a burst
//! of 1–5 MiB buffers until something gives it back.
//!
//! ```text
//! cargo run --release --example shrink_demo
//! ```
//!
//! Eight threads allocate buffers of 1–5 MiB (those above the 4 MiB chunk
//! size are huge: a mapping of their own, unmapped on release), write every
//! requested byte, hold each for a few milliseconds and drop it, for about
//! two seconds. Then nothing happens for a second, then `Pool::trim()` runs.
//! Every 250 ms a line shows `used`, `active` and `cached` from
//! `Pool::metrics()` and the process RSS (Linux only, from
//! `/proc/self/statm`).
//!
//! The pool runs `TrimPolicy::Never` (Netty's behaviour): the idle phase
//! shows what every Netty pool does once load falls — `active` drops to 0,
//! `used` stays. Today no policy gives memory back on its own, so only the
//! explicit `trim()` (or dropping the pool) returns it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use tidebuf::{Pool, TrimPolicy};

const THREADS: usize = 8;
const BURST: Duration = Duration::from_secs(2);
const IDLE: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(250);
const MIB: usize = 1 << 20;

fn main() {
    let pool = Pool::builder()
        .trim_policy(TrimPolicy::Never)
        .build()
        .expect("valid settings");
    println!(
        "{THREADS} threads, 1-5 MiB buffers; {} arenas, chunk {} MiB, TrimPolicy::Never",
        pool.arena_count(),
        pool.chunk_size() / MIB
    );
    println!(
        "{:<8}{:>7}{:>11}{:>11}{:>11}{:>7}{:>5}{:>10}",
        "phase", "t", "used MiB", "active MiB", "cached MiB", "chunks", "huge", "RSS MiB"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let buffers = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|i| {
            let (pool, stop, buffers) = (pool.clone(), stop.clone(), buffers.clone());
            thread::spawn(move || burst(&pool, i as u64, &stop, &buffers))
        })
        .collect();

    let mut peak = 0;
    for tick in 1..=ticks(BURST) {
        sleep_until(start + TICK * tick);
        peak = peak.max(report("burst", start, &pool));
    }
    stop.store(true, Relaxed);
    for worker in workers {
        worker.join().expect("worker panicked");
    }
    println!(
        "-- burst over: {} buffers; no further call into the pool --",
        buffers.load(Relaxed)
    );

    let idle = Instant::now();
    for tick in 1..=ticks(IDLE) {
        sleep_until(idle + TICK * tick);
        peak = peak.max(report("idle", start, &pool));
    }

    let trim = pool.trim();
    println!(
        "-- pool.trim(): {} chunks, {:.1} MiB released ({trim:?}) --",
        trim.chunks_released,
        mib(trim.bytes_released)
    );
    let after = report("trimmed", start, &pool);
    println!(
        "peak used {:.1} MiB → after trim {:.1} MiB",
        mib(peak),
        mib(after)
    );
}

/// One worker: allocate, fill, hold, drop, until told to stop.
fn burst(pool: &Pool, seed: u64, stop: &AtomicBool, buffers: &AtomicU64) {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (seed + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let pattern = vec![seed as u8; 64 << 10];
    while !stop.load(Relaxed) {
        let size = MIB + (rng.next() % (4 * MIB as u64 + 1)) as usize; // 1..=5 MiB
        let mut buf = pool.alloc(size);
        while buf.len() < size {
            let n = (size - buf.len()).min(pattern.len());
            buf.extend_from_slice(&pattern[..n]);
        }
        assert_eq!(buf[size - 1], seed as u8);
        thread::sleep(Duration::from_millis(2 + rng.next() % 4)); // 2-5 ms
        drop(buf);
        buffers.fetch_add(1, Relaxed);
    }
}

/// Prints one line of metrics; returns `used_bytes`.
fn report(phase: &str, start: Instant, pool: &Pool) -> usize {
    let m = pool.metrics();
    let rss = rss_bytes().map_or_else(|| "n/a".to_string(), |b| format!("{:.1}", mib(b)));
    println!(
        "{phase:<8}{:>6.2}s{:>11.1}{:>11.1}{:>11.1}{:>7}{:>5}{rss:>10}",
        start.elapsed().as_secs_f64(),
        mib(m.used_bytes),
        mib(m.active_bytes),
        mib(m.cached_bytes),
        m.chunks,
        m.huge_buffers,
    );
    m.used_bytes
}

/// Resident set size from `/proc/self/statm` (its second field, in pages;
/// 4 KiB pages assumed, as on x86_64). `None` where there is no procfs.
fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / MIB as f64
}

fn ticks(phase: Duration) -> u32 {
    (phase.as_millis() / TICK.as_millis()) as u32
}

fn sleep_until(when: Instant) {
    if let Some(left) = when.checked_duration_since(Instant::now()) {
        thread::sleep(left);
    }
}

/// Marsaglia's xorshift64: enough randomness for sizes, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
