//! An arena: a lock, the chunks it owns, and the subpages it has cut.
//!
//! ```text
//!            Arena (one Mutex)
//!   ┌──────────────┴───────────────────┐
//!   groups: Empty Q0 Q25 Q50 Q75 Full  avail[class]: subpages with free slots
//!     │                                  │
//!   chunk ─ PageRuns ── run ── run ── subpage(class 1 KiB) ─ elements
//! ```
//!
//! Allocation of a normal class: search the usage groups (fuller first, see
//! `chunk_list.rs`) for a chunk whose page runs fit, else map a new chunk.
//! Allocation of a small class: take the last subpage of `avail[class]`,
//! else cut a new subpage out of a fresh run. Release reverses it; a subpage
//! that empties returns its run (the last one of its class is kept, so a
//! steady alloc/free of one size never re-cuts runs), and a chunk that
//! empties moves to `Empty`, where trimming can find it.
//!
//! Lock discipline: all run and subpage tables are touched only under the
//! arena lock; chunks are destroyed (unmapped, and their pool reference
//! dropped) only after it is released, because dropping the last pool
//! reference frees this very arena.
//!
//! Counters are atomics written under the lock (single writer at a time)
//! and read without it by `metrics()`.
//!
//! Owns its chunks (their page runs, subpages and headers) and its
//! counters. Calls the layers below — `chunk`, `subpage`, `chunk_list`,
//! `region`, `backing` — and, through the [`Env`] it is handed on every
//! call, the budget and the clock; never a pool. Called by the arena set
//! (`set.rs`), the thread caches and the heap.
//!
//! Files: `mod.rs` — one arena's entry points (each takes the lock);
//! `tables.rs` — the chunk table and subpage lists behind the lock;
//! `depot.rs` — full thread-cache bins handed over whole;
//! `set.rs` — the arenas of a pool, what they share ([`Env`]), and
//! thread binding.

mod depot;
mod set;
mod tables;

pub(crate) use self::set::{Arenas, Env};

use self::tables::ArenaState;
use crate::backing::Memory;
use crate::budget::Refused;
use crate::chunk::{ChunkHeader, Owner};
use crate::clock::Scope;
use crate::counter::Counter;
use crate::region::Region;
use crate::size_class::{ClassIdx, Kind};
use crate::sync::atomic::AtomicUsize;
use crate::sync::{Arc, Mutex};
use std::cell::Cell;
use std::ptr::NonNull;

/// One arena.
#[derive(Debug)]
pub(crate) struct Arena {
    /// Position in the pool's arena set.
    pub(crate) index: u32,
    /// Threads bound to this arena.
    pub(crate) threads: AtomicUsize,
    /// Counters, read lock-free.
    pub(crate) stats: ArenaStats,
    state: Mutex<ArenaState>,
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
    /// Bytes of full thread-cache bins in the depot (handed out, parked).
    pub(crate) depot_bytes: Counter,
}

/// What an arena trim pass gave back.
#[derive(Debug, Default)]
pub(crate) struct ArenaTrim {
    /// Chunks removed, with their committed bytes, for the caller to destroy
    /// (after the lock is released).
    pub(crate) chunks: Vec<(NonNull<ChunkHeader>, usize)>,
    /// Bytes purged from free runs of chunks that stay.
    pub(crate) purged_bytes: usize,
}

crate::sync::thread_locals! {
    static CONTENDED: Cell<u32> = Cell::new(0);
}

/// Lock contentions the calling thread met since the last call (its signal
/// to move to another arena, see `ThreadCache::spread`).
pub(crate) fn take_contention() -> u32 {
    CONTENDED.try_with(|c| c.replace(0)).unwrap_or(0)
}

impl Arena {
    pub(crate) fn new(index: u32, small_classes: usize) -> Arena {
        Arena {
            index,
            threads: AtomicUsize::new(0),
            stats: ArenaStats::default(),
            state: Mutex::new(ArenaState::new(small_classes)),
        }
    }

    /// Takes the lock; a thread that finds it held notes the contention
    /// (thread-locally: it is that thread's signal to move, see
    /// `ThreadCache::spread`).
    #[inline]
    fn lock(&self) -> crate::sync::MutexGuard<'_, ArenaState> {
        match self.state.try_lock() {
            Some(guard) => guard,
            None => {
                let _ = CONTENDED.try_with(|c| c.set(c.get().saturating_add(1)));
                self.state.lock()
            }
        }
    }

    /// Allocates one region of class `class` (counted as an allocation).
    pub(crate) fn allocate(&self, env: &Env, class: ClassIdx) -> Result<Region, Refused> {
        let mut st = self.lock();
        let region = st.allocate(self, env, class)?;
        self.stats.allocated(env, class, true);
        Ok(region)
    }

    /// Like [`allocate`](Self::allocate), and under the same lock parks up
    /// to `extra` more regions of `class` in `bin` (a thread cache refill;
    /// those are not counted as allocations, and a failure among them only
    /// ends the refill). A full bin in the depot is taken whole instead:
    /// `bin` (empty) becomes it, with no region cut or returned.
    pub(crate) fn allocate_fill(
        &self,
        env: &Env,
        class: ClassIdx,
        extra: usize,
        bin: &mut Vec<Region>,
    ) -> Result<Region, Refused> {
        let mut st = self.lock();
        if let Some(region) = st.depot.withdraw(&self.stats, env, class, bin) {
            // Already handed out (and counted active) when it was cut: a
            // whole bin another thread's cache deposited.
            self.stats.allocations[(env.classes.kind(class) == Kind::Normal) as usize].add(1);
            return Ok(region);
        }
        let region = st.allocate(self, env, class)?;
        self.stats.allocated(env, class, true);
        for _ in 0..extra.min(bin.capacity() - bin.len()) {
            match st.allocate(self, env, class) {
                Ok(r) => {
                    self.stats.allocated(env, class, false);
                    bin.push(r);
                }
                Err(_) => break,
            }
        }
        Ok(region)
    }

    /// Takes back a region of class `class` of this arena; `count` says
    /// whether it is a deallocation by a user (not a thread-cache flush).
    /// Returns a chunk that became empty and must be destroyed (with
    /// [`destroy_chunk`]) by the caller, after this call and without
    /// touching the pool afterwards.
    pub(crate) fn free(
        &self,
        env: &Env,
        region: Region,
        class: ClassIdx,
        count: bool,
    ) -> Option<(NonNull<ChunkHeader>, usize)> {
        let mut st = self.lock();
        st.free(self, env, region, class, count)
    }

    /// Takes a full thread-cache bin of `class` whole — every region in it
    /// from this arena — for a later refill of another thread's bin: a
    /// thread that releases what others allocated (a consumer) hands its
    /// bins to the allocating thread without freeing and re-cutting each
    /// region under the lock. `bin` becomes an empty vector (a spare, so
    /// no allocation in steady state). `false` if the depot is full or the
    /// pool closed; the trim policy gives deposited bins back like cached
    /// ones.
    pub(crate) fn deposit(&self, env: &Env, class: ClassIdx, bin: &mut Vec<Region>) -> bool {
        debug_assert!(bin.iter().all(|r| r.header().arena == self.index));
        self.lock().depot.deposit(&self.stats, env, class, bin)
    }

    /// Takes back the leading regions of `regions` (all of class `class`)
    /// that belong to this arena, under one lock (uncounted: thread-cache
    /// flushes). Destroyable chunks are pushed to `doomed`.
    pub(crate) fn free_run_of<I: Iterator<Item = Region>>(
        &self,
        env: &Env,
        class: ClassIdx,
        regions: &mut std::iter::Peekable<I>,
        doomed: &mut Vec<(NonNull<ChunkHeader>, usize)>,
    ) {
        let mut st = self.lock();
        while let Some(region) = regions.next_if(|r| r.header().arena == self.index) {
            doomed.extend(st.free(self, env, region, class, false));
        }
    }

    /// Gives back what `scope` covers: empty chunks are removed (the caller
    /// destroys them after this returns), and free page runs of mmap-backed
    /// chunks that stay are purged.
    pub(crate) fn trim(&self, env: &Env, scope: Scope) -> ArenaTrim {
        self.lock().trim(self, env, scope)
    }

    /// Number of chunks held.
    pub(crate) fn chunk_count(&self) -> usize {
        self.stats.chunks.get()
    }

    /// Checks every chunk's and subpage's invariants.
    #[cfg(any(test, feature = "debug-checks"))]
    pub(crate) fn validate(&self) {
        self.state.lock().validate();
    }
}

/// Frees a chunk removed from its arena: unmaps its memory, releases its
/// `committed` bytes of `used_bytes` and its pool reference.
///
/// # Safety
/// `header` came from `Arena::free` or `Arena::trim` (with `committed`)
/// and is destroyed once; no region of it is outstanding. The caller must
/// not use any reference derived from the chunk's pool afterwards (this may
/// free it).
pub(crate) unsafe fn destroy_chunk(header: NonNull<ChunkHeader>, committed: usize) {
    // SAFETY: per the contract, the header is owned by us now (it was leaked
    // from a `Box` in `add_chunk` and unlinked from the table).
    let header = unsafe { Box::from_raw(header.as_ptr()) };
    #[cfg(feature = "asan")]
    crate::asan::unpoison(header.base.as_ptr(), header.memory.len());
    let ChunkHeader { memory, owner, .. } = *header;
    release_memory(memory, committed, owner);
}

/// Unmaps `memory`, then gives its `committed` bytes back to the owner's
/// budget, then lets go of the owner (a chunk's or huge mapping's last
/// steps). Unmap first: `max_memory` is a promise about memory the process
/// holds, so no other thread may map new memory in its place while this
/// still exists. The owner goes last (this may free it).
pub(crate) fn release_memory(memory: Memory, committed: usize, owner: Arc<dyn Owner>) {
    drop(memory);
    owner.budget().released_memory(committed);
    owner.budget().unreserve(committed);
    drop(owner);
}

/// Counter helpers used above.
impl ArenaStats {
    fn allocated(&self, env: &Env, class: ClassIdx, count: bool) {
        self.active_bytes.add(env.classes.size(class));
        if count {
            self.allocations[(env.classes.kind(class) == Kind::Normal) as usize].add(1);
        }
    }

    fn freed(&self, env: &Env, class: ClassIdx, count: bool) {
        self.active_bytes.sub(env.classes.size(class));
        if count {
            self.deallocations[(env.classes.kind(class) == Kind::Normal) as usize].add(1);
        }
    }

    fn chunk_added(&self, size: usize) {
        self.chunks.add(1);
        self.used_bytes.add(size);
    }

    fn chunk_removed(&self, size: usize) {
        self.chunks.sub(1);
        self.used_bytes.sub(size);
    }
}
