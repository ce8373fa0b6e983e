//! Recycling of huge buffers (larger than a chunk).
//!
//! ```text
//!  release 4.6 MiB ──▶ [ 4.6 MiB · 5.0 MiB · 4.1 MiB ]  ◀── take(4.5 MiB): best fit,
//!                       bounded: 8 mappings, 4 chunks' worth       waste ≤ 1/4
//! ```
//!
//! A huge request maps memory of its own; mapping, faulting every page in
//! and unmapping again per request is what made 1–5 MiB buffers slow. A
//! released mapping is kept here instead, still counted in `used_bytes`
//! (and in `cached_bytes`), and handed to the next request it fits with
//! little waste — already faulted in. The trim policy gives idle mappings
//! back like everything else, and they are the first thing dropped when
//! `max_memory` needs room.
//!
//! Closing the pool closes the cache under its lock: from then on `put`
//! refuses, so a release racing the close either parks before the close
//! drains (and is drained with the rest) or is refused and unmapped by the
//! releaser. A mapping parked after the drain would keep the pool alive
//! through its header forever (pool → cache → header → pool).
//!
//! Owns huge mappings while they are cached, and the huge counters. Calls
//! `backing` (to map), the budget and clock through the arenas' [`Env`],
//! and `chunk` (a huge mapping has a one-page header). Called by the
//! allocation and release paths, trimming and the metrics.

use crate::arena::{release_memory, Env};
use crate::backing::Memory;
use crate::budget::Refused;
use crate::chunk::{ChunkHeader, HUGE_ARENA};
use crate::clock::Scope;
use crate::counter::SharedCounter;
use crate::region::Region;
use crate::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::sync::Mutex;
use std::ptr::NonNull;

/// Recycled huge mappings kept, at most, in chunks' worth of bytes.
const HUGE_CACHE_CHUNKS: usize = 16;

/// Huge buffers of a pool: their counters and the recycled mappings.
#[derive(Debug, Default)]
pub(crate) struct Huge {
    pub(crate) count: SharedCounter,
    pub(crate) active_bytes: SharedCounter,
    pub(crate) allocations: SharedCounter,
    pub(crate) deallocations: SharedCounter,
    /// Released huge mappings kept for reuse.
    cache: HugeCache,
    /// Most huge bytes alive at once since the last decay tick, and in the
    /// tick before: the cache keeps at most the larger — the recent peak,
    /// not what happens to be alive when a buffer is released.
    high_water: AtomicUsize,
    last_peak: AtomicUsize,
}

impl Huge {
    /// A mapping of at least `size` bytes: a recycled one if one fits, else
    /// a new one reserved against the budget.
    pub(crate) fn allocate(&self, env: &Env, size: usize) -> Result<Region, Refused> {
        let len = env.classes.huge_size(size).ok_or(Refused::OutOfMemory)?;
        let header = match self.cache.take(len) {
            // Already reserved and faulted in: no mmap, no page faults.
            Some(header) => {
                #[cfg(feature = "debug-checks")]
                {
                    // SAFETY: a cached header is alive and ours now.
                    let hdr = unsafe { header.as_ref() };
                    let region = Region {
                        ptr: hdr.base,
                        chunk: header,
                    };
                    #[cfg(feature = "asan")]
                    crate::asan::unpoison(hdr.base.as_ptr(), hdr.memory.len());
                    crate::debug::check(&region, hdr.memory.len(), crate::size_class::HUGE_CLASS);
                }
                header
            }
            None => {
                if let Err(refused) = env.budget.reserve(len) {
                    // Recycled mappings are the first thing to give up.
                    if self.drop_cached(env, Scope::All) == 0 {
                        return Err(refused);
                    }
                    env.budget.reserve(len)?;
                }
                let Some(memory) = Memory::allocate(env.backing, len, env.classes.page_size())
                else {
                    env.budget.unreserve(len);
                    return Err(Refused::OutOfMemory);
                };
                env.budget.holds_memory(len);
                let shift = env.classes.page_size().trailing_zeros();
                let header = ChunkHeader::new(memory, 1, shift, HUGE_ARENA, 0, env.owner());
                NonNull::from(Box::leak(Box::new(header)))
            }
        };
        // SAFETY: a live huge header, ours until its region is released.
        let hdr = unsafe { header.as_ref() };
        self.count.add(1);
        self.active_bytes.add(hdr.memory.len() as u64);
        self.allocations.add(1);
        self.high_water
            .fetch_max(self.active_bytes.get() as usize, Relaxed);
        Ok(Region {
            ptr: hdr.base,
            chunk: header,
        })
    }

    /// A released huge region: kept for reuse if the cache has room. If not,
    /// it is handed back for the caller to unmap with [`destroy_huge`]
    /// after this returns (that may drop the heap's last reference).
    pub(crate) fn release(
        &self,
        env: &Env,
        header: NonNull<ChunkHeader>,
    ) -> Option<NonNull<ChunkHeader>> {
        let len = mapping_len(header);
        self.count.sub(1);
        self.active_bytes.sub(len as u64);
        self.deallocations.add(1);
        // Whether the pool is closed is decided by `put`, under the cache's
        // lock: a closed cache refuses.
        // Keep no more than was alive at once lately (at least two chunks'
        // worth, at most HUGE_CACHE_CHUNKS): a trickle parks little, a
        // steady stream of big buffers enough to never map again.
        let chunk = env.classes.chunk_size();
        let limit = self
            .high_water
            .load(Relaxed)
            .max(self.last_peak.load(Relaxed))
            // Saturating: a 32-bit target with chunks of 256 MiB or more
            // would otherwise wrap the bound below the floor (and `clamp`
            // panics on that).
            .clamp(
                2usize.saturating_mul(chunk),
                HUGE_CACHE_CHUNKS.saturating_mul(chunk),
            );
        self.cache.put(header, env.clock.epoch(), limit).err()
    }

    /// Unmaps the recycled mappings `scope` covers; returns the bytes.
    ///
    /// The caller holds a reference to the heap across the call, so no
    /// header's reference is the last.
    pub(crate) fn drop_cached(&self, env: &Env, scope: Scope) -> usize {
        let _borrowed = env.borrowed();
        let mut bytes = 0;
        for header in self.cache.drain(scope) {
            bytes += mapping_len(header);
            // SAFETY: drained from the cache: owned here, destroyed once;
            // not the heap's last reference (above).
            unsafe { destroy_huge(header) };
        }
        bytes
    }

    /// A decay tick: the peak so far becomes the last one, and a new one
    /// starts from what is alive now.
    pub(crate) fn new_period(&self) {
        let peak = self
            .high_water
            .swap(self.active_bytes.get() as usize, Relaxed);
        self.last_peak.store(peak, Relaxed);
    }

    /// The pool closed: every cached mapping goes and none is kept again.
    /// The caller (the closing handle) holds a reference to the heap.
    pub(crate) fn close(&self) {
        for header in self.cache.close() {
            // SAFETY: removed from the cache: owned here, destroyed once;
            // the closing handle holds a heap reference, so the header's is
            // not the last.
            unsafe { destroy_huge(header) };
        }
    }

    /// Bytes of recycled mappings held.
    pub(crate) fn cached_bytes(&self) -> usize {
        self.cache.bytes()
    }
}

/// Unmaps a huge buffer's mapping and frees its header.
///
/// # Safety
/// `header` is a huge header (from `Huge::allocate`) that nothing else
/// refers to; it is destroyed once. This may drop the heap's last
/// reference: the caller must not touch the heap afterwards.
pub(crate) unsafe fn destroy_huge(header: NonNull<ChunkHeader>) {
    // SAFETY: per the contract, leaked from a `Box` and owned by us now.
    let header = unsafe { Box::from_raw(header.as_ptr()) };
    #[cfg(feature = "asan")]
    crate::asan::unpoison(header.base.as_ptr(), header.memory.len());
    let ChunkHeader { memory, owner, .. } = *header;
    let len = memory.len();
    release_memory(memory, len, owner);
}

/// Most mappings kept.
const MAX_ENTRIES: usize = 8;

/// Released huge mappings, with the decay epoch at which each was released.
#[derive(Debug, Default)]
struct HugeCache {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    list: Vec<(NonNull<ChunkHeader>, u64)>,
    bytes: usize,
    /// Set by `close`: nothing is parked any more.
    closed: bool,
}

// SAFETY: the headers are owned allocations (from `Box::leak`) that only
// this cache refers to while they are listed; their shared parts are Sync.
unsafe impl Send for Entries {}

impl HugeCache {
    /// Takes the smallest mapping of at least `len` bytes that wastes at
    /// most a quarter of `len`; of equal ones, the last released, whose
    /// bytes are likeliest still in the CPU's caches.
    fn take(&self, len: usize) -> Option<NonNull<ChunkHeader>> {
        let mut e = self.inner.lock();
        let best = e
            .list
            .iter()
            .enumerate()
            .rev() // `min_by_key` keeps the first of equals: the newest
            .map(|(i, (h, _))| (i, mapping_len(*h)))
            .filter(|&(_, l)| l >= len && l - len <= len / 4)
            .min_by_key(|&(_, l)| l)?;
        e.bytes -= best.1;
        // `remove`, not `swap_remove`: the list stays in release order
        // (at most `MAX_ENTRIES` long), so the newest is always last.
        Some(e.list.remove(best.0).0)
    }

    /// Keeps a released mapping if there is room (at most `limit` bytes in
    /// all); gives it back otherwise.
    fn put(
        &self,
        header: NonNull<ChunkHeader>,
        epoch: u64,
        limit: usize,
    ) -> Result<(), NonNull<ChunkHeader>> {
        let len = mapping_len(header);
        let mut e = self.inner.lock();
        if e.closed || e.list.len() >= MAX_ENTRIES || e.bytes + len > limit {
            return Err(header);
        }
        e.bytes += len;
        e.list.push((header, epoch));
        Ok(())
    }

    /// Removes the mappings `scope` covers (released at or before its
    /// epoch, or all); the caller unmaps them.
    fn drain(&self, scope: Scope) -> Vec<NonNull<ChunkHeader>> {
        let mut e = self.inner.lock();
        let mut out = Vec::new();
        let mut i = 0;
        while i < e.list.len() {
            if scope.covers(e.list[i].1) {
                let (h, _) = e.list.remove(i); // keeps release order
                e.bytes -= mapping_len(h);
                out.push(h);
            } else {
                i += 1;
            }
        }
        out
    }

    /// Refuses every later `put` and removes every mapping, under one lock;
    /// the caller unmaps them.
    fn close(&self) -> Vec<NonNull<ChunkHeader>> {
        let mut e = self.inner.lock();
        e.closed = true;
        e.bytes = 0;
        e.list.drain(..).map(|(h, _)| h).collect()
    }

    /// Bytes held.
    fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }
}

fn mapping_len(header: NonNull<ChunkHeader>) -> usize {
    // SAFETY: listed headers are alive: owned by the cache until taken.
    unsafe { header.as_ref() }.memory.len()
}
