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
