//! An over-provisioned HTTP service like the incident's: many worker
//! threads serving 1–5 MiB responses from pooled buffers.
//!
//! ```text
//! cargo run --release --example http_server -- --workers 64 --trim decay
//! curl -s localhost:8080/payload?size=3000000 | wc -c
//! curl -s localhost:8080/metrics | grep tidebuf_used_bytes
//! ```

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
    /// Decay period in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    trim_period: u64,
    /// Hard cap on pooled memory, in MiB (503 when reached).
    #[arg(long)]
    max_memory: Option<usize>,
    /// Most arenas.
    #[arg(long)]
    arenas: Option<usize>,
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
        Trim::Decay => TrimPolicy::decay(Duration::from_millis(args.trim_period)),
    };
    let mut builder = Pool::builder()
        .trim_policy(policy)
        .max_memory(args.max_memory.map(|m| m << 20));
    if let Some(n) = args.arenas {
        builder = builder.arenas(n);
    }
    let state = server::State::new(builder.build()?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr).await?;
        eprintln!(
            "listening on http://{} ({} workers, {:?})",
            listener.local_addr()?,
            args.workers,
            args.trim
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
