//! `max_memory`: `used_bytes` never passes it; refusal is an error naming
//! used and limit; trimming makes room first; earlier buffers stay intact.

use tidebuf::{AllocErrorKind, Pool, TrimPolicy};

const CHUNK: usize = 1 << 20;

fn capped(limit: usize) -> Pool {
    Pool::builder()
        .arenas(1)
        .chunk_size(CHUNK)
        .max_memory(Some(limit))
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap()
}

#[test]
fn refuses_past_the_cap_and_keeps_buffers() {
    let pool = capped(4 * CHUNK);
    let mut held = Vec::new();
    for i in 0..4 {
        let mut b = pool.try_alloc(CHUNK).unwrap();
        b.extend_from_slice(&[i; CHUNK]);
        held.push(b);
    }
    let e = pool.try_alloc(100).unwrap_err();
    assert_eq!(
        e.kind,
        AllocErrorKind::OverLimit {
            used: 4 * CHUNK,
            needed: CHUNK,
            limit: 4 * CHUNK
        }
    );
    assert!(
        e.to_string().contains("used 4194304 of limit 4194304"),
        "{e}"
    );
    let e = pool.try_alloc(2 * CHUNK).unwrap_err(); // huge
    assert!(matches!(e.kind, AllocErrorKind::OverLimit { .. }));
    for (i, b) in held.iter().enumerate() {
        assert!(b.iter().all(|&x| x == i as u8));
    }
    assert!(pool.metrics().used_bytes <= 4 * CHUNK);
}

#[test]
fn trims_empty_chunks_to_make_room() {
    let pool = capped(3 * CHUNK);
    // Two chunks' worth, then freed: the chunks stay (Never) but are empty.
    let a = pool.alloc(CHUNK);
    let b = pool.alloc(CHUNK);
    drop((a, b));
    assert_eq!(pool.metrics().used_bytes, 2 * CHUNK);
    // A huge buffer of 2 chunks only fits if the empty chunks go first.
    let big = pool.try_alloc(2 * CHUNK).unwrap();
    let m = pool.metrics();
    assert_eq!((m.used_bytes, m.chunks, m.huge_buffers), (2 * CHUNK, 0, 1));
    assert!(m.trims >= 1 && m.trimmed_bytes >= 2 * CHUNK as u64);
    drop(big);
    // The released mapping is kept for reuse: still used, now cached.
    let m = pool.metrics();
    assert_eq!(
        (m.used_bytes, m.cached_bytes, m.huge_buffers),
        (2 * CHUNK, 2 * CHUNK, 0)
    );
    pool.trim();
    assert_eq!(pool.metrics().used_bytes, 0);
}

#[test]
fn recycled_huge_mappings_go_first_when_room_is_needed() {
    let pool = capped(4 * CHUNK);
    let mut keep = pool.alloc(CHUNK / 2);
    keep.extend_from_slice(&[5; CHUNK / 2]);
    drop(pool.alloc(3 * CHUNK)); // cached: used = 1 + 3 chunks
    assert_eq!(pool.metrics().used_bytes, 4 * CHUNK);
    // A new chunk's worth fits only without the cached mapping.
    let small = pool.try_alloc(CHUNK).unwrap();
    let m = pool.metrics();
    assert_eq!((m.cached_bytes, m.used_bytes), (0, 2 * CHUNK));
    assert!(keep.iter().all(|&b| b == 5));
    drop(small);
}

#[test]
fn concurrent_allocations_never_pass_the_cap() {
    let pool = capped(6 * CHUNK);
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Plain threads, joined: `join` returns after their thread-local
    // destructors (which flush their caches) ran; a scope does not wait
    // for those.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (pool, peak) = (pool.clone(), peak.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for i in 0..400 {
                    let size = [100, 40_000, 300_000, CHUNK, CHUNK + 1][(i + t) % 5];
                    if let Ok(b) = pool.try_alloc(size) {
                        held.push(b);
                    }
                    if held.len() > 3 {
                        held.remove(0);
                    }
                    peak.fetch_max(
                        pool.metrics().used_bytes,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    assert!(peak <= 6 * CHUNK);
    assert_eq!(pool.metrics().active_bytes, 0);
}

/// The message of a panic caught by `catch_unwind`.
fn panic_message(f: impl FnOnce()) -> String {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .expect_err("the cap must refuse with a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn infallible_paths_panic_at_the_cap_and_never_abort() {
    use bytes::BufMut;
    type Case = Box<dyn FnOnce(&Pool, &mut tidebuf::PooledBytesMut)>;
    let cases: Vec<(&str, Case)> = vec![
        ("alloc", Box::new(|p, _| drop(p.alloc(CHUNK)))),
        ("reserve", Box::new(|_, b| b.reserve(1))),
        (
            "extend_from_slice",
            Box::new(|_, b| b.extend_from_slice(b"x")),
        ),
        ("BufMut::put_slice", Box::new(|_, b| b.put_slice(b"x"))),
        ("BufMut::chunk_mut", Box::new(|_, b| b.put_u8(0))),
    ];
    for (path, case) in cases {
        // Two chunks, both whole runs: any growth of `buf` needs more.
        let pool = capped(2 * CHUNK);
        let mut buf = pool.alloc(CHUNK);
        buf.extend_from_slice(&[9; CHUNK]);
        let _other = pool.alloc(CHUNK);
        let msg = panic_message(|| case(&pool, &mut buf));
        assert!(
            msg.contains("max_memory") && msg.contains("used") && msg.contains("limit"),
            "{path}: {msg}"
        );
        assert!(msg.contains("try_alloc"), "{path}: {msg}");
        // The buffer is intact and usable after the caught panic.
        assert_eq!(buf.len(), CHUNK, "{path}");
        assert!(buf.iter().all(|&b| b == 9), "{path}");
        // The fallible forms report instead.
        assert!(matches!(
            buf.try_reserve(1).unwrap_err().kind,
            AllocErrorKind::OverLimit { .. }
        ));
        let err = std::io::Write::write(&mut buf, b"x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory, "{path}");
    }
}

/// `AsyncReadExt::read_buf` into a pooled buffer grows it through
/// `BufMut::chunk_mut`: at the cap the task panics, and the runtime (the
/// server) lives on.
#[test]
fn read_buf_at_the_cap_kills_the_task_not_the_process() {
    use tokio::io::AsyncReadExt;
    let pool = capped(2 * CHUNK);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let p = pool.clone();
    let result = rt.block_on(async {
        tokio::spawn(async move {
            let data = vec![7u8; 3 * CHUNK];
            let mut reader: &[u8] = &data;
            let mut buf = p.alloc(1024);
            while reader.read_buf(&mut buf).await.unwrap() > 0 {}
            buf.len()
        })
        .await
    });
    let err = result.expect_err("3 chunks of data cannot fit a 2-chunk cap");
    assert!(err.is_panic());
    let msg = err.into_panic();
    let msg = msg
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(msg.contains("max_memory"), "{msg}");
    // The runtime and the pool keep serving.
    let p = pool.clone();
    let n = rt.block_on(async {
        tokio::spawn(async move {
            let mut reader: &[u8] = b"hello";
            let mut buf = p.alloc(16);
            reader.read_buf(&mut buf).await.unwrap()
        })
        .await
    });
    assert_eq!(n.unwrap(), 5);
    assert_eq!(pool.metrics().active_bytes, 0);
}

/// The figures in the error are the ones the refusal was decided on: with
/// no other thread at work, `metrics().used_bytes` right after agrees.
#[test]
fn the_error_names_the_figures_it_was_decided_on() {
    let pool = capped(4 * CHUNK);
    let mut held = vec![pool.alloc(CHUNK), pool.alloc(CHUNK / 2)];
    held.push(pool.alloc(CHUNK)); // a third chunk; half of the second free
    let mut refused = 0;
    // A fourth chunk fits; a 3-chunk huge buffer does not; 100 KiB fits in
    // the second chunk's free half.
    for request in [CHUNK, 3 * CHUNK, 100 << 10] {
        match pool.try_alloc(request) {
            Ok(b) => held.push(b),
            Err(e) => {
                refused += 1;
                let AllocErrorKind::OverLimit {
                    used,
                    needed,
                    limit,
                } = e.kind
                else {
                    panic!("{e}");
                };
                assert_eq!(used, pool.metrics().used_bytes, "{e}");
                assert_eq!(limit, 4 * CHUNK);
                assert!(used <= limit && used + needed > limit, "{e}");
                assert!(e.to_string().contains(&format!("{needed} more needed")));
            }
        }
    }
    assert_eq!((refused, held.len()), (1, 5));
}
