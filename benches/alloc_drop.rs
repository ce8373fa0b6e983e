//! Side-by-side hot paths: tidebuf against glibc (`System`), mimalloc and
//! jemalloc (called through their `GlobalAlloc` impls, not installed as the
//! global allocator) and `bytes::BytesMut` (which uses the global one).
//!
//! Run: `cargo bench -p tidebuf-bench --bench alloc_drop`; see docs/benchmarks.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::ptr::NonNull;
use std::time::Duration;
use tidebuf::{Pool, PooledBytesMut};
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

/// A block from a `GlobalAlloc` owned the way a service owns a buffer: a
/// value that frees itself (through the same allocator) when dropped.
struct RawBuf<'a, A: GlobalAlloc> {
    ptr: NonNull<u8>,
    layout: Layout,
    a: &'a A,
}

// SAFETY: a `RawBuf` owns its block outright (no other pointer to it), and
// the allocator it frees through is `Sync`, so moving the value to another
// thread and dropping it there is what `cross_thread` already does.
unsafe impl<A: GlobalAlloc + Sync> Send for RawBuf<'_, A> {}

impl<'a, A: GlobalAlloc> RawBuf<'a, A> {
    /// alloc + write one byte, inlined where it is called.
    #[inline]
    fn new(a: &'a A, n: usize) -> Self {
        let layout = Layout::from_size_align(n, 16).unwrap();
        // SAFETY: non-zero size (every caller passes at least 64).
        let p = unsafe { a.alloc(layout) };
        let ptr = NonNull::new(p).expect("allocation failed");
        // SAFETY: the block is at least one byte long.
        unsafe { ptr.as_ptr().write_volatile(1) };
        RawBuf { ptr, layout, a }
    }
}

impl<A: GlobalAlloc> Drop for RawBuf<'_, A> {
    fn drop(&mut self) {
        // SAFETY: allocated by `self.a` with `self.layout`, freed once.
        unsafe { self.a.dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// The makers below stand in for a user's function that builds a buffer
/// and returns it by value: `#[inline(never)]` keeps the call, so the value
/// is copied out through memory (the return slot) as it is in a service.
#[inline(never)]
fn make_tidebuf(pool: &Pool, n: usize) -> PooledBytesMut {
    let mut b = pool.alloc(n);
    b.extend_from_slice(&[1]);
    b
}

/// See [`make_tidebuf`].
#[inline(never)]
fn make_raw<A: GlobalAlloc>(a: &A, n: usize) -> RawBuf<'_, A> {
    RawBuf::new(a, n)
}

/// See [`make_tidebuf`].
#[inline(never)]
fn make_bytes_mut(n: usize) -> bytes::BytesMut {
    let mut b = bytes::BytesMut::with_capacity(n);
    b.extend_from_slice(&[1]);
    b
}

/// alloc + write one byte + drop, the buffer made in a non-inlined function
/// that returns it by value and dropped by the caller. A user's function
/// returns a buffer by value and the compiler copies it through memory;
/// the in-closure loop of `alloc_write_drop` never shows that cost (nor a
/// handle too big to live in registers).
fn returned(c: &mut Criterion) {
    let pool = Pool::new();
    let cached = Pool::builder()
        .max_cached_buffer_capacity(1 << 20)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("returned");
    for size in [
        64usize,
        1 << 10,
        16 << 10,
        32 << 10,
        64 << 10,
        256 << 10,
        1 << 20,
    ] {
        g.bench_with_input(BenchmarkId::new("tidebuf", size), &size, |b, &s| {
            b.iter(|| {
                let buf = make_tidebuf(&pool, black_box(s));
                black_box(&buf);
            })
        });
        if size >= 32 << 10 {
            // The opt-in for few-thread services: thread caches up to 1 MiB.
            g.bench_with_input(BenchmarkId::new("tidebuf_cache1m", size), &size, |b, &s| {
                b.iter(|| {
                    let buf = make_tidebuf(&cached, black_box(s));
                    black_box(&buf);
                })
            });
        }
        g.bench_with_input(BenchmarkId::new("glibc", size), &size, |b, &s| {
            b.iter(|| {
                let buf = make_raw(&System, black_box(s));
                black_box(&buf);
            })
        });
        g.bench_with_input(BenchmarkId::new("mimalloc", size), &size, |b, &s| {
            b.iter(|| {
                let buf = make_raw(&MiMalloc, black_box(s));
                black_box(&buf);
            })
        });
        g.bench_with_input(BenchmarkId::new("jemalloc", size), &size, |b, &s| {
            b.iter(|| {
                let buf = make_raw(&Jemalloc, black_box(s));
                black_box(&buf);
            })
        });
        g.bench_with_input(BenchmarkId::new("bytes_mut", size), &size, |b, &s| {
            b.iter(|| {
                let buf = make_bytes_mut(black_box(s));
                black_box(&buf);
            })
        });
    }
    g.finish();
}

/// 64 buffers from the returning makers of `returned` pushed into a `Vec`
/// (its capacity reused across iterations), then all dropped by clearing
/// it; reported per buffer. A service holds several buffers at once, each
/// made by a function that returns it by value: the cost of the copy-out
/// plus that of the cache/arena path once more than one buffer is live.
fn returned_batch64(c: &mut Criterion) {
    let pool = Pool::new();
    let mut g = c.benchmark_group("returned_batch64");
    g.throughput(Throughput::Elements(64));
    fn raw<'a, A: GlobalAlloc>(a: &'a A, s: usize, held: &mut Vec<RawBuf<'a, A>>) {
        for _ in 0..64 {
            held.push(make_raw(a, black_box(s)));
        }
        held.clear();
    }
    for size in [64usize, 1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20] {
        g.bench_with_input(BenchmarkId::new("tidebuf", size), &size, |b, &s| {
            let mut held = Vec::with_capacity(64);
            b.iter(|| {
                for _ in 0..64 {
                    held.push(make_tidebuf(&pool, black_box(s)));
                }
                held.clear();
            })
        });
        g.bench_with_input(BenchmarkId::new("glibc", size), &size, |b, &s| {
            let mut held = Vec::with_capacity(64);
            b.iter(|| raw(&System, s, &mut held))
        });
        g.bench_with_input(BenchmarkId::new("mimalloc", size), &size, |b, &s| {
            let mut held = Vec::with_capacity(64);
            b.iter(|| raw(&MiMalloc, s, &mut held))
        });
        g.bench_with_input(BenchmarkId::new("jemalloc", size), &size, |b, &s| {
            let mut held = Vec::with_capacity(64);
            b.iter(|| raw(&Jemalloc, s, &mut held))
        });
        g.bench_with_input(BenchmarkId::new("bytes_mut", size), &size, |b, &s| {
            let mut held = Vec::with_capacity(64);
            b.iter(|| {
                for _ in 0..64 {
                    held.push(make_bytes_mut(black_box(s)));
                }
                held.clear();
            })
        });
    }
    g.finish();
}

/// `cross_thread` one size at a time: a producer allocates and writes one
/// byte, sends the buffer over `sync_channel(256)`, a consumer thread drops
/// it; reported in buffers per second. `cross_thread` alternates 1 KiB and
/// 16 KiB, which blends a small-class figure with a larger one; a service's
/// hand-off (reader task to writer task) is usually one size. The consumer
/// is spawned per iteration and joined inside it, as in `cross_thread`, so
/// every iteration's N buffers are freed within the timed region.
fn cross_thread_by_size(c: &mut Criterion) {
    const N: u64 = 20_000;
    let mut g = c.benchmark_group("cross_thread_by_size");
    g.throughput(Throughput::Elements(N));
    g.sample_size(20);
    let pool = Pool::new();
    fn tide(pool: &Pool, s: usize) {
        let (tx, rx) = std::sync::mpsc::sync_channel::<PooledBytesMut>(256);
        let consumer = std::thread::spawn(move || rx.into_iter().for_each(drop));
        for _ in 0..N {
            let mut buf = pool.alloc(black_box(s));
            buf.extend_from_slice(&[1]);
            tx.send(buf).unwrap();
        }
        drop(tx);
        consumer.join().unwrap();
    }
    fn raw<A: GlobalAlloc + Sync + 'static>(a: &'static A, s: usize) {
        let (tx, rx) = std::sync::mpsc::sync_channel::<RawBuf<'static, A>>(256);
        let consumer = std::thread::spawn(move || rx.into_iter().for_each(drop));
        for _ in 0..N {
            tx.send(RawBuf::new(a, black_box(s))).unwrap();
        }
        drop(tx);
        consumer.join().unwrap();
    }
    for size in [1usize << 10, 16 << 10] {
        g.bench_with_input(BenchmarkId::new("tidebuf", size), &size, |b, &s| {
            b.iter(|| tide(&pool, s))
        });
        g.bench_with_input(BenchmarkId::new("glibc", size), &size, |b, &s| {
            b.iter(|| raw(&System, s))
        });
        g.bench_with_input(BenchmarkId::new("mimalloc", size), &size, |b, &s| {
            b.iter(|| raw(&MiMalloc, s))
        });
        g.bench_with_input(BenchmarkId::new("jemalloc", size), &size, |b, &s| {
            b.iter(|| raw(&Jemalloc, s))
        });
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
    targets = alloc_write_drop, batch64, shared, cross_thread, policy_overhead,
        returned, returned_batch64, cross_thread_by_size
}
criterion_main!(benches);
