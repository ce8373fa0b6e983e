//! Size classes: jemalloc-style, four classes per power of two from 16 B.
//!
//! ```text
//! group      classes (bytes)                      spacing
//! [0, 64]    16   32   48   64                    16
//! (64,128]   80   96   112  128                   16
//! (128,256]  160  192  224  256                   32
//! (2^k,2^k+1] 2^k + {1,2,3,4} * 2^(k-2)          2^(k-2)
//! ```
//!
//! Every class rounds a request up by less than 25 % above 64 B. The
//! classes split into three kinds:
//!
//! ```text
//!   small  16 B ..= 28 KiB   an element of a subpage (a run cut into equal slots)
//!   normal 32 KiB ..= chunk  a run of whole pages inside a chunk
//!   huge   > chunk           a mapping of its own
//! ```
//!
//! Size → class is O(1): a 257-entry table for requests up to 4 KiB, and
//! `leading_zeros` arithmetic above. Class → size is a table lookup.
//!
//! Owns the class tables of one pool. Calls `handle`. Called by chunks, the
//! arenas, thread caches and every path that turns a size into a class.

/// Largest small class: 28 KiB (`16 KiB + 3 × 4 KiB`).
pub(crate) const SMALL_MAX: usize = 28 << 10;
/// Fewest elements a subpage run holds.
const MIN_SUBPAGE_ELEMS: usize = 4;
/// Largest subpage run in bytes (4 × 28 KiB), when pages are small.
pub(crate) const MAX_SUBPAGE_RUN: usize = MIN_SUBPAGE_ELEMS * SMALL_MAX;
/// Smallest class and the spacing of the first group.
const QUANTUM: usize = 16;
/// Requests up to this size map through the lookup table.
const LOOKUP_MAX: usize = 4096;

/// Index of a size class; 0 is 16 B.
pub(crate) type ClassIdx = u8;

/// Size class of a huge allocation (one with a mapping of its own).
pub(crate) const HUGE_CLASS: ClassIdx = ClassIdx::MAX;

/// What serves a size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An element of a subpage.
    Small,
    /// A run of pages.
    Normal,
}

/// The class table of one pool (it depends on page and chunk size).
#[derive(Debug)]
pub(crate) struct SizeClasses {
    /// Capacity of each class, up to and including the chunk size.
    sizes: Box<[usize]>,
    /// For small classes: pages per subpage run, and elements per run.
    subpage_runs: Box<[(u32, u32)]>,
    /// Pages a run of each normal class takes (0 for small classes).
    run_pages: Box<[u32]>,
    /// `lookup[(size + 15) / 16]` is the class of `size` for `size <= 4096`.
    lookup: [ClassIdx; LOOKUP_MAX / QUANTUM + 1],
    /// Highest small class.
    small_max: ClassIdx,
    page_size: usize,
    chunk_size: usize,
}

/// Class of `size` by arithmetic (valid for any `size <= isize::MAX`).
pub(crate) const fn class_index(size: usize) -> usize {
    if size <= 4 * QUANTUM {
        return if size == 0 { 0 } else { (size - 1) / QUANTUM };
    }
    let x = size - 1;
    let shift = (usize::BITS - 1 - x.leading_zeros()) as usize; // floor(log2(x)), >= 6
    let sub = (x - (1 << shift)) >> (shift - 2); // which quarter of the group, 0..=3
    4 + (shift - 6) * 4 + sub
}

/// Capacity of class `idx` by arithmetic.
pub(crate) const fn class_size(idx: usize) -> usize {
    if idx < 4 {
        return (idx + 1) * QUANTUM;
    }
    let shift = 6 + (idx - 4) / 4;
    (1 << shift) + ((idx - 4) % 4 + 1) * (1 << (shift - 2))
}

const fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl SizeClasses {
    /// Builds the table. `page_size` is a power of two >= 4 KiB and
    /// `chunk_size` is `page_size × 2^k` with k >= 3 and at least 128 KiB
    /// (checked by the builder),
    /// so every class boundary used below is representable.
    pub(crate) fn new(page_size: usize, chunk_size: usize) -> Self {
        let count = class_index(chunk_size) + 1;
        let sizes: Box<[usize]> = (0..count).map(class_size).collect();
        let small_max = class_index(SMALL_MAX) as ClassIdx;
        let subpage_runs = (0..=small_max as usize)
            .map(|c| {
                // A whole number of elements (a multiple of lcm(page, size)):
                // no tail waste; and at least MIN_SUBPAGE_ELEMS of them, so
                // classes near the page size (a 16 KiB element in 8 KiB pages)
                // do not cut a subpage per allocation. At most 7 pages or
                // 112 KiB (4 × 28 KiB); the builder makes chunks hold that.
                let size = sizes[c];
                let lcm = page_size / gcd(page_size, size) * size;
                let run = lcm * (MIN_SUBPAGE_ELEMS * size).div_ceil(lcm).max(1);
                debug_assert!(run / size < crate::handle::MAX_ELEMS);
                ((run / page_size) as u32, (run / size) as u32)
            })
            .collect();
        let run_pages = sizes
            .iter()
            .enumerate()
            .map(|(c, &size)| {
                if c <= small_max as usize {
                    0
                } else {
                    size.div_ceil(page_size) as u32
                }
            })
            .collect();
        let mut lookup = [0; LOOKUP_MAX / QUANTUM + 1];
        for (i, slot) in lookup.iter_mut().enumerate() {
            *slot = class_index(i * QUANTUM) as ClassIdx;
        }
        SizeClasses {
            sizes,
            subpage_runs,
            run_pages,
            lookup,
            small_max,
            page_size,
            chunk_size,
        }
    }

    /// The class serving `size`, or `None` if `size` is huge (> chunk).
    #[inline]
    pub(crate) fn class_of(&self, size: usize) -> Option<ClassIdx> {
        if size <= LOOKUP_MAX {
            return Some(self.lookup[size.div_ceil(QUANTUM)]);
        }
        if size > self.chunk_size {
            return None;
        }
        Some(class_index(size) as ClassIdx)
    }

    /// Capacity of class `c`.
    #[inline]
    pub(crate) fn size(&self, c: ClassIdx) -> usize {
        self.sizes[c as usize]
    }

    /// Small or normal.
    #[inline]
    pub(crate) fn kind(&self, c: ClassIdx) -> Kind {
        if c <= self.small_max {
            Kind::Small
        } else {
            Kind::Normal
        }
    }

    /// Number of classes (small + normal).
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.sizes.len()
    }

    /// Number of small classes.
    pub(crate) fn small_count(&self) -> usize {
        self.small_max as usize + 1
    }

    /// Pages and elements of a subpage run for small class `c`.
    pub(crate) fn subpage_run(&self, c: ClassIdx) -> (u32, u32) {
        self.subpage_runs[c as usize]
    }

    /// Pages of a run for normal class `c`.
    pub(crate) fn run_pages(&self, c: ClassIdx) -> u32 {
        self.run_pages[c as usize]
    }

    /// Page size in bytes.
    pub(crate) fn page_size(&self) -> usize {
        self.page_size
    }

    /// Chunk size in bytes.
    pub(crate) fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Huge requests are rounded up to a class of their own, four per
    /// doubling as below the chunk size (10, 12, 14, 16, 20 … MiB above an
    /// 8 MiB chunk): less than a quarter wasted, and a recycled mapping
    /// always fits the next request of its class — with page-exact sizes a
    /// mapping fitted only requests within a quarter below it, and a mixed
    /// 1–5 MiB load mapped (and faulted in) almost every huge buffer anew.
    /// A class step is at least a quarter chunk, so whole pages.
    pub(crate) fn huge_size(&self, size: usize) -> Option<usize> {
        let size = size.max(self.chunk_size + 1);
        // The step is a quarter of the power of two below `size`.
        let step = 1usize << ((usize::BITS - 1 - (size - 1).leading_zeros()) - 2);
        size.checked_next_multiple_of(step)
            .filter(|&s| s <= isize::MAX as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_classes_are_four_per_doubling_and_whole_pages() {
        let classes = SizeClasses::new(8 << 10, 4 << 20);
        const M: usize = 1 << 20;
        for (request, class) in [
            (4 * M + 1, 5 * M),
            (5 * M, 5 * M),
            (5 * M + 1, 6 * M),
            (8 * M, 8 * M),
            (8 * M + 1, 10 * M),
            (13 * M, 14 * M),
        ] {
            assert_eq!(classes.huge_size(request), Some(class), "{request}");
        }
        let mut last = 0;
        for request in (4 * M + 1..64 * M).step_by(12_345) {
            let class = classes.huge_size(request).unwrap();
            assert!(class >= request && class - request < request / 4);
            assert_eq!(class % (8 << 10), 0);
            assert!(class >= last, "monotone");
            last = class;
        }
        assert_eq!(classes.huge_size(isize::MAX as usize), None);
        assert!(classes.huge_size(isize::MAX as usize / 2).is_some());
    }

    #[test]
    fn first_classes_match_jemalloc() {
        let expect = [
            16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
        ];
        for (i, &s) in expect.iter().enumerate() {
            assert_eq!(class_size(i), s);
            assert_eq!(class_index(s), i);
        }
    }

    #[test]
    fn small_boundary_is_28k() {
        let c = SizeClasses::new(8192, 4 << 20);
        let c28 = c.class_of(28 << 10).unwrap();
        assert_eq!(c.size(c28), 28 << 10);
        assert_eq!(c.kind(c28), Kind::Small);
        let c28p = c.class_of((28 << 10) + 1).unwrap();
        assert_eq!(c.size(c28p), 32 << 10);
        assert_eq!(c.kind(c28p), Kind::Normal);
        assert_eq!(c.count(), class_index(4 << 20) + 1);
        assert_eq!(c.size((c.count() - 1) as u8), 4 << 20);
        assert_eq!(c.class_of((4 << 20) + 1), None);
    }

    #[test]
    fn subpage_runs_have_no_tail_waste() {
        for page in [4096, 8192, 65536] {
            let c = SizeClasses::new(page, page * 512);
            for class in 0..c.small_count() as u8 {
                let (pages, elems) = c.subpage_run(class);
                assert_eq!(pages as usize * page, elems as usize * c.size(class));
                assert!(elems >= 4, "class {class}: {elems} elements");
                assert!(
                    pages <= 7 || pages as usize * page <= MAX_SUBPAGE_RUN,
                    "class {class} run of {pages} pages"
                );
            }
        }
    }
}
