//! A region is one allocation handed out by the pool: where it is, how big
//! its size class is, and how to give it back.

use crate::chunk::ChunkHeader;
use crate::handle::Handle;
use crate::size_class::ClassIdx;
use crate::sync::atomic::AtomicU32;
use std::ptr::NonNull;

/// `Region::class` of a huge allocation.
pub(crate) const HUGE_CLASS: ClassIdx = ClassIdx::MAX;

/// One outstanding allocation. Owning a `Region` means owning its bytes and
/// its reference count slot; it must go back through `PoolInner::release`.
#[derive(Debug)]
pub(crate) struct Region {
    /// First byte.
    pub(crate) ptr: NonNull<u8>,
    /// Capacity: the size class (or the page-rounded huge size).
    pub(crate) cap: usize,
    /// The chunk (or huge mapping) it lives in.
    pub(crate) chunk: NonNull<ChunkHeader>,
    /// Reference count slot for the shared form, in the chunk's run table or
    /// the subpage's element table; no per-buffer heap allocation.
    pub(crate) refs: NonNull<AtomicU32>,
    /// Location inside the chunk.
    pub(crate) handle: Handle,
    /// Size class, or [`HUGE_CLASS`].
    pub(crate) class: ClassIdx,
}

impl Region {
    /// The chunk header; valid while this region is outstanding.
    #[inline]
    pub(crate) fn header(&self) -> &ChunkHeader {
        // SAFETY: a chunk header is freed only when none of its regions is
        // outstanding (arena.rs, `free`; pool.rs, `release_huge`), and `self`
        // is one.
        unsafe { self.chunk.as_ref() }
    }
}
