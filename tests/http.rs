//! The HTTP example's service end to end, on an ephemeral loopback port:
//! payload sizes and content, `/metrics` as Prometheus text with every
//! series, 4xx and 503 answers, and pooled memory falling after idle.

#[path = "../examples/http_server/server.rs"]
mod server;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tidebuf::{Pool, TrimPolicy};

async fn get(addr: std::net::SocketAddr, path: &str) -> (StatusCode, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

async fn start(
    pool: Pool,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<server::State>,
    tokio::sync::oneshot::Sender<()>,
) {
    start_with(pool, server::OnCap::Reject).await
}

async fn start_with(
    pool: Pool,
    on_cap: server::OnCap,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<server::State>,
    tokio::sync::oneshot::Sender<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = server::State::with_on_cap(pool, on_cap);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    (addr, state, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payloads_metrics_errors_and_the_ebb() {
    let pool = Pool::builder()
        .trim_policy(TrimPolicy::decay(Duration::from_millis(100)))
        .build()
        .unwrap();
    let (addr, state, stop) = start(pool).await;

    for size in [0usize, 1, 1500, 100_000, 3_000_000, 5 << 20] {
        let (status, body) = get(addr, &format!("/payload?size={size}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.len(), size);
        assert!(
            body.iter()
                .enumerate()
                .all(|(i, &b)| b == server::pattern_byte(i)),
            "content of {size}"
        );
    }
    let (status, body) = get(addr, "/payload").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        (1 << 20..=5 << 20).contains(&body.len()),
        "default size {}",
        body.len()
    );

    let (status, body) = get(addr, "/payload?size=lots").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(&body[..], b"size \"lots\" is not a number of bytes\n");
    let (status, body) = get(addr, &format!("/payload?size={}", server::MAX_PAYLOAD + 1)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&body).contains("over this server's limit"));
    assert_eq!(get(addr, "/nope").await.0, StatusCode::NOT_FOUND);

    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body.to_vec()).unwrap();
    for series in [
        "tidebuf_used_bytes ",
        "tidebuf_active_bytes ",
        "tidebuf_cached_bytes ",
        "tidebuf_chunks ",
        "tidebuf_huge_buffers ",
        "tidebuf_arena_threads{arena=\"0\"} ",
        "tidebuf_arena_used_bytes{arena=\"0\"} ",
        "tidebuf_allocations_total{kind=\"huge\"} ",
        "tidebuf_deallocations_total{kind=\"normal\"} ",
        "tidebuf_cache_hits_total ",
        "tidebuf_cache_misses_total ",
        "tidebuf_trims_total ",
        "tidebuf_trimmed_bytes_total ",
        "process_resident_memory_bytes ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(series)),
            "no {series:?} in\n{text}"
        );
    }
    // Prometheus text: every sample line is `name{labels} value`, every
    // family has HELP and TYPE, and it ends with # EOF.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
    }
    assert_eq!(
        text.matches("# HELP").count(),
        text.matches("# TYPE").count()
    );
    assert!(text.trim_end().ends_with("# EOF"));

    // Idle: nothing in flight, no calls; the decay gives the memory back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while state.pool.metrics().used_bytes > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        state.pool.metrics().used_bytes,
        0,
        "pooled memory falls after idle"
    );
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_memory_gives_503_not_a_crash() {
    // 4 MiB chunks: the smallest cap, and 5 MB a huge request over it.
    let pool = Pool::builder()
        .chunk_size(4 << 20)
        .max_memory(Some(4 << 20))
        .build()
        .unwrap();
    let (addr, _state, stop) = start(pool).await;
    let (status, body) = get(addr, "/payload?size=5000000").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&body).contains("max_memory reached"));
    // And the server goes on serving what fits.
    let (status, body) = get(addr, "/payload?size=1000000").await;
    assert_eq!((status, body.len()), (StatusCode::OK, 1_000_000));
    let _ = stop.send(());
}

/// 32 concurrent 5 MiB requests against a 16 MiB cap, while the test holds
/// 12 MiB: none fits until the test lets go. `--on-cap reject` answers all
/// 32 with 503 at once; `--on-cap wait` serves all 32 — first come first
/// served, three at a time once the memory is back — with no 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_wait_serves_a_burst_that_reject_refuses() {
    const BURST: usize = 32;
    const SIZE: usize = 5 << 20;
    for on_cap in [server::OnCap::Reject, server::OnCap::Wait] {
        // 4 MiB chunks: 5 MiB is huge, exactly its own bytes at the cap.
        let pool = Pool::builder()
            .chunk_size(4 << 20)
            .max_memory(Some(16 << 20))
            .build()
            .unwrap();
        let held = pool.alloc(12 << 20);
        let (addr, state, stop) = start_with(pool.clone(), on_cap).await;
        let started = std::time::Instant::now();
        let requests: Vec<_> = (0..BURST)
            .map(|_| {
                tokio::spawn(async move {
                    let t = std::time::Instant::now();
                    let (status, body) = get(addr, &format!("/payload?size={SIZE}")).await;
                    (status, body.len(), t.elapsed())
                })
            })
            .collect();
        let mut held = Some(held);
        if on_cap == server::OnCap::Wait {
            // Let go only once all 32 wait (none can be served before).
            while pool.metrics().waiters < BURST {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            held = None;
        }
        let mut statuses = Vec::new();
        let mut slowest = Duration::ZERO;
        for r in requests {
            let (status, len, took) = r.await.unwrap();
            if status == StatusCode::OK {
                assert_eq!(len, SIZE);
            }
            slowest = slowest.max(took);
            statuses.push(status);
        }
        drop(held); // rejecting: only after every answer came
        let refused = statuses
            .iter()
            .filter(|&&s| s == StatusCode::SERVICE_UNAVAILABLE)
            .count();
        eprintln!(
            "{on_cap:?}: {} served, {refused} refused, slowest {slowest:?}, burst {:?}, waited {:?} in all",
            BURST - refused,
            started.elapsed(),
            pool.metrics().wait_time,
        );
        match on_cap {
            server::OnCap::Reject => assert_eq!(refused, BURST, "nothing fit"),
            server::OnCap::Wait => {
                assert_eq!(refused, 0, "every request waited its turn");
                assert_eq!(
                    state.served.load(std::sync::atomic::Ordering::Relaxed),
                    BURST as u64
                );
            }
        }
        assert_eq!(pool.metrics().waiters, 0);
        let _ = stop.send(());
    }
}
