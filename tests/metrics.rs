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
    let huge = pool.alloc(5 << 20);
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 112 + (112 << 10) + (5 << 20));
    assert_eq!(
        (
            m.allocations.small,
            m.allocations.normal,
            m.allocations.huge
        ),
        (1, 1, 1)
    );
    assert_eq!((m.chunks, m.huge_buffers), (1, 1));
    assert_eq!(m.used_bytes, (4 << 20) + (5 << 20));
    assert_eq!(m.cached_bytes, 0);
    assert_eq!(m.arenas.len(), 1);
    let a = &m.arenas[0];
    assert_eq!(
        (a.threads, a.chunks, a.used_bytes, a.active_bytes),
        (1, 1, 4 << 20, 112 + (112 << 10))
    );
    drop((small, normal, huge));
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 0);
    assert_eq!(m.deallocations.total(), 3);
    // The chunk stays pooled and the huge mapping is kept for reuse (cached)
    // until trimmed.
    assert_eq!(
        (m.used_bytes, m.cached_bytes, m.huge_buffers),
        ((4 << 20) + (5 << 20), 5 << 20, 0)
    );
    let report = pool.trim();
    assert_eq!(
        (report.chunks_released, report.bytes_released),
        (1, (4 << 20) + (5 << 20))
    );
    let m = pool.metrics();
    assert_eq!(
        (m.used_bytes, m.chunks, m.trims, m.trimmed_bytes),
        (0, 0, 1, (4 << 20) + (5 << 20))
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
