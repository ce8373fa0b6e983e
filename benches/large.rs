//! 1–5 MiB alloc + fill every byte + drop, single-threaded and with 8
//! threads: tidebuf against glibc, mimalloc and jemalloc in the same run,
//! with minor page faults per allocation (from `getrusage`) printed for
//! each. Run: `cargo bench --bench large`.

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

trait Allocator: Send + Sync + 'static {
    fn cycle(&self, i: u64);
}

struct Tidebuf(Pool);

impl Allocator for Tidebuf {
    fn cycle(&self, i: u64) {
        let s = size(i);
        let mut buf = self.0.alloc(s);
        buf.spare_capacity_mut()[..s].fill(std::mem::MaybeUninit::new(0x5A));
        // SAFETY: the first `s` bytes were just written.
        unsafe { buf.set_len(s) };
        black_box(&buf);
    }
}

struct Raw<A: GlobalAlloc>(A);

impl<A: GlobalAlloc + Send + Sync + 'static> Allocator for Raw<A> {
    fn cycle(&self, i: u64) {
        let layout = Layout::from_size_align(size(i), 16).unwrap();
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

/// Runs `iters` cycles over `threads` threads; returns the wall time and
/// adds the minor faults to `faults`.
fn run(a: &Arc<dyn Allocator>, threads: u64, iters: u64, faults: &AtomicU64) -> Duration {
    let before = minor_faults();
    let start = Instant::now();
    if threads == 1 {
        (0..iters).for_each(|i| a.cycle(i));
    } else {
        let per = iters.div_ceil(threads);
        std::thread::scope(|s| {
            for t in 0..threads {
                let a = a.clone();
                s.spawn(move || (0..per).for_each(|i| a.cycle(i + t)));
            }
        });
    }
    let elapsed = start.elapsed();
    faults.fetch_add(minor_faults() - before, Relaxed);
    elapsed
}

fn large(c: &mut Criterion) {
    let contenders: Vec<(&str, Arc<dyn Allocator>)> = vec![
        ("tidebuf", Arc::new(Tidebuf(Pool::new()))),
        ("glibc", Arc::new(Raw(System))),
        ("mimalloc", Arc::new(Raw(MiMalloc))),
        ("jemalloc", Arc::new(Raw(Jemalloc))),
    ];
    for threads in [1u64, 8] {
        let mut g = c.benchmark_group(if threads == 1 {
            "large_fill"
        } else {
            "large_fill_8t"
        });
        g.sample_size(20);
        for (name, a) in &contenders {
            let faults = AtomicU64::new(0);
            let allocs = AtomicU64::new(0);
            // Warm up once outside the measurement, as a server would be.
            run(a, threads, 5 * threads, &faults);
            faults.store(0, Relaxed);
            g.bench_function(*name, |b| {
                b.iter_custom(|iters| {
                    allocs.fetch_add(iters, Relaxed);
                    run(a, threads, iters, &faults)
                })
            });
            eprintln!(
                "{name} ({threads} thread{}): {:.2} minor page faults per allocation",
                if threads == 1 { "" } else { "s" },
                faults.load(Relaxed) as f64 / allocs.load(Relaxed).max(1) as f64
            );
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = large
}
criterion_main!(benches);
