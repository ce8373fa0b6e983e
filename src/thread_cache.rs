//! Per-thread caches: one bounded bin per cached size class, in front of
//! the arenas.
//!
//! ```text
//!  alloc(class) ──▶ bin[class].pop() ──hit──▶ region      (no lock, no shared write)
//!                        │miss
//!                        ▼
//!                  arena lock: 1 region for the caller + fill more into the bin
//!
//!  release ──▶ releasing thread's bin.push() ──full──▶ arena lock: flush the
//!                                                      older half at once
//! ```
//!
//! A bin is a stack (last released, first reused: warm in cache). Regions in
//! a bin may come from any arena (cross-thread releases); flushing returns
//! each to its own arena, one lock per run of same-arena entries.
//!
//! Sweep (Netty semantics): every `sweep_threshold` allocations through the
//! cache, each bin keeps only as many entries as it served since the last
//! sweep and gives the surplus back — a bin that stopped being used empties.
//!
//! The owner thread uses the entries; a trimmer takes them only through the
//! hand-off in `barrier.rs` (the owner marks itself BUSY around each use,
//! the trimmer claims the cache and proceeds only if the owner is IDLE).
//! Counters are atomics with one writer at a time (a Relaxed load and
//! store, a plain `mov`), so
//! `metrics()` reads them from any thread, and each thread's counters sit in
//! its own allocation: no cache line is written by two threads.

use crate::barrier;
use crate::metrics::Counter;
use crate::pool::PoolInner;
use crate::region::Region;
use crate::size_class::ClassIdx;
use crate::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

const IDLE: u32 = 0;
const BUSY: u32 = 1;
use crate::sync::UnsafeCell;
use std::cell::Cell;

/// Most bytes a refill parks beyond the region it returns: enough to make
/// misses rare for small classes, without parking much of the large ones.
const FILL_BYTES: usize = 128 << 10;

/// Settings of the caches (defaults in `PoolBuilder::default`: Netty 4.1's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheConfig {
    pub(crate) enabled: bool,
    pub(crate) small_entries: u32,
    pub(crate) normal_entries: u32,
    pub(crate) max_capacity: usize,
    pub(crate) sweep_threshold: u32,
}

/// One size class's stack of free regions.
#[derive(Debug)]
struct Bin {
    /// Owner-only.
    entries: UnsafeCell<Vec<Region>>,
    /// The class's capacity in bytes.
    size: usize,
    /// Most entries kept.
    max: u32,
    /// Mirror of `entries.len()`, readable by `metrics()`.
    len: Counter,
    /// Allocations served from this bin.
    hits: Counter,
    /// Allocations of this class that found the bin empty.
    misses: Counter,
    /// Releases parked in this bin.
    puts: Counter,
    /// `hits` at the last sweep. Owner-only.
    hits_at_sweep: Cell<usize>,
}

impl Bin {
    /// Runs `f` on the entries. Callers are the owner, or a trimmer holding
    /// the claim (see `enter` and `flush_foreign`); loom checks that no two
    /// accesses overlap.
    #[inline(always)]
    fn entries<R>(&self, f: impl FnOnce(&mut Vec<Region>) -> R) -> R {
        self.entries.with_mut(|entries| {
            // SAFETY: exclusive by the hand-off protocol (type-level SAFETY
            // note on `ThreadCache`): only the owner while entered, or the
            // claiming trimmer after finding the owner idle, gets here, and
            // no caller nests a second access.
            f(unsafe { &mut *entries })
        })
    }
}

/// A thread's cache for one pool.
#[derive(Debug)]
pub(crate) struct ThreadCache {
    /// Arena this thread allocates from (owner-written: it may move).
    pub(crate) arena: AtomicU32,
    /// Lock contentions this thread met recently, and slow-path calls in
    /// the current window (owner only; see `PoolInner::spread`).
    pub(crate) recent_contention: AtomicU32,
    pub(crate) window_calls: AtomicU32,
    /// Set (once) when the pool closes: releases then bypass the cache, so
    /// chunks empty and go. Here rather than in the pool so the release
    /// path reads a line it touches anyway.
    pub(crate) closed: AtomicBool,
    /// Owner: BUSY while it uses the entries (see `barrier.rs`).
    state: AtomicU32,
    /// Trimmer: set while it takes the entries of an idle owner.
    claim: AtomicBool,
    /// Trimmer-only bookkeeping: operation count and pool epoch when the
    /// trimmer last saw this cache change.
    pub(crate) seen_ops: AtomicU64,
    pub(crate) seen_epoch: AtomicU64,
    bins: Box<[Bin]>,
    /// Bytes parked here, by the arena each region belongs to (a release
    /// parks regions of any arena): what `metrics()` takes off each arena's
    /// handed-out bytes, so per-arena active bytes add up to the pool's.
    /// Written by whoever holds the entries, like `Bin::len`.
    by_arena: Box<[Counter]>,
    /// Allocations through the cache since the last sweep. Owner-only.
    since_sweep: Cell<u32>,
    sweep_threshold: u32,
}

// SAFETY: the non-atomic parts are touched by one thread at a time:
// `hits_at_sweep` and `since_sweep` only by the owner (methods documented
// "owner only", reached through the owner's thread-local entry or at its
// exit); `entries` by the owner between `enter` and `leave`, or by a
// trimmer that holds the claim and saw the owner IDLE after the heavy
// fence (`flush_foreign`). Other threads read only the `Counter` atomics.
unsafe impl Sync for ThreadCache {}
// SAFETY: `Region`s are plain descriptors of owned memory; see above.
unsafe impl Send for ThreadCache {}

/// Totals of one cache, for `metrics()`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CacheTotals {
    pub(crate) cached_bytes: usize,
    pub(crate) hits: [u64; 2],
    pub(crate) misses: u64,
    pub(crate) puts: [u64; 2],
}

impl ThreadCache {
    pub(crate) fn new(pool: &PoolInner, arena: u32) -> ThreadCache {
        let cfg = pool.config.cache;
        let classes = &pool.classes;
        // Classes whose capacity is at most `max_capacity` (and the chunk).
        let limit = cfg.max_capacity.min(classes.chunk_size());
        let cached_classes = match classes.class_of(limit) {
            _ if !cfg.enabled => 0,
            Some(c) if classes.size(c) == limit => c as usize + 1,
            Some(c) => c as usize,
            None => 0,
        };
        let bins = (0..cached_classes)
            .map(|c| Bin {
                entries: UnsafeCell::new(Vec::new()),
                size: classes.size(c as ClassIdx),
                max: if c < classes.small_count() {
                    cfg.small_entries
                } else {
                    cfg.normal_entries
                },
                len: Counter::default(),
                hits: Counter::default(),
                misses: Counter::default(),
                puts: Counter::default(),
                hits_at_sweep: Cell::new(0),
            })
            .collect();

        ThreadCache {
            arena: AtomicU32::new(arena),
            recent_contention: AtomicU32::new(0),
            window_calls: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            state: AtomicU32::new(IDLE),
            claim: AtomicBool::new(false),
            seen_ops: AtomicU64::new(0),
            seen_epoch: AtomicU64::new(0),
            by_arena: match cached_classes {
                0 => Box::default(),
                _ => (0..pool.arenas.len()).map(|_| Counter::default()).collect(),
            },
            bins,
            since_sweep: Cell::new(0),
            sweep_threshold: cfg.sweep_threshold,
        }
    }

    /// The arena this thread allocates from.
    #[inline]
    pub(crate) fn arena(&self) -> u32 {
        self.arena.load(Relaxed)
    }

    /// Whether allocations of `class` go through this cache.
    #[inline]
    pub(crate) fn caches(&self, class: ClassIdx) -> bool {
        (class as usize) < self.bins.len()
    }

    /// Whether releases of `class` may be parked here.
    #[inline]
    pub(crate) fn takes(&self, class: ClassIdx) -> bool {
        self.caches(class) && !self.is_closed()
    }

    /// Whether the pool closed: nothing is parked here any more.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Relaxed)
    }

    /// Owner side of the hand-off: `false` if the trimmer holds the
    /// entries right now (then use the arena directly; never wait).
    #[inline(always)]
    fn enter(&self) -> bool {
        self.state.store(BUSY, Relaxed);
        barrier::light();
        // Acquire: pairs with the trimmer's Release of `claim`, so what it
        // did to the entries happens-before our use of them.
        if self.claim.load(Acquire) {
            self.state.store(IDLE, Release);
            return false;
        }
        true
    }

    /// Owner side: done with the entries. Release: our writes to them
    /// happen-before a trimmer's Acquire load that finds us IDLE.
    #[inline(always)]
    fn leave(&self) {
        self.state.store(IDLE, Release);
    }

    /// Owner only. A cached region of `class`, if any. Counts a hit or a miss.
    #[inline]
    pub(crate) fn pop(&self, pool: &PoolInner, class: ClassIdx) -> Option<Region> {
        if !self.enter() {
            return None;
        }
        let region = self.pop_entered(pool, class);
        self.leave();
        region
    }

    #[inline(always)]
    fn pop_entered(&self, pool: &PoolInner, class: ClassIdx) -> Option<Region> {
        let bin = &self.bins[class as usize];
        self.tick(pool);
        let region = bin.entries(|entries| {
            let last = entries.len().checked_sub(1)?;
            // SAFETY: `last < len`, so the slot holds a region, which moves
            // out once: the length drops below it right after.
            Some(unsafe {
                let slot = entries.as_ptr().add(last);
                entries.set_len(last);
                // Field by field, as `push` stored them: a 16-byte load of
                // two 8-byte stores still in the store buffer cannot be
                // forwarded and stalls; volatile keeps the loads apart.
                Region {
                    ptr: std::ptr::addr_of!((*slot).ptr).read_volatile(),
                    chunk: std::ptr::addr_of!((*slot).chunk).read_volatile(),
                }
            })
        });
        match &region {
            Some(region) => {
                bin.len.sub(1);
                bin.hits.add(1);
                self.by_arena[region.header().arena as usize].sub(bin.size);
            }
            None => bin.misses.add(1),
        }
        region
    }

    /// Owner only. Refills the bin of `class` after a miss: returns one
    /// region for the caller and parks up to `max / 8` more (and at most
    /// [`FILL_BYTES`] of them), under one lock.
    ///
    /// In a closed pool nothing is parked (a parked entry would keep its
    /// chunk, and the pool, alive until the thread exits): what the cache
    /// still holds goes back, and exactly one region is allocated.
    pub(crate) fn fill(
        &self,
        pool: &PoolInner,
        class: ClassIdx,
    ) -> Result<Region, crate::arena::Refused> {
        if self.is_closed() {
            self.flush_own(pool);
            return pool.arenas[self.arena() as usize].allocate(pool, class);
        }
        if !self.enter() {
            return pool.arenas[self.arena() as usize].allocate(pool, class);
        }
        let region = self.fill_entered(pool, class);
        self.leave();
        region
    }

    fn fill_entered(
        &self,
        pool: &PoolInner,
        class: ClassIdx,
    ) -> Result<Region, crate::arena::Refused> {
        let bin = &self.bins[class as usize];
        let extra = (bin.max as usize / 8).min(FILL_BYTES / pool.classes.size(class));
        let (region, added) = bin.entries(|entries| {
            if entries.capacity() == 0 {
                entries.reserve_exact(bin.max as usize);
            }
            let before = entries.len();
            let region =
                pool.arenas[self.arena() as usize].allocate_fill(pool, class, extra, entries);
            // Parked entries are checked for poison when handed out: poison
            // the ones a refill parks, as a release would have.
            #[cfg(feature = "debug-checks")]
            for parked in &entries[before..] {
                let cap = pool.classes.size(class);
                #[cfg(feature = "asan")]
                crate::asan::unpoison(parked.ptr.as_ptr(), cap);
                crate::debug::poison(parked, cap);
                #[cfg(feature = "asan")]
                crate::asan::poison(parked.ptr.as_ptr(), cap);
            }
            (region, entries.len() - before)
        });
        bin.len.add(added);
        // A refill parks regions of this thread's arena only.
        self.by_arena[self.arena() as usize].add(added * bin.size);
        region
    }

    /// Owner only. The release fast path: parks `region` if its bin has
    /// room, touching nothing but the bin; hands it back otherwise (bin full
    /// or not yet reserved, or a trimmer holds the cache), for
    /// [`push`](Self::push) on the slow path.
    #[inline(always)]
    pub(crate) fn try_push(&self, region: Region, class: ClassIdx) -> Result<(), Region> {
        if !self.enter() {
            return Err(region);
        }
        let parked = self.park_entered(region, class);
        self.leave();
        parked
    }

    /// Entered. Parks `region` if its bin has room.
    #[inline(always)]
    fn park_entered(&self, region: Region, class: ClassIdx) -> Result<(), Region> {
        let bin = &self.bins[class as usize];
        let arena = region.header().arena as usize;
        // Capacity is reserved as exactly `max` on first use, so this one
        // compare covers both "reserved" and "not full".
        let parked = bin.entries(|entries| {
            if entries.len() < entries.capacity() {
                // SAFETY: `len < capacity`: the slot exists and is unused.
                unsafe {
                    entries.as_mut_ptr().add(entries.len()).write(region);
                    entries.set_len(entries.len() + 1);
                }
                Ok(())
            } else {
                Err(region)
            }
        });
        if parked.is_ok() {
            bin.len.add(1);
            bin.puts.add(1);
            self.by_arena[arena].add(bin.size);
        }
        parked
    }

    /// Owner only. Parks a released region of `class`; when the bin is
    /// full, the older half goes back to the arenas first. The caller holds
    /// a pool reference of its own (`pool::release_through_cache`): the
    /// flush may destroy chunks.
    pub(crate) fn push(&self, pool: &PoolInner, region: Region, class: ClassIdx) {
        if !self.enter() {
            pool.free_direct(region, class);
            return;
        }
        self.push_entered(pool, region, class);
        self.leave();
    }

    fn push_entered(&self, pool: &PoolInner, region: Region, class: ClassIdx) {
        if let Err(region) = self.park_entered(region, class) {
            self.push_slow(pool, region, class);
        }
    }

    #[cold]
    #[inline(never)]
    fn push_slow(&self, pool: &PoolInner, region: Region, class: ClassIdx) {
        let bin = &self.bins[class as usize];
        bin.puts.add(1);
        if bin.max == 0 {
            // A zero-size bin caches nothing, but this is still a release.
            pool.free_uncounted(class, std::iter::once(region));
            return;
        }
        let arena = region.header().arena as usize;
        let flushed = bin.entries(|entries| {
            let mut flushed = 0;
            if entries.capacity() == 0 {
                entries.reserve_exact(bin.max as usize);
            } else {
                flushed = (entries.len() / 2).max(1);
                pool.free_uncounted(class, self.unpark(class, entries.drain(..flushed)));
            }
            entries.push(region);
            flushed
        });
        bin.len.sub(flushed);
        bin.len.add(1);
        self.by_arena[arena].add(bin.size);
    }

    /// Entered. Regions leaving the bin of `class` for their arenas, taken
    /// off the per-arena parked bytes as they go.
    fn unpark<'a>(
        &'a self,
        class: ClassIdx,
        regions: impl Iterator<Item = Region> + 'a,
    ) -> impl Iterator<Item = Region> + 'a {
        let size = self.bins[class as usize].size;
        regions.inspect(move |r| self.by_arena[r.header().arena as usize].sub(size))
    }

    /// Adds the bytes parked here to `by_arena` (indexed by arena).
    pub(crate) fn add_parked_by_arena(&self, by_arena: &mut [usize]) {
        for (total, parked) in by_arena.iter_mut().zip(self.by_arena.iter()) {
            *total = total.wrapping_add(parked.get());
        }
    }

    #[inline]
    fn tick(&self, pool: &PoolInner) {
        let n = self.since_sweep.get() + 1;
        if n >= self.sweep_threshold {
            self.since_sweep.set(0);
            self.sweep(pool);
        } else {
            self.since_sweep.set(n);
        }
    }

    /// Owner only. Gives back each bin's entries beyond what it served since
    /// the last sweep. Returns the number of entries given back.
    #[cold]
    pub(crate) fn sweep(&self, pool: &PoolInner) -> usize {
        let mut flushed = 0;
        for (class, bin) in self.bins.iter().enumerate() {
            let used = bin.hits.get() - bin.hits_at_sweep.get();
            bin.hits_at_sweep.set(bin.hits.get());
            let surplus = bin.entries(|entries| {
                let surplus = entries.len().saturating_sub(used);
                pool.free_uncounted(
                    class as ClassIdx,
                    self.unpark(class as ClassIdx, entries.drain(..surplus)),
                );
                surplus
            });
            bin.len.sub(surplus);
            flushed += surplus;
        }
        flushed
    }

    /// Owner only. Gives every entry back; 0 if the trimmer is doing it.
    pub(crate) fn flush_own(&self, pool: &PoolInner) -> usize {
        if !self.enter() {
            return 0;
        }
        let n = self.flush_entered(pool);
        self.leave();
        n
    }

    /// The owner's thread is exiting: waits out a trimmer that holds the
    /// entries (it is flushing them anyway), then gives everything back.
    pub(crate) fn flush_at_exit(&self, pool: &PoolInner) -> usize {
        while !self.enter() {
            crate::sync::yield_now();
        }
        let n = self.flush_entered(pool);
        self.leave();
        n
    }

    /// Any thread but the owner: takes the entries if the owner is not using
    /// them right now and gives them back. `None` if it could not.
    pub(crate) fn flush_foreign(&self, pool: &PoolInner) -> Option<usize> {
        if self.claim.swap(true, Acquire) {
            return None; // another trimmer has it
        }
        // After the heavy fence the owner either is visibly BUSY or will see
        // the claim before it touches the entries again.
        let n = if barrier::heavy() && self.state.load(Acquire) == IDLE {
            Some(self.flush_entered(pool))
        } else {
            None
        };
        self.claim.store(false, Release);
        n
    }

    /// Operations so far (hits, misses, releases): unchanged means idle.
    pub(crate) fn ops(&self) -> u64 {
        self.bins
            .iter()
            .map(|b| (b.hits.get() + b.misses.get() + b.puts.get()) as u64)
            .sum()
    }

    /// Entered (owner or claiming trimmer). Gives every entry back.
    fn flush_entered(&self, pool: &PoolInner) -> usize {
        let mut flushed = 0;
        for (class, bin) in self.bins.iter().enumerate() {
            let n = bin.entries(|entries| {
                let n = entries.len();
                pool.free_uncounted(
                    class as ClassIdx,
                    self.unpark(class as ClassIdx, entries.drain(..)),
                );
                n
            });
            bin.len.sub(n);
            flushed += n;
        }
        flushed
    }

    /// Counters, readable from any thread.
    pub(crate) fn totals(&self, pool: &PoolInner) -> CacheTotals {
        let mut t = CacheTotals::default();
        for (c, bin) in self.bins.iter().enumerate() {
            let normal = (c >= pool.classes.small_count()) as usize;
            t.cached_bytes += bin.len.get() * pool.classes.size(c as ClassIdx);
            t.hits[normal] += bin.hits.get() as u64;
            t.misses += bin.misses.get() as u64;
            t.puts[normal] += bin.puts.get() as u64;
        }
        t
    }
}

impl CacheTotals {
    pub(crate) fn add(&mut self, o: CacheTotals) {
        self.cached_bytes += o.cached_bytes;
        self.hits[0] += o.hits[0];
        self.hits[1] += o.hits[1];
        self.misses += o.misses;
        self.puts[0] += o.puts[0];
        self.puts[1] += o.puts[1];
    }
}
