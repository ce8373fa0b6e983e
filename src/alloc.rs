//! The allocation path: a request becomes a region.
//!
//! ```text
//!  size ─▶ class_of ─┬─ cached class: this thread's bin.pop() ──hit──▶ Grant   (fast path, no lock)
//!                    │                      │miss
//!                    │                      ▼
//!                    ├─ cached class: bin refill from the thread's arena (one lock)
//!                    ├─ other class:  the thread's arena
//!                    └─ above a chunk: a huge mapping (recycled, or new)
//!  refused by max_memory ─▶ drop recycled huge mappings, else trim all ─▶ try once more
//! ```
//!
//! Owns no state. Calls `local` (this thread's cache), the heap's thread
//! caches, arenas and huge mappings, and trimming (decay on activity, the
//! cap). Called by the `Pool` handle and by buffers that grow. Returns a
//! [`Grant`] — the region with its class and capacity — which the caller
//! wraps in a buffer.

use crate::budget::Refused;
use crate::clock::Scope;
use crate::error::{AllocError, AllocErrorKind};
use crate::heap::Heap;
use crate::local;
use crate::region::Region;
use crate::size_class::{ClassIdx, HUGE_CLASS};
use crate::thread_cache::ThreadCache;

/// An allocation handed out: the region, its size class and capacity.
#[derive(Debug)]
pub(crate) struct Grant {
    pub(crate) region: Region,
    pub(crate) class: ClassIdx,
    pub(crate) cap: usize,
}

impl Heap {
    /// The fast path alone: a hit in this thread's cache, or `None`. Makes
    /// no call (the slow side handles a first use, a due sweep, a foreign
    /// entry, a miss), so the caller it is inlined into keeps the buffer in
    /// registers.
    // Always inlined: returned through memory, the buffer's words are read
    // back with wider loads than they were stored with, which cannot be
    // store-forwarded (a measured stall of about 10 ns).
    #[inline(always)]
    pub(crate) fn allocate_cached(&self, size: usize) -> Option<Grant> {
        let class = self.classes().class_of(size)?;
        let (region, cap) = local::memo(self)?.pop_fast(class)?;
        Some(self.handed_from_cache(region, class, cap))
    }

    /// Allocates at least `size` bytes: the fast path, else the slow one.
    #[inline(always)]
    pub(crate) fn allocate(&self, size: usize) -> Result<Grant, AllocError> {
        match self.allocate_cached(size) {
            Some(grant) => Ok(grant),
            None => self.allocate_missed(size),
        }
    }

    /// After `allocate_cached` found nothing: this thread's cache (made on
    /// first use) once more, with what the fast path leaves to it, else the
    /// slow path proper.
    #[inline(never)]
    pub(crate) fn allocate_missed(&self, size: usize) -> Result<Grant, AllocError> {
        let class = self.classes().class_of(size);
        let cache = class.and_then(|_| local::cache(self));
        if let (Some(class), Some(cache)) = (class, cache) {
            if let Some((region, cap)) = cache.pop(&self.arenas, class) {
                return Ok(self.handed_from_cache(region, class, cap));
            }
        }
        self.allocate_slow(size, cache)
    }

    /// A region from this thread's cache leaves the pool (checked for
    /// poison with `debug-checks`).
    #[inline(always)]
    fn handed_from_cache(&self, region: Region, class: ClassIdx, cap: usize) -> Grant {
        #[cfg(all(feature = "debug-checks", feature = "asan"))]
        crate::asan::unpoison(region.ptr.as_ptr(), cap);
        #[cfg(feature = "debug-checks")]
        crate::debug::check(&region, cap, class);
        self.hand_out(region, class, cap)
    }

    #[inline(never)]
    fn allocate_slow(&self, size: usize, cache: Option<&ThreadCache>) -> Result<Grant, AllocError> {
        if size > isize::MAX as usize {
            return Err(AllocError {
                requested: size,
                kind: AllocErrorKind::TooLarge,
            });
        }
        self.decay_on_activity();
        if let Some(cache) = cache {
            cache.spread(&self.arenas);
        }
        let class = self.classes().class_of(size);
        if let (Some(class), Some(cache)) = (class, cache) {
            // Once per request, not per try of the loop below.
            cache.count_miss(class);
        }
        let mut trimmed = false;
        loop {
            let result = match (class, cache) {
                // A large class's bin gets its entries from releases only
                // (each under room reserved pool-wide): a miss goes
                // straight to the arena.
                (Some(class), Some(cache)) if cache.caches(class) && !cache.is_large(class) => {
                    cache.fill(&self.arenas, class)
                }
                (Some(class), Some(cache)) if cache.caches(class) => {
                    self.arenas.get(cache.arena()).allocate(self.env(), class)
                }
                (Some(class), _) => {
                    let arena = cache.map_or(0, |c| c.arena());
                    self.arenas.get(arena).allocate(self.env(), class)
                }
                (None, _) => self.huge.allocate(self.env(), size),
            };
            let kind = match result {
                Ok(region) => {
                    return Ok(match class {
                        Some(class) => self.hand_out(region, class, self.classes().size(class)),
                        None => {
                            let cap = region.header().memory.len();
                            self.hand_out(region, HUGE_CLASS, cap)
                        }
                    })
                }
                Err(Refused::OverLimit { .. }) if !trimmed => {
                    // Make room, then try once more: recycled huge mappings
                    // go first; only if that frees nothing, trim everything.
                    if self.huge.drop_cached(self.env(), Scope::All) == 0 {
                        self.trim_now(crate::trim::Cause::Cap);
                        trimmed = true;
                    }
                    continue;
                }
                Err(Refused::OverLimit { used, needed }) => {
                    let limit = self.env().budget.limit().unwrap_or(usize::MAX);
                    crate::trace::event!(
                        "tidebuf::cap",
                        DEBUG,
                        requested = size,
                        used,
                        needed,
                        limit,
                        "max_memory refused a request"
                    );
                    AllocErrorKind::OverLimit {
                        used,
                        needed,
                        limit,
                    }
                }
                Err(Refused::OutOfMemory) => AllocErrorKind::OutOfMemory,
            };
            return Err(AllocError {
                requested: size,
                kind,
            });
        }
    }

    /// A region leaves the pool (and, with `debug-checks`, is tracked).
    #[inline(always)]
    fn hand_out(&self, region: Region, class: ClassIdx, cap: usize) -> Grant {
        #[cfg(feature = "asan")]
        crate::asan::unpoison(region.ptr.as_ptr(), cap);
        #[cfg(feature = "debug-checks")]
        self.tracker.allocated(&region, cap);
        Grant { region, class, cap }
    }
}
