//! The release path: a region goes back where it came from.
//!
//! ```text
//!  buffer drop ─▶ region ─▶ chunk header ─▶ Heap::of ─┬─ thread cache bin has room: park (no lock)
//!                                                      ├─ bin full: flush half to the arenas, park
//!                                                      ├─ closed pool: straight to the arena
//!                                                      └─ huge: recycle the mapping, or unmap it
//! ```
//!
//! Lifetime: returning a region can empty its chunk; in a closed pool the
//! chunk is then destroyed, which drops a reference to the heap — maybe
//! the last. So no `&Heap` may be live when that happens: the arena path
//! ends its borrow before destroying (`release_to_arena`), and the cache's
//! slow path, whose methods borrow the heap throughout, holds a reference
//! of its own across the call (`release_through_cache`). Nothing reads the
//! heap after a region is handed over on the other paths either: whether
//! to tell waiters at the cap is decided before, and the telling holds its
//! own reference (`release_and_notify`).
//!
//! Owns no state. Calls `local` (this thread's cache), the heap's arenas,
//! thread caches and huge mappings. Called by the buffers.

use crate::arena::destroy_chunk;
use crate::chunk::ChunkHeader;
use crate::heap::Heap;
use crate::huge::destroy_huge;
use crate::local::{self, Memo};
use crate::region::Region;
use crate::size_class::{ClassIdx, HUGE_CLASS};

/// Gives a region of class `class` back to where it came from: the
/// releasing thread's cache if it takes it (the fast path), else its arena,
/// or the OS for a huge one.
///
/// See the module header for why no `&Heap` is live when a chunk goes.
///
/// # Safety
/// `region` is outstanding (handed out by the allocation path with
/// `class`, not yet released) and no pointer into its bytes is used
/// afterwards.
#[inline(always)]
pub(crate) unsafe fn release(region: Region, class: ClassIdx) {
    // SAFETY: forwarded contract; the memo is this thread's, read now.
    unsafe { release_with(region, class, Memo::now()) }
}

/// [`release`] with this thread's [`Memo`], read by the caller.
///
/// # Safety
/// As [`release`]; and `memo` was read by this thread, with no call in
/// between that removes its cache entries (see [`Memo::cache_for`]).
#[inline(always)]
pub(crate) unsafe fn release_with(region: Region, class: ClassIdx, memo: Memo) {
    #[cfg(feature = "debug-checks")]
    {
        let heap = Heap::of(region.header());
        heap.tracker.released(&region, class);
        let cap = if class == HUGE_CLASS {
            region.header().memory.len()
        } else {
            heap.classes().size(class)
        };
        crate::debug::poison(&region, cap);
    }
    #[cfg(feature = "asan")]
    {
        let header = region.header();
        let cap = if class == HUGE_CLASS {
            header.memory.len()
        } else {
            Heap::of(header).classes().size(class)
        };
        crate::asan::poison(region.ptr.as_ptr(), cap);
    }
    // Someone waits at the cap (rare): release the same way, then tell the
    // waiters. Decided here, while the region still keeps its chunk and so
    // the heap alive: once it is handed over, a trimmer or a close on
    // another thread may free the chunk and drop the heap's last reference.
    // The read is a fence-less hint — the region gives nothing back to
    // `max_memory` — so a waiter joining just after is woken by the next
    // change of the budget instead.
    if Heap::of(region.header()).env().budget.waiters.any() {
        // SAFETY: forwarded contract.
        return unsafe { release_and_notify(region, class) };
    }
    // SAFETY: forwarded contract.
    unsafe { release_quietly(region, class, memo) }
}

/// Someone waits at the cap: the release, then a wake-up, with a heap
/// reference of our own across both.
///
/// # Safety
/// As [`release`].
#[cold]
#[inline(never)]
unsafe fn release_and_notify(region: Region, class: ClassIdx) {
    let keep = region.header().owner.clone();
    // SAFETY: forwarded contract; the memo is this thread's, read now.
    unsafe { release_quietly(region, class, Memo::now()) };
    Heap::of_owner(&keep).env().budget.waiters.notify();
    drop(keep); // may free the heap: nothing borrows it any more
}

/// The release itself: the releasing thread's cache, or the arena, or the
/// OS for a huge region. Nothing here reads the heap after handing the
/// region over.
///
/// # Safety
/// As [`release_with`].
#[inline(always)]
unsafe fn release_quietly(region: Region, class: ClassIdx, memo: Memo) {
    // SAFETY: the header outlives every outstanding region of its chunk (a
    // huge mapping's too); detached from `region` so the region can move
    // below. Not used once the region is handed on.
    let heap = Heap::of(unsafe { region.chunk.as_ref() });
    // The fast path: this thread's cache, last used for this pool; a cached
    // class (never the huge one, which no bin has); a region of the cache's
    // arena; an open pool; the bin below its limit. It frees nothing (it
    // only parks the region), makes no call, and makes no cache.
    // SAFETY: by the contract, `memo` is this thread's and still valid.
    let region = match unsafe { memo.cache_for(heap) } {
        Some(cache) => match cache.try_push_fast(region, class) {
            Ok(()) => return,
            Err(region) => region,
        },
        None => region,
    };
    // SAFETY: forwarded contract.
    unsafe { release_missed(region, class) }
}

/// The fast path declined: this thread's first release into the pool, or
/// after using another; a region of another arena; a full bin or a
/// trimmer at work (the cache's slow side); a closed pool; an uncached
/// class; or a huge region.
///
/// # Safety
/// As [`release`].
#[inline(never)]
unsafe fn release_missed(mut region: Region, class: ClassIdx) {
    if class != HUGE_CLASS {
        // SAFETY: the header outlives every outstanding region of its
        // chunk; detached from `region` so the region can move below.
        let heap = Heap::of(unsafe { region.chunk.as_ref() });
        if let Some(cache) = local::cache(heap) {
            if cache.takes(class) {
                // Parked if the bin has room; only a flush needs more.
                region = match cache.try_park(region, class) {
                    Ok(()) => return,
                    Err(region) => region,
                };
                // A large class's bin at `max`, or with the pool-wide room
                // all reserved, sends the region to its arena: no flush of
                // the rest.
                if !cache.is_large(class) {
                    // SAFETY: forwarded contract.
                    return unsafe { release_through_cache(region, class) };
                }
            } else if cache.is_closed() {
                // SAFETY: forwarded contract.
                return unsafe { release_closed(region, class) };
            }
        }
    }
    // SAFETY: forwarded contract.
    unsafe { release_to_arena(region, class) }
}

/// The bin is full (or a trimmer holds the cache): the cache flushes or
/// frees directly, which may destroy chunks.
///
/// # Safety
/// As [`release`].
#[cold]
#[inline(never)]
unsafe fn release_through_cache(region: Region, class: ClassIdx) {
    // A reference of our own, so that the heap outlives every borrow of it
    // in the cache's methods, whatever they destroy.
    let keep = region.header().owner.clone();
    let heap = Heap::of_owner(&keep);
    match local::cache(heap) {
        Some(cache) => cache.push(&heap.arenas, region, class),
        // The thread is being torn down: straight to the arena.
        None => heap.arenas.free_direct(region, class),
    }
    drop(keep); // may free the heap: nothing borrows it any more
}

/// A release into a closed pool: whatever this thread's cache still holds
/// (a close can miss a cache in use at that instant) goes back with it, so
/// that chunks empty and go instead of waiting for the thread to exit.
///
/// # Safety
/// As [`release`].
#[cold]
#[inline(never)]
unsafe fn release_closed(region: Region, class: ClassIdx) {
    let keep = region.header().owner.clone();
    let heap = Heap::of_owner(&keep);
    if let Some(cache) = local::cache(heap) {
        cache.flush_own(&heap.arenas);
    }
    heap.arenas.free_direct(region, class);
    drop(keep); // may free the heap: nothing borrows it any more
}

/// Release without a cache: to the arena, or the OS for a huge region.
/// The heap is borrowed only inside the blocks below; what must be
/// destroyed is destroyed after, as the last step (it may free the heap).
///
/// # Safety
/// As [`release`].
#[inline(never)]
unsafe fn release_to_arena(region: Region, class: ClassIdx) {
    if class == HUGE_CLASS {
        let unkept = {
            let heap = Heap::of(region.header());
            heap.huge.release(heap.env(), region.chunk)
        };
        if let Some(header) = unkept {
            // SAFETY: released and not cached: ours, destroyed once, and no
            // reference into it or its heap is alive.
            unsafe { destroy_huge(header) };
        }
        return;
    }
    let doomed = {
        // SAFETY: the header outlives the outstanding region; detached from
        // `region` so the region can move into `free`.
        let header: &ChunkHeader = unsafe { region.chunk.as_ref() };
        let heap = Heap::of(header);
        heap.arenas
            .get(header.arena)
            .free(heap.env(), region, class, true)
    };
    if let Some((chunk, committed)) = doomed {
        // SAFETY: `free` unlinked it; destroyed once, and no reference into
        // it or its heap is alive.
        unsafe { destroy_chunk(chunk, committed) };
    }
}
