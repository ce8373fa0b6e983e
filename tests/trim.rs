//! Trimming: `trim()` reports and gives back, the decay policy works with
//! no further call into the pool, `Never` keeps, free runs are purged and
//! re-committed, idle threads' caches are flushed, no churn under load.

use std::sync::mpsc;
use std::time::{Duration, Instant};
use tidebuf::{Backing, Pool, TrimPolicy};

const CHUNK: usize = 1 << 20;

fn pool(policy: TrimPolicy) -> Pool {
    Pool::builder()
        .arenas(2)
        .chunk_size(CHUNK)
        .trim_policy(policy)
        .build()
        .unwrap()
}

/// Polls `cond` on metrics until it holds or `within` passes.
fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

#[test]
fn trim_reports_what_it_gave_back() {
    let pool = pool(TrimPolicy::Never);
    let bufs: Vec<_> = (0..6).map(|_| pool.alloc(CHUNK / 2)).collect();
    let small: Vec<_> = (0..100).map(|_| pool.alloc(1000)).collect();
    drop((bufs, small));
    let before = pool.metrics();
    assert_eq!(before.active_bytes, 0);
    assert!(before.cached_bytes > 0 && before.chunks >= 3);
    let report = pool.trim();
    let after = pool.metrics();
    assert_eq!(
        (after.used_bytes, after.chunks, after.cached_bytes),
        (0, 0, 0)
    );
    assert_eq!(report.chunks_released, before.chunks);
    assert_eq!(report.bytes_released, before.used_bytes);
    assert!(report.cache_entries_flushed >= 100);
    assert_eq!(
        (after.trims, after.trimmed_bytes),
        (1, before.used_bytes as u64)
    );
}

#[test]
fn free_runs_are_purged_and_recommitted() {
    let pool = Pool::builder()
        .arenas(1)
        .chunk_size(CHUNK)
        .backing(Backing::Mmap)
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap();
    let mut keep = pool.alloc(CHUNK / 4);
    keep.extend_from_slice(&[7; CHUNK / 4]);
    let mut gone = pool.alloc(CHUNK / 2);
    gone.extend_from_slice(&[9; CHUNK / 2]);
    drop(gone);
    assert_eq!(pool.metrics().used_bytes, CHUNK);
    let report = pool.trim();
    // The chunk stays (one buffer is live); its free 3/4 is purged.
    assert_eq!(
        (report.chunks_released, report.bytes_released),
        (0, 3 * CHUNK / 4)
    );
    assert_eq!(pool.metrics().used_bytes, CHUNK / 4);
    assert!(keep.iter().all(|&b| b == 7), "live bytes survive a purge");
    // Reusing purged pages counts them as used again; they read as zeros.
    let mut again = pool.alloc(CHUNK / 2);
    // SAFETY: reading back the capacity is fine for a test on fresh pages:
    // they are zero-filled by the kernel after MADV_DONTNEED.
    let fresh = unsafe { std::slice::from_raw_parts(again.as_ptr(), CHUNK / 2) };
    assert!(fresh.iter().all(|&b| b == 0));
    again.extend_from_slice(&[1; CHUNK / 2]);
    assert_eq!(pool.metrics().used_bytes, CHUNK / 4 + CHUNK / 2);
    drop((keep, again));
    pool.trim();
    assert_eq!(pool.metrics().used_bytes, 0);
}

/// A thread that fills its cache (50 × 2000 B released), then stays alive
/// and idle — never calling into the pool — until the returned sender
/// fires, and runs `then` after that. Returns once the cache is full.
fn idle_worker(
    pool: &Pool,
    then: impl FnOnce(&Pool) + Send + 'static,
) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (parked_tx, parked_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let p = pool.clone();
    let worker = std::thread::spawn(move || {
        drop((0..50).map(|_| p.alloc(2000)).collect::<Vec<_>>());
        parked_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        then(&p);
    });
    parked_rx.recv().unwrap();
    (done_tx, worker)
}

#[test]
fn trim_flushes_the_caches_of_idle_threads() {
    let pool = pool(TrimPolicy::Never);
    // It can still use its cache afterwards.
    let (done_tx, worker) = idle_worker(&pool, |p| drop(p.alloc(2000)));
    assert!(pool.metrics().cached_bytes >= 50 * 2048);
    let report = pool.trim();
    assert!(report.cache_entries_flushed >= 50);
    let m = pool.metrics();
    assert_eq!((m.cached_bytes, m.used_bytes, m.active_bytes), (0, 0, 0));
    done_tx.send(()).unwrap();
    worker.join().unwrap();
    assert_eq!(pool.metrics().active_bytes, 0);
}

#[test]
fn decay_gives_back_with_no_further_call() {
    let pool = pool(TrimPolicy::decay(Duration::from_millis(100)));
    let (tx, rx) = mpsc::channel::<()>();
    let (burst_tx, burst_rx) = mpsc::channel::<()>();
    let p = pool.clone();
    // A worker that bursts, then stays alive and idle with a full cache.
    let worker = std::thread::spawn(move || {
        let big: Vec<_> = (0..8).map(|_| p.alloc(CHUNK / 2)).collect();
        let small: Vec<_> = (0..200).map(|_| p.alloc(4000)).collect();
        drop((big, small));
        burst_tx.send(()).unwrap();
        rx.recv().unwrap();
    });
    burst_rx.recv().unwrap();
    let peak = pool.metrics().used_bytes;
    assert!(peak >= 4 * CHUNK);
    assert!(pool.metrics().cached_bytes >= 200 * 4096);
    // Nobody calls into the pool now (metrics only read counters).
    assert!(
        eventually(Duration::from_secs(2), || pool.metrics().used_bytes == 0),
        "used {} of peak {peak}",
        pool.metrics().used_bytes
    );
    let m = pool.metrics();
    assert_eq!(m.cached_bytes, 0, "the idle worker's cache was flushed");
    assert!(m.trims > 0 && m.trimmed_bytes > 0);
    tx.send(()).unwrap();
    worker.join().unwrap();
}

#[test]
fn never_keeps_what_it_pooled() {
    let pool = pool(TrimPolicy::Never);
    drop((0..8).map(|_| pool.alloc(CHUNK / 2)).collect::<Vec<_>>());
    let used = pool.metrics().used_bytes;
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(pool.metrics().used_bytes, used);
}

/// Steady load never makes the pool give back what it uses and make it
/// again: through the arenas (buffers above the cached classes), nothing is
/// trimmed at all; through the thread cache (the default up to 1 MiB), the
/// arena is left alone, and its decay may purge only the pages the cache
/// leaves unused — the chunk itself stays.
#[test]
fn no_churn_under_steady_load() {
    for cached in [false, true] {
        let mut builder = Pool::builder()
            .arenas(2)
            .chunk_size(CHUNK)
            .trim_policy(TrimPolicy::decay(Duration::from_millis(40)));
        if !cached {
            builder = builder.max_cached_buffer_capacity(32 << 10);
        }
        let pool = builder.build().unwrap();
        let start = Instant::now();
        let mut chunks_seen = std::collections::BTreeSet::new();
        while start.elapsed() < Duration::from_millis(400) {
            let bufs: Vec<_> = (0..4).map(|i| pool.alloc(100_000 + i * 50_000)).collect();
            chunks_seen.insert(pool.metrics().chunks);
            drop(bufs);
            std::thread::sleep(Duration::from_millis(1));
        }
        let m = pool.metrics();
        assert!(m.trims >= 3, "the trimmer ran ({} passes)", m.trims);
        if !cached {
            assert_eq!(
                m.trimmed_bytes, 0,
                "nothing in use was released and re-made"
            );
        } else {
            assert!(m.cache_hits > 4 * m.cache_misses, "{m:?}");
        }
        assert_eq!(
            chunks_seen.len(),
            1,
            "cached {cached}: chunk count stayed put: {chunks_seen:?}"
        );
    }
}

#[test]
fn without_the_background_trimmer_decay_follows_activity() {
    let pool = Pool::builder()
        .arenas(1)
        .chunk_size(CHUNK)
        // Released buffers go to the arena: its decay is what this checks.
        .max_cached_buffer_capacity(32 << 10)
        .trim_policy(TrimPolicy::decay(Duration::from_millis(40)))
        .background_trimmer(false)
        .build()
        .unwrap();
    drop((0..4).map(|_| pool.alloc(CHUNK / 2)).collect::<Vec<_>>());
    let used = pool.metrics().used_bytes;
    assert!(used >= 2 * CHUNK);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(pool.metrics().used_bytes, used, "no activity, no trimming");
    // Activity on the slow path (huge requests always take it) ticks the
    // decay; the idle chunks go.
    assert!(eventually(Duration::from_secs(2), || {
        drop(pool.alloc(2 * CHUNK));
        pool.metrics().chunks == 0
    }));
}

/// Decay periods too long for a millisecond clock: no panic, and no tick
/// on every slow-path allocation — nothing in use is freed. The periods are
/// `Duration::MAX`, one whose quarter is `u64::MAX` ms (adding it to the
/// clock overflowed), and one whose quarter is 2^64 ms (truncated to a
/// 0 ms tick, it ticked on every slow-path allocation).
#[test]
fn a_decay_period_of_duration_max_never_overflows() {
    let periods = [
        Duration::MAX,
        Duration::from_millis(u64::MAX) * 4,
        Duration::from_millis(1 << 62) * 16,
    ];
    for (idle, background) in periods.into_iter().flat_map(|p| [(p, false), (p, true)]) {
        let pool = Pool::builder()
            .arenas(1)
            .chunk_size(CHUNK)
            .thread_cache(false) // every allocation takes the slow path
            .trim_policy(TrimPolicy::decay(idle))
            .background_trimmer(background)
            .build()
            .unwrap();
        let held: Vec<_> = (0..4).map(|_| pool.alloc(CHUNK / 2)).collect();
        for _ in 0..2000 {
            drop(pool.alloc(64 << 10));
        }
        drop(held);
        let m = pool.metrics();
        // At most the one step due at birth ran; none since.
        assert!(
            m.trims <= 1,
            "{idle:?}, background {background}: {} trims",
            m.trims
        );
        assert_eq!(m.trimmed_bytes, 0);
        // Two chunks of halves, one for the 64 KiB runs: all kept.
        assert_eq!((m.chunks, m.used_bytes), (3, 3 * CHUNK));
    }
}

/// The decay bound, counted in ticks rather than timed, so that it holds
/// however late the test runs: without the background trimmer a decay tick
/// runs only when a slow-path allocation finds one due (at most one per
/// call, and one per call once a tick interval has passed since the last).
/// A huge allocation takes the slow path without touching any chunk.
mod decay_bound {
    use super::CHUNK;
    use std::time::Duration;
    use tidebuf::{Pool, PoolMetrics, TrimPolicy};

    /// Ticks per period (`IDLE_TICKS` in src/clock.rs).
    const IDLE_TICKS: usize = 4;
    const PERIOD: Duration = Duration::from_millis(400);
    const TICK: Duration = Duration::from_millis(100);

    fn pool() -> Pool {
        Pool::builder()
            .arenas(1)
            .chunk_size(CHUNK)
            // Released buffers go to the arena, whose decay this times.
            .max_cached_buffer_capacity(32 << 10)
            .trim_policy(TrimPolicy::decay(PERIOD))
            .background_trimmer(false)
            .build()
            .unwrap()
    }

    /// One due tick: a tick interval passes, then one slow-path call.
    fn tick(pool: &Pool) -> PoolMetrics {
        let trims = pool.metrics().trims;
        std::thread::sleep(TICK + Duration::from_millis(5));
        drop(pool.alloc(2 * CHUNK));
        let m = pool.metrics();
        assert_eq!(m.trims, trims + 1, "one slow-path call, one tick");
        m
    }

    /// Chunk memory (here a chunk emptied by a release): held through
    /// `IDLE_TICKS` ticks after its last use, given back at the next — one
    /// period to one period and one tick after that use.
    #[test]
    fn a_released_chunk_goes_at_the_fifth_tick_after_its_last_use() {
        let pool = pool();
        // Above the thread cache's largest class: released to the arena.
        drop(pool.alloc(CHUNK / 2));
        let m = pool.metrics();
        assert_eq!((m.chunks, m.arenas[0].used_bytes), (1, CHUNK));
        for n in 1..=IDLE_TICKS {
            let m = tick(&pool);
            assert_eq!(
                (m.chunks, m.arenas[0].used_bytes),
                (1, CHUNK),
                "kept after {n} ticks"
            );
        }
        let m = tick(&pool);
        assert_eq!(
            (m.chunks, m.arenas[0].used_bytes),
            (0, 0),
            "given back at tick {}",
            IDLE_TICKS + 1
        );
        assert!(m.trimmed_bytes >= CHUNK as u64);
    }

    /// An idle thread's cache, in a pool that has ticked `age` times: the
    /// worker fills its cache and parks; returns the ticks after that last
    /// operation until its cache (and the chunk only it kept) went.
    fn ticks_until_an_idle_cache_goes(age: usize) -> usize {
        let pool = pool();
        for _ in 0..age {
            tick(&pool);
        }
        let (done_tx, worker) = super::idle_worker(&pool, |_| {});
        let cached = pool.metrics().arenas[0].cached_bytes;
        assert!(cached >= 50 * 2048);
        let mut n = 0;
        let gone = loop {
            n += 1;
            let m = tick(&pool);
            let a = &m.arenas[0];
            if a.cached_bytes == 0 {
                break (m.chunks, a.used_bytes);
            }
            assert_eq!((a.cached_bytes, m.chunks), (cached, 1), "partly given back");
            assert!(n < 4 * IDLE_TICKS, "never given back");
        };
        assert_eq!(gone, (0, 0), "the chunk goes with the cache");
        done_tx.send(()).unwrap();
        worker.join().unwrap();
        n
    }

    /// An idle thread's cache: its last operation is seen at the first tick
    /// after it, so the cache (and the chunk only it kept) goes one tick
    /// later than a chunk — at tick `IDLE_TICKS + 2`, at most one period
    /// and two ticks after that operation.
    #[test]
    fn an_idle_threads_cache_goes_at_the_sixth_tick_after_its_last_use() {
        assert_eq!(
            ticks_until_an_idle_cache_goes(IDLE_TICKS + 1),
            IDLE_TICKS + 2
        );
    }

    /// The same in a pool's first period. `decay_tick` (src/trim.rs) returns
    /// before looking at the caches while `epoch < IDLE_TICKS + 1`, so a
    /// cache last used then is first seen at tick `IDLE_TICKS + 1` and goes
    /// at tick `2 × IDLE_TICKS + 2` of the pool: up to two and a half
    /// periods after its last use.
    #[test]
    fn an_idle_threads_cache_goes_at_the_sixth_tick_in_a_young_pool() {
        assert_eq!(ticks_until_an_idle_cache_goes(0), IDLE_TICKS + 2);
    }
}
