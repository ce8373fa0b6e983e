//! Backing memory: the only module that asks the system for memory.
//!
//! A chunk or a huge buffer is one [`Memory`] block: an anonymous private
//! mapping ([`Backing::Mmap`], through `memmap2`) or a page-aligned block
//! from the global allocator ([`Backing::Heap`]). Mapped blocks can later be
//! purged page-run by page-run (`madvise(MADV_DONTNEED)`) without being
//! unmapped; heap blocks can only be given back whole.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Where chunk and huge-buffer memory comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backing {
    /// Anonymous private mappings (`mmap`), the default on unix: free page
    /// runs can be purged back to the OS while the chunk stays mapped.
    #[cfg_attr(unix, default)]
    Mmap,
    /// Page-aligned blocks from the global allocator, the default elsewhere.
    /// Memory returns to the global allocator only a whole chunk at a time.
    #[cfg_attr(not(unix), default)]
    Heap,
}

/// One block of backing memory, released on drop.
#[derive(Debug)]
pub(crate) struct Memory {
    ptr: NonNull<u8>,
    len: usize,
    source: Source,
}

#[derive(Debug)]
enum Source {
    /// Unmapped when dropped.
    Mmap(memmap2::MmapMut),
    Heap(Layout),
}

// SAFETY: `Memory` owns its block exclusively (like a `Box<[u8]>`); the raw
// pointer is only a cached copy of the mapping's or the allocation's address.
unsafe impl Send for Memory {}
// SAFETY: `&Memory` only hands out the address; writes through it are
// coordinated by the arena that owns the block.
unsafe impl Sync for Memory {}

impl Memory {
    /// Allocates `len` bytes aligned to at least `align` (a power of two no
    /// larger than the OS page for `Mmap`). `None` if the system refuses.
    pub(crate) fn allocate(backing: Backing, len: usize, align: usize) -> Option<Memory> {
        debug_assert!(len > 0 && align.is_power_of_two());
        match backing {
            Backing::Mmap => {
                let mut map = memmap2::MmapOptions::new().len(len).map_anon().ok()?;
                let ptr = NonNull::new(map.as_mut_ptr())?;
                Some(Memory {
                    ptr,
                    len,
                    source: Source::Mmap(map),
                })
            }
            Backing::Heap => {
                let layout = Layout::from_size_align(len, align).ok()?;
                // SAFETY: `layout` has a non-zero size (`len > 0`, asserted above
                // and guaranteed by every caller: chunk and huge sizes are >= 1 page).
                let ptr = NonNull::new(unsafe { alloc::alloc(layout) })?;
                Some(Memory {
                    ptr,
                    len,
                    source: Source::Heap(layout),
                })
            }
        }
    }

    /// Start of the block.
    #[inline]
    pub(crate) fn as_ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Gives the pages of `[offset, offset + len)` back to the OS while the
    /// block stays mapped (`MADV_DONTNEED`: the memory is freed at once and
    /// reads back as zeros; the next write faults a fresh page in). `false`
    /// for heap blocks, which cannot do it, or if the kernel refused.
    pub(crate) fn purge(&self, offset: usize, len: usize) -> bool {
        match &self.source {
            Source::Mmap(map) => {
                debug_assert!(offset + len <= self.len);
                // SAFETY: the range lies inside our private anonymous mapping,
                // and the caller (the arena, under its lock) guarantees that no
                // region in it is outstanding, so no live buffer loses bytes.
                unsafe {
                    map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len)
                }
                .is_ok()
            }
            Source::Heap(_) => false,
        }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        if let Source::Heap(layout) = self.source {
            // SAFETY: `ptr` came from `alloc::alloc(layout)` in `allocate` and is
            // freed only here, once.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) };
        }
        // A mapping unmaps itself when `MmapMut` drops.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backings_give_aligned_writable_memory() {
        for backing in [Backing::Mmap, Backing::Heap] {
            let m = Memory::allocate(backing, 64 << 10, 8192).unwrap();
            assert_eq!(m.len(), 64 << 10);
            assert_eq!(m.as_ptr().as_ptr() as usize % 4096, 0);
            // SAFETY: the block is 64 KiB long and exclusively ours.
            unsafe {
                m.as_ptr().as_ptr().write_bytes(0xAB, 64 << 10);
                assert_eq!(*m.as_ptr().as_ptr().add((64 << 10) - 1), 0xAB);
            }
        }
    }
}
