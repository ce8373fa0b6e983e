//! Counters for metrics: atomics read lock-free by `Pool::metrics`.
//!
//! ```text
//!  Counter        one writer at a time (a lock's holder, a cache's owner):
//!                 load + store, a plain `mov`, no locked instruction
//!  SharedCounter  any thread at any time: fetch_add / fetch_sub
//! ```
//!
//! Owns nothing but the two types; calls only `sync`. Used by the arenas,
//! the thread caches, the huge-mapping cache and the pool's totals.

use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// A counter with one writer at a time (the arena lock's holder): updated
/// by a load and a store, which is cheaper than a locked read-modify-write,
/// and read lock-free.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicUsize);

impl Counter {
    #[inline]
    pub(crate) fn add(&self, n: usize) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    pub(crate) fn sub(&self, n: usize) {
        self.0.store(self.0.load(Relaxed).wrapping_sub(n), Relaxed);
    }

    #[inline]
    pub(crate) fn set(&self, n: usize) {
        self.0.store(n, Relaxed);
    }

    #[inline]
    pub(crate) fn get(&self) -> usize {
        self.0.load(Relaxed)
    }
}

/// A counter many threads update at once (locked read-modify-write).
#[derive(Debug, Default)]
pub(crate) struct SharedCounter(AtomicU64);

impl SharedCounter {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    pub(crate) fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}
