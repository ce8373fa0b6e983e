//! Metrics: what the pool holds, what is in use, what is parked.
//!
//! ```text
//!  used_bytes   ┌──────────────────────────────────────────────┐  from the OS
//!  active+cached│██████████████ active ████│░░ cached ░░│ free │
//!               └──────────────────────────────────────────────┘
//!  used ≥ active + cached, at every quiescent snapshot
//! ```
//!
//! How the series add up, at any snapshot taken while no thread allocates
//! or releases (while they do, each counter is exact but they are read a
//! moment apart):
//! - `used = Σ arena used + huge_bytes` (chunks, plus huge mappings);
//! - `active = Σ arena active + live huge bytes`;
//! - `cached = Σ arena cached + recycled huge bytes`;
//! - per arena, `used ≥ active + cached`.
//!
//! Counters live where they are written — per arena (written under the
//! arena lock), per pool for huge buffers — and [`Pool::metrics`] sums them,
//! reading atomics only: it never blocks an allocation.
//!
//! [`Pool::metrics`]: crate::Pool::metrics

use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// A counter with one writer at a time (the arena lock's holder): updated
/// by a load and a store, which is cheaper than a locked read-modify-write,
/// and read lock-free.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicUsize);

impl Counter {
    #[inline]
    pub(crate) fn add(&self, n: usize) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    pub(crate) fn sub(&self, n: usize) {
        self.0.store(self.0.load(Relaxed).wrapping_sub(n), Relaxed);
    }

    #[inline]
    pub(crate) fn get(&self) -> usize {
        self.0.load(Relaxed)
    }
}

/// A counter many threads update at once (locked read-modify-write).
#[derive(Debug, Default)]
pub(crate) struct SharedCounter(AtomicU64);

impl SharedCounter {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    pub(crate) fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Per-arena counters, written under the arena lock.
#[derive(Debug, Default)]
pub(crate) struct ArenaStats {
    pub(crate) used_bytes: Counter,
    pub(crate) active_bytes: Counter,
    pub(crate) chunks: Counter,
    /// `[small, normal]`.
    pub(crate) allocations: [Counter; 2],
    /// `[small, normal]`.
    pub(crate) deallocations: [Counter; 2],
}

/// Operation totals split by kind of size class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ByKind {
    /// Small classes (≤ 28 KiB, subpage elements).
    pub small: u64,
    /// Normal classes (≤ chunk size, page runs).
    pub normal: u64,
    /// Huge requests (> chunk size, own mapping).
    pub huge: u64,
}

impl ByKind {
    /// `small + normal + huge`.
    pub fn total(&self) -> u64 {
        self.small + self.normal + self.huge
    }
}

/// One arena's share of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArenaMetrics {
    /// Position of the arena.
    pub index: usize,
    /// Threads bound to it.
    pub threads: usize,
    /// Chunks it holds.
    pub chunks: usize,
    /// Bytes of its chunks held from the OS (committed, not purged).
    pub used_bytes: usize,
    /// Size-class capacity of live buffers cut from its chunks.
    pub active_bytes: usize,
    /// Free regions of its chunks parked in thread caches (any thread's: a
    /// buffer is cached by the thread that releases it).
    pub cached_bytes: usize,
}

/// A snapshot of a pool's counters; see the crate docs for how to read them.
///
/// ```
/// let pool = tidebuf::Pool::new();
/// let buf = pool.alloc(1000);
/// let m = pool.metrics();
/// assert_eq!(m.active_bytes, 1024); // the 1 KiB size class
/// assert!(m.used_bytes >= m.active_bytes + m.cached_bytes);
/// drop(buf);
/// assert_eq!(pool.metrics().active_bytes, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolMetrics {
    /// Memory held from the OS and not purged: committed chunk bytes plus
    /// huge buffers. Netty's `usedDirectMemory`.
    pub used_bytes: usize,
    /// Size-class capacity of live buffers. Reactor Netty's
    /// `active.direct.memory`.
    pub active_bytes: usize,
    /// Free memory parked for fast reuse (thread caches).
    pub cached_bytes: usize,
    /// Chunks held.
    pub chunks: usize,
    /// Huge buffers held.
    pub huge_buffers: usize,
    /// Bytes of huge mappings held: live huge buffers and recycled mappings
    /// kept for reuse. The part of `used_bytes` that no arena holds.
    pub huge_bytes: usize,
    /// Allocations so far.
    pub allocations: ByKind,
    /// Deallocations so far.
    pub deallocations: ByKind,
    /// Allocations served by a thread cache.
    pub cache_hits: u64,
    /// Allocations that found their thread cache bin empty.
    pub cache_misses: u64,
    /// Bytes given back to the OS by trimming so far.
    pub trimmed_bytes: u64,
    /// Trim passes run.
    pub trims: u64,
    /// Capacity held right now by the read and write buffers of
    /// `tidebuf::codec` connections of this pool (feature `codec`; 0
    /// without it). Part of `active_bytes`.
    pub codec_buffer_bytes: usize,
    /// Per-arena figures.
    pub arenas: Vec<ArenaMetrics>,
}
