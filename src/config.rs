//! A pool's validated settings.
//!
//! ```text
//!  PoolBuilder (builder.rs) ──validate──▶ Config ──▶ Heap::new (heap.rs)
//!                                           └─ CacheConfig ──▶ each ThreadCache
//! ```
//!
//! Plain data: `PoolBuilder::build` checks every value before a `Config`
//! exists, so the layers that read one never re-check it. Calls nothing but
//! the types it holds.

use crate::backing::Backing;
use crate::policy::TrimPolicy;

/// Settings of a pool, validated by `PoolBuilder::build`.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) arenas: usize,
    pub(crate) page_size: usize,
    pub(crate) chunk_size: usize,
    pub(crate) cache: CacheConfig,
    pub(crate) max_memory: Option<usize>,
    pub(crate) backing: Backing,
    pub(crate) trim_policy: TrimPolicy,
    pub(crate) background_trimmer: bool,
    /// The OS page size (what `madvise` works in).
    pub(crate) os_page: usize,
}

/// Settings of the thread caches (defaults in `PoolBuilder::default`:
/// Netty 4.1's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheConfig {
    pub(crate) enabled: bool,
    pub(crate) small_entries: u32,
    pub(crate) normal_entries: u32,
    pub(crate) max_capacity: usize,
    pub(crate) sweep_threshold: u32,
}
