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
//!                        (a bin above 32 KiB at its limit: reserve room for
//!                         one more in the pool-wide bound, else the arena)
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
    AtomicBool, AtomicU32, AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};

const IDLE: u32 = 0;
const BUSY: u32 = 1;
use crate::sync::{Arc, UnsafeCell};
use std::cell::Cell;
use std::ptr::NonNull;

/// Lock contentions a thread meets, within one window, before it moves.
const SPREAD_AFTER: u32 = 4;
/// Slow-path calls of a thread per contention-counting window.
const SPREAD_WINDOW: u32 = 64;

/// Normal classes up to this size keep `normal_entries` entries per bin,
/// their own (Netty caches up to here); larger ones as many, and at most a
/// chunk's worth, within room reserved in the pool-wide [`LargeRoom`].
const SMALL_NORMAL: usize = 32 << 10;

/// Most bytes a refill parks beyond the region it returns: enough to make
/// misses rare for small classes, without parking much of the large ones.
const FILL_BYTES: usize = 128 << 10;

/// Bit 0 of a parked entry's chunk address (headers are 4096-aligned):
/// the region belongs to another arena than the cache's, and its bytes are
/// counted in `by_arena`. Parked entries of the cache's own arena carry no
/// count at all — their bytes are derived when metrics are read — so the
/// fast paths never look up a region's arena on the way out.
const FOREIGN: usize = 1;

/// Room reserved in the bins of classes above [`SMALL_NORMAL`], across all
/// of a pool's thread caches, and its bound: one chunk for the whole pool,
/// however many threads. A thread that reuses a 64 KiB–1 MiB size skips
/// the arena lock, and 300 idle threads hold no more than a busy one.
///
/// A large bin reserves room one entry at a time, on a release that finds
/// it at its [`limit`](Bin::limit), and keeps it while entries come and go
/// — so its fast paths touch no shared line — until a sweep finds the room
/// unused, or the cache is flushed. Reserved room bounds the bytes parked:
/// `parked ≤ reserved ≤ bound`, exactly and at every instant.
#[derive(Debug)]
pub(crate) struct LargeRoom {
    reserved: AtomicUsize,
    bound: usize,
}

impl LargeRoom {
    pub(crate) fn new(bound: usize) -> LargeRoom {
        LargeRoom {
            reserved: AtomicUsize::new(0),
            bound,
        }
    }

    /// Reserves room for `bytes` more, if the bound allows. A CAS loop,
    /// not an add undone on failure: the count never passes the bound, so
    /// a thread reading it never sees room taken that nobody can use.
    fn reserve(&self, bytes: usize) -> bool {
        self.reserved
            .fetch_update(Relaxed, Relaxed, |r| {
                r.checked_add(bytes).filter(|&after| after <= self.bound)
            })
            .is_ok()
    }

    /// Gives reserved room back.
    fn unreserve(&self, bytes: usize) {
        self.reserved.fetch_sub(bytes, Relaxed);
    }

    /// Bytes reserved now, by every cache.
    #[cfg(test)]
    pub(crate) fn get(&self) -> usize {
        self.reserved.load(Relaxed)
    }
}

/// One size class's stack of free regions.
///
/// The entries are `slots[..len]`: the fast paths read and write the slots
/// through the vector's pointer and keep the one count, `len`, which
/// `metrics()` reads from any thread. The vector's own length stays 0
/// except while [`entries`](Bin::entries) lends it to a slow path.
/// An entry's chunk address may carry [`FOREIGN`]: not a valid `Region`
/// until [`ThreadCache::unpark_one`] clears it.
///
/// ```text
///  slots: [e0 e1 e2 .. .. .. .. ..]   capacity (reserved once, as `max`)
///          └─ len ─┘
///          └──── limit ─────┘         a release parks on the fast path below it
/// ```
#[derive(Debug)]
struct Bin {
    /// Owner-only. Reserved as exactly `max` on first use.
    slots: UnsafeCell<Vec<Region>>,
    /// The class's capacity in bytes.
    size: usize,
    /// Most entries kept.
    max: u32,
    /// Entries parked: the length of the stack.
    len: Counter,
    /// Entries a release may park without a slow-path visit; never above
    /// the capacity (kept so by [`entries`](Bin::entries)), which is what
    /// makes the fast path's write in bounds. `max` once the slots are
    /// reserved, for a small class; for a large one, the room it reserved
    /// in `large`.
    limit: Counter,
    /// For a class above [`SMALL_NORMAL`]: the pool-wide bound its
    /// reserved room counts against.
    large: Option<Arc<LargeRoom>>,
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
    /// Runs `f` on the entries as a vector (the slow paths). Callers are
    /// the owner, or a trimmer holding the claim (see `enter` and
    /// `flush_foreign`); loom checks that no two accesses overlap.
    fn entries<R>(&self, f: impl FnOnce(&mut Vec<Region>) -> R) -> R {
        /// Hands the vector's length back to `len` when `f` is done — or
        /// unwinds: a stale `len` would read slots that are not entries —
        /// and keeps `limit` within the capacity `f` may have reserved or
        /// swapped.
        struct Lent<'a> {
            bin: &'a Bin,
            slots: &'a mut Vec<Region>,
        }
        impl Drop for Lent<'_> {
            fn drop(&mut self) {
                let bin = self.bin;
                bin.len.set(self.slots.len());
                let room = self.slots.capacity().min(bin.max as usize);
                match &bin.large {
                    None => bin.limit.set(room),
                    Some(large) if bin.limit.get() > room => {
                        large.unreserve((bin.limit.get() - room) * bin.size);
                        bin.limit.set(room);
                    }
                    Some(_) => {}
                }
                // SAFETY: shortening; `Region` has no destructor.
                unsafe { self.slots.set_len(0) };
            }
        }
        self.slots.with_mut(|slots| {
            // SAFETY: exclusive by the hand-off protocol (type-level SAFETY
            // note on `ThreadCache`): only the owner while entered, or the
            // claiming trimmer after finding the owner idle, gets here, and
            // no caller nests a second access.
            let slots = unsafe { &mut *slots };
            // SAFETY: `slots[..len]` are the initialised entries (`pop` and
            // `park` keep it so, within the capacity reserved).
            unsafe { slots.set_len(self.len.get()) };
            let lent = Lent { bin: self, slots };
            f(lent.slots)
        })
    }

    /// Takes the top entry, if any (possibly tagged [`FOREIGN`]). Same
    /// callers as [`entries`](Self::entries).
    fn pop(&self) -> Option<Region> {
        self.pop_if(|_| true)
    }

    /// Entered. Makes room for one more entry in a large bin at its limit,
    /// from the pool-wide bound; `false` if the bin is at `max` or the
    /// bound is reached.
    fn reserve_one(&self, large: &LargeRoom) -> bool {
        if self.limit.get() >= self.max as usize || !large.reserve(self.size) {
            return false;
        }
        self.entries(|entries| {
            // Every slot up to `max`, whatever the vector held before.
            entries.reserve_exact((self.max as usize).saturating_sub(entries.len()));
        });
        // After `entries`: the capacity it reserved (at least `max`, and
        // `limit < max`) bounds the new limit.
        debug_assert!(self.limit.get() < self.max as usize);
        self.limit.add(1);
        true
    }

    /// Entered. Gives back a large bin's reserved room beyond `keep`
    /// entries (at least the entries it holds).
    fn unreserve_beyond(&self, keep: usize) {
        let Some(large) = &self.large else { return };
        let keep = keep.max(self.len.get());
        // Nothing to give back: no write to the shared count.
        if let Some(surplus) = self.limit.get().checked_sub(keep).filter(|&s| s > 0) {
            large.unreserve(surplus * self.size);
            self.limit.set(keep);
        }
    }

    /// Takes the top entry if there is one and `take` accepts it.
    #[inline(always)]
    fn pop_if(&self, take: impl FnOnce(&Region) -> bool) -> Option<Region> {
        let n = self.len.get().checked_sub(1)?;
        let top = self.slots.with_mut(|slots| {
            // SAFETY: exclusive (see `entries`); `n < len`, so slot `n` is
            // an initialised entry; it is moved out at most once, as the
            // length drops to `n` right after.
            unsafe {
                let slot = (*slots).as_ptr().add(n);
                // Field by field, as `park` stored them: a 16-byte load of
                // two 8-byte stores still in the store buffer cannot be
                // forwarded and stalls; volatile keeps the loads apart.
                Region {
                    ptr: std::ptr::addr_of!((*slot).ptr).read_volatile(),
                    chunk: std::ptr::addr_of!((*slot).chunk).read_volatile(),
                }
            }
        });
        if !take(&top) {
            return None; // left in its slot: the length is unchanged
        }
        self.len.set(n);
        Some(top)
    }

    /// Pushes the entry `make` returns if the bin is below its limit; else
    /// hands `region` back.
    #[inline(always)]
    fn push(&self, region: Region, make: impl FnOnce(Region) -> Region) -> Result<(), Region> {
        let n = self.len.get();
        if n >= self.limit.get() {
            return Err(region);
        }
        self.slots.with_mut(|slots| {
            // SAFETY: exclusive (see `entries`); `n < limit <= capacity`
            // (`limit` is kept within the capacity by `entries`, the only
            // place the capacity changes): slot `n` exists and is unused.
            unsafe { (*slots).as_mut_ptr().add(n).write(make(region)) };
        });
        self.len.set(n + 1);
        Ok(())
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
    /// The first bin of a class above [`SMALL_NORMAL`] (or `bins.len()`).
    large_from: usize,
    /// Bytes of [`FOREIGN`] entries parked here, by their arena (a release
    /// parks regions of any arena). With the rest — the cache's own arena's
    /// — this is what `metrics()` takes off each arena's handed-out bytes,
    /// so per-arena active bytes add up to the pool's. Written by whoever
    /// holds the entries, like `Bin::len`.
    by_arena: Box<[Counter]>,
    /// Allocations through the cache left until the next sweep. Owner-only.
    until_sweep: Cell<u32>,
    sweep_threshold: u32,
}

// SAFETY: the non-atomic parts are touched by one thread at a time:
// `hits_at_sweep` and `until_sweep` only by the owner (methods documented
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
    pub(crate) fn new(
        arenas: &Arenas,
        cfg: CacheConfig,
        arena: u32,
        large: &Arc<LargeRoom>,
    ) -> ThreadCache {
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
                slots: UnsafeCell::new(Vec::new()),
                size: classes.size(c as ClassIdx),
                max: if c < classes.small_count() {
                    cfg.small_entries
                } else {
                    // Above 32 KiB a bin may hold up to the pool-wide bound
                    // (one chunk): a thread that makes and drops a batch of
                    // 64 × 256 KiB skips the arena lock for half of them.
                    // What a bin really holds is the room it reserved, and
                    // a sweep takes back what it did not use.
                    let size = classes.size(c as ClassIdx);
                    match size <= SMALL_NORMAL {
                        true => cfg.normal_entries,
                        false => cfg
                            .normal_entries
                            .min((classes.chunk_size() / size).max(1) as u32),
                    }
                },
                len: Counter::default(),
                limit: Counter::default(),
                large: (classes.size(c as ClassIdx) > SMALL_NORMAL).then(|| large.clone()),
                hits: Counter::default(),
                misses: Counter::default(),
                puts: Counter::default(),
                hits_at_sweep: Cell::new(0),
            })
            .collect::<Box<[Bin]>>();
        let large_from = bins.iter().take_while(|b| b.large.is_none()).count();

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
            large_from,
            until_sweep: Cell::new(cfg.sweep_threshold),
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
        if target.index != current
            && target.threads.load(Relaxed) < from.threads.load(Relaxed)
            && self.enter()
        {
            // What is parked so far is of the arena left behind: foreign
            // from now on. (Not entered, a trimmer holds the cache: stay.)
            self.tag_all_foreign();
            arenas.rebind(current, target.index);
            self.arena.store(target.index, Relaxed);
            self.leave();
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

    /// Entered. Tags every parked entry of this cache's arena [`FOREIGN`],
    /// counting its bytes for that arena: the cache is leaving it.
    fn tag_all_foreign(&self) {
        for bin in self.bins.iter() {
            bin.entries(|entries| {
                for entry in entries.iter_mut() {
                    if entry.chunk.addr().get() & FOREIGN == 0 {
                        let region = Region { ..*entry };
                        *entry = self.tag_foreign_of(region, bin.size);
                    }
                }
            });
        }
    }

    /// The bin of `class`, if cached (one compare: `bins.get` would keep
    /// a panic path).
    #[inline(always)]
    fn fast_bin(&self, class: ClassIdx) -> Option<&Bin> {
        if class as usize >= self.bins.len() {
            return None;
        }
        // SAFETY: `class < bins.len()`, just checked.
        Some(unsafe { self.bins.get_unchecked(class as usize) })
    }

    /// Owner only. Counts an allocation of `class` that found its bin empty
    /// (once per request: the allocation path, before it refills).
    pub(crate) fn count_miss(&self, class: ClassIdx) {
        if let Some(bin) = self.bins.get(class as usize) {
            bin.misses.add(1);
        }
    }

    /// Whether `class` is above [`SMALL_NORMAL`]: its bin, if cached, is
    /// one of the pool-wide bounded ones, never refilled and never flushed
    /// to make room.
    #[inline]
    pub(crate) fn is_large(&self, class: ClassIdx) -> bool {
        class as usize >= self.large_from
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

    /// Owner only. The allocation fast path: the top region of `class`'s
    /// bin and its capacity, if the class is cached, the bin's top entry is
    /// of this cache's arena and no sweep is due. Makes no call: everything
    /// else is left to [`pop`](Self::pop) on the slow side, so a caller
    /// that inlines this keeps its registers.
    #[inline(always)]
    pub(crate) fn pop_fast(&self, class: ClassIdx) -> Option<(Region, usize)> {
        let bin = self.fast_bin(class)?;
        if !self.enter() {
            return None;
        }
        let left = self.until_sweep.get().wrapping_sub(1);
        let entry = match left {
            0 => None,
            _ => bin.pop_if(|top| top.chunk.addr().get() & FOREIGN == 0),
        };
        self.leave();
        let entry = entry?;
        self.until_sweep.set(left);
        bin.hits.add(1);
        Some((entry, bin.size))
    }

    /// Owner only. A cached region of `class` and its capacity, if any,
    /// sweeping first when one is due. Counts a hit.
    pub(crate) fn pop(&self, arenas: &Arenas, class: ClassIdx) -> Option<(Region, usize)> {
        let bin = self.bins.get(class as usize)?;
        if !self.enter() {
            return None;
        }
        self.tick(arenas);
        let region = bin.pop().map(|entry| {
            bin.hits.add(1);
            (self.unpark_one(entry, bin.size), bin.size)
        });
        self.leave();
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
        // Never a large class (`Heap::allocate_slow`): its room is reserved
        // by releases only.
        debug_assert!(bin.large.is_none());
        let extra = (bin.max as usize / 8).min(FILL_BYTES / bin.size);
        bin.entries(|entries| {
            if entries.capacity() == 0 {
                entries.reserve_exact(bin.max as usize);
            }
            #[cfg(feature = "debug-checks")]
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
            region
        })
        // A refill parks regions of this thread's arena only: nothing to
        // count in `by_arena`.
    }

    /// Owner only. The release fast path: parks `region` if its class is
    /// cached, it is of this cache's arena, the pool open and its bin below
    /// its limit. Makes no call; hands the region back otherwise, for
    /// [`try_park`](Self::try_park) or [`push`](Self::push) on the slow
    /// side.
    #[inline(always)]
    pub(crate) fn try_push_fast(&self, region: Region, class: ClassIdx) -> Result<(), Region> {
        let Some(bin) = self.fast_bin(class) else {
            return Err(region);
        };
        if self.is_closed() || region.header().arena != self.arena() || !self.enter() {
            return Err(region);
        }
        let parked = bin.push(region, |region| region);
        self.leave();
        parked?;
        bin.puts.add(1);
        Ok(())
    }

    /// Owner only. Parks `region` (of any arena) if its class is cached,
    /// the pool open and its bin has room; never flushes, so it may run
    /// without a reference to the pool of its own.
    pub(crate) fn try_park(&self, region: Region, class: ClassIdx) -> Result<(), Region> {
        let Some(bin) = self.bins.get(class as usize) else {
            return Err(region);
        };
        if self.is_closed() || !self.enter() {
            return Err(region);
        }
        let parked = self.park_entered(bin, region);
        self.leave();
        parked
    }

    /// Entered. Parks `region` in `bin` if it has room (a large bin at its
    /// limit reserves one more entry first).
    #[inline(always)]
    fn park_entered(&self, bin: &Bin, region: Region) -> Result<(), Region> {
        if let Some(large) = &bin.large {
            if bin.len.get() >= bin.limit.get() && !bin.reserve_one(large) {
                return Err(region);
            }
        }
        bin.push(region, |region| self.tag_foreign(region, bin.size))?;
        bin.puts.add(1);
        Ok(())
    }

    /// A region about to be parked, tagged [`FOREIGN`] (and its bytes
    /// counted by arena) if it is not of this cache's arena.
    #[inline(always)]
    fn tag_foreign(&self, region: Region, size: usize) -> Region {
        if region.header().arena == self.arena() {
            return region;
        }
        self.tag_foreign_of(region, size)
    }

    /// `region` (untagged) tagged [`FOREIGN`], its bytes counted for its
    /// arena.
    #[cold]
    #[inline(never)]
    fn tag_foreign_of(&self, region: Region, size: usize) -> Region {
        self.by_arena[region.header().arena as usize].add(size);
        Region {
            ptr: region.ptr,
            chunk: region.chunk.map_addr(|a| a | FOREIGN),
        }
    }

    /// A parked entry leaving the cache, as a valid region: a foreign one
    /// is untagged and its bytes uncounted.
    #[inline(always)]
    fn unpark_one(&self, entry: Region, size: usize) -> Region {
        if entry.chunk.addr().get() & FOREIGN == 0 {
            return entry;
        }
        self.unpark_foreign(entry, size)
    }

    #[cold]
    #[inline(never)]
    fn unpark_foreign(&self, entry: Region, size: usize) -> Region {
        let region = Region {
            // SAFETY: a parked chunk address with only `FOREIGN` added: the
            // header's, non-null.
            chunk: unsafe {
                NonNull::new_unchecked(entry.chunk.as_ptr().map_addr(|a| a & !FOREIGN))
            },
            ..entry
        };
        self.by_arena[region.header().arena as usize].sub(size);
        region
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
        if let Err(region) = self.park_entered(&self.bins[class as usize], region) {
            self.push_slow(arenas, region, class);
        }
    }

    #[cold]
    #[inline(never)]
    fn push_slow(&self, arenas: &Arenas, region: Region, class: ClassIdx) {
        let bin = &self.bins[class as usize];
        bin.puts.add(1);
        if bin.max == 0 || bin.large.is_some() {
            // A zero-size bin caches nothing, and a large one is at its
            // room (`park_entered` just failed); but this is a release.
            arenas.free_uncounted(class, std::iter::once(region));
            return;
        }
        let region = self.tag_foreign(region, bin.size);
        bin.entries(|entries| {
            if entries.capacity() == 0 {
                entries.reserve_exact(bin.max as usize);
            } else if self.deposit(arenas, class, entries) {
                // Handed over whole: the bin is a spare now.
                if entries.capacity() == 0 {
                    entries.reserve_exact(bin.max as usize);
                }
            } else {
                // Half, at least one (none of an empty bin).
                let flushed = (entries.len() / 2).max(1).min(entries.len());
                arenas.free_uncounted(class, self.unpark(class, entries.drain(..flushed)));
            }
            entries.push(region);
        });
    }

    /// Entered. A full bin whose regions all come from one arena goes to
    /// that arena's depot whole, for its next refill (a releasing thread
    /// feeding an allocating one); `true` if it was handed over.
    fn deposit(&self, arenas: &Arenas, class: ClassIdx, entries: &mut Vec<Region>) -> bool {
        if entries.is_empty() || entries.len() < entries.capacity() {
            return false;
        }
        let size = self.bins[class as usize].size;
        let foreign = |r: &Region| r.chunk.addr().get() & FOREIGN != 0;
        let tagged = entries.iter().filter(|r| foreign(r)).count();
        let arena = match tagged {
            0 => self.arena(),
            n if n == entries.len() => {
                // All of other arenas: only if all of the same one.
                let first = self.untagged(&entries[0]).header().arena;
                if entries
                    .iter()
                    .any(|r| self.untagged(r).header().arena != first)
                {
                    return false;
                }
                first
            }
            _ => return false,
        };
        // A depot holds valid regions: untag (and, if it declines, tag again).
        let set_tags = |entries: &mut Vec<Region>, bit: usize| {
            if tagged > 0 {
                for r in entries.iter_mut() {
                    r.chunk = self.untagged(r).chunk.map_addr(|a| a | bit);
                }
            }
        };
        set_tags(entries, 0);
        if !arenas.get(arena).deposit(&arenas.env, class, entries) {
            set_tags(entries, FOREIGN);
            return false;
        }
        self.by_arena[arena as usize].sub(tagged * size);
        true
    }

    /// A parked entry with [`FOREIGN`] cleared, for reading its header.
    fn untagged(&self, entry: &Region) -> Region {
        Region {
            ptr: entry.ptr,
            // SAFETY: a parked chunk address with at most `FOREIGN` added:
            // the header's, non-null.
            chunk: unsafe {
                NonNull::new_unchecked(entry.chunk.as_ptr().map_addr(|a| a & !FOREIGN))
            },
        }
    }

    /// Entered. Regions leaving the bin of `class` for their arenas, as
    /// valid regions (see [`unpark_one`](Self::unpark_one)).
    fn unpark<'a>(
        &'a self,
        class: ClassIdx,
        entries: impl Iterator<Item = Region> + 'a,
    ) -> impl Iterator<Item = Region> + 'a {
        let size = self.bins[class as usize].size;
        entries.map(move |r| self.unpark_one(r, size))
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

#[cfg(test)]
impl ThreadCache {
    /// Bytes of room this cache's large bins reserved in the pool-wide
    /// bound.
    pub(crate) fn reserved_large(&self) -> usize {
        self.bins
            .iter()
            .filter(|b| b.large.is_some())
            .map(|b| {
                assert!(
                    b.len.get() <= b.limit.get(),
                    "a large bin parks within its room"
                );
                b.limit.get() * b.size
            })
            .sum()
    }
}
