//! 1–5 MiB alloc + fill every byte + drop, single-threaded and with 8
//! threads: tidebuf against glibc, mimalloc and jemalloc in the same run,
//! with minor page faults per allocation (from `getrusage`) printed for
//! each. `large_fill*` cycles five fixed sizes; `large_mix*` draws sizes
//! uniformly from [1 MiB, 5 MiB], the incident's load.
//! Run: `cargo bench -p tidebuf-bench --bench large`.

use criterion::{criterion_group, criterion_main, Criterion};
use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidebuf::Pool;
use tikv_jemallocator::Jemalloc;

/// Five sizes from 1 to 5 MiB, cycled; above 4 MiB tidebuf's buffers are
/// huge (their own mapping, recycled).
fn size(i: u64) -> usize {
    let m = (i % 5 + 1) as usize;
    (m << 20) - 4096 * m
}

fn minor_faults() -> u64 {
    // SAFETY: getrusage fills the struct we pass; zeroed is a valid start.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage.ru_minflt as u64
    }
}

/// A pseudo-random size, uniform over every byte count in [1 MiB, 5 MiB]
/// (not rounded to pages: a service's buffers have arbitrary lengths, so
/// they land anywhere within a size class), for allocation `i` of thread
/// `t`. SplitMix64 over a counter seeded per thread: deterministic, the
/// same sequence every run and every sample, no shared state between
/// threads. The modulo bias over a 64-bit draw is below 2^-40.
fn mix_size(t: u64, i: u64) -> usize {
    const LO: u64 = 1 << 20;
    const HI: u64 = 5 << 20;
    let seed = 0x7E1D_EB0F_0000_0000 ^ t.wrapping_mul(0xA076_1D64_78BD_642F);
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (LO + z % (HI - LO + 1)) as usize
}

/// The size of allocation `i` on thread `t`.
type Sizer = fn(u64, u64) -> usize;

/// `large_fill`'s sizes: thread `t` starts `t` places along the cycle.
fn fill_size(t: u64, i: u64) -> usize {
    size(i + t)
}

trait Allocator: Send + Sync + 'static {
    /// alloc `s` bytes + fill every byte + drop.
    fn cycle(&self, s: usize);
}

struct Tidebuf(Pool);

impl Allocator for Tidebuf {
    fn cycle(&self, s: usize) {
        let mut buf = self.0.alloc(s);
        buf.spare_capacity_mut()[..s].fill(std::mem::MaybeUninit::new(0x5A));
        // SAFETY: the first `s` bytes were just written.
        unsafe { buf.set_len(s) };
        black_box(&buf);
    }
}

struct Raw<A: GlobalAlloc>(A);

impl<A: GlobalAlloc + Send + Sync + 'static> Allocator for Raw<A> {
    fn cycle(&self, s: usize) {
        let layout = Layout::from_size_align(s, 16).unwrap();
        // SAFETY: non-zero size; filled in bounds; freed with its layout.
        unsafe {
            let p = self.0.alloc(layout);
            assert!(!p.is_null());
            p.write_bytes(0x5A, layout.size());
            black_box(p);
            self.0.dealloc(p, layout);
        }
    }
}

/// Runs `iters` cycles over `threads` threads, sizes from `sizer`; returns
/// the wall time and adds the minor faults to `faults` and the number of
/// allocations made (`iters` rounded up to a multiple of `threads`) to
/// `allocs`.
fn run(
    a: &Arc<dyn Allocator>,
    threads: u64,
    iters: u64,
    sizer: Sizer,
    faults: &AtomicU64,
    allocs: &AtomicU64,
) -> Duration {
    let before = minor_faults();
    let start = Instant::now();
    let made = if threads == 1 {
        (0..iters).for_each(|i| a.cycle(sizer(0, i)));
        iters
    } else {
        let per = iters.div_ceil(threads);
        std::thread::scope(|s| {
            for t in 0..threads {
                let a = a.clone();
                s.spawn(move || (0..per).for_each(|i| a.cycle(sizer(t, i))));
            }
        });
        per * threads
    };
    let elapsed = start.elapsed();
    faults.fetch_add(minor_faults() - before, Relaxed);
    allocs.fetch_add(made, Relaxed);
    elapsed
}

fn contenders() -> Vec<(&'static str, Arc<dyn Allocator>)> {
    vec![
        ("tidebuf", Arc::new(Tidebuf(Pool::new()))),
        ("glibc", Arc::new(Raw(System))),
        ("mimalloc", Arc::new(Raw(MiMalloc))),
        ("jemalloc", Arc::new(Raw(Jemalloc))),
    ]
}

/// One group: every contender on `threads` threads with sizes from
/// `sizer`, minor page faults per allocation printed for each.
fn group(
    c: &mut Criterion,
    name: &str,
    contenders: &[(&'static str, Arc<dyn Allocator>)],
    threads: u64,
    sizer: Sizer,
) {
    let mut g = c.benchmark_group(name);
    g.sample_size(20);
    for (contender, a) in contenders {
        let faults = AtomicU64::new(0);
        let allocs = AtomicU64::new(0);
        // Warm up once outside the measurement, as a server would be.
        run(a, threads, 5 * threads, sizer, &faults, &allocs);
        faults.store(0, Relaxed);
        allocs.store(0, Relaxed);
        g.bench_function(*contender, |b| {
            b.iter_custom(|iters| run(a, threads, iters, sizer, &faults, &allocs))
        });
        // Nothing measured when a filter skipped this benchmark.
        let made = allocs.load(Relaxed);
        if made > 0 {
            eprintln!(
                "{name}/{contender} ({threads} thread{}): {:.2} minor page faults per allocation",
                if threads == 1 { "" } else { "s" },
                faults.load(Relaxed) as f64 / made as f64
            );
        }
    }
    g.finish();
}

/// Five fixed sizes from 1 to 5 MiB, cycled.
fn large(c: &mut Criterion) {
    let contenders = contenders();
    group(c, "large_fill", &contenders, 1, fill_size);
    group(c, "large_fill_8t", &contenders, 8, fill_size);
}

/// The incident's load: sizes uniform in [1 MiB, 5 MiB] (see `mix_size`),
/// each allocated, filled and dropped as in `large_fill`. A fixed cycle of
/// five sizes lets every allocator settle on five blocks; a spread of sizes
/// is what a service sees, and what decides whether freed memory is reused
/// or handed back and faulted in again. Fresh contenders (a new pool), so
/// the figures do not depend on what `large_fill` left behind.
fn large_mix(c: &mut Criterion) {
    let contenders = contenders();
    group(c, "large_mix", &contenders, 1, mix_size);
    group(c, "large_mix_8t", &contenders, 8, mix_size);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = large, large_mix
}
criterion_main!(benches);
