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
//!
//! Owns one thread's bins and counters. Calls the arenas (`Arenas`: refill,
//! flush, free), `barrier`, `counter`, `region`, `config`. Called by
//! `local`, the heap (registry), the allocation and release paths, and
//! trimming.
//!
//! Files: this one — the bins, the owner/trimmer hand-off, allocation,
//! refill and release; `flush.rs` — sweeps, flushes and counters.

mod flush;

use crate::arena::{take_contention, Arenas};
use crate::barrier;
use crate::budget::Refused;
use crate::config::CacheConfig;
use crate::counter::Counter;
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

/// Lock contentions a thread meets, within one window, before it moves.
const SPREAD_AFTER: u32 = 4;
/// Slow-path calls of a thread per contention-counting window.
const SPREAD_WINDOW: u32 = 64;

/// Normal classes up to this size keep `normal_entries` entries per bin
/// (Netty caches up to here); larger ones at most [`LARGE_BIN_BYTES`].
const SMALL_NORMAL: usize = 32 << 10;
/// Most bytes a bin of a class above [`SMALL_NORMAL`] keeps (at least one
/// entry).
const LARGE_BIN_BYTES: usize = 256 << 10;

/// Most bytes a refill parks beyond the region it returns: enough to make
/// misses rare for small classes, without parking much of the large ones.
const FILL_BYTES: usize = 128 << 10;

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
    /// the current window (owner only; see [`spread`](Self::spread)).
    pub(crate) recent_contention: AtomicU32,
    window_calls: AtomicU32,
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
    pub(crate) fn new(arenas: &Arenas, cfg: CacheConfig, arena: u32) -> ThreadCache {
        let classes = arenas.classes();
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
                    // Above 32 KiB a bin keeps at most LARGE_BIN_BYTES (and
                    // one entry): enough that a thread reusing a large size
                    // never takes the arena lock, little per idle thread.
                    let size = classes.size(c as ClassIdx);
                    match size <= SMALL_NORMAL {
                        true => cfg.normal_entries,
                        false => cfg
                            .normal_entries
                            .min((LARGE_BIN_BYTES / size).max(1) as u32),
                    }
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
                _ => (0..arenas.len()).map(|_| Counter::default()).collect(),
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

    /// Arenas on demand: a thread that keeps finding its arena locked —
    /// [`SPREAD_AFTER`] contentions within [`SPREAD_WINDOW`] slow-path calls
    /// of its own — moves, to a new arena while fewer than all are in use,
    /// else to the least-used one if that has fewer threads. Under a
    /// trickle nobody contends, all threads share one arena, and the
    /// footprint follows the buffers alive rather than arenas × chunk.
    /// Owner only; returns the arena to use.
    pub(crate) fn spread(&self, arenas: &Arenas) -> u32 {
        let current = self.arena();
        let contention = self.recent_contention.load(Relaxed) + take_contention();
        let calls = self.window_calls.load(Relaxed) + 1;
        if contention < SPREAD_AFTER {
            let window_over = calls >= SPREAD_WINDOW;
            self.recent_contention
                .store(if window_over { 0 } else { contention }, Relaxed);
            self.window_calls
                .store(if window_over { 0 } else { calls }, Relaxed);
            return current;
        }
        self.recent_contention.store(0, Relaxed);
        self.window_calls.store(0, Relaxed);
        let target = arenas.spread_target();
        let from = arenas.get(current);
        if target.index != current && target.threads.load(Relaxed) < from.threads.load(Relaxed) {
            arenas.rebind(current, target.index);
            self.arena.store(target.index, Relaxed);
            crate::trace::event!(
                "tidebuf::arena",
                DEBUG,
                from = current,
                to = target.index,
                "a contended thread moved to another arena"
            );
            return target.index;
        }
        current
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
    pub(crate) fn pop(&self, arenas: &Arenas, class: ClassIdx) -> Option<Region> {
        if !self.enter() {
            return None;
        }
        let region = self.pop_entered(arenas, class);
        self.leave();
        region
    }

    #[inline(always)]
    fn pop_entered(&self, arenas: &Arenas, class: ClassIdx) -> Option<Region> {
        let bin = &self.bins[class as usize];
        self.tick(arenas);
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
    pub(crate) fn fill(&self, arenas: &Arenas, class: ClassIdx) -> Result<Region, Refused> {
        if self.is_closed() {
            self.flush_own(arenas);
            return arenas.get(self.arena()).allocate(&arenas.env, class);
        }
        if !self.enter() {
            return arenas.get(self.arena()).allocate(&arenas.env, class);
        }
        let region = self.fill_entered(arenas, class);
        self.leave();
        region
    }

    fn fill_entered(&self, arenas: &Arenas, class: ClassIdx) -> Result<Region, Refused> {
        let bin = &self.bins[class as usize];
        let extra = (bin.max as usize / 8).min(FILL_BYTES / arenas.classes().size(class));
        let (region, added) = bin.entries(|entries| {
            if entries.capacity() == 0 {
                entries.reserve_exact(bin.max as usize);
            }
            let before = entries.len();
            let region = arenas
                .get(self.arena())
                .allocate_fill(&arenas.env, class, extra, entries);
            // Parked entries are checked for poison when handed out: poison
            // the ones a refill parks, as a release would have.
            #[cfg(feature = "debug-checks")]
            for parked in &entries[before..] {
                let cap = arenas.classes().size(class);
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
    /// a pool reference of its own (`release::release_through_cache`): the
    /// flush may destroy chunks.
    pub(crate) fn push(&self, arenas: &Arenas, region: Region, class: ClassIdx) {
        if !self.enter() {
            arenas.free_direct(region, class);
            return;
        }
        self.push_entered(arenas, region, class);
        self.leave();
    }

    fn push_entered(&self, arenas: &Arenas, region: Region, class: ClassIdx) {
        if let Err(region) = self.park_entered(region, class) {
            self.push_slow(arenas, region, class);
        }
    }

    #[cold]
    #[inline(never)]
    fn push_slow(&self, arenas: &Arenas, region: Region, class: ClassIdx) {
        let bin = &self.bins[class as usize];
        bin.puts.add(1);
        if bin.max == 0 {
            // A zero-size bin caches nothing, but this is still a release.
            arenas.free_uncounted(class, std::iter::once(region));
            return;
        }
        let arena = region.header().arena as usize;
        let flushed = bin.entries(|entries| {
            let mut flushed = 0;
            if entries.capacity() == 0 {
                entries.reserve_exact(bin.max as usize);
            } else if let Some(n) = self.deposit(arenas, class, entries) {
                // Handed over whole: the bin is a spare now.
                flushed = n;
                if entries.capacity() == 0 {
                    entries.reserve_exact(bin.max as usize);
                }
            } else {
                flushed = (entries.len() / 2).max(1);
                arenas.free_uncounted(class, self.unpark(class, entries.drain(..flushed)));
            }
            entries.push(region);
            flushed
        });
        bin.len.sub(flushed);
        bin.len.add(1);
        self.by_arena[arena].add(bin.size);
    }

    /// Entered. A full bin whose regions all come from one arena goes to
    /// that arena's depot whole, for its next refill (a releasing thread
    /// feeding an allocating one); returns the entries handed over.
    fn deposit(
        &self,
        arenas: &Arenas,
        class: ClassIdx,
        entries: &mut Vec<Region>,
    ) -> Option<usize> {
        let first = entries.first()?.header().arena;
        if entries.len() < entries.capacity() || entries.iter().any(|r| r.header().arena != first) {
            return None;
        }
        let n = entries.len();
        if !arenas.get(first).deposit(&arenas.env, class, entries) {
            return None;
        }
        self.by_arena[first as usize].sub(n * self.bins[class as usize].size);
        Some(n)
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

/// Levers for the crate's tests of the hand-off (`src/tests/`): what a bin
/// holds, and the trimmer's claim set or cleared by hand.
#[cfg(all(test, not(tidebuf_loom)))]
impl ThreadCache {
    /// Addresses parked in `class`'s bin, and its entry counter.
    pub(crate) fn parked(&self, class: ClassIdx) -> (Vec<usize>, usize) {
        let bin = &self.bins[class as usize];
        let parked = bin.entries(|e| e.iter().map(|r| r.ptr.as_ptr() as usize).collect());
        (parked, bin.len.get())
    }

    /// Most entries `class`'s bin keeps.
    pub(crate) fn bin_max(&self, class: ClassIdx) -> u32 {
        self.bins[class as usize].max
    }

    /// Plays the trimmer's side of the hand-off.
    pub(crate) fn set_claim(&self, claimed: bool) {
        self.claim.store(claimed, Relaxed);
    }
}
