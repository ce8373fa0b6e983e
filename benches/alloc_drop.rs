//! Side-by-side hot paths: tidebuf against glibc (`System`), mimalloc and
//! jemalloc (called through their `GlobalAlloc` impls, not installed as the
//! global allocator) and `bytes::BytesMut` (which uses the global one).
//!
//! Run: `cargo bench --bench alloc_drop`; see docs/benchmarks.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Duration;
use tidebuf::Pool;
use tikv_jemallocator::Jemalloc;

const SIZES: [usize; 7] = [64, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 1 << 20, 4 << 20];

/// alloc + write one byte + free through a `GlobalAlloc`.
fn raw_cycle<A: GlobalAlloc>(a: &A, size: usize) {
    let layout = Layout::from_size_align(size, 16).unwrap();
    // SAFETY: non-zero size; the block is written inside its bounds and
    // freed with its own layout.
    unsafe {
        let p = a.alloc(layout);
        assert!(!p.is_null());
        p.write_volatile(1);
        a.dealloc(black_box(p), layout);
    }
}

fn alloc_write_drop(c: &mut Criterion) {
    let pool = Pool::new();
    let mut g = c.benchmark_group("alloc_write_drop");
    for size in SIZES {
        g.bench_with_input(BenchmarkId::new("tidebuf", size), &size, |b, &s| {
            b.iter(|| {
                let mut buf = pool.alloc(black_box(s));
                buf.extend_from_slice(&[1]);
                black_box(&buf);
            })
        });
        g.bench_with_input(BenchmarkId::new("glibc", size), &size, |b, &s| {
            b.iter(|| raw_cycle(&System, black_box(s)))
        });
        g.bench_with_input(BenchmarkId::new("mimalloc", size), &size, |b, &s| {
            b.iter(|| raw_cycle(&MiMalloc, black_box(s)))
        });
        g.bench_with_input(BenchmarkId::new("jemalloc", size), &size, |b, &s| {
            b.iter(|| raw_cycle(&Jemalloc, black_box(s)))
        });
        g.bench_with_input(BenchmarkId::new("bytes_mut", size), &size, |b, &s| {
            b.iter(|| {
                let mut buf = bytes::BytesMut::with_capacity(black_box(s));
                buf.extend_from_slice(&[1]);
                black_box(&buf);
            })
        });
    }
    g.finish();
}

/// 64 allocations, then 64 frees; reported per buffer.
fn batch64(c: &mut Criterion) {
    let pool = Pool::new();
    let mut g = c.benchmark_group("batch64");
    g.throughput(Throughput::Elements(64));
    for size in [64usize, 1 << 10, 16 << 10] {
        g.bench_with_input(BenchmarkId::new("tidebuf", size), &size, |b, &s| {
            let mut held = Vec::with_capacity(64);
            b.iter(|| {
                for _ in 0..64 {
                    let mut buf = pool.alloc(black_box(s));
                    buf.extend_from_slice(&[1]);
                    held.push(buf);
                }
                held.clear();
            })
        });
        fn raw<A: GlobalAlloc>(a: &A, s: usize, held: &mut Vec<*mut u8>) {
            let layout = Layout::from_size_align(s, 16).unwrap();
            for _ in 0..64 {
                // SAFETY: non-zero size, written in bounds, freed below with
                // the same layout.
                unsafe {
                    let p = a.alloc(layout);
                    p.write_volatile(1);
                    held.push(p);
                }
            }
            for p in held.drain(..) {
                // SAFETY: allocated above with `layout`.
                unsafe { a.dealloc(p, layout) };
            }
        }
        let mut held = Vec::with_capacity(64);
        g.bench_with_input(BenchmarkId::new("glibc", size), &size, |b, &s| {
            b.iter(|| raw(&System, s, &mut held))
        });
        g.bench_with_input(BenchmarkId::new("mimalloc", size), &size, |b, &s| {
            b.iter(|| raw(&MiMalloc, s, &mut held))
        });
        g.bench_with_input(BenchmarkId::new("jemalloc", size), &size, |b, &s| {
            b.iter(|| raw(&Jemalloc, s, &mut held))
        });
        g.bench_with_input(BenchmarkId::new("bytes_mut", size), &size, |b, &s| {
            let mut held = Vec::with_capacity(64);
            b.iter(|| {
                for _ in 0..64 {
                    let mut buf = bytes::BytesMut::with_capacity(black_box(s));
                    buf.extend_from_slice(&[1]);
                    held.push(buf);
                }
                held.clear();
            })
        });
    }
    g.finish();
}

/// freeze + clone + slice + drop all.
fn shared(c: &mut Criterion) {
    let pool = Pool::new();
    let mut g = c.benchmark_group("freeze_clone_slice");
    g.bench_function("tidebuf", |b| {
        b.iter(|| {
            let mut buf = pool.alloc(black_box(1024));
            buf.extend_from_slice(&[7; 64]);
            let f = buf.freeze();
            let c = f.clone();
            let s = c.slice(8..16);
            black_box((&f, &c, &s));
        })
    });
    g.bench_function("bytes_mut", |b| {
        b.iter(|| {
            let mut buf = bytes::BytesMut::with_capacity(black_box(1024));
            buf.extend_from_slice(&[7; 64]);
            let f = buf.freeze();
            let c = f.clone();
            let s = c.slice(8..16);
            black_box((&f, &c, &s));
        })
    });
    g.finish();
}

/// A producer allocates 1 KiB and 16 KiB buffers, a consumer thread drops
/// them; reported in buffers per second.
fn cross_thread(c: &mut Criterion) {
    const N: u64 = 20_000;
    let mut g = c.benchmark_group("cross_thread");
    g.throughput(Throughput::Elements(N));
    g.sample_size(20);
    let pool = Pool::new();
    g.bench_function("tidebuf", |b| {
        b.iter(|| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<tidebuf::PooledBytesMut>(256);
            let consumer = std::thread::spawn(move || rx.into_iter().for_each(drop));
            for i in 0..N {
                let mut buf = pool.alloc(if i % 2 == 0 { 1 << 10 } else { 16 << 10 });
                buf.extend_from_slice(&[1]);
                tx.send(buf).unwrap();
            }
            drop(tx);
            consumer.join().unwrap();
        })
    });
    fn raw<A: GlobalAlloc + Sync + 'static>(a: &'static A) {
        struct Ptr(*mut u8, Layout);
        // SAFETY: the block is owned by whoever holds the `Ptr`.
        unsafe impl Send for Ptr {}
        let (tx, rx) = std::sync::mpsc::sync_channel::<Ptr>(256);
        let consumer = std::thread::spawn(move || {
            for p in rx {
                // SAFETY: allocated by the producer with this layout.
                unsafe { a.dealloc(p.0, p.1) };
            }
        });
        for i in 0..N {
            let layout =
                Layout::from_size_align(if i % 2 == 0 { 1 << 10 } else { 16 << 10 }, 16).unwrap();
            // SAFETY: non-zero size, one byte written in bounds.
            let p = unsafe { a.alloc(layout) };
            // SAFETY: as above.
            unsafe { p.write_volatile(1) };
            tx.send(Ptr(p, layout)).unwrap();
        }
        drop(tx);
        consumer.join().unwrap();
    }
    g.bench_function("glibc", |b| b.iter(|| raw(&System)));
    g.bench_function("mimalloc", |b| b.iter(|| raw(&MiMalloc)));
    g.bench_function("jemalloc", |b| b.iter(|| raw(&Jemalloc)));
    g.finish();
}

/// Steady-state alloc + write + drop with the default (decay, background
/// trimmer running) against `TrimPolicy::Never`, same run: the cost of the
/// ebb on the hot path. Batches of 16 so both the cache and the arena path
/// are exercised.
fn policy_overhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy_overhead");
    for size in [1usize << 10, 64 << 10] {
        for (name, policy) in [
            ("never", tidebuf::TrimPolicy::Never),
            ("decay_default", tidebuf::TrimPolicy::default()),
        ] {
            // A fresh pool per case: where a pool's chunks land depends on
            // what ran before, which showed as a 20 % swing on 64 KiB
            // following the order of the cases, not the policy.
            let pool = Pool::builder().trim_policy(policy).build().unwrap();
            g.bench_with_input(BenchmarkId::new(name, size), &size, |b, &s| {
                let mut held = Vec::with_capacity(16);
                b.iter(|| {
                    for _ in 0..16 {
                        let mut buf = pool.alloc(black_box(s));
                        buf.extend_from_slice(&[1]);
                        held.push(buf);
                    }
                    held.clear();
                })
            });
        }
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = alloc_write_drop, batch64, shared, cross_thread, policy_overhead
}
criterion_main!(benches);
