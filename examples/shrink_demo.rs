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
//! requests/s, used, active, cached and RSS.
//!
//! The figures go to `shrink_demo.csv` (every 250 ms sample of both runs)
//! and `shrink_demo.svg` (the plot) in `<target-dir>/shrink_demo/`, where
//! `<target-dir>` is the cargo target directory this example was built in:
//! the binary runs from `<target-dir>/<profile>/examples/` (or
//! `<target-dir>/<triple>/<profile>/examples/` with `--target`), so the
//! directory is found from `std::env::current_exe()` — `CARGO_TARGET_DIR`
//! is honoured without being read. A binary that runs from anywhere else
//! writes to `$CARGO_TARGET_DIR/shrink_demo/` if that is set, else to
//! `target/shrink_demo/` under the current directory. The demo prints the
//! paths it wrote.

#[path = "http_server/server.rs"]
mod server;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
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
    let out = output_dir();
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
        Ok(paths) => {
            for path in paths {
                println!("wrote {}", path.display());
            }
        }
        Err(e) => eprintln!("could not write the CSV/SVG to {}: {e}", out.display()),
    }
}

/// `<target-dir>/shrink_demo`, for the cargo target directory this binary
/// was built in (see the module doc).
fn output_dir() -> PathBuf {
    let built_in = std::env::current_exe().ok().and_then(|exe| {
        let examples = exe.parent()?;
        if examples.file_name()? != "examples" {
            return None;
        }
        // <target-dir>/<profile>/examples, or with --target
        // <target-dir>/<triple>/<profile>/examples: cargo marks the target
        // directory itself with a CACHEDIR.TAG.
        let dir = examples.parent()?.parent()?;
        match dir.parent() {
            Some(up) if !dir.join("CACHEDIR.TAG").exists() && up.join("CACHEDIR.TAG").exists() => {
                Some(up.to_path_buf())
            }
            _ => Some(dir.to_path_buf()),
        }
    });
    built_in
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("shrink_demo")
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

/// Writes `shrink_demo.csv` and `shrink_demo.svg` into `dir`; returns
/// their paths.
fn write_outputs(
    dir: &Path,
    never: &[Sample],
    decay: &[Sample],
) -> Result<[PathBuf; 2], Box<dyn std::error::Error>> {
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
    let (csv_path, svg_path) = (dir.join("shrink_demo.csv"), dir.join("shrink_demo.svg"));
    std::fs::write(&csv_path, csv)?;
    plot(&svg_path, never, decay)?;
    Ok([csv_path, svg_path])
}

/// How a metric is drawn: solid and thick (used), thin (RSS), dashed
/// (active). The colour tells the policy.
#[derive(Clone, Copy)]
enum Stroke {
    Thick,
    Thin,
    Dashed,
}

/// A plotted line: policy (0 Never, 1 decay), label, points, colour,
/// stroke.
type Series = (usize, &'static str, Vec<(f64, f64)>, RGBColor, Stroke);

const NEVER_COLOR: RGBColor = RGBColor(200, 40, 40);
const NEVER_LIGHT: RGBColor = RGBColor(235, 140, 140);
const DECAY_COLOR: RGBColor = RGBColor(30, 90, 200);
const DECAY_LIGHT: RGBColor = RGBColor(120, 165, 235);

/// The phases as `run` labels its samples: name, start, end (seconds).
fn phases() -> [(String, f64, f64, RGBColor); 3] {
    let (burst, trickle) = (BURST.as_secs_f64(), (BURST + TRICKLE).as_secs_f64());
    let end = (BURST + TRICKLE + IDLE).as_secs_f64();
    [
        (
            format!("burst: {BURST_CLIENTS} clients"),
            0.0,
            burst,
            RGBColor(255, 236, 214),
        ),
        (
            format!("trickle: {TRICKLE_RATE} req/s"),
            burst,
            trickle,
            RGBColor(232, 244, 226),
        ),
        ("idle".to_string(), trickle, end, RGBColor(238, 238, 238)),
    ]
}

fn plot(path: &Path, never: &[Sample], decay: &[Sample]) -> Result<(), Box<dyn std::error::Error>> {
    const LEGEND_WIDTH: u32 = 210;
    let root = SVGBackend::new(path, (1100, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "tidebuf: burst → trickle (3 req/s) → idle, 64 workers, 1–5 MiB responses",
        ("sans-serif", 20),
    )?;
    let (width, _) = root.dim_in_pixel();
    let (chart_area, legend_area) = root.split_horizontally(width - LEGEND_WIDTH);

    let t_max = never
        .iter()
        .chain(decay)
        .map(|s| s.t)
        .fold((BURST + TRICKLE + IDLE).as_secs_f64(), f64::max);
    // Headroom above the highest line for the phase labels.
    let y_max = never
        .iter()
        .chain(decay)
        .map(|s| s.used.max(s.rss).max(s.active))
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(&chart_area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)?;

    // The phases: shaded bands, a dashed line where each one ends, a label
    // at the top of each.
    for (label, start, end, shade) in phases() {
        let end = end.min(t_max);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(start, 0.0), (end, y_max)],
            shade.filled(),
        )))?;
        if end < (BURST + TRICKLE + IDLE).as_secs_f64() {
            chart.draw_series(DashedLineSeries::new(
                [(end, 0.0), (end, y_max)],
                6,
                4,
                RGBColor(120, 120, 120).stroke_width(1),
            ))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            label,
            ((start + end) / 2.0, y_max * 0.985),
            ("sans-serif", 15)
                .into_font()
                .color(&RGBColor(70, 70, 70))
                .pos(Pos::new(HPos::Center, VPos::Top)),
        )))?;
    }
    chart
        .configure_mesh()
        .x_desc("seconds since the run started")
        .y_desc("MiB")
        .x_label_formatter(&|t| format!("{t:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()?;

    let line = |samples: &[Sample], f: fn(&Sample) -> f64| {
        samples.iter().map(move |s| (s.t, f(s))).collect::<Vec<_>>()
    };
    let series: [Series; 6] = [
        (0, "RSS", line(never, |s| s.rss), NEVER_LIGHT, Stroke::Thin),
        (1, "RSS", line(decay, |s| s.rss), DECAY_LIGHT, Stroke::Thin),
        (
            0,
            "used",
            line(never, |s| s.used),
            NEVER_COLOR,
            Stroke::Thick,
        ),
        (
            1,
            "used",
            line(decay, |s| s.used),
            DECAY_COLOR,
            Stroke::Thick,
        ),
        (
            0,
            "active",
            line(never, |s| s.active),
            NEVER_COLOR,
            Stroke::Dashed,
        ),
        (
            1,
            "active",
            line(decay, |s| s.active),
            DECAY_COLOR,
            Stroke::Dashed,
        ),
    ];
    for (_, _, points, color, stroke) in &series {
        match stroke {
            Stroke::Thick => {
                chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))?;
            }
            Stroke::Thin => {
                chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
            }
            Stroke::Dashed => {
                chart.draw_series(DashedLineSeries::new(
                    points.clone(),
                    7,
                    4,
                    color.stroke_width(2),
                ))?;
            }
        }
    }

    // The legend, right of the plot: off the data whatever the figures.
    let heading = ("sans-serif", 16).into_font().color(&BLACK);
    let entry = ("sans-serif", 14).into_font().color(&BLACK);
    let mut y = 40;
    for (policy, title) in ["TrimPolicy::Never", "decay (1 s period)"]
        .into_iter()
        .enumerate()
    {
        legend_area.draw(&Text::new(title, (10, y), heading.clone()))?;
        y += 26;
        // Legend order: used, active, RSS.
        for wanted in ["used", "active", "RSS"] {
            let Some((_, label, _, c, stroke)) =
                series.iter().find(|s| s.0 == policy && s.1 == wanted)
            else {
                continue;
            };
            let swatch = vec![(14, y + 8), (54, y + 8)];
            match stroke {
                Stroke::Thick => legend_area.draw(&PathElement::new(swatch, c.stroke_width(3)))?,
                Stroke::Thin => legend_area.draw(&PathElement::new(swatch, c.stroke_width(2)))?,
                Stroke::Dashed => {
                    legend_area.draw(&DashedPathElement::new(swatch, 7, 4, c.stroke_width(2)))?
                }
            }
            legend_area.draw(&Text::new(*label, (64, y), entry.clone()))?;
            y += 24;
        }
        y += 20;
    }
    for note in [
        "used: memory the pool holds",
        "active: live buffers",
        "RSS: the whole process",
    ] {
        legend_area.draw(&Text::new(
            note,
            (10, y),
            ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
        ))?;
        y += 20;
    }
    root.present()?;
    Ok(())
}
