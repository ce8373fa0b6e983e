//! Per-thread, per-pool state, found through thread-locals.
//!
//! ```text
//! thread T ── MEMO:   (pool A key, &cache)           one compare on the hot path
//!          └─ LOCALS: [ (pool A, Weak, Arc<ThreadCache>) , (pool B, …) ]
//! ```
//!
//! The key of an entry is the address of the pool's shared state. The entry
//! holds a `Weak` to it, which keeps that allocation (not the pool) alive, so
//! no other pool can reuse the address while the entry exists. `MEMO` is a
//! `const`, drop-free thread-local (the cheapest kind to reach) that caches
//! the last entry used; it is cleared whenever an entry goes away.
//!
//! When the thread exits, the destructor of `LOCALS` flushes the thread's
//! cache in every pool still alive and unbinds it from its arena: nothing is
//! stranded with the thread. Entries of dropped pools are pruned when a new
//! entry is added.
//!
//! Owns the thread-locals. Calls the heap (to register and retire caches).
//! Called by the release and allocation paths and by trimming (which skips
//! the calling thread's own cache, or flushes it).

use crate::heap::Heap;
use crate::sync::{Arc, Weak};
use crate::thread_cache::ThreadCache;
use std::cell::{Cell, RefCell};
use std::ptr;

struct Local {
    key: usize,
    pool: Weak<Heap>,
    cache: Arc<ThreadCache>,
}

struct Locals(RefCell<Vec<Local>>);

impl Locals {
    fn retire_all(entries: &mut Vec<Local>) {
        // `try_with`: under loom, MEMO may be torn down first.
        let _ = MEMO.try_with(|m| m.set((0, ptr::null())));
        for local in entries.drain(..) {
            if let Some(pool) = local.pool.upgrade() {
                pool.retire_cache(&local.cache);
            }
        }
    }
}

impl Drop for Locals {
    fn drop(&mut self) {
        Locals::retire_all(self.0.get_mut());
    }
}

/// Retires the calling thread's caches now, as its exit would. Loom models
/// call it at the end of the main thread, whose thread-locals loom drops
/// outside the execution it can check.
#[cfg(all(test, tidebuf_loom))]
pub(crate) fn retire_current_thread() {
    LOCALS.with(|locals| Locals::retire_all(&mut locals.0.borrow_mut()));
}

crate::sync::thread_locals! {
    static LOCALS: Locals = Locals(RefCell::new(Vec::new()));
    static MEMO: Cell<(usize, *const ThreadCache)> = Cell::new((0, ptr::null()));
}

/// This thread's cache for `pool`, creating it (and binding the thread to
/// an arena) on first use. `None` while the thread is being torn down.
///
/// The reference is valid for the duration of the caller's borrow of
/// `pool`: entries of a live pool leave only at thread exit.
#[inline]
pub(crate) fn cache(pool: &Heap) -> Option<&ThreadCache> {
    let key = pool as *const Heap as usize;
    let (memo_key, memo) = MEMO.with(Cell::get);
    if memo_key == key {
        // SAFETY: MEMO points at the `ThreadCache` of this thread's live
        // entry for `pool` (set below, cleared before any entry is removed).
        return Some(unsafe { &*memo });
    }
    cache_slow(pool, key)
}

/// This thread's cache for `pool` if it is the one last used (one
/// compare, no call): the allocation and release fast paths, which leave
/// every other case to their slow side.
#[inline(always)]
pub(crate) fn memo(pool: &Heap) -> Option<&ThreadCache> {
    // SAFETY: read just now, on this thread.
    unsafe { Memo::now().cache_for(pool) }
}

/// `MEMO` as read at one instant: the pool last used on this thread, and
/// its cache.
///
/// A buffer's drop reads it where it is inlined — in the crate that drops
/// the buffer, which reads a thread-local as that binary allows (one `%fs`
/// load in an executable) — and hands it to the out-of-line release. That
/// one, compiled here for any binary, would reach the thread-local through
/// what the compiler must treat as a call, and so keep its values in
/// callee-saved registers it pushes and pops on every release.
#[derive(Clone, Copy)]
pub(crate) struct Memo {
    key: usize,
    cache: *const ThreadCache,
}

impl Memo {
    /// Reads this thread's memo.
    #[inline(always)]
    pub(crate) fn now() -> Memo {
        // A `const` thread-local without a destructor: never torn down.
        #[cfg(not(tidebuf_loom))]
        let (key, cache) = MEMO.with(Cell::get);
        // loom's can be, at a model's end: then no memo, the slow side.
        #[cfg(tidebuf_loom)]
        let (key, cache) = MEMO.try_with(Cell::get).unwrap_or((0, ptr::null()));
        Memo { key, cache }
    }

    /// This thread's cache for `pool`, if the memo names it.
    ///
    /// # Safety
    /// `self` was read by the calling thread (a `Memo` is not `Send`), and
    /// `pool` is alive. Then the entry it names, if any, is still there:
    /// `cache_slow` prunes only entries of pools already dropped, and the
    /// thread's exit — the destructor of `LOCALS`, which clears `MEMO`
    /// first — cannot run between a read and its use on the same thread.
    #[inline(always)]
    pub(crate) unsafe fn cache_for(self, pool: &Heap) -> Option<&ThreadCache> {
        let key = pool as *const Heap as usize;
        // SAFETY: as in `cache` — MEMO pointed at this thread's live entry
        // for `pool` when read, and by the contract that entry is still
        // there; it lives as long as `pool` does on this thread.
        (self.key == key).then(|| unsafe { &*self.cache })
    }
}

#[cold]
fn cache_slow(pool: &Heap, key: usize) -> Option<&ThreadCache> {
    let found = LOCALS
        .try_with(|locals| {
            let locals = locals.0.try_borrow().ok()?;
            locals
                .iter()
                .find(|l| l.key == key)
                .map(|l| Arc::as_ptr(&l.cache))
        })
        .ok()?;
    let ptr = match found {
        Some(ptr) => ptr,
        None => {
            // Created outside the thread-local access: registering takes
            // the pool's registry lock and allocates.
            let cache = pool.register_cache();
            let ptr = Arc::as_ptr(&cache);
            let stored = LOCALS.try_with(|locals| {
                let mut locals = locals.0.try_borrow_mut().ok()?;
                MEMO.with(|m| m.set((0, ptr::null())));
                locals.retain(|l| l.pool.strong_count() > 0);
                locals.push(Local {
                    key,
                    pool: pool.weak(),
                    cache: cache.clone(),
                });
                Some(())
            });
            if !matches!(stored, Ok(Some(()))) {
                // Torn down meanwhile: undo the registration.
                pool.retire_cache(&cache);
                return None;
            }
            ptr
        }
    };
    MEMO.with(|m| m.set((key, ptr)));
    // SAFETY: the entry owning `*ptr` stays in LOCALS while `pool` is alive
    // and this thread runs (see `cache`).
    Some(unsafe { &*ptr })
}

/// This thread's cache for `pool` if it has one; never creates one (so a
/// thread that only trims or closes is not bound to an arena).
pub(crate) fn existing_cache(pool: &Heap) -> Option<&ThreadCache> {
    let key = pool as *const Heap as usize;
    let exists = LOCALS
        .try_with(|locals| {
            locals
                .0
                .try_borrow()
                .is_ok_and(|l| l.iter().any(|l| l.key == key))
        })
        .unwrap_or(false);
    if exists {
        cache(pool)
    } else {
        None
    }
}
