//! Buffers handed out by a pool.
//!
//! ```text
//!  PooledBytesMut ──freeze──▶ PooledBytes ──clone/slice──▶ PooledBytes …
//!   unique, writable           shared, read-only; the last one dropped
//!   dropped: region returns    returns the region to the pool
//!
//!  PooledBytes: [ ptr | len | region: ptr cap chunk refs handle class ]
//!                 └ view ┘              └─ refs ─▶ AtomicU32 in the chunk's
//!                                                  (or subpage's) table
//! ```
//!
//! # Sharing
//! A frozen region's reference count is a slot in its chunk's run table or
//! its subpage's element table, reused by whoever holds the region next: no
//! buffer needs a heap allocation of its own. The count is 1 at freeze and
//! the region returns when it falls to 0.

mod bytes;
mod bytes_mut;

pub use self::bytes::PooledBytes;
pub use self::bytes_mut::PooledBytesMut;
