//! The arenas of one pool, and what they share.
//!
//! ```text
//!  Arenas ─┬─ env: Env { classes, budget, clock, backing, os_page, closed, owner }
//!          ├─ list: [Arena 0][Arena 1] … [Arena n-1]
//!          └─ active: the first `active` are in use (grows on contention)
//!
//!  thread ──bind──▶ least-used active arena ──contention──▶ spread (thread_cache/)
//! ```
//!
//! [`Env`] is everything an arena needs besides its own chunks: the size
//! classes, the `max_memory` budget, the decay clock, where memory comes
//! from, whether the pool is closed, and the owner new chunks keep alive.
//! Arenas are handed a `&Env` on every call instead of a pool, so they sit
//! below everything that composes them.
//!
//! Owns the arena list and the env. Calls `arena` (one arena) and the
//! layers below it. Called by the thread caches and the heap.

use super::{destroy_chunk, Arena};
use crate::backing::Backing;
use crate::budget::Budget;
use crate::chunk::Owner;
use crate::clock::Clock;
use crate::region::Region;
use crate::size_class::{ClassIdx, SizeClasses};
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use crate::sync::{Arc, Weak};

/// What the arenas of a pool share.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) classes: SizeClasses,
    pub(crate) budget: Budget,
    pub(crate) clock: Clock,
    pub(crate) backing: Backing,
    /// The OS page size (what `madvise` works in).
    pub(crate) os_page: usize,
    /// Set when the last `Pool` handle goes: chunks are released the moment
    /// they empty.
    closed: AtomicBool,
    /// What a new chunk keeps alive: the heap this env belongs to.
    owner: Weak<dyn Owner>,
    /// Live `borrowed()` guards, for the heap's check on drop.
    #[cfg(any(test, feature = "debug-checks"))]
    borrows: AtomicUsize,
}

impl Env {
    pub(crate) fn new(
        classes: SizeClasses,
        budget: Budget,
        clock: Clock,
        backing: Backing,
        os_page: usize,
        owner: Weak<dyn Owner>,
    ) -> Env {
        Env {
            classes,
            budget,
            clock,
            backing,
            os_page,
            closed: AtomicBool::new(false),
            owner,
            #[cfg(any(test, feature = "debug-checks"))]
            borrows: AtomicUsize::new(0),
        }
    }

    /// A strong reference to the owner, for a new chunk or huge mapping.
    pub(crate) fn owner(&self) -> Arc<dyn Owner> {
        self.owner.upgrade().expect("a pool in use is alive")
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Relaxed)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Relaxed);
    }

    /// Marks the env (and the heap around it) as borrowed by a method that
    /// destroys chunks or huge mappings — each of which drops an owner
    /// reference — until the guard drops. With the crate's checks on, the
    /// heap's destructor asserts that no such borrow is live: the last
    /// reference must never go while a `&Env` still points into the heap.
    #[inline]
    pub(crate) fn borrowed(&self) -> BorrowGuard<'_> {
        #[cfg(any(test, feature = "debug-checks"))]
        self.borrows.fetch_add(1, Relaxed);
        BorrowGuard(self)
    }

    /// Live borrows (read by the heap's destructor).
    #[cfg(any(test, feature = "debug-checks"))]
    pub(crate) fn borrows(&self) -> usize {
        // A read-modify-write reads the latest count even where the model
        // checker cannot see the synchronisation of the last `Arc` drop.
        self.borrows.fetch_add(0, Relaxed)
    }
}

/// See [`Env::borrowed`]. Without the checks it does nothing.
#[cfg_attr(not(any(test, feature = "debug-checks")), allow(dead_code))]
pub(crate) struct BorrowGuard<'a>(&'a Env);

impl Drop for BorrowGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        #[cfg(any(test, feature = "debug-checks"))]
        self.0.borrows.fetch_sub(1, Relaxed);
    }
}

/// The arenas of a pool.
#[derive(Debug)]
pub(crate) struct Arenas {
    pub(crate) env: Env,
    list: Box<[Arena]>,
    /// Arenas in use (the first `active` of `list`); grows on contention
    /// up to `list.len()`.
    active: AtomicUsize,
}

impl Arenas {
    pub(crate) fn new(env: Env, count: usize) -> Arenas {
        let small = env.classes.small_count();
        Arenas {
            list: (0..count).map(|i| Arena::new(i as u32, small)).collect(),
            env,
            active: AtomicUsize::new(1),
        }
    }

    #[inline]
    pub(crate) fn classes(&self) -> &SizeClasses {
        &self.env.classes
    }

    /// Arena `index`.
    #[inline]
    pub(crate) fn get(&self, index: u32) -> &Arena {
        &self.list[index as usize]
    }

    /// Every arena, in use or not.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, Arena> {
        self.list.iter()
    }

    /// Most arenas the pool uses.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Binds the calling thread to the arena with the fewest threads.
    pub(crate) fn bind_thread(&self) -> u32 {
        let arena = self.least_used();
        arena.threads.fetch_add(1, Relaxed);
        arena.index
    }

    /// A thread leaves arena `index` (it exited).
    pub(crate) fn unbind(&self, index: u32) {
        self.get(index).threads.fetch_sub(1, Relaxed);
    }

    /// The arena in use with the fewest threads.
    fn least_used(&self) -> &Arena {
        let active = self.active.load(Relaxed).max(1);
        self.list[..active]
            .iter()
            .min_by_key(|a| a.threads.load(Relaxed))
            .expect("at least one arena")
    }

    /// Where a contended thread should move: a new arena while fewer than
    /// all are in use, else the least-used one.
    pub(crate) fn spread_target(&self) -> &Arena {
        let active = self.active.load(Relaxed);
        if active < self.list.len()
            && self
                .active
                .compare_exchange(active, active + 1, Relaxed, Relaxed)
                .is_ok()
        {
            &self.list[active]
        } else {
            self.least_used()
        }
    }

    /// Moves one thread from arena `from` to `to`.
    pub(crate) fn rebind(&self, from: u32, to: u32) {
        self.get(to).threads.fetch_add(1, Relaxed);
        self.get(from).threads.fetch_sub(1, Relaxed);
    }

    /// Releases a (non-huge) region straight to its arena, counted as a
    /// deallocation: the owner's cache is being trimmed at this instant, or
    /// the pool is closed.
    ///
    /// The caller holds a strong reference to the heap for the whole call
    /// (`release_through_cache`, `release_closed`): the chunk destroyed here
    /// may hold another, and `&self` must stay valid until we return.
    pub(crate) fn free_direct(&self, region: Region, class: ClassIdx) {
        let _borrowed = self.env.borrowed();
        let arena = region.header().arena;
        if let Some((chunk, committed)) = self.get(arena).free(&self.env, region, class, true) {
            // SAFETY: `free` unlinked it and handed it to us; destroyed once.
            // Its owner reference is not the last: the caller holds one.
            unsafe { destroy_chunk(chunk, committed) };
        }
    }

    /// Returns regions to their arenas (one lock per run of same-arena
    /// regions), not counted as deallocations: thread-cache flushes.
    ///
    /// Every caller holds a strong reference to the heap across the call
    /// (a `Pool` handle, the trimmer's or a thread exit's upgraded `Weak`,
    /// `release_through_cache`'s own, or an outstanding buffer being grown,
    /// whose chunk is not among those emptied here).
    pub(crate) fn free_uncounted(&self, class: ClassIdx, regions: impl Iterator<Item = Region>) {
        let _borrowed = self.env.borrowed();
        let mut regions = regions.peekable();
        let mut doomed = Vec::new();
        while let Some(first) = regions.peek() {
            let arena = first.header().arena;
            self.get(arena)
                .free_run_of(&self.env, class, &mut regions, &mut doomed);
        }
        for (chunk, committed) in doomed {
            // SAFETY: unlinked by `free_run_of`, destroyed once; its owner
            // reference is not the last, since the caller holds one (above).
            unsafe { destroy_chunk(chunk, committed) };
        }
    }
}
