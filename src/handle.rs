//! A handle names one allocation inside a chunk, so release needs no search.
//!
//! ```text
//!  63          44 43          24  23   22                 0
//! [ run start:20 | run pages:20 | sub | element index:23  ]
//! ```
//!
//! A normal allocation is a run (`sub = 0`, element unused). A small one is
//! element `elem` of the subpage whose run starts at `run start`.
//! 20 bits of pages allow 2^20 pages per chunk (1 GiB of 4 KiB pages would
//! need 2^18); a subpage run holds at most `max(page / 16, 4)` elements
//! (its length is a multiple of lcm(page, size), and every class is a
//! multiple of 16 B), so 1 MiB pages need 2^16 of the 2^23 element values.
//!
//! Owns the handle encoding. Calls nothing. Called by size classes, chunks
//! and the arena tables.

/// Packed location of an allocation inside its chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handle(u64);

const ELEM_BITS: u32 = 23;
const PAGE_BITS: u32 = 20;
const SUB_SHIFT: u32 = ELEM_BITS;
const PAGES_SHIFT: u32 = SUB_SHIFT + 1;
const START_SHIFT: u32 = PAGES_SHIFT + PAGE_BITS;
const _: () = assert!(START_SHIFT + PAGE_BITS == 64);
const PAGE_MASK: u64 = (1 << PAGE_BITS) - 1;
const ELEM_MASK: u64 = (1 << ELEM_BITS) - 1;

/// Most pages a chunk may have.
pub(crate) const MAX_PAGES: usize = 1 << PAGE_BITS;
/// Most elements a subpage may have.
pub(crate) const MAX_ELEMS: usize = 1 << ELEM_BITS;

impl Handle {
    /// A run of `pages` pages starting at page `start`.
    pub(crate) fn run(start: u32, pages: u32) -> Handle {
        debug_assert!((start as u64) <= PAGE_MASK && (pages as u64) <= PAGE_MASK);
        Handle((start as u64) << START_SHIFT | (pages as u64) << PAGES_SHIFT)
    }

    /// Element `elem` of the subpage whose run (of `pages` pages) starts at `start`.
    pub(crate) fn element(start: u32, pages: u32, elem: u32) -> Handle {
        debug_assert!((elem as u64) <= ELEM_MASK);
        Handle(Handle::run(start, pages).0 | 1 << SUB_SHIFT | elem as u64)
    }

    /// First page of the run.
    #[inline]
    pub(crate) fn run_start(self) -> u32 {
        (self.0 >> START_SHIFT) as u32
    }

    /// Pages in the run.
    #[inline]
    pub(crate) fn run_pages(self) -> u32 {
        ((self.0 >> PAGES_SHIFT) & PAGE_MASK) as u32
    }

    /// Whether this is a subpage element.
    #[inline]
    pub(crate) fn is_subpage(self) -> bool {
        self.0 & (1 << SUB_SHIFT) != 0
    }

    /// Element index (meaningful for subpage handles).
    #[inline]
    pub(crate) fn elem(self) -> u32 {
        (self.0 & ELEM_MASK) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_the_edges() {
        let max_page = (MAX_PAGES - 1) as u32;
        let h = Handle::run(max_page, max_page);
        assert_eq!(
            (h.run_start(), h.run_pages(), h.is_subpage()),
            (max_page, max_page, false)
        );
        let e = Handle::element(max_page, 7, (MAX_ELEMS - 1) as u32);
        assert_eq!(e.run_start(), max_page);
        assert_eq!(e.run_pages(), 7);
        assert!(e.is_subpage());
        assert_eq!(e.elem(), (MAX_ELEMS - 1) as u32);
        let z = Handle::element(0, 1, 0);
        assert_eq!(
            (z.run_start(), z.run_pages(), z.is_subpage(), z.elem()),
            (0, 1, true, 0)
        );
    }
}
