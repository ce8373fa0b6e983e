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

use crate::arena::Scope;
use crate::chunk::ChunkHeader;
use crate::sync::Mutex;
use std::ptr::NonNull;

/// Most mappings kept.
const MAX_ENTRIES: usize = 8;

/// Released huge mappings, with the decay epoch at which each was released.
#[derive(Debug, Default)]
pub(crate) struct HugeCache {
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
    /// most a quarter of `len`.
    pub(crate) fn take(&self, len: usize) -> Option<NonNull<ChunkHeader>> {
        let mut e = self.inner.lock();
        let best = e
            .list
            .iter()
            .enumerate()
            .map(|(i, (h, _))| (i, mapping_len(*h)))
            .filter(|&(_, l)| l >= len && l - len <= len / 4)
            .min_by_key(|&(_, l)| l)?;
        e.bytes -= best.1;
        Some(e.list.swap_remove(best.0).0)
    }

    /// Keeps a released mapping if there is room (at most `limit` bytes in
    /// all); gives it back otherwise.
    pub(crate) fn put(
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
    pub(crate) fn drain(&self, scope: Scope) -> Vec<NonNull<ChunkHeader>> {
        let mut e = self.inner.lock();
        let mut out = Vec::new();
        let mut i = 0;
        while i < e.list.len() {
            if scope.covers(e.list[i].1) {
                let (h, _) = e.list.swap_remove(i);
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
    pub(crate) fn close(&self) -> Vec<NonNull<ChunkHeader>> {
        let mut e = self.inner.lock();
        e.closed = true;
        e.bytes = 0;
        e.list.drain(..).map(|(h, _)| h).collect()
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }
}

fn mapping_len(header: NonNull<ChunkHeader>) -> usize {
    // SAFETY: listed headers are alive: owned by the cache until taken.
    unsafe { header.as_ref() }.memory.len()
}
