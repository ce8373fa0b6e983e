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
    /// The fast path alone: a hit in this thread's cache, or `None`.
    // Always inlined: returned through memory, the buffer's words are read
    // back with wider loads than they were stored with, which cannot be
    // store-forwarded (a measured stall of about 10 ns).
    #[inline(always)]
    pub(crate) fn allocate_cached(&self, size: usize) -> Option<Grant> {
        let classes = self.classes();
        let class = classes.class_of(size)?;
        let cache = local::cache(self)?;
        if !cache.caches(class) {
            return None;
        }
        let region = cache.pop(&self.arenas, class)?;
        #[cfg(all(feature = "debug-checks", feature = "asan"))]
        crate::asan::unpoison(region.ptr.as_ptr(), classes.size(class));
        #[cfg(feature = "debug-checks")]
        crate::debug::check(&region, classes.size(class), class);
        Some(self.hand_out(region, class, classes.size(class)))
    }

    /// Allocates at least `size` bytes: the fast path, else the slow one.
    #[inline(always)]
    pub(crate) fn allocate(&self, size: usize) -> Result<Grant, AllocError> {
        match self.allocate_cached(size) {
            Some(grant) => Ok(grant),
            None => self.allocate_missed(size),
        }
    }

    /// After `allocate_cached` found nothing: the slow path, with this
    /// thread's cache if the size has a class (the miss is counted).
    #[inline(never)]
    pub(crate) fn allocate_missed(&self, size: usize) -> Result<Grant, AllocError> {
        let cache = self
            .classes()
            .class_of(size)
            .and_then(|_| local::cache(self));
        self.allocate_slow(size, cache)
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
        let mut trimmed = false;
        loop {
            let result = match (class, cache) {
                (Some(class), Some(cache)) if cache.caches(class) => {
                    cache.fill(&self.arenas, class)
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
