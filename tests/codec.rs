//! Pooled codecs (feature `codec`): round trips of 0 B … 8 MiB frames over a
//! duplex pipe with every split of small frames, zero-copy frames, limits
//! that fail the connection cleanly, and connection buffers that ebb.
#![cfg(feature = "codec")]

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;
use tidebuf::codec::{
    BytesCodec, Decoder, Encoder, FramedRead, FramedWrite, LengthDelimitedCodec, LinesCodec,
};
use tidebuf::{Pool, PooledBytesMut, TrimPolicy};
use tokio::io::AsyncWriteExt;

use futures_core::Stream;
use futures_sink::Sink;

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

async fn send<S: Sink<I> + Unpin, I>(s: &mut S, item: I) -> Result<(), S::Error> {
    poll_fn(|cx| Pin::new(&mut *s).poll_ready(cx)).await?;
    Pin::new(&mut *s).start_send(item)?;
    poll_fn(|cx| Pin::new(&mut *s).poll_flush(cx)).await
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

const SIZES: [usize; 9] = [0, 1, 7, 100, 8 << 10, 100_000, 1 << 20, 4 << 20, 8 << 20];

#[test]
fn length_delimited_round_trips_every_size() {
    let pool = Pool::new();
    rt().block_on(async {
        let (a, b) = tokio::io::duplex(64 << 10);
        let mut reader = FramedRead::new(b, LengthDelimitedCodec::new(), &pool);
        let writer_pool = pool.clone();
        let writer = tokio::spawn(async move {
            let mut w = FramedWrite::new(a, LengthDelimitedCodec::new(), &writer_pool);
            for (i, &n) in SIZES.iter().enumerate() {
                send(&mut w, payload(n, i as u8)).await.unwrap();
            }
        });
        for (i, &n) in SIZES.iter().enumerate() {
            let frame = next(&mut reader).await.unwrap().unwrap();
            assert_eq!(frame.len(), n);
            assert!(frame == payload(n, i as u8)[..], "frame {i} of {n} bytes");
        }
        writer.await.unwrap();
        assert!(
            next(&mut reader).await.is_none(),
            "the stream ends with the writer"
        );
    });
    assert_eq!(pool.metrics().active_bytes, 0);
}

#[test]
fn lines_and_bytes_round_trip_every_size() {
    let pool = Pool::new();
    rt().block_on(async {
        // Lines: text without newlines, of every size.
        let (a, b) = tokio::io::duplex(64 << 10);
        let mut reader = FramedRead::new(b, LinesCodec::new(), &pool);
        let p = pool.clone();
        let writer = tokio::spawn(async move {
            let mut w = FramedWrite::new(a, LinesCodec::new(), &p);
            for &n in &SIZES {
                send(&mut w, "x".repeat(n)).await.unwrap();
            }
        });
        for &n in &SIZES {
            let line = next(&mut reader).await.unwrap().unwrap();
            assert_eq!(line.len(), n);
            assert!(line.iter().all(|&c| c == b'x'));
        }
        writer.await.unwrap();
        assert!(next(&mut reader).await.is_none());

        // Bytes: whatever arrives; the concatenation is what was sent.
        let (mut a, b) = tokio::io::duplex(64 << 10);
        let mut reader = FramedRead::new(b, BytesCodec::new(), &pool);
        let total: usize = SIZES.iter().sum();
        let writer = tokio::spawn(async move {
            for (i, &n) in SIZES.iter().enumerate() {
                a.write_all(&payload(n, i as u8)).await.unwrap();
            }
        });
        let mut got = Vec::with_capacity(total);
        while let Some(chunk) = next(&mut reader).await {
            got.extend_from_slice(&chunk.unwrap());
        }
        writer.await.unwrap();
        let want: Vec<u8> = SIZES
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| payload(n, i as u8))
            .collect();
        assert!(got == want);
    });
    assert_eq!(pool.metrics().active_bytes, 0);
}

/// Feeds `wire` to `decoder` split at `cut`, as two reads would.
fn decode_split<D: Decoder>(pool: &Pool, decoder: &mut D, wire: &[u8], cut: usize) -> Vec<D::Item>
where
    D::Error: std::fmt::Debug,
{
    let mut buf = pool.alloc(16);
    let mut out = Vec::new();
    for part in [&wire[..cut], &wire[cut..]] {
        buf.extend_from_slice(part);
        while let Some(frame) = decoder.decode(&mut buf).unwrap() {
            out.push(frame);
        }
    }
    if let Some(frame) = decoder.decode_eof(&mut buf).unwrap() {
        out.push(frame);
    }
    out
}

#[test]
fn small_frames_decode_at_every_split_point() {
    let pool = Pool::new();
    let frames: [&[u8]; 4] = [b"", b"a", b"hello", b"0123456789abcdef"];
    // Length-delimited, with a 2-byte little-endian field.
    let mut codec = LengthDelimitedCodec::builder()
        .length_field_length(2)
        .little_endian()
        .new_codec();
    let mut wire = pool.alloc(0);
    for f in frames {
        codec.encode(f, &mut wire).unwrap();
    }
    for cut in 0..=wire.len() {
        let got = decode_split(&pool, &mut codec, &wire, cut);
        assert_eq!(got.len(), frames.len(), "cut {cut}");
        for (g, f) in got.iter().zip(frames) {
            assert!(g == f, "cut {cut}");
        }
    }
    drop(wire);
    // Lines, with `\n` and `\r\n`.
    let wire = b"\nab\r\ncd\nlast";
    for cut in 0..=wire.len() {
        let got = decode_split(&pool, &mut LinesCodec::new(), wire, cut);
        let got: Vec<&[u8]> = got.iter().map(|l| &l[..]).collect();
        assert_eq!(got, [&b""[..], b"ab", b"cd", b"last"], "cut {cut}");
    }
    assert_eq!(pool.metrics().active_bytes, 0);
}

#[test]
fn frames_are_views_of_the_read_buffer() {
    let pool = Pool::new();
    let mut buf = pool.alloc(64);
    LengthDelimitedCodec::new()
        .encode(b"zero-copy", &mut buf)
        .unwrap();
    buf.extend_from_slice(b"line\n");
    let start = buf.as_ptr() as usize;
    let frame = LengthDelimitedCodec::new()
        .decode(&mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(
        frame.as_ptr() as usize,
        start + 4,
        "the frame is not a copy"
    );
    let line = LinesCodec::new().decode(&mut buf).unwrap().unwrap();
    assert_eq!(line.as_ptr() as usize, start + 13);
    assert_eq!((&frame[..], &line[..]), (&b"zero-copy"[..], &b"line"[..]));
    assert!(buf.is_empty());
    assert_eq!(buf.capacity(), 0, "a drained read buffer holds nothing");
}

#[test]
fn limits_fail_the_connection_and_free_its_buffers() {
    // max_frame_length.
    let pool = Pool::builder().thread_cache(false).build().unwrap();
    rt().block_on(async {
        let (mut a, b) = tokio::io::duplex(64 << 10);
        let codec = LengthDelimitedCodec::builder()
            .max_frame_length(1000)
            .new_codec();
        let mut reader = FramedRead::new(b, codec, &pool);
        a.write_all(&1001u32.to_be_bytes()).await.unwrap();
        a.write_all(&[0; 100]).await.unwrap();
        let err = next(&mut reader).await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("frame size too big"), "{err}");
        assert_eq!(reader.read_buffer().capacity(), 0, "the buffer went");
        assert!(next(&mut reader).await.is_none(), "the stream ended");
        // Lines too long.
        let (mut a, b) = tokio::io::duplex(64 << 10);
        let mut reader = FramedRead::new(b, LinesCodec::new_with_max_length(10), &pool);
        a.write_all(b"01234567890123\nok\n").await.unwrap();
        assert!(next(&mut reader).await.unwrap().is_err());
    });
    assert_eq!(pool.metrics().active_bytes, 0);

    // max_memory: a frame that does not fit the cap is an io::Error, never
    // a panic, and the connection's buffer is released.
    let pool = Pool::builder()
        .chunk_size(1 << 20)
        .max_memory(Some(2 << 20))
        .build()
        .unwrap();
    rt().block_on(async {
        let (mut a, b) = tokio::io::duplex(64 << 10);
        let mut reader = FramedRead::new(b, LengthDelimitedCodec::new(), &pool);
        a.write_all(&(4u32 << 20).to_be_bytes()).await.unwrap();
        a.write_all(&[7; 1000]).await.unwrap();
        let err = next(&mut reader).await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory, "{err}");
        assert!(err.to_string().contains("max_memory"), "{err}");
        assert_eq!(reader.read_buffer().capacity(), 0);
    });
    assert_eq!(pool.metrics().active_bytes, 0);
}

/// tokio #7344's shape: 200 connections each receive one 4 MiB frame, then
/// go quiet. Their buffers must not keep the peak: within two trim periods
/// the pool holds less than 16 KiB per connection plus two chunks.
#[test]
fn idle_connections_after_a_big_frame_hold_almost_nothing() {
    const CONNS: usize = 200;
    const FRAME: usize = 4 << 20;
    let period = Duration::from_millis(200);
    for codec in ["length_delimited", "lines", "bytes"] {
        let pool = Pool::builder()
            .trim_policy(TrimPolicy::decay(period))
            .build()
            .unwrap();
        rt().block_on(async {
            let mut readers = Vec::new();
            for i in 0..CONNS {
                let (mut a, b) = tokio::io::duplex(256 << 10);
                let p = pool.clone();
                let reader = tokio::spawn(async move {
                    let mut held = 0;
                    match codec {
                        "length_delimited" => {
                            let mut r = FramedRead::new(b, LengthDelimitedCodec::new(), &p);
                            let frame = next(&mut r).await.unwrap().unwrap();
                            assert_eq!(frame.len(), FRAME);
                            drop(frame); // handled
                            held += r.read_buffer().capacity();
                            // Keep the connection open (quiet) until told.
                            assert!(next(&mut r).await.is_none());
                        }
                        "lines" => {
                            let mut r = FramedRead::new(b, LinesCodec::new(), &p);
                            let line = next(&mut r).await.unwrap().unwrap();
                            assert_eq!(line.len(), FRAME - 1);
                            drop(line);
                            held += r.read_buffer().capacity();
                            assert!(next(&mut r).await.is_none());
                        }
                        _ => {
                            let mut r = FramedRead::new(b, BytesCodec::new(), &p);
                            let mut got = 0;
                            while got < FRAME {
                                got += next(&mut r).await.unwrap().unwrap().len();
                            }
                            held += r.read_buffer().capacity();
                            assert!(next(&mut r).await.is_none());
                        }
                    }
                    held
                });
                let mut frame = match codec {
                    "length_delimited" => (FRAME as u32).to_be_bytes().to_vec(),
                    _ => Vec::new(),
                };
                frame.extend(std::iter::repeat_n(b'x', FRAME - 1));
                frame.push(if codec == "lines" { b'\n' } else { b'x' });
                let writer = tokio::spawn(async move {
                    a.write_all(&frame).await.unwrap();
                    a // kept open: the connection goes quiet, not away
                });
                readers.push((i, reader, writer));
            }
            let mut writers = Vec::new();
            for (_, _, w) in readers.iter_mut() {
                writers.push(w.await.unwrap());
            }
            // Every frame is in. Decay gives the idle memory back within two
            // periods; the bound on waiting is only a liveness bound, wide
            // enough for a fully loaded machine (the trimmer is a thread).
            let bound = CONNS * (16 << 10) + 2 * pool.chunk_size();
            let give_up = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let used = pool.metrics().used_bytes;
                if used < bound {
                    break;
                }
                assert!(
                    std::time::Instant::now() < give_up,
                    "{codec}: used {used} >= {bound}"
                );
                tokio::time::sleep(period / 4).await;
            }
            drop(writers); // the connections close
            let mut held = 0;
            for (_, r, _) in readers {
                held += r.await.unwrap();
            }
            assert!(
                held <= CONNS * (16 << 10),
                "{codec}: read buffers held {held}"
            );
        });
    }
}

#[test]
fn a_drained_buffer_grows_again_in_its_pool() {
    let pool = Pool::builder().thread_cache(false).build().unwrap();
    let mut buf: PooledBytesMut = pool.copy_from_slice(b"frame");
    let frame = buf.split().freeze();
    assert_eq!(buf.capacity(), 0);
    let before = pool.metrics().allocations.total();
    buf.extend_from_slice(b"next");
    assert_eq!(
        pool.metrics().allocations.total(),
        before + 1,
        "grew in the same pool"
    );
    drop((frame, buf));
    assert_eq!(pool.metrics().active_bytes, 0);
}

/// Any tokio-util encoder writes through `TokioEncoder`.
#[test]
fn tokio_util_encoders_work_for_writing() {
    use tidebuf::codec::TokioEncoder;
    let pool = Pool::new();
    rt().block_on(async {
        // Room for a whole frame in the pipe: this task writes, then reads.
        let (a, b) = tokio::io::duplex(1 << 20);
        let mut reader = FramedRead::new(b, LengthDelimitedCodec::new(), &pool);
        let mut w = FramedWrite::new(
            a,
            TokioEncoder::new(tokio_util::codec::LengthDelimitedCodec::new()),
            &pool,
        );
        for n in [0, 5, 200_000] {
            send(&mut w, bytes::Bytes::from(payload(n, 3)))
                .await
                .unwrap();
            let frame = next(&mut reader).await.unwrap().unwrap();
            assert!(frame == payload(n, 3)[..]);
        }
        assert_eq!(w.write_buffer().capacity(), 0, "flushed: holds nothing");
    });
    assert_eq!(pool.metrics().active_bytes, 0);
}

/// `PoolMetrics::codec_buffer_bytes` shows what codec buffers hold.
#[test]
fn metrics_show_what_codec_buffers_hold() {
    let pool = Pool::new();
    rt().block_on(async {
        let (mut a, b) = tokio::io::duplex(64 << 10);
        let mut reader = FramedRead::new(b, LengthDelimitedCodec::new(), &pool);
        // Half a 1 MiB frame: the reader reserves the whole frame, then waits.
        a.write_all(&(1u32 << 20).to_be_bytes()).await.unwrap();
        a.write_all(&[5; 1000]).await.unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(50), next(&mut reader)).await;
        assert!(waited.is_err(), "the frame is not complete");
        let held = reader.read_buffer().capacity();
        assert!(held >= 1 << 20);
        assert_eq!(pool.metrics().codec_buffer_bytes, held);
        // The rest arrives: the frame goes out, the buffer with it.
        let rest = tokio::spawn(async move {
            a.write_all(&vec![5; (1 << 20) - 1000]).await.unwrap();
            a
        });
        let frame = next(&mut reader).await.unwrap().unwrap();
        drop(rest.await.unwrap());
        assert_eq!(frame.len(), 1 << 20);
        assert_eq!(
            pool.metrics().codec_buffer_bytes,
            reader.read_buffer().capacity()
        );
        drop(reader);
        assert_eq!(pool.metrics().codec_buffer_bytes, 0);
    });
}

/// Near the cap, a buffer grows to the exact size when the doubled one
/// does not fit, so a codec fails only when the frame itself does not fit.
#[test]
fn growth_near_the_cap_takes_the_exact_size() {
    let pool = Pool::builder()
        .chunk_size(1 << 20)
        .max_memory(Some(5 << 20))
        .build()
        .unwrap();
    rt().block_on(async {
        let (mut a, b) = tokio::io::duplex(64 << 10);
        let mut reader = FramedRead::new(b, LinesCodec::new(), &pool);
        let writer = tokio::spawn(async move {
            let mut line = vec![b'y'; 2_100_000];
            line.push(b'\n');
            a.write_all(&line).await.unwrap();
            a
        });
        let line = next(&mut reader).await.unwrap().unwrap();
        assert_eq!(line.len(), 2_100_000);
        drop(writer.await.unwrap());
    });
}

/// A read buffer taken out with `mem::take` is replaced by one that grows
/// in the connection's pool, not the global one; after the end, polling
/// again keeps nothing.
#[test]
fn a_taken_buffer_and_a_finished_stream_stay_in_their_pool() {
    let pool = Pool::new();
    rt().block_on(async {
        let (mut a, b) = tokio::io::duplex(64 << 10);
        let mut reader = FramedRead::new(b, BytesCodec::new(), &pool);
        drop(std::mem::take(reader.read_buffer_mut()));
        a.write_all(b"hello").await.unwrap();
        drop(a);
        let chunk = next(&mut reader).await.unwrap().unwrap();
        assert_eq!(chunk, "hello");
        assert!(
            pool.metrics().active_bytes > 0,
            "read in the connection's pool"
        );
        drop(chunk);
        assert!(next(&mut reader).await.is_none());
        assert!(next(&mut reader).await.is_none(), "polled after the end");
        assert_eq!(reader.read_buffer().capacity(), 0);
        assert_eq!(pool.metrics().codec_buffer_bytes, 0);
    });
    assert_eq!(pool.metrics().active_bytes, 0);
}
