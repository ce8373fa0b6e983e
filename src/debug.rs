//! Safety nets behind the `debug-checks` feature; compiled out otherwise.
//!
//! ```text
//!  release ─▶ poison the region (first and last 4 KiB: 0xDB) ─▶ cache/arena
//!  cache hit ─▶ still all 0xDB? no: "write after release" panic, with the
//!               buffer's size class
//!  every hand-out ─▶ leak tracker: address → size, time, backtrace
//! ```
//!
//! The poison is checked when a region comes back out of a thread cache or
//! the huge-mapping cache — the places a stale pointer's writes land
//! first. Regions from an arena are poisoned too but not checked (a fresh
//! or purged page reads as zeros). The leak tracker is the Rust
//! counterpart of Netty's `ResourceLeakDetector`: `Pool::outstanding`
//! lists what is alive, with allocation backtraces when
//! `TIDEBUF_LEAK_BACKTRACE=1`.
//!
//! Owns the poison pattern and the leak tracker. Calls `region`,
//! `size_class`, `sync`. Called by the heap (tracker), huge mappings, thread
//! caches, and the allocation and release paths.

use crate::region::Region;
use crate::size_class::ClassIdx;
use crate::sync::Mutex;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The byte freed memory is filled with.
pub(crate) const POISON: u8 = 0xDB;
/// Bytes poisoned and checked at each end of a region.
const SPAN: usize = 4096;

fn ends(cap: usize) -> [(usize, usize); 2] {
    let head = cap.min(SPAN);
    let tail_start = cap.saturating_sub(SPAN).max(head);
    [(0, head), (tail_start, cap - tail_start)]
}

/// Fills the ends of a released region with [`POISON`].
pub(crate) fn poison(region: &Region, cap: usize) {
    for (at, len) in ends(cap) {
        // SAFETY: the region holds `cap` bytes, is released (no buffer uses
        // it) and not yet handed out again.
        unsafe { region.ptr.as_ptr().add(at).write_bytes(POISON, len) };
    }
}

/// Panics if a region that was poisoned at release was written since.
pub(crate) fn check(region: &Region, cap: usize, class: ClassIdx) {
    for (at, len) in ends(cap) {
        // SAFETY: as in `poison`; the region is being handed out and is ours.
        let bytes = unsafe { std::slice::from_raw_parts(region.ptr.as_ptr().add(at), len) };
        if let Some(i) = bytes.iter().position(|&b| b != POISON) {
            let class = if class == crate::size_class::HUGE_CLASS {
                "huge".to_string()
            } else {
                format!("class {class}")
            };
            panic!(
                "tidebuf: write after release: byte {} of a released {cap}-byte buffer ({class}) at {:p} was changed",
                at + i,
                region.ptr
            );
        }
    }
}

/// A live buffer, as [`Pool::outstanding`](crate::Pool::outstanding) lists it.
#[cfg_attr(docsrs, doc(cfg(feature = "debug-checks")))]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Outstanding {
    /// Its capacity (size class).
    pub capacity: usize,
    /// How long ago it was allocated.
    pub age: Duration,
    /// Where it was allocated, when `TIDEBUF_LEAK_BACKTRACE=1`.
    pub backtrace: Option<String>,
}

#[derive(Debug)]
struct Entry {
    capacity: usize,
    born: Instant,
    backtrace: Option<String>,
}

/// Live allocations by address.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    live: Mutex<HashMap<usize, Entry>>,
}

fn want_backtraces() -> bool {
    static WANT: OnceLock<bool> = OnceLock::new();
    *WANT.get_or_init(|| std::env::var("TIDEBUF_LEAK_BACKTRACE").is_ok_and(|v| v == "1"))
}

impl Tracker {
    pub(crate) fn allocated(&self, region: &Region, capacity: usize) {
        let backtrace =
            want_backtraces().then(|| std::backtrace::Backtrace::force_capture().to_string());
        let entry = Entry {
            capacity,
            born: Instant::now(),
            backtrace,
        };
        let previous = self.live.lock().insert(region.ptr.as_ptr() as usize, entry);
        assert!(
            previous.is_none(),
            "tidebuf: region {:p} handed out twice",
            region.ptr
        );
    }

    pub(crate) fn released(&self, region: &Region, class: ClassIdx) {
        if self
            .live
            .lock()
            .remove(&(region.ptr.as_ptr() as usize))
            .is_none()
        {
            panic!(
                "tidebuf: double release of a buffer at {:p} (class {class})",
                region.ptr
            );
        }
    }

    pub(crate) fn outstanding(&self) -> Vec<Outstanding> {
        let now = Instant::now();
        self.live
            .lock()
            .values()
            .map(|e| Outstanding {
                capacity: e.capacity,
                age: now - e.born,
                backtrace: e.backtrace.clone(),
            })
            .collect()
    }
}
