//! # tidebuf — pooled buffers that ebb
//!
//! A Netty-style pooled arena allocator for byte buffers: size-classed
//! arenas, page runs, slab subpages and reference-counted buffers, plus what
//! Netty lacks — a trim policy that gives memory back after load falls, a
//! hard memory cap that fails cleanly, and honest metrics (used vs active vs
//! cached).
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
//!
//! Without them none of this costs anything on the hot path.
//!
//! See `docs/design.md` in the repository for how a request flows through
//! size classes, arenas, chunks and subpages.
//!
//! The default [`TrimPolicy`] decays: memory unused for a whole period
//! (10 s) goes back to the OS, through a background trimmer, even if no
//! thread calls into the pool again. `docs/tuning.md` explains the metrics
//! and settings.

#![deny(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]
#![warn(missing_debug_implementations, unreachable_pub)]

mod arena;
#[cfg(feature = "asan")]
mod asan;
mod backing;
mod barrier;
mod bitmap;
mod buf;
mod chunk;
mod chunk_list;
#[cfg(feature = "codec")]
pub mod codec;
#[cfg(feature = "debug-checks")]
mod debug;
mod error;
mod handle;
mod huge;
mod limit;
mod local;
mod metrics;
mod pool;
#[cfg(feature = "prometheus")]
mod prometheus;
mod region;
mod size_class;
mod subpage;
mod sync;
mod thread_cache;
mod trim;

#[cfg(all(test, tidebuf_loom))]
mod tests;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use crate::backing::Backing;
pub use crate::buf::{PooledBytes, PooledBytesMut};
#[cfg(feature = "debug-checks")]
pub use crate::debug::Outstanding;
pub use crate::error::{AllocError, AllocErrorKind, ConfigError};
pub use crate::metrics::{ArenaMetrics, ByKind, PoolMetrics};
pub use crate::pool::{Pool, PoolBuilder};
#[cfg(feature = "prometheus")]
pub use crate::prometheus::PoolCollector;
pub use crate::trim::{TrimPolicy, TrimReport};
