//! The tables behind an arena's lock: its chunk table, usage groups and
//! per-class lists of subpages with free elements.
//!
//! ```text
//!  chunks[slot] ─▶ ChunkState { header, runs: PageRuns, subpages[page], place, touched, purged }
//!  avail[class] ─▶ [ SubpageRef{slot, start}, … ]   (the last one is used first)
//!  free_slots   ─▶ slots of destroyed chunks, reused
//! ```
//!
//! Everything here is plain data mutated under the arena lock (`mod.rs`
//! takes it). Calls `chunk`, `subpage`, `chunk_list`, `bitmap`, `backing`
//! and, through [`Env`], the budget and the clock.

use super::depot::Depot;
use super::{Arena, ArenaTrim, Env};
use crate::backing::Memory;
use crate::bitmap::Bitmap;
use crate::budget::Refused;
use crate::chunk::{page_addr, ChunkHeader, PageRuns};
use crate::chunk_list::{ChunkGroups, Group, Place, SEARCH_ORDER};
use crate::clock::Scope;
use crate::handle::Handle;
use crate::region::Region;
use crate::size_class::{ClassIdx, Kind};
use crate::subpage::{Subpage, NOT_AVAIL};
use std::ptr::NonNull;

#[derive(Debug)]
pub(super) struct ArenaState {
    /// Chunk table; `None` slots are reused.
    chunks: Vec<Option<ChunkState>>,
    free_slots: Vec<u32>,
    groups: ChunkGroups,
    /// Per small class: subpages with at least one free element.
    avail: Box<[Vec<SubpageRef>]>,
    /// Retired subpages whose tables are reused by the next ones.
    #[allow(clippy::vec_box)] // boxes move to and from chunk slots without reallocating
    spare_subpages: Vec<Box<Subpage>>,
    /// Full thread-cache bins handed over whole (see `depot.rs`).
    pub(super) depot: Depot,
    /// The chunk a large run was last freed in (its pages are warm).
    last_freed: Option<u32>,
}

/// Runs of at least this many pages (512 KiB in 8 KiB pages, a sixteenth
/// of the default chunk) go back where the last one was freed, if they fit
/// there.
const LARGE_RUN_PAGES: u32 = 64;

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

// SAFETY: the header pointer is an owned allocation whose shared parts are
// `Sync` (memory block, atomics, an `Arc`); the rest is plain data.
unsafe impl Send for ChunkState {}

impl ArenaState {
    pub(super) fn new(small_classes: usize) -> ArenaState {
        ArenaState {
            chunks: Vec::new(),
            free_slots: Vec::new(),
            groups: ChunkGroups::default(),
            avail: (0..small_classes).map(|_| Vec::new()).collect(),
            spare_subpages: Vec::new(),
            depot: Depot::default(),
            last_freed: None,
        }
    }

    pub(super) fn trim(&mut self, arena: &Arena, env: &Env, scope: Scope) -> ArenaTrim {
        let st = self;
        let mut out = ArenaTrim::default();
        // Deposited bins first: their regions may empty subpages and chunks.
        for (class, regions) in st.depot.drain(&arena.stats, env, scope) {
            for region in regions {
                out.chunks.extend(st.free(arena, env, region, class, false));
            }
        }
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
                out.chunks.push(st.remove_chunk(arena, env, slot));
            }
        }
        for slot in 0..st.chunks.len() as u32 {
            let Some(chunk) = st.chunks[slot as usize].as_ref() else {
                continue;
            };
            if scope.covers(chunk.touched) && chunk.runs.free_pages() > chunk.purged_pages {
                out.purged_bytes += st.purge_free_runs(arena, env, slot);
            }
        }
        if out.purged_bytes > 0 {
            env.budget.unreserve(out.purged_bytes);
        }
        out
    }

    /// Checks every chunk's and subpage's invariants.
    #[cfg(any(test, feature = "debug-checks"))]
    pub(super) fn validate(&self) {
        for chunk in self.chunks.iter().flatten() {
            chunk.runs.validate();
            for sub in chunk.subpages.iter().flatten() {
                sub.validate();
            }
        }
        assert_eq!(self.groups.len(), self.chunks.iter().flatten().count());
    }

    pub(super) fn allocate(
        &mut self,
        arena: &Arena,
        env: &Env,
        class: ClassIdx,
    ) -> Result<Region, Refused> {
        if env.classes.kind(class) == Kind::Small {
            return self.allocate_small(arena, env, class);
        }
        let pages = env.classes.run_pages(class);
        let (slot, start) = self.allocate_run(arena, env, pages)?;
        let header = self.chunk(slot).header;
        // SAFETY: headers of live chunks are valid (owned by the table).
        let hdr = unsafe { header.as_ref() };
        hdr.map_run(start, pages);
        let base = hdr.base;
        Ok(Region {
            ptr: page_addr(base, start, env.classes.page_size()),
            chunk: header,
        })
    }

    pub(super) fn free(
        &mut self,
        arena: &Arena,
        env: &Env,
        region: Region,
        class: ClassIdx,
        count: bool,
    ) -> Option<(NonNull<ChunkHeader>, usize)> {
        arena.stats.freed(env, class, count);
        let header = region.header();
        let handle = header.handle_of(region.ptr, class, &env.classes);
        let slot = header.slot;
        // A user's release is use; a cache flush (uncounted) only returns
        // what was already idle, and must not make its chunk look busy for
        // another period.
        if count {
            self.touch(env, slot);
        }
        if handle.is_subpage() {
            self.free_element(arena, env, slot, handle)
        } else {
            self.free_run(arena, env, slot, handle.run_start(), handle.run_pages())
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
        env: &Env,
        class: ClassIdx,
    ) -> Result<Region, Refused> {
        let sref = match self.avail[class as usize].last() {
            Some(&sref) => sref,
            None => {
                let (pages, elems) = env.classes.subpage_run(class);
                let (slot, start) = self.allocate_run(arena, env, pages)?;
                let size = env.classes.size(class);
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
        self.touch(env, sref.slot);
        let header = self.chunk(sref.slot).header;
        let sub = self.subpage(sref);
        let elem = sub.allocate().expect("listed subpages have a free element");
        let offset = elem as usize * sub.elem_size as usize;
        if sub.free == 0 {
            self.unlist_subpage(sref);
        }
        // SAFETY: headers of live chunks are valid (owned by the table).
        let base = unsafe { header.as_ref() }.base;
        let run = page_addr(base, sref.start, env.classes.page_size());
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
        env: &Env,
        pages: u32,
    ) -> Result<(u32, u32), Refused> {
        // A large run goes where the last large run was freed, if it fits:
        // memory just written is warm in the caches and the TLB.
        let warm = (pages >= LARGE_RUN_PAGES)
            .then_some(self.last_freed)
            .flatten()
            .filter(|&slot| self.chunks[slot as usize].is_some())
            .and_then(|slot| Some((slot, self.chunk_mut(slot).runs.allocate(pages)?)));
        let found = warm.or_else(|| {
            SEARCH_ORDER.iter().find_map(|&group| {
                (0..self.groups.list(group).len()).find_map(|i| {
                    let slot = self.groups.list(group)[i];
                    let start = self.chunk_mut(slot).runs.allocate(pages)?;
                    Some((slot, start))
                })
            })
        });
        let (slot, start) = match found {
            Some(found) => found,
            None => {
                let slot = self.add_chunk(arena, env)?;
                let start = self
                    .chunk_mut(slot)
                    .runs
                    .allocate(pages)
                    .expect("a new chunk fits any normal run");
                (slot, start)
            }
        };
        if let Err(refused) = self.recommit(arena, env, slot, start, pages) {
            self.chunk_mut(slot).runs.free(start, pages);
            return Err(refused);
        }
        self.regroup(slot);
        self.touch(env, slot);
        Ok((slot, start))
    }

    /// Counts purged pages of a run being handed out as committed again
    /// (the kernel faults them back in, zeroed): they are `used` once more,
    /// so they reserve against `max_memory` like a new chunk would.
    fn recommit(
        &mut self,
        arena: &Arena,
        env: &Env,
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
        let bytes = count * env.classes.page_size();
        env.budget.reserve(bytes)?;
        // The kernel faults the pages in on first write, after this.
        env.budget.holds_memory(bytes);
        let chunk = self.chunk_mut(slot);
        range.for_each(|p| chunk.purged.clear(p));
        chunk.purged_pages -= count as u32;
        arena.stats.used_bytes.add(bytes);
        Ok(())
    }

    /// Purges the not-yet-purged pages of every free run of chunk `slot`
    /// (mmap backing only); returns the bytes given back. The caller
    /// unreserves them from the pool.
    fn purge_free_runs(&mut self, arena: &Arena, env: &Env, slot: u32) -> usize {
        let page = env.classes.page_size();
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
                    .purge(from as usize * page, bytes, env.os_page);
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
        env.budget.released_memory(purged);
        purged
    }

    fn touch(&mut self, env: &Env, slot: u32) {
        self.chunk_mut(slot).touched = env.clock.epoch();
    }

    fn add_chunk(&mut self, arena: &Arena, env: &Env) -> Result<u32, Refused> {
        let size = env.classes.chunk_size();
        env.budget.reserve(size)?;
        let Some(memory) = Memory::allocate(env.backing, size, env.classes.page_size()) else {
            env.budget.unreserve(size);
            return Err(Refused::OutOfMemory);
        };
        env.budget.holds_memory(size);
        let pages = (size / env.classes.page_size()) as u32;
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
        let page_shift = env.classes.page_size().trailing_zeros();
        let header = Box::new(ChunkHeader::new(
            memory,
            pages,
            page_shift,
            arena.index,
            slot,
            env.owner(),
        ));
        let place = self.groups.insert(slot, Group::Empty);
        self.chunks[slot as usize] = Some(ChunkState {
            header: NonNull::from(Box::leak(header)),
            runs: PageRuns::new(pages),
            subpages: (0..pages).map(|_| None).collect(),
            place,
            touched: env.clock.epoch(),
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
        env: &Env,
        slot: u32,
    ) -> (NonNull<ChunkHeader>, usize) {
        let chunk = self.chunks[slot as usize].take().expect("live chunk slot");
        debug_assert_eq!(chunk.runs.free_pages(), chunk.runs.pages());
        if let Some(moved) = self.groups.remove(chunk.place) {
            self.chunk_mut(moved).place.pos = chunk.place.pos;
        }
        self.free_slots.push(slot);
        let committed =
            env.classes.chunk_size() - chunk.purged_pages as usize * env.classes.page_size();
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
        env: &Env,
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
        if empty && (self.avail[class].len() > 1 || env.is_closed()) {
            self.unlist_subpage(sref);
            self.retire_subpage(sref);
            return self.free_run(arena, env, slot, handle.run_start(), handle.run_pages());
        }
        None
    }

    fn free_run(
        &mut self,
        arena: &Arena,
        env: &Env,
        slot: u32,
        start: u32,
        pages: u32,
    ) -> Option<(NonNull<ChunkHeader>, usize)> {
        self.chunk_mut(slot).runs.free(start, pages);
        if pages >= LARGE_RUN_PAGES {
            self.last_freed = Some(slot);
        }
        self.regroup(slot);
        // After the last `Pool` handle is gone nothing will reuse an empty
        // chunk: give it back at once.
        if env.is_closed() && self.chunk(slot).place.group == Group::Empty {
            return Some(self.remove_chunk(arena, env, slot));
        }
        None
    }
}
