//! Backing memory: the only module that asks the system for memory.
//!
//! A chunk or a huge buffer is one [`Memory`] block: an anonymous private
//! mapping ([`Backing::Mmap`], through `memmap2`) or a page-aligned block
//! from the global allocator ([`Backing::Heap`]). Mapped blocks can later be
//! purged page-run by page-run (`madvise(MADV_DONTNEED)`) without being
//! unmapped; heap blocks can only be given back whole.
//!
//! ```text
//!  OS pages (16 KiB)  |<------ 16K ------>|<------ 16K ------>|<---- 16K ---->|
//!  pool pages (8 KiB) | live    | free    | free    | free    | free    | live |
//!  free run                     [=======================================)
//!  advised                                [==================)
//! ```
//!
//! The kernel purges whole OS pages, so a purge advises only the OS-page
//! aligned part that lies wholly inside the free run: an OS page shared
//! with a live run is never touched. (`PoolBuilder::build` also refuses an
//! mmap-backed `page_size` below the OS page, so in a built pool the two
//! always coincide; the alignment here keeps that a local guarantee.)
//!
//! Owns a block of memory (`Memory`) and the OS page size. Calls only
//! `libc`/`memmap2`. Called by the arenas (chunks) and huge mappings.

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

/// The OS page size, read once (`sysconf(_SC_PAGESIZE)`); 4 KiB where it
/// cannot be read.
pub(crate) fn os_page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        #[cfg(unix)]
        {
            // SAFETY: `sysconf` has no preconditions; it only reads a value.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if let Ok(page) = usize::try_from(page) {
                if page.is_power_of_two() {
                    return page;
                }
            }
        }
        4096
    })
}

/// The part of `[offset, offset + len)` made of whole OS pages of
/// `os_page` bytes: the start rounded up, the end rounded down. Empty
/// (`len == 0`) when no whole OS page fits.
pub(crate) fn os_aligned_inside(offset: usize, len: usize, os_page: usize) -> (usize, usize) {
    let mask = os_page - 1;
    let start = offset.saturating_add(mask) & !mask;
    let end = (offset + len) & !mask;
    (start, end.saturating_sub(start))
}

impl Memory {
    /// Allocates `len` bytes. `Heap` blocks are aligned to `align` (a power
    /// of two); `Mmap` blocks to the OS page, whatever `align` says — no
    /// caller needs more, since every address inside a block is computed
    /// from its start (`chunk.rs`), never from absolute alignment. `None`
    /// if the system refuses.
    pub(crate) fn allocate(backing: Backing, len: usize, align: usize) -> Option<Memory> {
        debug_assert!(len > 0 && align.is_power_of_two());
        match backing {
            Backing::Mmap => {
                let mut map = memmap2::MmapOptions::new().len(len).map_anon().ok()?;
                let ptr = NonNull::new(map.as_mut_ptr())?;
                debug_assert_eq!(ptr.as_ptr() as usize % os_page_size(), 0);
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

    /// Gives the whole OS pages (of `os_page` bytes) inside the free range
    /// `[offset, offset + len)` back to the OS while the block stays mapped
    /// (`MADV_DONTNEED`: the memory is freed at once and reads back as
    /// zeros; the next write faults a fresh page in). Returns the range
    /// actually advised, `(offset, len)`; `None` for heap blocks, which
    /// cannot do it, or if the kernel refused.
    pub(crate) fn purge(
        &self,
        offset: usize,
        len: usize,
        os_page: usize,
    ) -> Option<(usize, usize)> {
        let Source::Mmap(map) = &self.source else {
            return None;
        };
        debug_assert!(offset + len <= self.len);
        let (start, advised) = os_aligned_inside(offset, len, os_page);
        if advised == 0 {
            return None;
        }
        debug_assert!(start % os_page == 0 && advised % os_page == 0);
        debug_assert!(start >= offset && start + advised <= offset + len);
        // SAFETY: `[start, start + advised)` lies inside `[offset, offset +
        // len)` (rounded inwards to whole OS pages, asserted above), which
        // lies inside our private anonymous mapping; the caller (the arena,
        // under its lock) guarantees that no region in `[offset, offset +
        // len)` is outstanding, and no OS page outside it is advised, so no
        // live buffer loses bytes.
        unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, advised) }
            .ok()
            .map(|()| (start, advised))
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
    fn os_page_size_is_a_power_of_two_of_at_least_4k() {
        let page = os_page_size();
        assert!(page.is_power_of_two() && page >= 4096, "{page}");
    }

    /// A 16 KiB-page kernel, simulated: 8 KiB pool pages, so a free run can
    /// share an OS page with a live neighbour. The purge must advise only
    /// the whole OS pages inside the run, and the neighbours keep their bytes.
    #[test]
    fn purge_advises_only_whole_os_pages_inside_the_free_run() {
        const OS: usize = 16 << 10;
        const PAGE: usize = 8 << 10;
        let m = Memory::allocate(Backing::Mmap, 8 * OS, PAGE).unwrap();
        // SAFETY: the block is exclusively ours.
        let bytes = unsafe { std::slice::from_raw_parts_mut(m.as_ptr().as_ptr(), 8 * OS) };
        bytes.fill(0xAB);
        // Free run: pool pages 1..=4 ([8K, 40K)); pages 0 and 5 are live.
        let advised = m.purge(PAGE, 4 * PAGE, OS);
        assert_eq!(advised, Some((OS, OS)), "only [16K, 32K) is whole");
        assert!(bytes[..OS].iter().all(|&b| b == 0xAB), "live page 0 kept");
        assert!(
            bytes[2 * OS..].iter().all(|&b| b == 0xAB),
            "live page 5 kept"
        );
        // A run of one pool page holds no whole OS page: nothing advised.
        assert_eq!(m.purge(5 * PAGE, PAGE, OS), None);
        // Aligned runs are advised exactly.
        assert_eq!(m.purge(4 * OS, 2 * OS, OS), Some((4 * OS, 2 * OS)));
        assert_eq!(os_aligned_inside(PAGE, PAGE, OS), (OS, 0));
        assert_eq!(os_aligned_inside(0, 3 * PAGE, OS), (0, OS));
    }

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
