//! The HTTP service behind `http_server` and `shrink_demo`: hyper 1.x on
//! tokio, response bodies built in pooled buffers and handed to hyper
//! without copying.
//!
//! ```text
//!  GET /payload?size=N   N bytes (default: random 1–5 MiB) of a pattern a
//!                        client can check: byte i is (i % 251)
//!  GET /metrics          Prometheus text: tidebuf's collector + RSS
//!  bad size → 400, over the server's limit → 413,
//!  max_memory hit → 503 (OnCap::Reject), or wait for memory (OnCap::Wait)
//! ```

// Shared by the http_server and shrink_demo examples and the HTTP test;
// each uses a part of it.
#![allow(dead_code)]

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tidebuf::{AllocErrorKind, Pool, PoolCollector};
use tokio::net::TcpListener;

/// Largest payload the server agrees to build.
pub(crate) const MAX_PAYLOAD: usize = 64 << 20;

/// What a request does when `max_memory` refuses its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnCap {
    /// Answer 503 at once.
    Reject,
    /// Wait (first come, first served) until released memory lets it fit;
    /// 503 only after [`WAIT_LIMIT`].
    Wait,
}

/// Longest a request waits for memory under `OnCap::Wait`.
pub(crate) const WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// What every request handler shares.
pub(crate) struct State {
    pub(crate) pool: Pool,
    pub(crate) on_cap: OnCap,
    registry: Registry,
    /// Requests served, by outcome, for the demo's live line.
    pub(crate) served: AtomicU64,
    pub(crate) refused: AtomicU64,
    seed: AtomicU64,
}

impl State {
    pub(crate) fn new(pool: Pool) -> Arc<State> {
        State::with_on_cap(pool, OnCap::Reject)
    }

    pub(crate) fn with_on_cap(pool: Pool, on_cap: OnCap) -> Arc<State> {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(PoolCollector::new(&pool)));
        Arc::new(State {
            pool,
            on_cap,
            registry,
            served: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            seed: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
        })
    }

    /// A size of 1–5 MiB (xorshift over a shared seed; no dependency).
    fn random_size(&self) -> usize {
        let mut x = self.seed.fetch_add(0x2545_F491_4F6C_DD1D, Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (1 << 20) + (x % (4 << 20)) as usize
    }
}

/// Byte `i` of every payload.
pub(crate) fn pattern_byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// Process resident set size (Linux), in bytes.
pub(crate) fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}

async fn payload(state: &State, query: Option<&str>) -> Response<Full<Bytes>> {
    let size = match query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("size="))) {
        None => state.random_size(),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n <= MAX_PAYLOAD => n,
            Ok(n) => {
                return text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("size {n} is over this server's limit of {MAX_PAYLOAD} bytes\n"),
                )
            }
            Err(_) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("size {s:?} is not a number of bytes\n"),
                )
            }
        },
    };
    let allocated = match state.on_cap {
        OnCap::Reject => state.pool.try_alloc(size),
        OnCap::Wait => state.pool.try_alloc_wait(size, WAIT_LIMIT).await,
    };
    let mut buf = match allocated {
        Ok(buf) => buf,
        Err(e) if matches!(e.kind, AllocErrorKind::OverLimit { .. }) => {
            state.refused.fetch_add(1, Relaxed);
            return text(StatusCode::SERVICE_UNAVAILABLE, format!("busy: {e}\n"));
        }
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    };
    let block: Vec<u8> = (0..251 * 64).map(pattern_byte).collect();
    while buf.len() < size {
        let n = (size - buf.len()).min(block.len());
        buf.extend_from_slice(&block[..n]);
    }
    state.served.fetch_add(1, Relaxed);
    // Zero-copy: the body is the pooled buffer; it returns to the pool when
    // hyper has written it and drops the `Bytes`.
    Response::new(Full::new(Bytes::from(buf.freeze())))
}

fn metrics(state: &State) -> Response<Full<Bytes>> {
    let mut body = String::new();
    if prometheus_client::encoding::text::encode(&mut body, &state.registry).is_err() {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics encoding failed\n".into(),
        );
    }
    // The registry ends with "# EOF"; the process gauge goes before it.
    let body = body.trim_end().trim_end_matches("# EOF").to_string();
    let rss = rss_bytes().unwrap_or(0);
    let body = format!(
        "{body}# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}\n# EOF\n"
    );
    let mut r = text(StatusCode::OK, body);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    r
}

async fn route(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/payload") => payload(&state, req.uri().query()).await,
        (&Method::GET, "/metrics") => metrics(&state),
        _ => text(
            StatusCode::NOT_FOUND,
            "try GET /payload?size=N or GET /metrics\n".into(),
        ),
    })
}

/// Serves `listener` until `shutdown` resolves; connections in flight then
/// finish on their own.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| route(state.clone(), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
}
