//! The heap: a pool's shared state — its arenas, huge mappings and thread
//! caches — and what every chunk keeps alive.
//!
//! ```text
//!  Pool (handle) ──Arc──▶ Heap ◀──Arc<dyn Owner>── every ChunkHeader
//!                          ├─ arenas: Arenas { env: Env{classes, budget, clock, …}, [Arena; n] }
//!                          ├─ huge:   Huge   { counters, recycled mappings }
//!                          ├─ caches: registry of live ThreadCaches + totals of exited ones
//!                          └─ counters: trims, trimmed bytes, codec buffers
//! ```
//!
//! Lifetime: each chunk and huge mapping holds a strong reference (as its
//! [`Owner`]), so arenas and counters outlive the `Pool` handles for as
//! long as any buffer is alive; the last chunk to go frees the heap. A
//! buffer finds its heap from its chunk header ([`Heap::of`]), which is how
//! the release path reaches arenas and caches without a pool.
//!
//! Owns the composition and the cache registry. Calls the layers below:
//! `arena`, `huge`, `thread_cache`, `config`. Called by `local` (cache
//! lookup), `release`, `trim`, `alloc`, `metrics`, the buffers and the
//! `Pool` handle.

use crate::arena::{Arenas, Env};
use crate::budget::Budget;
use crate::chunk::{ChunkHeader, Owner};
use crate::clock::Clock;
use crate::config::Config;
use crate::counter::SharedCounter;
use crate::huge::Huge;
use crate::size_class::SizeClasses;
use crate::sync::{Arc, Mutex, Weak};
use crate::thread_cache::{CacheTotals, LargeRoom, ThreadCache};
use std::any::Any;
use std::ptr::NonNull;

/// Shared state of a pool.
#[derive(Debug)]
pub(crate) struct Heap {
    pub(crate) config: Config,
    pub(crate) arenas: Arenas,
    pub(crate) huge: Huge,
    /// Every live thread cache; and the totals of caches whose threads
    /// have exited.
    caches: Mutex<(Vec<Arc<ThreadCache>>, CacheTotals)>,
    /// Room every cache's bins above 32 KiB reserved, bounded by a chunk.
    pub(crate) large_room: Arc<LargeRoom>,
    pub(crate) trims: SharedCounter,
    pub(crate) trimmed_bytes: SharedCounter,
    /// Capacity held by `codec` read and write buffers right now.
    pub(crate) codec_bytes: SharedCounter,
    me: Weak<Heap>,
    /// Live buffers, for `Pool::outstanding`.
    #[cfg(feature = "debug-checks")]
    pub(crate) tracker: crate::debug::Tracker,
}

impl Owner for Heap {
    fn budget(&self) -> &Budget {
        &self.arenas.env.budget
    }
}

#[cfg(any(test, feature = "debug-checks"))]
impl Drop for Heap {
    fn drop(&mut self) {
        let borrows = self.arenas.env.borrows();
        // Not while unwinding from another failure: one report is enough.
        if !std::thread::panicking() {
            assert_eq!(
                borrows, 0,
                "the pool was freed while a method borrowing it was still running"
            );
        }
    }
}

impl Heap {
    pub(crate) fn new(config: Config) -> Arc<Heap> {
        let classes = SizeClasses::new(config.page_size, config.chunk_size);
        Arc::new_cyclic(|me: &Weak<Heap>| {
            let owner: Weak<dyn Owner> = me.clone();
            let env = Env::new(
                classes,
                Budget::new(config.max_memory),
                Clock::new(config.trim_policy),
                config.backing,
                config.os_page,
                owner,
            );
            Heap {
                arenas: Arenas::new(env, config.arenas),
                large_room: Arc::new(LargeRoom::new(config.chunk_size)),
                config,
                huge: Huge::default(),
                caches: Mutex::new((Vec::new(), CacheTotals::default())),
                trims: SharedCounter::default(),
                trimmed_bytes: SharedCounter::default(),
                codec_bytes: SharedCounter::default(),
                me: me.clone(),
                #[cfg(feature = "debug-checks")]
                tracker: crate::debug::Tracker::default(),
            }
        })
    }

    /// The heap a chunk (or huge mapping) belongs to.
    #[inline(always)]
    pub(crate) fn of(header: &ChunkHeader) -> &Heap {
        debug_assert_eq!(header.owner_data, NonNull::from(&*header.owner).cast());
        // SAFETY: `owner_data` is the data address of `header.owner` (set
        // with it in `ChunkHeader::new`, neither changes after), which is a
        // `Heap` kept alive by that reference; see `of_owner`.
        unsafe { header.owner_data.cast::<Heap>().as_ref() }
    }

    /// The heap behind an owner reference.
    #[inline(always)]
    pub(crate) fn of_owner(owner: &Arc<dyn Owner>) -> &Heap {
        let owner: &dyn Owner = &**owner;
        debug_assert!((owner as &dyn Any).is::<Heap>());
        // SAFETY: `Heap` is the only implementor of `Owner` (the trait is
        // crate-private and implemented once, above), and every owner is
        // made by `Env::owner` from the `Weak<Heap>` of `Heap::new`; so the
        // data pointer of `owner` points at a live `Heap`, kept alive by
        // that strong reference for as long as the borrow of it lasts.
        unsafe { &*(owner as *const dyn Owner as *const Heap) }
    }

    #[inline(always)]
    pub(crate) fn classes(&self) -> &SizeClasses {
        &self.arenas.env.classes
    }

    #[inline(always)]
    pub(crate) fn env(&self) -> &Env {
        &self.arenas.env
    }

    /// A strong reference to this heap.
    pub(crate) fn strong(&self) -> Arc<Heap> {
        self.me.upgrade().expect("a pool in use is alive")
    }

    /// A weak reference for thread-local entries and the trimmer.
    pub(crate) fn weak(&self) -> Weak<Heap> {
        self.me.clone()
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.env().is_closed()
    }

    /// A new cache for the calling thread, bound to the least-used arena.
    pub(crate) fn register_cache(&self) -> Arc<ThreadCache> {
        let arena = self.arenas.bind_thread();
        let cache = Arc::new(ThreadCache::new(
            &self.arenas,
            self.config.cache,
            arena,
            &self.large_room,
        ));
        let mut caches = self.caches.lock();
        // Under the registry lock, which `close` takes after setting
        // `closed`: a cache registered during a close is marked either way.
        if self.is_closed() {
            cache
                .closed
                .store(true, crate::sync::atomic::Ordering::Relaxed);
        }
        caches.0.push(cache.clone());
        drop(caches);
        cache
    }

    /// The calling thread is exiting: its cache goes back to the arenas, its
    /// counters into the totals, and the thread leaves its arena.
    pub(crate) fn retire_cache(&self, cache: &Arc<ThreadCache>) {
        cache.flush_at_exit(&self.arenas);
        let mut caches = self.caches.lock();
        caches.1.add(cache.totals(&self.arenas));
        caches.0.retain(|c| !Arc::ptr_eq(c, cache));
        drop(caches);
        self.arenas.unbind(cache.arena());
    }

    /// Every registered cache but `own`.
    pub(crate) fn caches_except(&self, own: Option<&ThreadCache>) -> Vec<Arc<ThreadCache>> {
        let own = own.map(|c| c as *const ThreadCache);
        let caches = self.caches.lock();
        caches
            .0
            .iter()
            .filter(|c| Some(Arc::as_ptr(c)) != own)
            .cloned()
            .collect()
    }

    /// The totals of every cache, live and exited; adds the bytes parked in
    /// live caches to `parked_by_arena` (indexed by arena).
    pub(crate) fn cache_totals(&self, parked_by_arena: &mut [usize]) -> CacheTotals {
        let guard = self.caches.lock();
        let mut totals = guard.1;
        for cache in guard.0.iter() {
            totals.add(cache.totals(&self.arenas));
            cache.add_parked_by_arena(parked_by_arena);
        }
        totals
    }

    /// The last handle is gone: mark the pool and every cache closed (so
    /// chunks go as soon as they empty) and unmap recycled huge mappings.
    /// The caller then trims what is free now.
    pub(crate) fn close(&self) {
        self.env().close();
        for cache in self.caches.lock().0.iter() {
            cache
                .closed
                .store(true, crate::sync::atomic::Ordering::Relaxed);
        }
        self.huge.close();
    }
}
