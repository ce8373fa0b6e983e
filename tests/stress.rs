//! Stress: 4 threads doing random alloc / fill with a per-buffer tag /
//! send to another thread / clone / slice / verify / drop, over all size
//! classes, with thread caches, a short decay period (the background
//! trimmer keeps flushing and purging underneath) and a `max_memory` cap
//! that is hit now and then. A tag mismatch means two live buffers
//! overlapped, or memory changed under a live buffer.
//!
//! Bounded by operation count and time (`TIDEBUF_STRESS_OPS`, default
//! 20 000 per thread, 4 000 in debug builds; at most 25 s).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tidebuf::{AllocErrorKind, Pool, PooledBytes, TrimPolicy};

const THREADS: usize = 4;
const CAP: usize = 48 << 20;
const CHUNK: usize = 1 << 20;

mod common;
use common::Rng;

/// A size over all classes: tiny, small, normal, chunk-sized and huge.
fn size(rng: &mut Rng) -> usize {
    match rng.next() % 10 {
        0 => 0,
        1..=4 => (rng.next() % 1024) as usize,
        5 | 6 => (rng.next() % (28 << 10)) as usize,
        7 | 8 => (rng.next() % CHUNK as u64) as usize,
        _ => CHUNK + (rng.next() % (3 * CHUNK as u64)) as usize,
    }
}

/// A tagged shared buffer: every byte is `tag`'s byte pattern.
struct Tagged {
    tag: u64,
    bytes: PooledBytes,
}

fn byte_of(tag: u64, i: usize) -> u8 {
    (tag as usize).wrapping_mul(31).wrapping_add(i) as u8
}

fn verify(t: &Tagged) {
    for (i, b) in t.bytes.iter().enumerate().step_by(97) {
        assert_eq!(
            *b,
            byte_of(t.tag, i),
            "tag {} corrupted at byte {i}: overlap or write after release",
            t.tag
        );
    }
}

#[test]
fn stress() {
    let ops: usize = std::env::var("TIDEBUF_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            4_000
        } else {
            20_000
        });
    let deadline = Instant::now() + Duration::from_secs(25);
    let pool = Pool::builder()
        .chunk_size(CHUNK)
        .max_memory(Some(CAP))
        .trim_policy(TrimPolicy::decay(Duration::from_millis(20)))
        .build()
        .unwrap();
    let refused = Arc::new(AtomicUsize::new(0));
    let peak_used = Arc::new(AtomicUsize::new(0));
    let next_tag = Arc::new(AtomicU64::new(1));
    let done = Arc::new(AtomicBool::new(false));
    // A ring of channels: thread i sends to thread i + 1.
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..THREADS).map(|_| mpsc::channel::<Tagged>()).unzip();
    let watcher = {
        let (pool, peak_used, done) = (pool.clone(), peak_used.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Relaxed) {
                peak_used.fetch_max(pool.metrics().used_bytes, Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let workers: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(i, rx)| {
            let tx = senders[(i + 1) % THREADS].clone();
            let (pool, refused, next_tag) = (pool.clone(), refused.clone(), next_tag.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0xDEAD_BEEF ^ ((i as u64 + 1) << 32));
                let mut held: Vec<Tagged> = Vec::new();
                for _ in 0..ops {
                    if Instant::now() > deadline {
                        break;
                    }
                    while let Ok(t) = rx.try_recv() {
                        verify(&t);
                        held.push(t);
                    }
                    match rng.next() % 8 {
                        0..=2 => {
                            let n = size(&mut rng);
                            match pool.try_alloc(n) {
                                Ok(mut buf) => {
                                    let tag = next_tag.fetch_add(1, Relaxed);
                                    // The pattern repeats every 256 bytes.
                                    let block: Vec<u8> =
                                        (0..256).map(|j| byte_of(tag, j)).collect();
                                    while buf.len() < n {
                                        let k = (n - buf.len()).min(256);
                                        buf.extend_from_slice(&block[..k]);
                                    }
                                    held.push(Tagged {
                                        tag,
                                        bytes: buf.freeze(),
                                    });
                                }
                                Err(e) => {
                                    assert!(
                                        matches!(e.kind, AllocErrorKind::OverLimit { .. }),
                                        "{e}"
                                    );
                                    refused.fetch_add(1, Relaxed);
                                    held.clear(); // relieve the pressure
                                }
                            }
                        }
                        3 if !held.is_empty() => {
                            let t = held.swap_remove(rng.next() as usize % held.len());
                            let _ = tx.send(t);
                        }
                        4 if !held.is_empty() => {
                            let t = &held[rng.next() as usize % held.len()];
                            let copy = Tagged {
                                tag: t.tag,
                                bytes: t.bytes.clone(),
                            };
                            verify(&copy);
                            held.push(copy);
                        }
                        5 if !held.is_empty() => {
                            let t = &held[rng.next() as usize % held.len()];
                            let len = t.bytes.len();
                            let from = if len == 0 {
                                0
                            } else {
                                rng.next() as usize % len
                            };
                            let part = t.bytes.slice(from..);
                            for (k, b) in part.iter().enumerate().step_by(61) {
                                assert_eq!(*b, byte_of(t.tag, from + k), "slice of tag {}", t.tag);
                            }
                        }
                        _ if !held.is_empty() => {
                            let t = held.swap_remove(rng.next() as usize % held.len());
                            verify(&t);
                        }
                        _ => {}
                    }
                    if held.len() > 64 {
                        held.truncate(32);
                    }
                }
                held.iter().for_each(verify);
            })
        })
        .collect();
    drop(senders);
    for w in workers {
        w.join().unwrap();
    }
    done.store(true, Relaxed);
    watcher.join().unwrap();
    pool.trim();
    let m = pool.metrics();
    eprintln!(
        "stress: {} allocations, {} refused by the cap, peak used {} MiB of {} MiB, {} trims",
        m.allocations.total(),
        refused.load(Relaxed),
        peak_used.load(Relaxed) >> 20,
        CAP >> 20,
        m.trims
    );
    assert_eq!(m.active_bytes, 0);
    assert_eq!(m.cached_bytes, 0);
    assert!(peak_used.load(Relaxed) <= CAP);
    assert!(m.trims > 0);
}
