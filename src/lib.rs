//! # tidebuf — pooled buffers that ebb
//!
//! A Netty-style pooled arena allocator for byte buffers: size-classed
//! arenas, page runs, slab subpages and reference-counted buffers, plus what
//! Netty lacks — a trim policy that gives memory back after load falls, a
//! hard memory cap that fails cleanly, and honest metrics (used vs active vs
//! cached).
//!
//! [`Pool::metrics`] reports three figures, with `used ≥ active + cached`:
//! - **used**: memory held from the OS;
//! - **active**: the capacity of live buffers;
//! - **cached**: free memory parked for reuse.
//!
//! ```
//! use tidebuf::{Pool, PooledBytes, PooledBytesMut};
//! let pool = Pool::new();
//! let mut buf: PooledBytesMut = pool.alloc(1500);
//! buf.extend_from_slice(b"hello");
//! let frozen: PooledBytes = buf.freeze();
//! let head = frozen.slice(0..2);
//! let b: bytes::Bytes = frozen.into();
//! assert_eq!(&head[..], b"he");
//! drop((head, b));
//! let m = pool.metrics();
//! assert_eq!(m.active_bytes, 0);
//! assert!(m.used_bytes >= m.active_bytes + m.cached_bytes);
//! ```
//!
//! # Features
//!
//! | feature | adds |
//! |---|---|
//! | `prometheus` | `PoolCollector` for a `prometheus_client` registry |
//! | `codec` | `tidebuf::codec`: `FramedRead`/`FramedWrite`/`Framed` and length-delimited, line and byte codecs over tokio, with connection buffers that ebb |
//! | `debug-checks` | poison checked on reuse, double-release and refcount-overflow panics, `Pool::outstanding()` leak tracker, `Pool::validate()` |
//! | `asan` | free pooled memory poisoned for AddressSanitizer (nightly, `-Zsanitizer=address`) |
//! | `tracing` | structured `tracing` events: trims, cap refusals, waits at the cap, arena moves |
//!
//! Without them none of this costs anything on the hot path.
//!
//! The default [`TrimPolicy`] decays: memory left unused goes back to the
//! OS one to one and a half periods (10–15 s by default) after its last
//! use, through a background trimmer, even if no thread calls into the pool
//! again.
//!
//! # Further reading
//!
//! The repository's `docs/`, as pages of this documentation:
//! - [`docs::design`]: how a request flows through size classes, arenas,
//!   chunks and subpages, and how memory ebbs;
//! - [`docs::tuning`]: reading the metrics, sizing `max_memory` and the
//!   trim period;
//! - [`docs::codecs`]: the pooled codecs (feature `codec`);
//! - [`docs::benchmarks`] and [`docs::testing`]: the measurements, and
//!   what each test suite proves.

#![deny(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]
#![warn(missing_debug_implementations, unreachable_pub)]
// docs.rs (`--cfg docsrs`, nightly rustdoc): items behind a feature are
// marked with it.
#![cfg_attr(docsrs, feature(doc_cfg))]

// Layers, lowest first; each module imports only from layers below it
// (checked by `.ci/layers.py`; the diagram is in docs/design.md).
// 0: primitives
#[cfg(feature = "asan")]
mod asan;
mod backing;
mod barrier;
mod bitmap;
mod counter;
mod error;
mod fork;
mod handle;
mod limit;
mod policy;
mod size_class;
mod sync;
mod timer;
mod trace;
mod wait_queue;
// 1: what the arenas are handed
mod budget;
mod clock;
mod config;
// 2: pages, runs and regions (know nothing of pools)
mod chunk;
mod chunk_list;
#[cfg(feature = "debug-checks")]
mod debug;
mod region;
mod subpage;
// 3-5: arenas, huge mappings, thread caches
mod arena;
mod huge;
mod thread_cache;
// 6-9: the heap, thread-local lookup, and the paths through them
mod alloc;
mod heap;
mod local;
mod metrics;
mod release;
mod trim;
// 10-12: buffers, building, the handle, integrations
mod buf;
mod builder;
#[cfg(feature = "codec")]
pub mod codec;
mod pool;
#[cfg(feature = "prometheus")]
mod prometheus;
mod wait;

#[cfg(test)]
mod tests;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The repository's `docs/*.md`, as pages of this documentation (their
/// examples are doctests too).
pub mod docs {
    #[doc = include_str!("../docs/design.md")]
    pub mod design {}
    #[doc = include_str!("../docs/tuning.md")]
    pub mod tuning {}
    #[doc = include_str!("../docs/codecs.md")]
    pub mod codecs {}
    #[doc = include_str!("../docs/benchmarks.md")]
    pub mod benchmarks {}
    #[doc = include_str!("../docs/testing.md")]
    pub mod testing {}
}

pub use crate::backing::Backing;
pub use crate::buf::{PooledBytes, PooledBytesMut};
pub use crate::builder::PoolBuilder;
#[cfg(feature = "debug-checks")]
pub use crate::debug::Outstanding;
pub use crate::error::{AllocError, AllocErrorKind, ConfigError};
pub use crate::metrics::{ArenaMetrics, ByKind, PoolMetrics};
pub use crate::policy::{TrimPolicy, TrimReport};
pub use crate::pool::Pool;
#[cfg(feature = "prometheus")]
pub use crate::prometheus::PoolCollector;
pub use crate::wait::AllocWait;
