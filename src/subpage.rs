//! A subpage is a run of pages cut into equal elements of one small class.
//!
//! ```text
//! run of 1 page (8 KiB), class 1 KiB:
//!   [e0][e1][e2][e3][e4][e5][e6][e7]     used bitmap: 1 1 0 1 0 0 0 0
//!                                         next_free:   2 (last freed)
//! ```
//!
//! The run length is the smallest whole number of pages that holds a whole
//! number of elements (`lcm(page, element)`), so no tail is wasted.
//!
//! Allocation takes the last freed element if there is one (it is warm in
//! cache), else the lowest clear bit. Each element has its own reference
//! count slot for the shared (`PooledBytes`) form of its buffer.
//!
//! Subpages with free elements sit in their arena's per-class `avail` list,
//! so finding one for a class is O(1); see `arena/`.
//!
//! Owns one subpage's element bitmap and counts. Calls `bitmap`,
//! `size_class`, `sync`. Called by the arena tables.

use crate::bitmap::Bitmap;
use crate::size_class::ClassIdx;
use crate::sync::atomic::AtomicU32;
use std::ptr::NonNull;

/// `avail_pos` of a subpage that is not in its class's avail list.
pub(crate) const NOT_AVAIL: u32 = u32::MAX;

/// Allocation state of one subpage run.
#[derive(Debug)]
pub(crate) struct Subpage {
    /// Size class of every element.
    pub(crate) class: ClassIdx,
    /// Element size in bytes.
    pub(crate) elem_size: u32,
    /// Elements in the run.
    pub(crate) elems: u32,
    /// Elements not handed out.
    pub(crate) free: u32,
    /// Pages in the run.
    pub(crate) run_pages: u32,
    /// Position in the arena's avail list for `class`, or [`NOT_AVAIL`].
    pub(crate) avail_pos: u32,
    used: Bitmap,
    next_free: Option<u32>,
    /// One refcount per element (at least `elems` of them). Owned (from `Box::into_raw`), not a `Box`:
    /// buffers on other threads touch these atomics through raw pointers
    /// while the arena holds `&mut Subpage`, and a `Box` field would claim
    /// unique access to them.
    refs: NonNull<[AtomicU32]>,
}

// SAFETY: `refs` is an owned allocation of atomics, as `Box<[AtomicU32]>`
// would be; every other field is plain data.
unsafe impl Send for Subpage {}

impl Subpage {
    pub(crate) fn new(class: ClassIdx, elem_size: usize, run_pages: u32, elems: u32) -> Subpage {
        let refs: Box<[AtomicU32]> = (0..elems).map(|_| AtomicU32::new(0)).collect();
        Subpage {
            class,
            elem_size: elem_size as u32,
            elems,
            free: elems,
            run_pages,
            avail_pos: NOT_AVAIL,
            used: Bitmap::new(elems as usize),
            next_free: None,
            refs: NonNull::from(Box::leak(refs)),
        }
    }

    /// Whether this (retired) subpage's tables can hold `elems` elements.
    pub(crate) fn fits(&self, elems: u32) -> bool {
        elems as usize <= self.refs.len() && elems as usize <= self.used.capacity()
    }

    /// Re-cuts a retired subpage for another run, keeping its tables, so
    /// subpages that come and go cost no global allocation.
    pub(crate) fn reinit(&mut self, class: ClassIdx, elem_size: usize, run_pages: u32, elems: u32) {
        debug_assert!(self.fits(elems) && self.is_empty());
        self.class = class;
        self.elem_size = elem_size as u32;
        self.elems = elems;
        self.free = elems;
        self.run_pages = run_pages;
        self.avail_pos = NOT_AVAIL;
        self.used.reset(elems as usize);
        self.next_free = None;
    }

    /// Hands out a free element, or `None` if the subpage is full.
    #[inline]
    pub(crate) fn allocate(&mut self) -> Option<u32> {
        if self.free == 0 {
            return None;
        }
        let elem = match self.next_free.take() {
            Some(e) => e,
            None => self.used.first_clear_from_word(0)? as u32,
        };
        self.used.set(elem as usize);
        self.free -= 1;
        Some(elem)
    }

    /// Takes back element `elem`.
    #[inline]
    pub(crate) fn free(&mut self, elem: u32) {
        debug_assert!(
            self.used.get(elem as usize),
            "double free of element {elem}"
        );
        self.used.clear(elem as usize);
        self.free += 1;
        self.next_free = Some(elem);
    }

    /// Whether no element is handed out.
    pub(crate) fn is_empty(&self) -> bool {
        self.free == self.elems
    }

    /// Reference-count slot of element 0 (the others follow it); valid
    /// until this subpage is dropped, which happens only when every element
    /// is back.
    pub(crate) fn first_ref_slot(&self) -> NonNull<AtomicU32> {
        self.refs.cast::<AtomicU32>()
    }

    /// Checks `free == elems − Σ used bits`.
    #[cfg(any(test, feature = "debug-checks"))]
    pub(crate) fn validate(&self) {
        let used = (0..self.elems as usize)
            .filter(|&i| self.used.get(i))
            .count() as u32;
        assert_eq!(self.free + used, self.elems, "subpage free count");
    }
}

impl Drop for Subpage {
    fn drop(&mut self) {
        // SAFETY: `refs` came from `Box::leak` in `new` and is freed only here;
        // the subpage is dropped only when all elements are back, so no buffer
        // still points at a slot.
        drop(unsafe { Box::from_raw(self.refs.as_ptr()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_every_element_once() {
        let mut s = Subpage::new(0, 16, 1, 512);
        let mut seen = std::collections::HashSet::new();
        while let Some(e) = s.allocate() {
            assert!(seen.insert(e));
        }
        assert_eq!(seen.len(), 512);
        s.validate();
        s.free(77);
        assert_eq!(s.allocate(), Some(77), "last freed is reused first");
        for e in 0..512 {
            s.free(e);
        }
        assert!(s.is_empty());
        s.validate();
        assert!(s.fits(512) && !s.fits(513));
        s.reinit(3, 64, 1, 128);
        assert_eq!(s.elems, 128);
        assert_eq!((0..200).filter_map(|_| s.allocate()).count(), 128);
        s.validate();
    }
}
