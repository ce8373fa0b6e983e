//! Metrics are exact at quiescence, per arena and in total.

use tidebuf::Pool;

#[test]
fn counts_by_kind_and_bytes() {
    // No thread cache: every figure below is the arena's own.
    let pool = Pool::builder()
        .arenas(1)
        .thread_cache(false)
        .build()
        .unwrap();
    let small = pool.alloc(100); // 112
    let normal = pool.alloc(100_000); // 112 KiB class
    let huge = pool.alloc(10 << 20);
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 112 + (112 << 10) + (10 << 20));
    assert_eq!(
        (
            m.allocations.small,
            m.allocations.normal,
            m.allocations.huge
        ),
        (1, 1, 1)
    );
    assert_eq!((m.chunks, m.huge_buffers), (1, 1));
    assert_eq!(m.used_bytes, (8 << 20) + (10 << 20));
    assert_eq!(m.cached_bytes, 0);
    assert_eq!(m.arenas.len(), 1);
    let a = &m.arenas[0];
    assert_eq!(
        (a.threads, a.chunks, a.used_bytes, a.active_bytes),
        (1, 1, 8 << 20, 112 + (112 << 10))
    );
    drop((small, normal, huge));
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 0);
    assert_eq!(m.deallocations.total(), 3);
    // The chunk stays pooled and the huge mapping is kept for reuse (cached)
    // until trimmed.
    assert_eq!(
        (m.used_bytes, m.cached_bytes, m.huge_buffers),
        ((8 << 20) + (10 << 20), 10 << 20, 0)
    );
    let report = pool.trim();
    assert_eq!(
        (report.chunks_released, report.bytes_released),
        (1, (8 << 20) + (10 << 20))
    );
    let m = pool.metrics();
    assert_eq!(
        (m.used_bytes, m.chunks, m.trims, m.trimmed_bytes),
        (0, 0, 1, (8 << 20) + (10 << 20))
    );
}

#[test]
fn threads_bind_to_the_least_used_arena() {
    let pool = Pool::builder().arenas(3).build().unwrap();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    // Plain spawn + join (not a scope): `join` returns after the thread's
    // thread-local destructors ran, which is where a thread unbinds.
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (pool, barrier) = (pool.clone(), barrier.clone());
            std::thread::spawn(move || {
                let _b = pool.alloc(10);
                barrier.wait(); // all three bound before anyone exits
                barrier.wait();
            })
        })
        .collect();
    barrier.wait();
    // Arenas are put in use on demand: without lock contention the three
    // threads share the first one.
    let threads: Vec<_> = pool.metrics().arenas.iter().map(|a| a.threads).collect();
    assert_eq!(threads, [3, 0, 0]);
    barrier.wait();
    for h in handles {
        h.join().unwrap();
    }
    assert!(pool.metrics().arenas.iter().all(|a| a.threads == 0));
}

#[test]
fn used_covers_active_under_mixed_load() {
    let pool = Pool::new();
    let mut live = Vec::new();
    for i in 0..2000usize {
        live.push(pool.alloc(i * 997 % 300_000));
        if i % 3 == 0 {
            live.swap_remove(i * 7 % live.len());
        }
        let m = pool.metrics();
        assert!(m.used_bytes >= m.active_bytes + m.cached_bytes);
    }
    let want: usize = live.iter().map(|b| b.capacity()).sum();
    assert_eq!(pool.metrics().active_bytes, want);
}

/// Checks how the series add up at a quiet moment (see `metrics.rs`), given
/// the bytes of live huge buffers.
fn assert_adds_up(m: &tidebuf::PoolMetrics, live_huge: usize, when: &str) {
    let sum = |f: fn(&tidebuf::ArenaMetrics) -> usize| m.arenas.iter().map(f).sum::<usize>();
    let recycled_huge = m.huge_bytes - live_huge;
    assert_eq!(sum(|a| a.used_bytes), m.used_bytes - m.huge_bytes, "{when}");
    assert_eq!(
        sum(|a| a.active_bytes),
        m.active_bytes - live_huge,
        "{when}"
    );
    assert_eq!(
        sum(|a| a.cached_bytes),
        m.cached_bytes - recycled_huge,
        "{when}"
    );
    for a in &m.arenas {
        assert!(
            a.used_bytes >= a.active_bytes + a.cached_bytes,
            "{when}: {a:?}"
        );
    }
}

/// Cross-thread releases park regions of one arena in another thread's
/// cache; the per-arena figures must still add up to the pool's.
#[test]
fn per_arena_figures_add_up_to_the_pool() {
    use std::sync::{mpsc, Arc, Barrier};
    const WORKERS: usize = 4;
    let pool = Pool::builder().arenas(WORKERS).build().unwrap();
    let sizes = [16, 100, 1000, 1500, 4096, 20_000, 32 << 10, 100_000];
    let sent = Arc::new(Barrier::new(WORKERS));
    let checked = Arc::new(Barrier::new(WORKERS + 1));
    let (done_tx, done_rx) = mpsc::channel();
    let mut txs = Vec::new();
    let mut rxs = Vec::new();
    for _ in 0..WORKERS {
        let (tx, rx) = mpsc::channel::<Vec<tidebuf::PooledBytesMut>>();
        txs.push(tx);
        rxs.push(rx);
    }
    let handles: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(i, rx)| {
            let pool = pool.clone();
            let next = txs[(i + 1) % WORKERS].clone();
            let (sent, checked, done) = (sent.clone(), checked.clone(), done_tx.clone());
            std::thread::spawn(move || {
                let live: Vec<_> = sizes.iter().map(|&s| pool.alloc(s + i)).collect();
                let away: Vec<_> = sizes.iter().map(|&s| pool.alloc(s * 2 + i)).collect();
                drop(sizes.map(|s| pool.alloc(s + 3))); // parked in our own cache
                next.send(away).unwrap();
                sent.wait();
                drop(rx.recv().unwrap()); // another arena's regions, into our cache
                done.send(()).unwrap();
                checked.wait(); // main reads the metrics while we hold all this
                drop(live);
            })
        })
        .collect();
    drop(txs);
    for _ in 0..WORKERS {
        done_rx.recv().unwrap();
    }
    let huge = pool.alloc(10 << 20);
    drop(pool.alloc(12 << 20)); // kept as a recycled mapping
    let m = pool.metrics();
    assert!(
        m.cached_bytes > m.huge_bytes - huge.capacity(),
        "caches hold regions"
    );
    assert_adds_up(&m, huge.capacity(), "workers holding buffers and caches");
    pool.trim(); // flushes the idle workers' caches, purges free runs
    assert_adds_up(&pool.metrics(), huge.capacity(), "after trim");
    checked.wait();
    for h in handles {
        h.join().unwrap();
    }
    let m = pool.metrics();
    assert_adds_up(&m, huge.capacity(), "after the workers exited");
    assert_eq!(m.active_bytes, huge.capacity());
    drop(huge);
    assert_adds_up(&pool.metrics(), 0, "all released");
}
