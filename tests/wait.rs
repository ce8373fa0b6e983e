//! Backpressure at the cap: `Pool::alloc_wait` / `try_alloc_wait` wait for
//! memory instead of failing — first come first served, cancel-safe, woken
//! by releases and trims, with a timeout, and without a runtime of their
//! own. Most tests poll by hand with a counting waker, so what they check
//! does not depend on how any scheduler runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};
use tidebuf::{AllocErrorKind, Pool, TrimPolicy};

const MIB: usize = 1 << 20;

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn waker() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    (count.clone(), Waker::from(count))
}

fn poll<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

/// 8 MiB cap over 1 MiB chunks: huge classes from 1.25 MiB up.
fn pool() -> Pool {
    Pool::builder()
        .chunk_size(MIB)
        .max_memory(Some(8 * MIB))
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap()
}

#[test]
fn a_request_waits_until_memory_comes_back() {
    let pool = pool();
    let held = pool.alloc(6 * MIB);
    let mut wait = pool.alloc_wait(6 * MIB);
    let (count, w) = waker();
    assert!(poll(&mut wait, &w).is_pending());
    assert_eq!(pool.metrics().waiters, 1);
    assert_eq!(
        pool.metrics().used_bytes,
        6 * MIB,
        "a waiter reserves nothing"
    );
    drop(held);
    assert!(count.0.load(SeqCst) >= 1, "the release woke the waiter");
    let Poll::Ready(Ok(buf)) = poll(&mut wait, &w) else {
        panic!("served once the memory came back");
    };
    assert_eq!(buf.capacity(), 6 * MIB);
    drop(wait);
    let m = pool.metrics();
    assert_eq!(m.waiters, 0);
    assert!(m.wait_time > Duration::ZERO);
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let pool = pool();
    let held = pool.alloc(6 * MIB);
    let mut big = pool.alloc_wait(4 * MIB);
    let mut small = pool.alloc_wait(MIB + MIB / 4); // would fit right now
    let (big_wakes, wb) = waker();
    let (small_wakes, ws) = waker();
    assert!(poll(&mut big, &wb).is_pending());
    assert!(poll(&mut small, &ws).is_pending(), "no jumping the queue");
    drop(held);
    assert!(big_wakes.0.load(SeqCst) >= 1);
    // The small one is not the head: polled first, it still waits.
    assert!(poll(&mut small, &ws).is_pending());
    let Poll::Ready(Ok(b)) = poll(&mut big, &wb) else {
        panic!("the head is served first")
    };
    assert!(
        small_wakes.0.load(SeqCst) >= 1,
        "the head leaving wakes the next"
    );
    let Poll::Ready(Ok(s)) = poll(&mut small, &ws) else {
        panic!("then the next")
    };
    assert_eq!((b.capacity(), s.capacity()), (4 * MIB, MIB + MIB / 4));
    assert_eq!(pool.metrics().waiters, 0);
}

#[test]
fn a_dropped_waiter_leaves_nothing_behind() {
    let pool = pool();
    let held = pool.alloc(6 * MIB);
    let used = pool.metrics().used_bytes;
    let mut first = pool.alloc_wait(4 * MIB);
    let mut second = pool.alloc_wait(4 * MIB);
    let (_, w1) = waker();
    let (second_wakes, w2) = waker();
    assert!(poll(&mut first, &w1).is_pending());
    assert!(poll(&mut second, &w2).is_pending());
    assert_eq!(pool.metrics().waiters, 2);
    drop(first); // cancelled while at the head
    assert!(
        second_wakes.0.load(SeqCst) >= 1,
        "the next one takes the head"
    );
    let m = pool.metrics();
    assert_eq!((m.waiters, m.used_bytes), (1, used), "no reservation left");
    drop(held);
    assert!(matches!(poll(&mut second, &w2), Poll::Ready(Ok(_))));
    drop(second);
    assert_eq!(pool.metrics().waiters, 0);
}

#[test]
fn a_request_larger_than_the_cap_fails_at_once() {
    let pool = pool();
    let mut wait = pool.alloc_wait(9 * MIB);
    let (_, w) = waker();
    let Poll::Ready(Err(err)) = poll(&mut wait, &w) else {
        panic!("no amount of waiting makes it fit")
    };
    assert!(matches!(
        err.kind,
        AllocErrorKind::OverLimit { needed, limit, .. } if needed > limit && limit == 8 * MIB
    ));
    assert_eq!(pool.metrics().waiters, 0);
}

#[test]
fn without_a_cap_it_is_try_alloc() {
    let pool = Pool::new();
    let mut wait = pool.alloc_wait(1500);
    let (_, w) = waker();
    let Poll::Ready(Ok(buf)) = poll(&mut wait, &w) else {
        panic!("nothing to wait for")
    };
    assert_eq!(buf.capacity(), 1536);
}

#[test]
fn a_trim_wakes_a_waiter_for_cached_memory() {
    // Freed chunks stay cached (used) under `Never`: a waiter is served by
    // giving them back, which its own try does at the cap.
    let pool = pool();
    let bufs: Vec<_> = (0..6).map(|_| pool.alloc(MIB)).collect(); // six chunks
    let mut wait = pool.alloc_wait(4 * MIB);
    let (count, w) = waker();
    assert!(poll(&mut wait, &w).is_pending());
    drop(bufs); // back to the arena: the chunks stay, still used
    assert!(count.0.load(SeqCst) >= 1);
    assert!(matches!(poll(&mut wait, &w), Poll::Ready(Ok(_))));
}

#[tokio::test(flavor = "current_thread")]
async fn a_timeout_gives_the_refusal() {
    let pool = pool();
    let _held = pool.alloc(6 * MIB);
    let start = Instant::now();
    let err = pool
        .try_alloc_wait(6 * MIB, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert!(
        matches!(err.kind, AllocErrorKind::OverLimit { .. }),
        "{err}"
    );
    let m = pool.metrics();
    assert_eq!(m.waiters, 0);
    assert!(m.wait_time >= Duration::from_millis(50));
}

#[test]
fn a_cancelled_wait_leaves_no_waker_with_the_timer() {
    // Each wait with a timeout arms the timer thread with its waker; a
    // dropped future must take it back, not leave it until the deadline.
    let pool = pool();
    let _held = pool.alloc(6 * MIB);
    let (count, w) = waker();
    for _ in 0..1000 {
        let mut wait = pool.try_alloc_wait(6 * MIB, Duration::from_secs(3600));
        assert!(poll(&mut wait, &w).is_pending());
    } // each dropped: cancelled
    drop(w);
    assert_eq!(pool.metrics().waiters, 0);
    assert_eq!(Arc::strong_count(&count), 1, "no waker kept anywhere");
}

#[test]
fn a_wait_polled_with_a_new_waker_is_woken_through_it_at_its_deadline() {
    // A future that moves to another task is polled with that task's
    // waker: the deadline must wake the new one, not the first.
    let pool = pool();
    let _held = pool.alloc(6 * MIB);
    let (first, w1) = waker();
    let (second, w2) = waker();
    let mut wait = pool.try_alloc_wait(6 * MIB, Duration::from_millis(20));
    assert!(poll(&mut wait, &w1).is_pending());
    assert!(poll(&mut wait, &w2).is_pending());
    drop(w1);
    assert_eq!(Arc::strong_count(&first), 1, "the first waker was let go");
    // No memory comes back: only the deadline can wake it. The bound is
    // liveness (the timer thread may run late on a loaded machine).
    let start = Instant::now();
    while second.0.load(SeqCst) == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "never woken");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(matches!(poll(&mut wait, &w2), Poll::Ready(Err(_))));
}

#[test]
fn ten_thousand_waiters_are_all_served() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let pool = pool();
    let served = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let tasks: Vec<_> = (0..10_000)
            .map(|i| {
                let (pool, served) = (pool.clone(), served.clone());
                tokio::spawn(async move {
                    // Whole chunks: at most eight alive under the cap.
                    let mut buf = pool.alloc_wait(MIB).await.unwrap();
                    buf.extend_from_slice(&(i as u32).to_le_bytes());
                    tokio::task::yield_now().await;
                    served.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for t in tasks {
            // A hang guard, not a speed bound.
            tokio::time::timeout(Duration::from_secs(120), t)
                .await
                .expect("no waiter is stranded")
                .unwrap();
        }
    });
    assert_eq!(served.load(SeqCst), 10_000);
    let m = pool.metrics();
    assert_eq!((m.waiters, m.active_bytes), (0, 0));
    assert!(m.used_bytes <= 8 * MIB);
}
