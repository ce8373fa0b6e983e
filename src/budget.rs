//! The `max_memory` budget: bytes reserved from the OS, in one atomic.
//!
//! ```text
//!  new chunk / recommit / huge map:  reserve(n) ──▶ used + n ≤ limit? ──no──▶ Refused::OverLimit
//!                                         │ yes (one fetch_update: two threads never both squeeze in)
//!                                         ▼
//!                                   map or commit the memory, holds_memory(n)
//!  unmap / purge:                   released_memory(n), then unreserve(n)
//! ```
//!
//! Order matters for the cap to hold in real memory: a reservation comes
//! before the memory is mapped and goes only after it is unmapped, so the
//! memory the process holds never passes `max_memory`. With the crate's
//! checks on (`test`, `debug-checks`) the budget also counts memory
//! actually held and asserts that promise.
//!
//! Owns the reservation counter and the queue of requests waiting under
//! the cap (`wait_queue`, notified whenever a reservation goes). Calls
//! `sync` and `wait_queue`. Used by the arenas (chunks, recommitted pages),
//! huge mappings, the release path, the waiting future and the metrics.

use crate::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::wait_queue::WaitQueue;
use crossbeam_utils::CachePadded;

/// Why memory could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Reserving `needed` more bytes would take `used` past `max_memory`.
    OverLimit {
        /// `used_bytes` the refusal was decided on.
        used: usize,
        /// Bytes the request needed to reserve (a chunk, recommitted
        /// pages, a huge mapping).
        needed: usize,
    },
    /// The system refused a new chunk or mapping.
    OutOfMemory,
}

/// Bytes reserved against an optional cap.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Bytes reserved: chunks + huge buffers (`used_bytes`).
    used: CachePadded<AtomicUsize>,
    limit: Option<usize>,
    /// Requests waiting for memory to come back (`Pool::alloc_wait`).
    pub(crate) waiters: WaitQueue,
    /// Bytes of memory actually held (mapped or committed).
    #[cfg(any(test, feature = "debug-checks"))]
    held: AtomicUsize,
}

impl Budget {
    pub(crate) fn new(limit: Option<usize>) -> Budget {
        Budget {
            used: CachePadded::new(AtomicUsize::new(0)),
            limit,
            waiters: WaitQueue::default(),
            #[cfg(any(test, feature = "debug-checks"))]
            held: AtomicUsize::new(0),
        }
    }

    /// `max_memory`.
    pub(crate) fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// Bytes reserved now (`used_bytes`).
    pub(crate) fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    /// Reserves `bytes` before memory is mapped or committed, failing if
    /// that would pass `max_memory` — with the figure the refusal was
    /// decided on. One atomic update, so two threads can never both squeeze
    /// under the cap.
    pub(crate) fn reserve(&self, bytes: usize) -> Result<(), Refused> {
        match self.limit {
            None => {
                self.used.fetch_add(bytes, Relaxed);
                Ok(())
            }
            Some(limit) => self
                .used
                .fetch_update(Relaxed, Relaxed, |used| {
                    used.checked_add(bytes).filter(|&n| n <= limit)
                })
                .map(drop)
                .map_err(|used| Refused::OverLimit {
                    used,
                    needed: bytes,
                }),
        }
    }

    /// Gives back a reservation, after its memory was unmapped or purged,
    /// and wakes the first request waiting for memory.
    pub(crate) fn unreserve(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Relaxed);
        self.waiters.notify();
    }

    /// Memory was just mapped or committed under a reservation. With the
    /// crate's checks on, counts it and checks the cap holds for memory
    /// itself, not only for the reservation counter.
    #[inline]
    pub(crate) fn holds_memory(&self, bytes: usize) {
        #[cfg(any(test, feature = "debug-checks"))]
        {
            let held = self.held.fetch_add(bytes, Relaxed) + bytes;
            if let Some(limit) = self.limit {
                assert!(
                    held <= limit,
                    "memory held ({held}) passed max_memory ({limit})"
                );
            }
        }
        let _ = bytes;
    }

    /// Memory was just unmapped or purged (before its reservation goes).
    #[inline]
    pub(crate) fn released_memory(&self, bytes: usize) {
        #[cfg(any(test, feature = "debug-checks"))]
        self.held.fetch_sub(bytes, Relaxed);
        let _ = bytes;
    }
}
