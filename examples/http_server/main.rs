//! An over-provisioned HTTP service like the incident's: many worker
//! threads serving 1–5 MiB responses from pooled buffers.
//!
//! ```text
//! cargo run --release --example http_server -- --workers 64 --trim decay --trim-period 10s --max-memory 512MiB
//! curl -s localhost:8080/payload?size=3000000 | wc -c
//! curl -s localhost:8080/metrics | grep tidebuf_used_bytes
//! ```
//!
//! Durations and sizes take their unit: `--trim-period 10s` / `500ms` /
//! `1m 30s` (humantime), `--max-memory 512MiB` / `16MiB` / `1GiB`
//! (parse-size: KiB, MiB, GiB are powers of 1024, kB, MB, GB powers of
//! 1000, `B` is bytes). A bare number is refused, with the unit to write:
//! `--max-memory 16777216` once meant 16 TiB to a script that meant bytes.

use clap::{Parser, ValueEnum};
use std::time::Duration;
use tidebuf::{Pool, TrimPolicy};

mod server;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Trim {
    /// Netty's behaviour: keep everything.
    Never,
    /// tidebuf's default: give back what stayed unused for a period.
    Decay,
}

/// `--on-cap`: what a request does when `--max-memory` refuses it.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum OnCap {
    /// Answer 503 Service Unavailable at once.
    Reject,
    /// Wait for memory (first come, first served; 503 after 30 s).
    Wait,
}

/// `--max-memory`: a cap in bytes, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cap(Option<usize>);

/// Serve pooled payloads over HTTP.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Worker threads of the tokio runtime (an event-loop pool).
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// Trim policy.
    #[arg(long, value_enum, default_value_t = Trim::Decay)]
    trim: Trim,
    /// Decay period of `--trim decay`, with its unit: 10s, 500ms, 1m 30s.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_period)]
    trim_period: Duration,
    /// Hard cap on pooled memory (503 when reached), with its unit: 512MiB,
    /// 16MiB, 1GiB (KiB/MiB/GiB are powers of 1024, kB/MB/GB of 1000, B is
    /// bytes); `none` for no cap.
    #[arg(long, value_name = "SIZE", default_value = "none", value_parser = parse_cap)]
    max_memory: Cap,
    /// At the cap: reject (503 at once) or wait for released memory.
    #[arg(long, value_enum, default_value_t = OnCap::Reject)]
    on_cap: OnCap,
    /// Most arenas [default: the pool's, 2 × available cores].
    #[arg(long)]
    arenas: Option<usize>,
}

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// True when `s` ends in a digit: a number with no unit after it.
fn lacks_unit(s: &str) -> bool {
    s.ends_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// `--trim-period`: a duration with its unit (`humantime::parse_duration`).
fn parse_period(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if lacks_unit(s) {
        // The flag took milliseconds before it took units: say what that
        // number of milliseconds is written as now.
        let hint = match s.parse::<u64>() {
            Ok(ms) => format!(
                " (for {ms} milliseconds: {} or {ms}ms)",
                humantime::format_duration(Duration::from_millis(ms))
            ),
            Err(_) => String::new(),
        };
        return Err(format!("missing unit: write 10s or 500ms{hint}"));
    }
    humantime::parse_duration(s).map_err(|e| format!("{e}; write e.g. 10s or 500ms"))
}

/// `--max-memory`: a size with its unit (`parse_size::parse_size`), or
/// `none`.
fn parse_cap(s: &str) -> Result<Cap, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("none") {
        return Ok(Cap(None));
    }
    if lacks_unit(s) {
        let hint = match s.parse::<u64>() {
            Ok(n) if n > 0 && n % KIB == 0 => format!(" (for {n} bytes: {} or {n}B)", size(n)),
            Ok(n) => format!(" (for {n} bytes: {n}B)"),
            Err(_) => String::new(),
        };
        return Err(format!("missing unit: write 16MiB or 512KiB{hint}"));
    }
    let bytes = parse_size::parse_size(s)
        .map_err(|e| format!("not a size ({e}); write e.g. 16MiB or 512KiB"))?;
    let bytes = usize::try_from(bytes)
        .map_err(|_| format!("{bytes} bytes is more than this machine can address"))?;
    Ok(Cap(Some(bytes)))
}

/// `n` bytes in the largest binary unit that divides it: `16MiB`.
fn size(n: u64) -> String {
    match n {
        0 => "0B".to_string(),
        n if n % GIB == 0 => format!("{}GiB", n / GIB),
        n if n % MIB == 0 => format!("{}MiB", n / MIB),
        n if n % KIB == 0 => format!("{}KiB", n / KIB),
        n => format!("{n}B"),
    }
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("http_server: {e}");
        std::process::exit(2);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let policy = match args.trim {
        Trim::Never => TrimPolicy::Never,
        Trim::Decay => TrimPolicy::decay(args.trim_period),
    };
    let mut builder = Pool::builder()
        .trim_policy(policy)
        .max_memory(args.max_memory.0);
    if let Some(n) = args.arenas {
        builder = builder.arenas(n);
    }
    let on_cap = match args.on_cap {
        OnCap::Reject => server::OnCap::Reject,
        OnCap::Wait => server::OnCap::Wait,
    };
    let state = server::State::with_on_cap(builder.build()?, on_cap);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?;
    let trim = match args.trim {
        Trim::Never => "trim never".to_string(),
        Trim::Decay => format!(
            "trim decay every {}",
            humantime::format_duration(args.trim_period)
        ),
    };
    let cap = match args.max_memory.0 {
        Some(bytes) => format!("max memory {}", size(bytes as u64)),
        None => "no memory cap".to_string(),
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr).await?;
        eprintln!(
            "listening on http://{} ({} workers, {trim}, {cap})",
            listener.local_addr()?,
            args.workers,
        );
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("shutting down");
        };
        server::serve(listener, state, ctrl_c).await;
        Ok::<_, std::io::Error>(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("http_server").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_are_ten_seconds_and_no_cap() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.trim_period, Duration::from_secs(10));
        assert_eq!(args.max_memory, Cap(None));
        let help = Args::command().render_long_help().to_string();
        for default in [
            "[default: 10s]",
            "[default: none]",
            "[default: 127.0.0.1:8080]",
            "[default: 64]",
            "[default: decay]",
            "[default: the pool's",
        ] {
            assert!(help.contains(default), "no {default:?} in\n{help}");
        }
    }

    #[test]
    fn durations_take_their_unit() {
        for (text, want) in [
            ("10s", Duration::from_secs(10)),
            ("500ms", Duration::from_millis(500)),
            ("1m 30s", Duration::from_secs(90)),
        ] {
            let args = parse(&["--trim-period", text]).unwrap();
            assert_eq!(args.trim_period, want, "{text}");
        }
    }

    #[test]
    fn sizes_take_their_unit() {
        for (text, want) in [
            ("512MiB", 512 << 20),
            ("16MiB", 16 << 20),
            ("1GiB", 1 << 30),
            ("512 KiB", 512 << 10),
            ("1.5GiB", 3 << 29),
            ("16MB", 16_000_000),
            ("16777216B", 16 << 20),
        ] {
            let args = parse(&["--max-memory", text]).unwrap();
            assert_eq!(args.max_memory, Cap(Some(want)), "{text}");
        }
        assert_eq!(
            parse(&["--max-memory", "none"]).unwrap().max_memory,
            Cap(None)
        );
    }

    #[test]
    fn a_bare_number_is_refused_with_the_unit_to_write() {
        let err = parse(&["--max-memory", "16777216"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing unit: write 16MiB or 512KiB")
                && err.contains("16777216 bytes: 16MiB or 16777216B"),
            "{err}"
        );
        let err = parse(&["--max-memory", "512"]).unwrap_err().to_string();
        assert!(err.contains("missing unit"), "{err}");
        let err = parse(&["--trim-period", "10000"]).unwrap_err().to_string();
        assert!(
            err.contains("missing unit: write 10s or 500ms")
                && err.contains("10000 milliseconds: 10s or 10000ms"),
            "{err}"
        );
        for bare in ["0", "2.5", "1h 30"] {
            let err = parse(&["--trim-period", bare]).unwrap_err().to_string();
            assert!(err.contains("missing unit"), "{bare}: {err}");
        }
    }

    #[test]
    fn nonsense_is_refused() {
        for (flag, value) in [
            ("--max-memory", "16 parsecs"),
            ("--max-memory", "-1MiB"),
            ("--max-memory", "99999999EiB"),
            ("--trim-period", "10 fortnights"),
            ("--trim-period", "soon"),
        ] {
            let err = parse(&[&format!("{flag}={value}")])
                .unwrap_err()
                .to_string();
            assert!(err.contains("write e.g."), "{flag} {value}: {err}");
        }
    }
}
