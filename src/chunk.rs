//! A chunk is `chunk_size` bytes of backing memory cut into pages; a normal
//! request takes a *run* of whole pages.
//!
//! ```text
//! page 0    3         9     12      15
//!      [run][  free   ][run ][ free ]
//!       ^ run_len[0]=3        ^ free-start bit set at 12, run_len[12]=4
//! ```
//!
//! Runs tile the chunk. For every run, `run_len[start]` is its length and
//! `run_start[last page]` points back at its start, so both neighbours of a
//! run are found in O(1). A bitmap marks the start of every free run.
//!
//! Algorithm:
//! 1. `allocate(n)`: walk the free-start bits from page 0 up and take the
//!    first free run with at least `n` pages (lowest address first, which
//!    keeps chunks compact and leaves high pages free to give back); split
//!    off the tail as a new free run.
//! 2. `free(start, n)`: mark the run free and merge it with a free run
//!    directly before and/or after it, so no two free runs ever touch.
//!
//! Invariant (checked by `validate`): `free_pages + Σ used run lengths ==
//! pages`, and no two free runs are adjacent.
//!
//! The run table is plain data mutated under the owning arena's lock. What
//! buffers share without the lock lives in [`ChunkHeader`].
//!
//! Owns a chunk's run table and, in its header, its memory, page maps and
//! the owner reference. Calls `backing`, `bitmap`, `handle`, `size_class`
//! and the budget (through `Owner`). Called by regions, the arenas, huge
//! mappings and the buffers.

use crate::backing::Memory;
use crate::bitmap::Bitmap;
use crate::budget::Budget;
use crate::handle::Handle;
use crate::size_class::{ClassIdx, Kind, SizeClasses, HUGE_CLASS};
use crate::sync::atomic::{AtomicPtr, AtomicU32, Ordering::Relaxed};
use crate::sync::Arc;
use std::ptr::NonNull;

/// What a chunk keeps alive while any of its buffers is: the shared state
/// of the pool it came from (`heap::Heap`, the only implementor), seen here
/// only as far as destroying a chunk needs — the budget its bytes go back
/// to. A chunk knows no pool.
pub(crate) trait Owner: std::any::Any + Send + Sync + std::fmt::Debug {
    /// The reservation this chunk's bytes count against.
    fn budget(&self) -> &Budget;
}

/// `ChunkHeader::arena` of a huge (unpooled) allocation.
pub(crate) const HUGE_ARENA: u32 = u32::MAX;

/// The shared face of a chunk (or of a huge buffer): what a buffer needs to
/// find its memory, its reference count and its way home.
///
/// Boxed once per chunk; buffers hold raw pointers to it. It is freed only
/// when no allocation inside the chunk is outstanding (arena-owned chunks)
/// or when the buffer itself goes (huge).
///
/// The page maps are written under the arena lock before the allocations
/// they describe are handed out, and read by whoever holds such an
/// allocation — which reached them through that lock or through something
/// that synchronises with it (a channel, a join), so Relaxed suffices.
// Aligned so that a buffer can keep its size class and flags in the low
// bits of its header pointer (see `buf/bytes_mut/`): one word for both.
#[derive(Debug)]
#[repr(align(4096))]
pub(crate) struct ChunkHeader {
    /// The chunk's memory.
    pub(crate) memory: Memory,
    /// `memory`'s start, cached beside the maps.
    pub(crate) base: NonNull<u8>,
    /// log2 of the page size.
    pub(crate) page_shift: u32,
    /// Index of the owning arena in `pool.arenas`, or [`HUGE_ARENA`].
    pub(crate) arena: u32,
    /// Slot of this chunk in its arena's chunk table.
    pub(crate) slot: u32,
    /// Reference count of the shared buffer at each run start page (one
    /// entry for a huge buffer).
    pub(crate) run_refs: Box<[AtomicU32]>,
    /// For each page of a run: the run's first page.
    pub(crate) run_of_page: Box<[AtomicU32]>,
    /// For each page of a subpage run: the subpage's reference-count slot of
    /// element 0 (its slots are contiguous).
    pub(crate) elem_refs: Box<[AtomicPtr<AtomicU32>]>,
    /// Keeps arenas and counters alive while any allocation of this chunk is
    /// outstanding, even after the last `Pool` handle is gone.
    pub(crate) owner: Arc<dyn Owner>,
    /// `owner`'s data address, thin: every release goes from a header to
    /// its owner, and the fat `Arc` needs its vtable's alignment (two more
    /// dependent loads) to find the data.
    pub(crate) owner_data: NonNull<()>,
}

impl ChunkHeader {
    /// A header for `memory` cut into `pages` pages (1 for a huge buffer).
    pub(crate) fn new(
        memory: Memory,
        pages: u32,
        page_shift: u32,
        arena: u32,
        slot: u32,
        owner: Arc<dyn Owner>,
    ) -> Self {
        let n = pages as usize;
        ChunkHeader {
            base: memory.as_ptr(),
            memory,
            page_shift,
            arena,
            slot,
            run_refs: (0..n).map(|_| AtomicU32::new(0)).collect(),
            run_of_page: (0..n).map(|_| AtomicU32::new(0)).collect(),
            elem_refs: (0..n)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            owner_data: NonNull::from(&*owner).cast(),
            owner,
        }
    }

    /// Byte offset of `ptr` in the chunk.
    #[inline]
    fn offset(&self, ptr: NonNull<u8>) -> usize {
        ptr.as_ptr() as usize - self.base.as_ptr() as usize
    }

    /// Where the region at `ptr` of class `class` sits: derived from the
    /// address, no search.
    pub(crate) fn handle_of(
        &self,
        ptr: NonNull<u8>,
        class: ClassIdx,
        classes: &SizeClasses,
    ) -> Handle {
        let offset = self.offset(ptr);
        let page = (offset >> self.page_shift) as u32;
        if classes.kind(class) != Kind::Small {
            return Handle::run(page, classes.run_pages(class));
        }
        let start = self.run_of_page[page as usize].load(Relaxed);
        let elem = (offset - ((start as usize) << self.page_shift)) / classes.size(class);
        Handle::element(start, classes.subpage_run(class).0, elem as u32)
    }

    /// The reference-count slot of the region at `ptr` of class `class`.
    pub(crate) fn refs_slot(
        &self,
        ptr: NonNull<u8>,
        class: ClassIdx,
        classes: &SizeClasses,
    ) -> NonNull<AtomicU32> {
        if class == HUGE_CLASS {
            return NonNull::from(&self.run_refs[0]);
        }
        let handle = self.handle_of(ptr, class, classes);
        if !handle.is_subpage() {
            return NonNull::from(&self.run_refs[handle.run_start() as usize]);
        }
        let first = self.elem_refs[handle.run_start() as usize].load(Relaxed);
        // SAFETY: set (non-null) when the subpage was cut, under the lock that
        // handed this element out; `elem < elems`, the length of that array,
        // which lives until every element is back.
        unsafe { NonNull::new_unchecked(first).add(handle.elem() as usize) }
    }

    /// Where the region of class `class` that contains `inside` starts:
    /// for a view that moved into its region (`advance`, `split_to`), the
    /// address to release. `inside` must lie within an outstanding region.
    pub(crate) fn region_start(
        &self,
        inside: NonNull<u8>,
        class: ClassIdx,
        classes: &SizeClasses,
    ) -> NonNull<u8> {
        if class == HUGE_CLASS {
            return self.base;
        }
        let offset = self.offset(inside);
        let page = offset >> self.page_shift;
        let run = (self.run_of_page[page].load(Relaxed) as usize) << self.page_shift;
        let into_run = offset - run;
        let start = match classes.kind(class) {
            Kind::Small => run + into_run - into_run % classes.size(class),
            _ => run,
        };
        // SAFETY: `start <= offset`, inside the chunk's memory.
        unsafe { self.base.add(start) }
    }

    /// Records a normal run `[start, start + pages)` in the page map, for
    /// `region_start`. Called under the arena lock.
    pub(crate) fn map_run(&self, start: u32, pages: u32) {
        // One bounds check for the run, not one per page: a 1 MiB run is
        // 128 stores (8 KiB pages), on the arena's critical section.
        let run = &self.run_of_page[start as usize..(start + pages) as usize];
        for page in run {
            page.store(start, Relaxed);
        }
    }

    /// Records a subpage run `[start, start + pages)` whose element slots
    /// begin at `refs`. Called under the arena lock.
    pub(crate) fn map_subpage(&self, start: u32, pages: u32, refs: NonNull<AtomicU32>) {
        for page in start..start + pages {
            self.run_of_page[page as usize].store(start, Relaxed);
            self.elem_refs[page as usize].store(refs.as_ptr(), Relaxed);
        }
    }
}

/// The page-run table of one chunk.
#[derive(Debug)]
pub(crate) struct PageRuns {
    pages: u32,
    free_pages: u32,
    /// At a run's first page: its length in pages.
    run_len: Box<[u32]>,
    /// At a run's last page: its first page.
    run_start: Box<[u32]>,
    /// Set at the first page of every free run.
    free_starts: Bitmap,
}

impl PageRuns {
    /// A chunk of `pages` pages, all free (one run).
    pub(crate) fn new(pages: u32) -> PageRuns {
        let mut runs = PageRuns {
            pages,
            free_pages: pages,
            run_len: vec![0; pages as usize].into_boxed_slice(),
            run_start: vec![0; pages as usize].into_boxed_slice(),
            free_starts: Bitmap::new(pages as usize),
        };
        runs.mark(0, pages, true);
        runs
    }

    fn mark(&mut self, start: u32, len: u32, free: bool) {
        self.run_len[start as usize] = len;
        self.run_start[(start + len - 1) as usize] = start;
        if free {
            self.free_starts.set(start as usize);
        } else {
            self.free_starts.clear(start as usize);
        }
    }

    /// Pages in the chunk.
    pub(crate) fn pages(&self) -> u32 {
        self.pages
    }

    /// Pages not in any used run.
    pub(crate) fn free_pages(&self) -> u32 {
        self.free_pages
    }

    /// Takes the lowest free run of at least `n` pages; returns its start.
    pub(crate) fn allocate(&mut self, n: u32) -> Option<u32> {
        debug_assert!(n > 0);
        if self.free_pages < n {
            return None;
        }
        let mut at = 0;
        while let Some(start) = self.free_starts.next_set(at) {
            let len = self.run_len[start];
            if len >= n {
                let start = start as u32;
                self.mark(start, n, false);
                if len > n {
                    self.mark(start + n, len - n, true);
                }
                self.free_pages -= n;
                return Some(start);
            }
            at = start + len as usize;
        }
        None
    }

    /// Returns the run `[start, start + n)`, merging with free neighbours.
    pub(crate) fn free(&mut self, start: u32, n: u32) {
        debug_assert_eq!(self.run_len[start as usize], n);
        debug_assert!(!self.free_starts.get(start as usize));
        self.free_pages += n;
        let (mut first, mut len) = (start, n);
        if start > 0 {
            let prev = self.run_start[(start - 1) as usize];
            if self.free_starts.get(prev as usize) {
                len += self.run_len[prev as usize];
                first = prev;
            }
        }
        let next = start + n;
        if next < self.pages && self.free_starts.get(next as usize) {
            len += self.run_len[next as usize];
            self.free_starts.clear(next as usize);
        }
        self.mark(first, len, true);
    }

    /// The free runs, as `(start, length)`, lowest first.
    pub(crate) fn free_runs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let start = self.free_starts.next_set(at)?;
            let len = self.run_len[start];
            at = start + len as usize;
            Some((start as u32, len))
        })
    }

    /// Checks the tiling invariants; panics with the broken one.
    #[cfg(any(test, feature = "debug-checks"))]
    pub(crate) fn validate(&self) {
        let (mut page, mut free, mut prev_free) = (0u32, 0u32, false);
        while page < self.pages {
            let len = self.run_len[page as usize];
            assert!(
                len > 0 && page + len <= self.pages,
                "run at page {page} has length {len}"
            );
            assert_eq!(
                self.run_start[(page + len - 1) as usize],
                page,
                "run end does not point back"
            );
            let is_free = self.free_starts.get(page as usize);
            assert!(!(is_free && prev_free), "adjacent free runs at page {page}");
            if is_free {
                free += len;
            }
            prev_free = is_free;
            page += len;
        }
        assert_eq!(free, self.free_pages, "free page count");
    }
}

/// Start address of page `page` in `base`.
#[inline]
pub(crate) fn page_addr(base: NonNull<u8>, page: u32, page_size: usize) -> NonNull<u8> {
    // SAFETY: callers pass a page of the chunk that `base` starts, so the
    // offset stays inside that block (at most `chunk_size <= 1 GiB`).
    unsafe { base.add(page as usize * page_size) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_low_first_and_coalesces() {
        let mut r = PageRuns::new(16);
        assert_eq!(r.allocate(3), Some(0));
        assert_eq!(r.allocate(6), Some(3));
        assert_eq!(r.allocate(3), Some(9));
        r.validate();
        r.free(3, 6);
        r.validate();
        // A 2-page request reuses the lowest hole, not the tail.
        assert_eq!(r.allocate(2), Some(3));
        // Holes left: 5..9 and 12..16, four pages each: nothing fits five.
        assert_eq!(r.allocate(5), None);
        assert_eq!(r.allocate(4), Some(5));
        r.free(0, 3);
        r.free(3, 2);
        r.free(5, 4);
        r.validate();
        // 0..9 merged into one run, then 9..12 used, 12..16 free.
        assert_eq!(r.free_pages(), 13);
        assert_eq!(r.allocate(9), Some(0));
        r.free(9, 3);
        r.free(0, 9);
        r.validate();
        assert_eq!(r.allocate(16), Some(0));
    }

    #[test]
    fn random_runs_match_a_page_model() {
        // Deterministic xorshift so the test needs no dependency.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut r = PageRuns::new(64);
        let mut model = [false; 64];
        let mut live: Vec<(u32, u32)> = Vec::new();
        for _ in 0..5000 {
            if live.is_empty() || next() % 2 == 0 {
                let n = (next() % 9 + 1) as u32;
                let lowest =
                    (0..=64 - n as usize).find(|&s| model[s..s + n as usize].iter().all(|u| !u));
                let got = r.allocate(n);
                // First fit over free runs finds the lowest fitting run start,
                // which is the lowest free window when runs are coalesced.
                assert_eq!(got.map(|s| s as usize), lowest);
                if let Some(s) = got {
                    model[s as usize..(s + n) as usize]
                        .iter_mut()
                        .for_each(|u| *u = true);
                    live.push((s, n));
                }
            } else {
                let (s, n) = live.swap_remove(next() as usize % live.len());
                r.free(s, n);
                model[s as usize..(s + n) as usize]
                    .iter_mut()
                    .for_each(|u| *u = false);
            }
            r.validate();
            assert_eq!(
                r.free_pages() as usize,
                model.iter().filter(|u| !**u).count()
            );
        }
    }
}
