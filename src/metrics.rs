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
//! Owns the public snapshot types. Calls the heap (its arenas, huge
//! counters and cache registry). Called by the `Pool` handle.
//!
//! [`Pool::metrics`]: crate::Pool::metrics

use crate::heap::Heap;
use crate::sync::atomic::Ordering::Relaxed;

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
    /// Requests waiting for memory under `max_memory` right now
    /// ([`Pool::alloc_wait`](crate::Pool::alloc_wait)).
    pub waiters: usize,
    /// Time spent waiting by requests that stopped waiting (served, failed,
    /// timed out or cancelled), in all.
    pub wait_time: std::time::Duration,
    /// Per-arena figures.
    pub arenas: Vec<ArenaMetrics>,
}

impl Heap {
    /// A snapshot of every counter; reads atomics (and the cache registry
    /// under its lock) only.
    pub(crate) fn metrics(&self) -> PoolMetrics {
        let mut m = PoolMetrics {
            used_bytes: self.env().budget.used(),
            active_bytes: self.huge.active_bytes.get() as usize,
            cached_bytes: 0,
            chunks: 0,
            huge_buffers: self.huge.count.get() as usize,
            huge_bytes: 0,
            allocations: ByKind {
                huge: self.huge.allocations.get(),
                ..ByKind::default()
            },
            deallocations: ByKind {
                huge: self.huge.deallocations.get(),
                ..ByKind::default()
            },
            cache_hits: 0,
            cache_misses: 0,
            trimmed_bytes: self.trimmed_bytes.get(),
            trims: self.trims.get(),
            codec_buffer_bytes: self.codec_bytes.get() as usize,
            waiters: self.env().budget.waiters.waiting(),
            wait_time: std::time::Duration::from_nanos(self.env().budget.waiters.waited_ns()),
            arenas: Vec::with_capacity(self.arenas.len()),
        };
        let mut parked_by_arena = vec![0usize; self.arenas.len()];
        let caches = self.cache_totals(&mut parked_by_arena);
        m.cached_bytes = caches.cached_bytes;
        let huge_cached = self.huge.cached_bytes();
        m.cache_hits = caches.hits[0] + caches.hits[1];
        m.cache_misses = caches.misses;
        m.allocations.small += caches.hits[0];
        m.allocations.normal += caches.hits[1];
        m.deallocations.small += caches.puts[0];
        m.deallocations.normal += caches.puts[1];
        m.huge_bytes = m.active_bytes + huge_cached;
        for (arena, &parked) in self.arenas.iter().zip(&parked_by_arena) {
            let s = &arena.stats;
            // An arena counts what it handed out, to buffers and caches
            // alike; what sits in caches or in its depot of full bins is
            // taken off here, arena by arena,
            // so that the arenas' active bytes add up to the pool's. (Read
            // while threads run, the two counters may be a moment apart.)
            let a = ArenaMetrics {
                index: arena.index as usize,
                threads: arena.threads.load(Relaxed),
                chunks: arena.chunk_count(),
                used_bytes: s.used_bytes.get(),
                active_bytes: s
                    .active_bytes
                    .get()
                    .saturating_sub(parked + s.depot_bytes.get()),
                cached_bytes: parked + s.depot_bytes.get(),
            };
            m.chunks += a.chunks;
            m.active_bytes += a.active_bytes;
            m.cached_bytes += s.depot_bytes.get();
            m.allocations.small += s.allocations[0].get() as u64;
            m.allocations.normal += s.allocations[1].get() as u64;
            m.deallocations.small += s.deallocations[0].get() as u64;
            m.deallocations.normal += s.deallocations[1].get() as u64;
            m.arenas.push(a);
        }
        m.cached_bytes += huge_cached;
        m
    }
}
