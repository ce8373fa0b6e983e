//! A region is one allocation handed out by the pool, in two words: where
//! its bytes are and which chunk they belong to.
//!
//! ```text
//! Region { ptr, chunk } ──chunk──▶ ChunkHeader { base, page maps, pool, … }
//!   page  = (ptr − base) >> page_shift
//!   run   = run_of_page[page]          (subpage runs; a normal run starts at page)
//!   elem  = (ptr − run start) / class size
//! ```
//!
//! Two words travel in registers and copy as one 16-byte move: the thread
//! cache pushes and pops them, buffers carry them. Everything else about
//! the allocation — its handle, its reference-count slot — is derived from
//! the address and the size class (which the bin or the buffer knows) in
//! O(1), so release needs no search.
//!
//! Owns nothing: a two-word descriptor. Calls `chunk` (the header). Called
//! by the arenas, huge mappings, thread caches, the heap and the paths above
//! it.

use crate::chunk::ChunkHeader;
use std::ptr::NonNull;

/// One outstanding allocation. Owning a `Region` means owning its bytes
/// and its reference-count slot; it must go back through `pool::release`
/// with its size class.
#[derive(Debug)]
pub(crate) struct Region {
    /// First byte.
    pub(crate) ptr: NonNull<u8>,
    /// The chunk (or huge mapping) it lives in.
    pub(crate) chunk: NonNull<ChunkHeader>,
}

impl Region {
    /// The chunk header; valid while this region is outstanding.
    #[inline]
    pub(crate) fn header(&self) -> &ChunkHeader {
        // SAFETY: a chunk header is freed only when none of its regions is
        // outstanding (arena.rs, `free`; pool.rs, `release_to_arena`), and `self`
        // is one.
        unsafe { self.chunk.as_ref() }
    }
}
