//! Connection buffers after a burst of big frames, tidebuf's codecs against
//! tokio-util's: the user's view of tokio #7344.
//!
//! ```text
//! cargo run --release --example codec_server                 # both stacks, both codecs
//! cargo run --release --example codec_server -- --stack tokio-util --codec lines
//! ```
//!
//! An echo server on a loopback port, framed by a length-delimited or a
//! line codec, runs on `tidebuf::codec::Framed` (buffers in a pool with a
//! 1 s decay period) or on `tokio_util::codec::Framed`. `--conns` clients
//! (default 200) each send one frame of `--frame-mib` MiB (default 4), read
//! the echo back, and stay connected, quiet. After two trim periods the
//! server prints what its idle connections hold: the capacity of their read
//! and write buffers, the pool's `used_bytes` (tidebuf) and the process RSS
//! (clients and the system allocator's own retention included: the runs go
//! one after another in one process, so RSS only rises).

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidebuf::{Pool, TrimPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use futures_core::Stream;
use futures_sink::Sink;

const MIB: f64 = (1 << 20) as f64;
const PERIOD: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, PartialEq, Debug)]
enum Stack {
    Tidebuf,
    TokioUtil,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Codec {
    Length,
    Lines,
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

async fn send<S: Sink<I> + Unpin, I>(s: &mut S, item: I) -> Result<(), S::Error> {
    poll_fn(|cx| Pin::new(&mut *s).poll_ready(cx)).await?;
    Pin::new(&mut *s).start_send(item)?;
    poll_fn(|cx| Pin::new(&mut *s).poll_flush(cx)).await
}

/// Echoes every frame; after each, records the buffer capacity the
/// connection keeps while it waits for the next.
async fn serve(stream: TcpStream, stack: Stack, codec: Codec, pool: Pool, held: Arc<AtomicUsize>) {
    let mut mine = 0;
    let mut record = |now: usize| {
        held.fetch_add(now, Relaxed);
        held.fetch_sub(std::mem::replace(&mut mine, now), Relaxed);
    };
    match (stack, codec) {
        (Stack::Tidebuf, Codec::Length) => {
            let codec = tidebuf::codec::LengthDelimitedCodec::builder()
                .max_frame_length(64 << 20)
                .new_codec();
            let mut f = tidebuf::codec::Framed::new(stream, codec, &pool);
            while let Some(Ok(frame)) = next(&mut f).await {
                if send(&mut f, frame).await.is_err() {
                    break;
                }
                record(f.read_buffer().capacity() + f.write_buffer().capacity());
            }
        }
        (Stack::Tidebuf, Codec::Lines) => {
            let mut f =
                tidebuf::codec::Framed::new(stream, tidebuf::codec::LinesCodec::new(), &pool);
            while let Some(Ok(line)) = next(&mut f).await {
                let text = std::str::from_utf8(&line).expect("checked by the codec");
                if send(&mut f, text).await.is_err() {
                    break;
                }
                record(f.read_buffer().capacity() + f.write_buffer().capacity());
            }
        }
        (Stack::TokioUtil, Codec::Length) => {
            let codec = tokio_util::codec::LengthDelimitedCodec::builder()
                .max_frame_length(64 << 20)
                .new_codec();
            let mut f = tokio_util::codec::Framed::new(stream, codec);
            while let Some(Ok(frame)) = next(&mut f).await {
                if send(&mut f, frame.freeze()).await.is_err() {
                    break;
                }
                record(f.read_buffer().capacity() + f.write_buffer().capacity());
            }
        }
        (Stack::TokioUtil, Codec::Lines) => {
            let mut f =
                tokio_util::codec::Framed::new(stream, tokio_util::codec::LinesCodec::new());
            while let Some(Ok(line)) = next(&mut f).await {
                if send(&mut f, line).await.is_err() {
                    break;
                }
                record(f.read_buffer().capacity() + f.write_buffer().capacity());
            }
        }
    }
    record(0);
}

/// One client: sends a frame, reads the echo, then stays connected until
/// `quiet` ends.
async fn client(
    addr: std::net::SocketAddr,
    codec: Codec,
    frame: usize,
    echoed: Arc<AtomicUsize>,
    quiet: Arc<tokio::sync::Notify>,
) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut wire = match codec {
        Codec::Length => (frame as u32).to_be_bytes().to_vec(),
        Codec::Lines => Vec::new(),
    };
    wire.extend(std::iter::repeat_n(b'x', frame));
    if codec == Codec::Lines {
        wire.push(b'\n');
    }
    let echo_len = wire.len();
    let (mut r, mut w) = s.split();
    let (sent, got) = tokio::join!(w.write_all(&wire), async {
        let mut buf = vec![0; echo_len];
        r.read_exact(&mut buf).await.map(|_| buf)
    });
    sent.unwrap();
    assert!(got.unwrap() == wire, "echo differs");
    drop(wire); // the client side's memory is not what this measures
    let quiet = quiet.notified();
    echoed.fetch_add(1, Relaxed);
    quiet.await;
}

fn rss() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / MIB
}

async fn run(stack: Stack, codec: Codec, conns: usize, frame: usize) {
    let pool = Pool::builder()
        .trim_policy(TrimPolicy::decay(PERIOD))
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(AtomicUsize::new(0));
    let server = {
        let (pool, held) = (pool.clone(), held.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(serve(stream, stack, codec, pool.clone(), held.clone()));
            }
        })
    };
    let quiet = Arc::new(tokio::sync::Notify::new());
    let echoed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..conns)
        .map(|_| tokio::spawn(client(addr, codec, frame, echoed.clone(), quiet.clone())))
        .collect();
    // Until every client has its echo back and went quiet.
    let mut peak_used = 0;
    while echoed.load(Relaxed) < conns {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the burst stalled"
        );
        peak_used = peak_used.max(pool.metrics().used_bytes);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let burst = started.elapsed();
    // Two trim periods of quiet.
    tokio::time::sleep(2 * PERIOD).await;
    let used = match stack {
        Stack::Tidebuf => format!(
            "{:>6.1} MiB (peak {:>6.1})",
            pool.metrics().used_bytes as f64 / MIB,
            peak_used as f64 / MIB
        ),
        Stack::TokioUtil => format!("{:>24}", "n/a"),
    };
    let held_now = held.load(Relaxed);
    println!(
        "{:<10} {:<7} {:>4} conns × {} MiB in {:>5.1} s, then quiet: buffers held {:>7.1} KiB/conn, pool used {}, process RSS {:>6.1} MiB",
        match stack {
            Stack::Tidebuf => "tidebuf",
            Stack::TokioUtil => "tokio-util",
        },
        match codec {
            Codec::Length => "length",
            Codec::Lines => "lines",
        },
        conns,
        frame >> 20,
        burst.as_secs_f64(),
        held_now as f64 / conns as f64 / 1024.0,
        used,
        rss(),
    );
    quiet.notify_waiters();
    for c in clients {
        let _ = c.await;
    }
    server.abort();
}

fn main() {
    let mut stacks = vec![Stack::Tidebuf, Stack::TokioUtil];
    let mut codecs = vec![Codec::Length, Codec::Lines];
    let (mut conns, mut frame_mib) = (200usize, 4usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--stack" => match value().as_str() {
                "tidebuf" => stacks = vec![Stack::Tidebuf],
                "tokio-util" => stacks = vec![Stack::TokioUtil],
                "both" => {}
                other => panic!("--stack tidebuf|tokio-util|both, not {other}"),
            },
            "--codec" => match value().as_str() {
                "length" => codecs = vec![Codec::Length],
                "lines" => codecs = vec![Codec::Lines],
                "both" => {}
                other => panic!("--codec length|lines|both, not {other}"),
            },
            "--conns" => conns = value().parse().expect("--conns: a number"),
            "--frame-mib" => frame_mib = value().parse().expect("--frame-mib: MiB"),
            other => panic!("unknown flag {other} (--stack, --codec, --conns, --frame-mib)"),
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for &stack in &stacks {
        for &codec in &codecs {
            rt.block_on(run(stack, codec, conns, frame_mib << 20));
        }
    }
}
