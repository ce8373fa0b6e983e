//! Buffers handed out by a pool.
//!
//! ```text
//!  PooledBytesMut ──freeze──▶ PooledBytes ──clone/slice──▶ PooledBytes …
//!   unique, writable           shared, read-only; the last one dropped
//!   dropped: region returns    returns the region to the pool
//!
//!  PooledBytes:    [ ptr | len | refs | chunk·class ]       four words each
//!                    └ view ┘   └─▶ AtomicU32 in the chunk's (or subpage's) table
//!  PooledBytesMut: [ ptr | len | cap | chunk·class·flags ]
//!                    └── view ──────┘  unique, or shared with other views
//!                                      through the same slot after a split
//!  chunk·…: the 4096-aligned header address with the class and flags in
//!  its low bits; a region's start is derived from the page map
//! ```
//!
//! # Sharing
//! A frozen region's reference count is a slot in its chunk's run table or
//! its subpage's element table, reused by whoever holds the region next: no
//! buffer needs a heap allocation of its own. The count is 1 at freeze and
//! the region returns when it falls to 0.
//!
//! Owns the two public buffer types. Calls the allocation path (to grow),
//! the release path (on drop), the heap (a buffer's home) and the builder
//! (the global heap, for a buffer with no pool). Called by users, the handle
//! and the codecs.

mod bytes;
mod bytes_mut;
mod cmp;

pub use self::bytes::PooledBytes;
pub use self::bytes_mut::PooledBytesMut;

use std::ops::{Bound, RangeBounds};

/// `range` as `start..end` within `len`, with the panics of slicing a
/// `[u8]` (out of bounds, decreasing, overflow), as `bytes` has them.
pub(crate) fn bounds(range: impl RangeBounds<usize>, len: usize) -> (usize, usize) {
    let start = match range.start_bound() {
        Bound::Included(&n) => n,
        Bound::Excluded(&n) => n.checked_add(1).expect("out of range"),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&n) => n.checked_add(1).expect("out of range"),
        Bound::Excluded(&n) => n,
        Bound::Unbounded => len,
    };
    assert!(
        start <= end,
        "range start must not be greater than end: {start} <= {end}"
    );
    assert!(end <= len, "range end out of bounds: {end} <= {len}");
    (start, end)
}
