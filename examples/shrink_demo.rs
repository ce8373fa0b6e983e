//! The incident, live: an over-threaded HTTP service serving 1–5 MiB
//! responses, whose pooled memory climbs under load — and stays up with
//! Netty-style pools, or ebbs back with tidebuf's default policy.
//!
//! ```text
//! cargo run --release --example shrink_demo
//! ```
//!
//! The server (examples/http_server/server.rs) runs in this process on an
//! ephemeral loopback port with 64 tokio workers. A hyper client drives it
//! through three phases — a burst (16 concurrent requests), a trickle
//! (3 requests/s: the incident's rate) and idle (no requests) — once with
//! `TrimPolicy::Never` and once with the decay policy (a 1 s period for the
//! demo; the default is 10 s). One line per second shows the phase,
//! requests/s, used, active, cached and RSS. The figures go to
//! `target/shrink_demo/shrink_demo.csv` and `shrink_demo.svg`.

#[path = "http_server/server.rs"]
mod server;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use plotters::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidebuf::{Pool, TrimPolicy};

const WORKERS: usize = 64;
const BURST: Duration = Duration::from_secs(6);
const TRICKLE: Duration = Duration::from_secs(8);
const IDLE: Duration = Duration::from_secs(8);
const BURST_CLIENTS: usize = 16;
const TRICKLE_RATE: f64 = 3.0;
const SAMPLE: Duration = Duration::from_millis(250);
const MIB: f64 = (1 << 20) as f64;

/// One sample of the pool and the process.
#[derive(Clone)]
struct Sample {
    t: f64,
    phase: &'static str,
    req_per_s: f64,
    used: f64,
    active: f64,
    cached: f64,
    rss: f64,
}

fn main() {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/shrink_demo");
    let never = run("never", TrimPolicy::Never);
    let decay = run("decay", TrimPolicy::decay(Duration::from_secs(1)));
    println!();
    for (name, s) in [
        ("TrimPolicy::Never ", &never),
        ("decay (1 s period)", &decay),
    ] {
        let peak = s.iter().map(|x| x.used).fold(0.0, f64::max);
        let peak_rss = s.iter().map(|x| x.rss).fold(0.0, f64::max);
        let last = s.last().expect("samples");
        println!(
            "{name}: peak used {peak:6.1} MiB → after idle {:6.1} MiB   (RSS {peak_rss:.1} → {:.1} MiB)",
            last.used, last.rss
        );
    }
    match write_outputs(&out, &never, &decay) {
        Ok(()) => println!(
            "wrote {}/shrink_demo.csv and shrink_demo.svg",
            out.display()
        ),
        Err(e) => eprintln!("could not write the CSV/SVG: {e}"),
    }
}

/// One burst → trickle → idle run with `policy`.
fn run(name: &str, policy: TrimPolicy) -> Vec<Sample> {
    let pool = Pool::builder()
        .trim_policy(policy)
        .build()
        .expect("valid settings");
    let state = server::State::new(pool);
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("server runtime");
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    server_rt.spawn(server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    println!("\n== {name}: {WORKERS} workers on http://{addr}, 1-5 MiB responses");
    println!(
        "{:<16}{:<9}{:>7}{:>7}{:>11}{:>12}{:>12}{:>9}",
        "progress", "phase", "t", "req/s", "used MiB", "active MiB", "cached MiB", "RSS MiB"
    );
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let total = BURST + TRICKLE + IDLE;
    let driver = {
        let done = done.clone();
        client_rt.spawn(async move {
            let burst_end = start + BURST;
            let clients: Vec<_> = (0..BURST_CLIENTS)
                .map(|_| {
                    let done = done.clone();
                    tokio::spawn(async move {
                        while Instant::now() < burst_end {
                            if fetch(addr).await {
                                done.fetch_add(1, Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for c in clients {
                let _ = c.await;
            }
            let trickle_end = burst_end + TRICKLE;
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / TRICKLE_RATE));
            while Instant::now() < trickle_end {
                tick.tick().await;
                let done = done.clone();
                tokio::spawn(async move {
                    if fetch(addr).await {
                        done.fetch_add(1, Relaxed);
                    }
                });
            }
        })
    };
    let mut samples = Vec::new();
    let (mut last_done, mut last_t) = (0, 0.0);
    // The printed rate is over the last second, not the last sample.
    let (mut printed_done, mut printed_t) = (0, 0.0);
    while start.elapsed() < total {
        std::thread::sleep(SAMPLE);
        let t = start.elapsed().as_secs_f64();
        let phase = if t < BURST.as_secs_f64() {
            "burst"
        } else if t < (BURST + TRICKLE).as_secs_f64() {
            "trickle"
        } else {
            "idle"
        };
        let m = state.pool.metrics();
        let n = done.load(Relaxed);
        let s = Sample {
            t,
            phase,
            req_per_s: (n - last_done) as f64 / (t - last_t),
            used: m.used_bytes as f64 / MIB,
            active: m.active_bytes as f64 / MIB,
            cached: m.cached_bytes as f64 / MIB,
            rss: server::rss_bytes().unwrap_or(0) as f64 / MIB,
        };
        (last_done, last_t) = (n, t);
        // One line per second; every sample goes to the CSV.
        if samples.len() % 4 == 3 {
            let rate = (n - printed_done) as f64 / (t - printed_t);
            (printed_done, printed_t) = (n, t);
            let filled = ((t / total.as_secs_f64()) * 12.0).round() as usize;
            let bar = format!(
                "[{}{}]",
                "#".repeat(filled.min(12)),
                ".".repeat(12 - filled.min(12))
            );
            println!(
                "{bar:<16}{:<9}{:>6.0}s{:>7.1}{:>11.1}{:>12.1}{:>12.1}{:>9.1}",
                s.phase, s.t, rate, s.used, s.active, s.cached, s.rss
            );
        }
        samples.push(s);
    }
    let _ = client_rt.block_on(driver);
    let _ = stop.send(());
    drop(client_rt);
    drop(server_rt);
    samples
}

/// GET one payload; checks its pattern. `false` on any failure.
async fn fetch(addr: std::net::SocketAddr) -> bool {
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return false;
    };
    tokio::spawn(conn);
    let Ok(req) = hyper::Request::get("/payload")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
    else {
        return false;
    };
    let Ok(res) = sender.send_request(req).await else {
        return false;
    };
    if !res.status().is_success() {
        return false;
    }
    let Ok(body) = res.into_body().collect().await else {
        return false;
    };
    let body = body.to_bytes();
    body.iter()
        .step_by(4093)
        .enumerate()
        .all(|(k, &b)| b == server::pattern_byte(k * 4093))
}

/// A plotted line: label, points, colour.
type Series = (&'static str, Vec<(f64, f64)>, RGBColor);

fn write_outputs(
    dir: &std::path::Path,
    never: &[Sample],
    decay: &[Sample],
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let mut csv = String::from("run,t_s,phase,req_per_s,used_mib,active_mib,cached_mib,rss_mib\n");
    for (run, samples) in [("never", never), ("decay", decay)] {
        for s in samples {
            csv += &format!(
                "{run},{:.2},{},{:.1},{:.2},{:.2},{:.2},{:.2}\n",
                s.t, s.phase, s.req_per_s, s.used, s.active, s.cached, s.rss
            );
        }
    }
    std::fs::write(dir.join("shrink_demo.csv"), csv)?;
    plot(&dir.join("shrink_demo.svg"), never, decay)
}

fn plot(
    path: &std::path::Path,
    never: &[Sample],
    decay: &[Sample],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let t_max = never.iter().chain(decay).map(|s| s.t).fold(1.0, f64::max);
    let y_max = never
        .iter()
        .chain(decay)
        .map(|s| s.used.max(s.rss))
        .fold(1.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "tidebuf: burst → trickle (3 req/s) → idle, 64 workers, 1–5 MiB responses",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("MiB")
        .draw()?;
    let line = |samples: &[Sample], f: fn(&Sample) -> f64| {
        samples.iter().map(move |s| (s.t, f(s))).collect::<Vec<_>>()
    };
    let series: [Series; 5] = [
        (
            "used, Never",
            line(never, |s| s.used),
            RGBColor(200, 40, 40),
        ),
        (
            "RSS, Never",
            line(never, |s| s.rss),
            RGBColor(240, 150, 150),
        ),
        (
            "used, decay",
            line(decay, |s| s.used),
            RGBColor(30, 90, 200),
        ),
        (
            "RSS, decay",
            line(decay, |s| s.rss),
            RGBColor(140, 180, 240),
        ),
        (
            "active, decay",
            line(decay, |s| s.active),
            RGBColor(60, 160, 60),
        ),
    ];
    for (label, points, color) in series {
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
