//! Burst, then idle: a pool's `used` memory after a burst of 1–5 MiB
//! buffers, with Netty's behaviour (`TrimPolicy::Never`) and with tidebuf's
//! default decay policy.
//!
//! ```text
//! cargo run --release --example shrink_demo
//! ```
//!
//! Eight threads allocate buffers of 1–5 MiB (those above the 4 MiB chunk
//! size are huge: a mapping of their own, unmapped on release), write every
//! requested byte, hold each for a few milliseconds and drop it, for about
//! two seconds. Then they stay alive and idle — no call into the pool — for
//! a second and a half. Every 250 ms a line shows `used`, `active` and
//! `cached` from `Pool::metrics()` and the process RSS (Linux only, from
//! `/proc/self/statm`).
//!
//! With `Never`, `active` drops to 0 and `used` stays: what every Netty
//! pool does once load falls. With the decay policy (a short 250 ms period
//! for the demo; the default is 10 s) the background trimmer gives the idle
//! memory back, and RSS follows.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};
use tidebuf::{Pool, TrimPolicy};

const THREADS: usize = 8;
const BURST: Duration = Duration::from_secs(2);
const IDLE: Duration = Duration::from_millis(1500);
const TICK: Duration = Duration::from_millis(250);
const MIB: usize = 1 << 20;

fn main() {
    let never = run("never", TrimPolicy::Never);
    let decay = run(
        "decay 250 ms",
        TrimPolicy::decay(Duration::from_millis(250)),
    );
    println!();
    for (name, r) in [("TrimPolicy::Never", never), ("decay (250 ms)", decay)] {
        println!(
            "{name:<18} peak used {:>6.1} MiB → after idle {:>6.1} MiB   (RSS {} → {})",
            mib(r.peak_used),
            mib(r.used_after_idle),
            r.rss_peak
                .map_or("n/a".into(), |b| format!("{:.1} MiB", mib(b))),
            r.rss_after_idle
                .map_or("n/a".into(), |b| format!("{:.1} MiB", mib(b))),
        );
    }
}

/// What one run showed.
struct Run {
    peak_used: usize,
    used_after_idle: usize,
    rss_peak: Option<usize>,
    rss_after_idle: Option<usize>,
}

/// One burst-then-idle run with `policy`, printing a line per tick.
fn run(name: &str, policy: TrimPolicy) -> Run {
    let pool = Pool::builder()
        .trim_policy(policy)
        .build()
        .expect("valid settings");
    println!(
        "\n== {name}: {THREADS} threads, 1-5 MiB buffers; {} arenas, chunk {} MiB",
        pool.arena_count(),
        pool.chunk_size() / MIB
    );
    println!(
        "{:<8}{:>7}{:>11}{:>11}{:>11}{:>7}{:>5}{:>10}",
        "phase", "t", "used MiB", "active MiB", "cached MiB", "chunks", "huge", "RSS MiB"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let buffers = Arc::new(AtomicU64::new(0));
    let idle_gate = Arc::new(Barrier::new(THREADS + 1));
    let start = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|i| {
            let (pool, stop, buffers, gate) = (
                pool.clone(),
                stop.clone(),
                buffers.clone(),
                idle_gate.clone(),
            );
            thread::spawn(move || {
                burst(&pool, i as u64, &stop, &buffers);
                gate.wait(); // stay alive, idle, until the run ends
            })
        })
        .collect();

    let (mut peak, mut rss_peak) = (0, None);
    for tick in 1..=ticks(BURST) {
        sleep_until(start + TICK * tick);
        peak = peak.max(report("burst", start, &pool));
        rss_peak = rss_peak.max(rss_bytes());
    }
    stop.store(true, Relaxed);
    println!(
        "-- burst over: {} buffers; threads stay alive, no further call into the pool --",
        buffers.load(Relaxed)
    );
    let idle = Instant::now();
    let mut used_after_idle = 0;
    for tick in 1..=ticks(IDLE) {
        sleep_until(idle + TICK * tick);
        used_after_idle = report("idle", start, &pool);
    }
    let rss_after_idle = rss_bytes();
    idle_gate.wait();
    for worker in workers {
        worker.join().expect("worker panicked");
    }
    Run {
        peak_used: peak,
        used_after_idle,
        rss_peak,
        rss_after_idle,
    }
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
