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

use crate::backing::Memory;
use crate::bitmap::Bitmap;
use crate::chunk::{page_addr, ChunkHeader, PageRuns};
use crate::chunk_list::{ChunkGroups, Group, Place, SEARCH_ORDER};
use crate::handle::Handle;
use crate::metrics::ArenaStats;
use crate::pool::PoolInner;
use crate::region::Region;
use crate::size_class::{ClassIdx, Kind};
use crate::subpage::{Subpage, NOT_AVAIL};
use crate::sync::atomic::AtomicUsize;
use crate::sync::Mutex;
use std::ptr::NonNull;

/// Why an arena could not serve a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Reserving `needed` more bytes would take `used` past `max_memory`.
    OverLimit {
        /// `used_bytes` the refusal was decided on.
        used: usize,
        /// Bytes the request needed to reserve (a chunk, recommitted
        /// pages, a huge mapping).
        needed: usize,
    },
    /// The system refused a new chunk.
    OutOfMemory,
}

/// One arena.
#[derive(Debug)]
pub(crate) struct Arena {
    /// Position in `pool.arenas`.
    pub(crate) index: u32,
    /// Threads bound to this arena.
    pub(crate) threads: AtomicUsize,
    /// Counters, read lock-free.
    pub(crate) stats: ArenaStats,
    state: Mutex<ArenaState>,
}

#[derive(Debug)]
struct ArenaState {
    /// Chunk table; `None` slots are reused.
    chunks: Vec<Option<ChunkState>>,
    free_slots: Vec<u32>,
    groups: ChunkGroups,
    /// Per small class: subpages with at least one free element.
    avail: Box<[Vec<SubpageRef>]>,
    /// Retired subpages whose tables are reused by the next ones.
    #[allow(clippy::vec_box)] // boxes move to and from chunk slots without reallocating
    spare_subpages: Vec<Box<Subpage>>,
}

/// Retired subpages an arena keeps for reuse.
const SPARE_SUBPAGES: usize = 64;

/// Where a subpage lives: chunk slot and run start page.
#[derive(Debug, Clone, Copy)]
struct SubpageRef {
    slot: u32,
    start: u32,
}

#[derive(Debug)]
struct ChunkState {
    /// Owned: from `Box::into_raw`, freed by `destroy_chunk`. Buffers hold
    /// raw pointers to it, so the arena never takes `&mut` to it.
    header: NonNull<ChunkHeader>,
    runs: PageRuns,
    /// At a subpage run's first page: its subpage.
    subpages: Box<[Option<Box<Subpage>>]>,
    place: Place,
    /// Pool epoch (trimmer ticks) of the last allocation or release here.
    touched: u64,
    /// Pages given back with `madvise` (set) and not re-committed since.
    purged: Bitmap,
    purged_pages: u32,
}

/// Which chunks a trim pass may touch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// Every chunk (`Pool::trim`, the cap).
    All,
    /// Chunks untouched since this epoch or earlier (the decay policy).
    IdleSince(u64),
}

impl Scope {
    /// Whether something last used in epoch `touched` is in scope.
    pub(crate) fn covers(self, touched: u64) -> bool {
        match self {
            Scope::All => true,
            Scope::IdleSince(epoch) => touched <= epoch,
        }
    }
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

// SAFETY: the header pointer is an owned allocation whose shared parts are
// `Sync` (memory block, atomics, an `Arc`); the rest is plain data.
unsafe impl Send for ChunkState {}

impl Arena {
    pub(crate) fn new(index: u32, small_classes: usize) -> Arena {
        Arena {
            index,
            threads: AtomicUsize::new(0),
            stats: ArenaStats::default(),
            state: Mutex::new(ArenaState {
                chunks: Vec::new(),
                free_slots: Vec::new(),
                groups: ChunkGroups::default(),
                avail: (0..small_classes).map(|_| Vec::new()).collect(),
                spare_subpages: Vec::new(),
            }),
        }
    }

    /// Takes the lock; a thread that finds it held notes the contention
    /// (thread-locally: it is that thread's signal to move, see
    /// `PoolInner::spread`).
    #[inline]
    fn lock(&self) -> crate::sync::MutexGuard<'_, ArenaState> {
        match self.state.try_lock() {
            Some(guard) => guard,
            None => {
                crate::local::note_contention();
                self.state.lock()
            }
        }
    }

    /// Allocates one region of class `class` (counted as an allocation).
    pub(crate) fn allocate(&self, pool: &PoolInner, class: ClassIdx) -> Result<Region, Refused> {
        let mut st = self.lock();
        let region = st.allocate(self, pool, class)?;
        self.stats.allocated(pool, class, true);
        Ok(region)
    }

    /// Like [`allocate`](Self::allocate), and under the same lock parks up
    /// to `extra` more regions of `class` in `bin` (a thread cache refill;
    /// those are not counted as allocations, and a failure among them only
    /// ends the refill).
    pub(crate) fn allocate_fill(
        &self,
        pool: &PoolInner,
        class: ClassIdx,
        extra: usize,
        bin: &mut Vec<Region>,
    ) -> Result<Region, Refused> {
        let mut st = self.lock();
        let region = st.allocate(self, pool, class)?;
        self.stats.allocated(pool, class, true);
        for _ in 0..extra.min(bin.capacity() - bin.len()) {
            match st.allocate(self, pool, class) {
                Ok(r) => {
                    self.stats.allocated(pool, class, false);
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
        pool: &PoolInner,
        region: Region,
        class: ClassIdx,
        count: bool,
    ) -> Option<(NonNull<ChunkHeader>, usize)> {
        let mut st = self.lock();
        st.free(self, pool, region, class, count)
    }

    /// Takes back the leading regions of `regions` (all of class `class`)
    /// that belong to this arena, under one lock (uncounted: thread-cache
    /// flushes). Destroyable chunks are pushed to `doomed`.
    pub(crate) fn free_run_of<I: Iterator<Item = Region>>(
        &self,
        pool: &PoolInner,
        class: ClassIdx,
        regions: &mut std::iter::Peekable<I>,
        doomed: &mut Vec<(NonNull<ChunkHeader>, usize)>,
    ) {
        let mut st = self.lock();
        while let Some(region) = regions.next_if(|r| r.header().arena == self.index) {
            doomed.extend(st.free(self, pool, region, class, false));
        }
    }

    /// Gives back what `scope` covers: empty chunks are removed (the caller
    /// destroys them after this returns), and free page runs of mmap-backed
    /// chunks that stay are purged.
    pub(crate) fn trim(&self, pool: &PoolInner, scope: Scope) -> ArenaTrim {
        let mut st = self.lock();
        let mut out = ArenaTrim::default();
        // An empty subpage (kept as its class's last) pins its chunk; let go
        // of such subpages first, in chunks the scope covers.
        for class in 0..st.avail.len() {
            let candidates: Vec<SubpageRef> = st.avail[class].clone();
            for sref in candidates {
                let touched = st.chunk(sref.slot).touched;
                let sub = st.subpage(sref);
                if sub.is_empty() && scope.covers(touched) {
                    let pages = sub.run_pages;
                    st.unlist_subpage(sref);
                    st.retire_subpage(sref);
                    st.chunk_mut(sref.slot).runs.free(sref.start, pages);
                    st.regroup(sref.slot);
                }
            }
        }
        let empty: Vec<u32> = st.groups.list(Group::Empty).to_vec();
        for slot in empty {
            if scope.covers(st.chunk(slot).touched) {
                out.chunks.push(st.remove_chunk(self, pool, slot));
            }
        }
        for slot in 0..st.chunks.len() as u32 {
            let Some(chunk) = st.chunks[slot as usize].as_ref() else {
                continue;
            };
            if scope.covers(chunk.touched) && chunk.runs.free_pages() > chunk.purged_pages {
                out.purged_bytes += st.purge_free_runs(self, pool, slot);
            }
        }
        if out.purged_bytes > 0 {
            pool.unreserve(out.purged_bytes);
        }
        out
    }

    /// Number of chunks held.
    pub(crate) fn chunk_count(&self) -> usize {
        self.stats.chunks.get()
    }

    /// Checks every chunk's and subpage's invariants.
    #[cfg(any(test, feature = "debug-checks"))]
    pub(crate) fn validate(&self) {
        let st = self.state.lock();
        for chunk in st.chunks.iter().flatten() {
            chunk.runs.validate();
            for sub in chunk.subpages.iter().flatten() {
                sub.validate();
            }
        }
        assert_eq!(st.groups.len(), st.chunks.iter().flatten().count());
    }
}

impl ArenaState {
    fn allocate(
        &mut self,
        arena: &Arena,
        pool: &PoolInner,
        class: ClassIdx,
    ) -> Result<Region, Refused> {
        if pool.classes.kind(class) == Kind::Small {
            return self.allocate_small(arena, pool, class);
        }
        let pages = pool.classes.run_pages(class);
        let (slot, start) = self.allocate_run(arena, pool, pages)?;
        let header = self.chunk(slot).header;
        // SAFETY: headers of live chunks are valid (owned by the table).
        let base = unsafe { header.as_ref() }.base;
        Ok(Region {
            ptr: page_addr(base, start, pool.classes.page_size()),
            chunk: header,
        })
    }

    fn free(
        &mut self,
        arena: &Arena,
        pool: &PoolInner,
        region: Region,
        class: ClassIdx,
        count: bool,
    ) -> Option<(NonNull<ChunkHeader>, usize)> {
        arena.stats.freed(pool, class, count);
        let header = region.header();
        let handle = header.handle_of(region.ptr, class, &pool.classes);
        let slot = header.slot;
        // A user's release is use; a cache flush (uncounted) only returns
        // what was already idle, and must not make its chunk look busy for
        // another period.
        if count {
            self.touch(pool, slot);
        }
        if handle.is_subpage() {
            self.free_element(arena, pool, slot, handle)
        } else {
            self.free_run(arena, pool, slot, handle.run_start(), handle.run_pages())
        }
    }

    fn chunk(&self, slot: u32) -> &ChunkState {
        self.chunks[slot as usize]
            .as_ref()
            .expect("live chunk slot")
    }

    fn chunk_mut(&mut self, slot: u32) -> &mut ChunkState {
        self.chunks[slot as usize]
            .as_mut()
            .expect("live chunk slot")
    }

    fn subpage(&mut self, sref: SubpageRef) -> &mut Subpage {
        self.chunk_mut(sref.slot).subpages[sref.start as usize]
            .as_deref_mut()
            .expect("subpage at run start")
    }

    fn allocate_small(
        &mut self,
        arena: &Arena,
        pool: &PoolInner,
        class: ClassIdx,
    ) -> Result<Region, Refused> {
        let sref = match self.avail[class as usize].last() {
            Some(&sref) => sref,
            None => {
                let (pages, elems) = pool.classes.subpage_run(class);
                let (slot, start) = self.allocate_run(arena, pool, pages)?;
                let size = pool.classes.size(class);
                let sub = match self.spare_subpages.iter().position(|s| s.fits(elems)) {
                    Some(i) => {
                        let mut sub = self.spare_subpages.swap_remove(i);
                        sub.reinit(class, size, pages, elems);
                        sub
                    }
                    None => Box::new(Subpage::new(class, size, pages, elems)),
                };
                // SAFETY: headers of live chunks are valid (owned by the table).
                unsafe { self.chunk(slot).header.as_ref() }.map_subpage(
                    start,
                    pages,
                    sub.first_ref_slot(),
                );
                self.chunk_mut(slot).subpages[start as usize] = Some(sub);
                let sref = SubpageRef { slot, start };
                self.list_subpage(sref);
                sref
            }
        };
        self.touch(pool, sref.slot);
        let header = self.chunk(sref.slot).header;
        let sub = self.subpage(sref);
        let elem = sub.allocate().expect("listed subpages have a free element");
        let offset = elem as usize * sub.elem_size as usize;
        if sub.free == 0 {
            self.unlist_subpage(sref);
        }
        // SAFETY: headers of live chunks are valid (owned by the table).
        let base = unsafe { header.as_ref() }.base;
        let run = page_addr(base, sref.start, pool.classes.page_size());
        Ok(Region {
            // SAFETY: `elem < elems`, so `offset + size <= run length`, and the
            // run lies inside the chunk.
            ptr: unsafe { run.add(offset) },
            chunk: header,
        })
    }

    /// Finds `pages` free pages, mapping a new chunk if no chunk has room.
    fn allocate_run(
        &mut self,
        arena: &Arena,
        pool: &PoolInner,
        pages: u32,
    ) -> Result<(u32, u32), Refused> {
        let found = SEARCH_ORDER.iter().find_map(|&group| {
            (0..self.groups.list(group).len()).find_map(|i| {
                let slot = self.groups.list(group)[i];
                let start = self.chunk_mut(slot).runs.allocate(pages)?;
                Some((slot, start))
            })
        });
        let (slot, start) = match found {
            Some(found) => found,
            None => {
                let slot = self.add_chunk(arena, pool)?;
                let start = self
                    .chunk_mut(slot)
                    .runs
                    .allocate(pages)
                    .expect("a new chunk fits any normal run");
                (slot, start)
            }
        };
        if let Err(refused) = self.recommit(arena, pool, slot, start, pages) {
            self.chunk_mut(slot).runs.free(start, pages);
            return Err(refused);
        }
        self.regroup(slot);
        self.touch(pool, slot);
        Ok((slot, start))
    }

    /// Counts purged pages of a run being handed out as committed again
    /// (the kernel faults them back in, zeroed): they are `used` once more,
    /// so they reserve against `max_memory` like a new chunk would.
    fn recommit(
        &mut self,
        arena: &Arena,
        pool: &PoolInner,
        slot: u32,
        start: u32,
        pages: u32,
    ) -> Result<(), Refused> {
        let chunk = self.chunk_mut(slot);
        if chunk.purged_pages == 0 {
            return Ok(());
        }
        let range = start as usize..(start + pages) as usize;
        let count = range.clone().filter(|&p| chunk.purged.get(p)).count();
        if count == 0 {
            return Ok(());
        }
        let bytes = count * pool.classes.page_size();
        pool.reserve(bytes)?;
        // The kernel faults the pages in on first write, after this.
        pool.holds_memory(bytes);
        let chunk = self.chunk_mut(slot);
        range.for_each(|p| chunk.purged.clear(p));
        chunk.purged_pages -= count as u32;
        arena.stats.used_bytes.add(bytes);
        Ok(())
    }

    /// Purges the not-yet-purged pages of every free run of chunk `slot`
    /// (mmap backing only); returns the bytes given back. The caller
    /// unreserves them from the pool.
    fn purge_free_runs(&mut self, arena: &Arena, pool: &PoolInner, slot: u32) -> usize {
        let page = pool.classes.page_size();
        let chunk = self.chunk_mut(slot);
        // SAFETY: headers of live chunks are valid (owned by the table).
        let header = unsafe { chunk.header.as_ref() };
        let mut purged = 0;
        for (start, len) in chunk.runs.free_runs() {
            let mut p = start;
            while p < start + len {
                if chunk.purged.get(p as usize) {
                    p += 1;
                    continue;
                }
                let from = p;
                while p < start + len && !chunk.purged.get(p as usize) {
                    p += 1;
                }
                let bytes = (p - from) as usize * page;
                let advised = header
                    .memory
                    .purge(from as usize * page, bytes, pool.config.os_page);
                if let Some((offset, len)) = advised {
                    // Only pool pages wholly inside the advised range are
                    // zeroed (all of them: a built pool's page is a multiple
                    // of the OS page, see `PoolBuilder::build`).
                    let first = offset.div_ceil(page) as u32;
                    let end = ((offset + len) / page) as u32;
                    (first..end).for_each(|q| chunk.purged.set(q as usize));
                    chunk.purged_pages += end.saturating_sub(first);
                    purged += end.saturating_sub(first) as usize * page;
                }
            }
        }
        arena.stats.used_bytes.sub(purged);
        pool.released_memory(purged);
        purged
    }

    fn touch(&mut self, pool: &PoolInner, slot: u32) {
        self.chunk_mut(slot).touched = pool.epoch();
    }

    fn add_chunk(&mut self, arena: &Arena, pool: &PoolInner) -> Result<u32, Refused> {
        let size = pool.classes.chunk_size();
        pool.reserve(size)?;
        let Some(memory) = Memory::allocate(pool.config.backing, size, pool.classes.page_size())
        else {
            pool.unreserve(size);
            return Err(Refused::OutOfMemory);
        };
        pool.holds_memory(size);
        let pages = (size / pool.classes.page_size()) as u32;
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.chunks.push(None);
                (self.chunks.len() - 1) as u32
            }
        };
        // Free pooled memory is unaddressable for ASan until handed out.
        #[cfg(feature = "asan")]
        crate::asan::poison(memory.as_ptr().as_ptr(), memory.len());
        let page_shift = pool.classes.page_size().trailing_zeros();
        let header = Box::new(ChunkHeader::new(
            memory,
            pages,
            page_shift,
            arena.index,
            slot,
            pool.strong(),
        ));
        let place = self.groups.insert(slot, Group::Empty);
        self.chunks[slot as usize] = Some(ChunkState {
            header: NonNull::from(Box::leak(header)),
            runs: PageRuns::new(pages),
            subpages: (0..pages).map(|_| None).collect(),
            place,
            touched: pool.epoch(),
            purged: Bitmap::new(pages as usize),
            purged_pages: 0,
        });
        arena.stats.chunk_added(size);
        Ok(slot)
    }

    /// Unlinks chunk `slot` from the arena and hands its header to the caller.
    fn remove_chunk(
        &mut self,
        arena: &Arena,
        pool: &PoolInner,
        slot: u32,
    ) -> (NonNull<ChunkHeader>, usize) {
        let chunk = self.chunks[slot as usize].take().expect("live chunk slot");
        debug_assert_eq!(chunk.runs.free_pages(), chunk.runs.pages());
        if let Some(moved) = self.groups.remove(chunk.place) {
            self.chunk_mut(moved).place.pos = chunk.place.pos;
        }
        self.free_slots.push(slot);
        let committed =
            pool.classes.chunk_size() - chunk.purged_pages as usize * pool.classes.page_size();
        arena.stats.chunk_removed(committed);
        (chunk.header, committed)
    }

    /// Moves chunk `slot` to the group its usage now calls for.
    fn regroup(&mut self, slot: u32) {
        let chunk = self.chunk(slot);
        let group = Group::of(chunk.runs.free_pages(), chunk.runs.pages());
        let place = chunk.place;
        if group == place.group {
            return;
        }
        if let Some(moved) = self.groups.remove(place) {
            self.chunk_mut(moved).place.pos = place.pos;
        }
        let new_place = self.groups.insert(slot, group);
        self.chunk_mut(slot).place = new_place;
    }

    /// Unhooks an empty subpage from its run, keeping its tables for reuse.
    fn retire_subpage(&mut self, sref: SubpageRef) {
        let sub = self.chunk_mut(sref.slot).subpages[sref.start as usize].take();
        if let Some(sub) = sub.filter(|_| self.spare_subpages.len() < SPARE_SUBPAGES) {
            self.spare_subpages.push(sub);
        }
    }

    fn list_subpage(&mut self, sref: SubpageRef) {
        let class = self.subpage(sref).class as usize;
        self.avail[class].push(sref);
        let pos = (self.avail[class].len() - 1) as u32;
        self.subpage(sref).avail_pos = pos;
    }

    fn unlist_subpage(&mut self, sref: SubpageRef) {
        let sub = self.subpage(sref);
        let (class, pos) = (sub.class as usize, sub.avail_pos);
        sub.avail_pos = NOT_AVAIL;
        let list = &mut self.avail[class];
        list.swap_remove(pos as usize);
        if let Some(&moved) = list.get(pos as usize) {
            self.subpage(moved).avail_pos = pos;
        }
    }

    fn free_element(
        &mut self,
        arena: &Arena,
        pool: &PoolInner,
        slot: u32,
        handle: Handle,
    ) -> Option<(NonNull<ChunkHeader>, usize)> {
        let sref = SubpageRef {
            slot,
            start: handle.run_start(),
        };
        let sub = self.subpage(sref);
        sub.free(handle.elem());
        let (was_full, empty, class) = (sub.free == 1, sub.is_empty(), sub.class as usize);
        if was_full {
            self.list_subpage(sref);
        }
        // Keep the last subpage of a class even when empty: a steady
        // alloc/free of one size must not cut and return a run every time.
        if empty && (self.avail[class].len() > 1 || pool.is_closed()) {
            self.unlist_subpage(sref);
            self.retire_subpage(sref);
            return self.free_run(arena, pool, slot, handle.run_start(), handle.run_pages());
        }
        None
    }

    fn free_run(
        &mut self,
        arena: &Arena,
        pool: &PoolInner,
        slot: u32,
        start: u32,
        pages: u32,
    ) -> Option<(NonNull<ChunkHeader>, usize)> {
        self.chunk_mut(slot).runs.free(start, pages);
        self.regroup(slot);
        // After the last `Pool` handle is gone nothing will reuse an empty
        // chunk: give it back at once.
        if pool.is_closed() && self.chunk(slot).place.group == Group::Empty {
            return Some(self.remove_chunk(arena, pool, slot));
        }
        None
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
    let ChunkHeader { memory, pool, .. } = *header;
    // Unmap first, then give the bytes back to the cap: `max_memory` is a
    // promise about memory the process holds, so no other thread may map a
    // new chunk in its place while this one still exists. The pool goes
    // last (this may free it).
    drop(memory);
    pool.released_memory(committed);
    pool.unreserve(committed);
    drop(pool);
}

/// Counter helpers used above.
impl ArenaStats {
    fn allocated(&self, pool: &PoolInner, class: ClassIdx, count: bool) {
        self.active_bytes.add(pool.classes.size(class));
        if count {
            self.allocations[(pool.classes.kind(class) == Kind::Normal) as usize].add(1);
        }
    }

    fn freed(&self, pool: &PoolInner, class: ClassIdx, count: bool) {
        self.active_bytes.sub(pool.classes.size(class));
        if count {
            self.deallocations[(pool.classes.kind(class) == Kind::Normal) as usize].add(1);
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
