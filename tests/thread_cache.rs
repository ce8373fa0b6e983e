//! Thread caches: hits and misses, release into the releasing thread's
//! cache, the sweep of unused entries, and nothing stranded at thread exit.

use tidebuf::Pool;

fn pool() -> Pool {
    Pool::builder().arenas(2).build().unwrap()
}

#[test]
fn reuse_is_a_hit_and_takes_the_same_memory() {
    let pool = pool();
    let first = pool.alloc(1000);
    let addr = first.as_ptr();
    drop(first);
    let again = pool.alloc(1000);
    assert_eq!(again.as_ptr(), addr, "last released, first reused");
    let m = pool.metrics();
    assert_eq!((m.cache_misses, m.cache_hits), (1, 1));
    assert_eq!(m.allocations.small, 2);
    assert_eq!(m.deallocations.small, 1);
    assert_eq!(m.active_bytes, 1024);
    assert!(m.cached_bytes > 0, "the refill parked more entries");
    assert!(m.used_bytes >= m.active_bytes + m.cached_bytes);
    drop(again);
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 0);
    assert_eq!(m.deallocations.small, 2);
}

#[test]
fn buffers_above_a_mib_bypass_the_cache() {
    let pool = pool();
    drop(pool.alloc(2 << 20));
    let m = pool.metrics();
    assert_eq!((m.cache_hits, m.cache_misses, m.cached_bytes), (0, 0, 0));
    // 1 MiB is the largest cached by default (its bin keeps one).
    drop(pool.alloc(1 << 20));
    assert_eq!(pool.metrics().cached_bytes, 1 << 20);
    // Netty's limit, on request.
    let netty = Pool::builder()
        .max_cached_buffer_capacity(32 << 10)
        .build()
        .unwrap();
    drop(netty.alloc(64 << 10));
    assert_eq!(netty.metrics().cached_bytes, 0);
}

/// Above 32 KiB the bins of all threads together keep at most a chunk:
/// 64 threads that each park a 256 KiB buffer (16 MiB in per-thread bins)
/// leave 4 MiB (the chunk pinned at 4 MiB). The bound is taken by CAS, so
/// it is exact even for threads parking at the same instant; here they
/// run one after another.
#[test]
fn large_bins_of_all_threads_together_keep_at_most_a_chunk() {
    use std::sync::{mpsc, Arc, Barrier};
    const THREADS: usize = 64;
    let pool = Pool::builder()
        .arenas(1)
        .chunk_size(4 << 20)
        .build()
        .unwrap();
    let exit = Arc::new(Barrier::new(THREADS + 1));
    let (done_tx, done_rx) = mpsc::channel();
    let mut threads = Vec::new();
    for _ in 0..THREADS {
        let (pool, exit, done) = (pool.clone(), exit.clone(), done_tx.clone());
        threads.push(std::thread::spawn(move || {
            let mut buf = pool.alloc(256 << 10);
            buf.resize(256 << 10, 7);
            drop(buf);
            done.send(()).unwrap();
            exit.wait(); // keep the cache alive until main has looked
        }));
        done_rx.recv().unwrap();
    }
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 0);
    assert_eq!(m.cached_bytes, 4 << 20, "16 threads parked, 48 gave back");
    assert!(m.used_bytes >= 4 << 20);
    exit.wait();
    for t in threads {
        t.join().unwrap();
    }
    // Gone with the threads.
    assert_eq!(pool.metrics().cached_bytes, 0);
}

#[test]
fn bins_are_bounded_and_overflow_goes_back() {
    let pool = Pool::builder().small_cache_size(16).build().unwrap();
    let bufs: Vec<_> = (0..100).map(|_| pool.alloc(64)).collect();
    drop(bufs);
    let m = pool.metrics();
    // The bin keeps at most 16; a bin that fills goes whole to its arena's
    // depot, which keeps at most 4 of them; the rest went back.
    assert!(
        m.cached_bytes <= (16 + 4 * 16) * 64,
        "cached {}",
        m.cached_bytes
    );
    assert_eq!(m.active_bytes, 0);
    assert_eq!(m.arenas[0].cached_bytes, m.cached_bytes);
    // A trim gives both back.
    pool.trim();
    assert_eq!(pool.metrics().cached_bytes, 0);
}

#[test]
fn release_goes_to_the_releasing_threads_cache() {
    let pool = pool();
    let bufs: Vec<_> = (0..10).map(|_| pool.alloc(4096)).collect();
    let before = pool.metrics().cached_bytes;
    let (tx, rx) = std::sync::mpsc::channel();
    let p2 = pool.clone();
    let t = std::thread::spawn(move || {
        drop(bufs);
        let m = p2.metrics();
        tx.send(m.cached_bytes).unwrap();
        // Reuse from this thread's cache: a hit without ever missing here.
        let again = p2.alloc(4096);
        drop(again);
    });
    let cached_in_consumer = rx.recv().unwrap();
    t.join().unwrap();
    assert_eq!(cached_in_consumer, before + 10 * 4096);
    // The consumer exited: its cache went back.
    assert_eq!(pool.metrics().cached_bytes, before);
    assert_eq!(pool.metrics().active_bytes, 0);
}

#[test]
fn sweep_gives_back_entries_not_reused() {
    let pool = Pool::builder().cache_sweep_threshold(1000).build().unwrap();
    let bufs: Vec<_> = (0..200).map(|_| pool.alloc(1024)).collect();
    drop(bufs);
    let parked = pool.metrics().cached_bytes;
    assert!(parked >= 200 * 1024, "parked {parked}");
    // Keep allocating another size: the 1 KiB bin serves nothing.
    for _ in 0..2100 {
        drop(pool.alloc(16));
    }
    let m = pool.metrics();
    assert!(
        m.cached_bytes < 1024,
        "the idle 1 KiB bin was swept: {}",
        m.cached_bytes
    );
    assert!(m.cached_bytes >= 16, "the busy bin keeps what it uses");
    // A bin that keeps being used keeps its entries through sweeps.
    let pool = Pool::builder().cache_sweep_threshold(100).build().unwrap();
    for _ in 0..1000 {
        let pair = (pool.alloc(512), pool.alloc(512));
        drop(pair);
    }
    assert!(pool.metrics().cached_bytes >= 2 * 512);
}

#[test]
fn thread_exit_strands_nothing() {
    let pool = Pool::builder().arenas(4).build().unwrap();
    let sizes = [16, 200, 1500, 4096, 20_000, 32 << 10];
    for round in 0..20 {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let bufs: Vec<_> = sizes.iter().map(|&s| pool.alloc(s + i % 7)).collect();
                    drop(bufs); // all parked in this thread's cache
                    assert!(pool.metrics().cached_bytes > 0);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let m = pool.metrics();
        assert_eq!(m.cached_bytes, 0, "round {round}");
        assert_eq!(m.active_bytes, 0);
        assert!(m.arenas.iter().all(|a| a.threads == 0));
        assert!(m
            .arenas
            .iter()
            .all(|a| a.active_bytes + a.cached_bytes == 0));
        // Nothing stranded: with every thread gone, a trim gives back every
        // byte (an entry left in a dead thread's cache would keep its chunk).
        // A bound on the peak instead would depend on how many of the 100
        // threads the scheduler happens to run at once.
        pool.trim();
        let m = pool.metrics();
        assert_eq!((m.used_bytes, m.chunks), (0, 0), "round {round}");
    }
    assert_eq!(
        pool.metrics().allocations.total(),
        2000 * sizes.len() as u64
    );
}

/// Up to 1 MiB (the default), the cache serves a large size a thread
/// reuses without the arena. A bin above 32 KiB keeps as many entries as a
/// normal one (64), and at most a chunk's worth (8 MiB by default): one
/// more release than that goes to its arena.
#[test]
fn large_classes_are_cached_up_to_a_chunk() {
    let pool = Pool::builder()
        .trim_policy(tidebuf::TrimPolicy::Never)
        .build()
        .unwrap();
    assert_eq!(pool.chunk_size(), 8 << 20);
    for (size, most) in [(64 << 10, 64), (256 << 10, 32), (1 << 20, 8)] {
        let bufs: Vec<_> = (0..=most).map(|_| pool.alloc(size)).collect();
        let mut bufs = bufs.into_iter();
        // `most` releases fill the bin exactly: nothing else is parked.
        bufs.by_ref().take(most).for_each(drop);
        let parked = pool.metrics().cached_bytes;
        assert_eq!(parked, most * size, "{size}: the bin's bound");
        // One more finds it full and goes to its arena.
        bufs.for_each(drop);
        assert_eq!(pool.metrics().cached_bytes, most * size, "{size}");
        let hits = pool.metrics().cache_hits;
        drop(pool.alloc(size));
        assert_eq!(
            pool.metrics().cache_hits,
            hits + 1,
            "{size}: served by the cache"
        );
        pool.trim(); // gives the entries and the bin's room back
        assert_eq!(pool.metrics().cached_bytes, 0);
    }
}

/// A thread that releases what another allocates (a consumer) hands its
/// full bins to the allocating thread's arena whole: the producer's next
/// refill takes the very regions back without cutting new ones, so a
/// producer/consumer pair circulates one set of buffers.
#[test]
fn a_consumers_full_bins_feed_the_producers_refills() {
    let pool = Pool::builder()
        .small_cache_size(32)
        .trim_policy(tidebuf::TrimPolicy::Never)
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::sync_channel::<tidebuf::PooledBytesMut>(64);
    let consumer = std::thread::spawn(move || rx.into_iter().for_each(drop));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 * 32 {
        let buf = pool.alloc(1024);
        seen.insert(buf.as_ptr() as usize);
        tx.send(buf).unwrap();
    }
    drop(tx);
    consumer.join().unwrap();
    // 1280 buffers went through; with whole bins coming back, only the
    // regions in flight were ever cut: the producer's bin, the consumer's,
    // the depot's four and the channel's 64 (and one refill's extra).
    assert!(
        seen.len() <= 6 * 32 + 64 + 32,
        "{} distinct regions",
        seen.len()
    );
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 0);
    assert_eq!(m.allocations.total(), m.deallocations.total());
    pool.trim();
    let m = pool.metrics();
    assert_eq!((m.cached_bytes, m.active_bytes, m.chunks), (0, 0, 0));
}

/// A request refused at `max_memory` is retried once after a trim; it is
/// still one request that found its bin empty: one miss, small or large.
#[test]
fn a_refused_request_counts_one_miss() {
    let pool = Pool::builder()
        .arenas(1)
        .chunk_size(4 << 20)
        .max_memory(Some(4 << 20))
        .trim_policy(tidebuf::TrimPolicy::Never)
        .build()
        .unwrap();
    let whole = pool.alloc(4 << 20); // the one chunk the cap allows
    let before = pool.metrics().cache_misses;
    assert!(pool.try_alloc(1024).is_err());
    assert!(pool.try_alloc(64 << 10).is_err());
    assert_eq!(pool.metrics().cache_misses - before, 2);
    drop(whole);
}
