//! Backpressure at the `max_memory` cap: the example HTTP server with a
//! 16 MiB cap gets a burst of 32 concurrent 5 MiB requests, once with
//! `--on-cap reject` (a refused allocation is a 503) and once with
//! `--on-cap wait` (`Pool::try_alloc_wait`: the request waits, first come
//! first served, until released memory lets it fit).
//!
//! ```text
//!  32 clients ──GET 5 MiB──▶ server ──try_alloc──────▶ 3 fit, 29 × 503
//!                                   └─try_alloc_wait─▶ 3 fit, 29 queue ─▶ all 200
//! ```
//!
//! Run: `cargo run --release --example cap_backpressure`. Prints, for each
//! mode, how many requests were served and refused, the median and
//! slowest latency, the pool's peak `used` (never above the cap) and the
//! time requests spent waiting in all.

#[path = "http_server/server.rs"]
mod server;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidebuf::Pool;

const CAP: usize = 16 << 20;
const BURST: usize = 32;
const SIZE: usize = 5 << 20;

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    println!(
        "{BURST} concurrent requests for {} MiB each against a {} MiB max_memory",
        SIZE >> 20,
        CAP >> 20
    );
    for on_cap in [server::OnCap::Reject, server::OnCap::Wait] {
        let pool = Pool::builder()
            .max_memory(Some(CAP))
            .build()
            .expect("valid settings");
        let state = server::State::with_on_cap(pool.clone(), on_cap);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        // The pool's peak `used`, sampled until the burst is answered.
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (pool, done) = (pool.clone(), done.clone());
            tokio::spawn(async move {
                let mut peak = 0;
                while !done.load(Relaxed) {
                    peak = peak.max(pool.metrics().used_bytes);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                peak
            })
        };
        let started = Instant::now();
        let requests: Vec<_> = (0..BURST)
            .map(|_| tokio::spawn(async move { get(addr).await }))
            .collect();
        let mut latencies = Vec::new();
        let (mut served, mut refused, mut failed) = (0, 0, 0);
        for r in requests {
            match r.await.expect("client task") {
                Some((status, took)) if status.is_success() => {
                    served += 1;
                    latencies.push(took);
                }
                Some((status, took)) if status == hyper::StatusCode::SERVICE_UNAVAILABLE => {
                    refused += 1;
                    latencies.push(took);
                }
                _ => failed += 1,
            }
        }
        let burst = started.elapsed();
        done.store(true, Relaxed);
        let peak = sampler.await.expect("sampler");
        latencies.sort_unstable();
        let median = latencies
            .get(latencies.len() / 2)
            .copied()
            .unwrap_or_default();
        let slowest = latencies.last().copied().unwrap_or_default();
        println!(
            "--on-cap {:<6}: {served:>2} served, {refused:>2} refused (503), {failed} failed; \
             latency median {median:.0?}, slowest {slowest:.0?}; burst {burst:.0?}; \
             peak used {:.1} MiB; waited {:.2?} in all",
            format!("{on_cap:?}").to_lowercase(),
            peak as f64 / (1 << 20) as f64,
            pool.metrics().wait_time,
        );
        let _ = stop.send(());
    }
}

/// GET one `SIZE` payload; its status and how long the whole answer took,
/// or `None` if the connection failed.
async fn get(addr: std::net::SocketAddr) -> Option<(hyper::StatusCode, Duration)> {
    let started = Instant::now();
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    let req = hyper::Request::get(format!("/payload?size={SIZE}"))
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .ok()?;
    let res = sender.send_request(req).await.ok()?;
    let status = res.status();
    res.into_body().collect().await.ok()?;
    Some((status, started.elapsed()))
}
