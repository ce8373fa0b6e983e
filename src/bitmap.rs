//! A fixed-size bitmap with lowest-set and lowest-clear searches, used for
//! free-run starts in a chunk and used elements in a subpage.
//!
//! Owns a word array. Calls nothing. Called by chunks (free-run starts),
//! subpages (elements) and the arena tables (purged pages).

/// Fixed number of bits, all clear at creation.
#[derive(Debug)]
pub(crate) struct Bitmap {
    words: Box<[u64]>,
    bits: usize,
}

impl Bitmap {
    pub(crate) fn new(bits: usize) -> Bitmap {
        Bitmap {
            words: vec![0; bits.div_ceil(64)].into_boxed_slice(),
            bits,
        }
    }

    /// Bits this bitmap can hold without reallocating.
    pub(crate) fn capacity(&self) -> usize {
        self.words.len() * 64
    }

    /// Resizes to `bits` (at most `capacity()`), all clear.
    pub(crate) fn reset(&mut self, bits: usize) {
        debug_assert!(bits <= self.capacity());
        self.bits = bits;
        self.words.fill(0);
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    #[inline]
    pub(crate) fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    #[inline]
    pub(crate) fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    /// Lowest set bit at or after `from`.
    pub(crate) fn next_set(&self, from: usize) -> Option<usize> {
        if from >= self.bits {
            return None;
        }
        let mut w = from / 64;
        let mut word = self.words[w] & (!0u64 << (from % 64));
        loop {
            if word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                return (i < self.bits).then_some(i);
            }
            w += 1;
            if w == self.words.len() {
                return None;
            }
            word = self.words[w];
        }
    }

    /// Lowest clear bit at or after word `from_word` (wrapping once).
    pub(crate) fn first_clear_from_word(&self, from_word: usize) -> Option<usize> {
        let n = self.bits.div_ceil(64);
        for k in 0..n {
            let w = (from_word + k) % n;
            let word = self.words[w];
            if word != u64::MAX {
                let i = w * 64 + word.trailing_ones() as usize;
                if i < self.bits {
                    return Some(i);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches() {
        let mut b = Bitmap::new(130);
        assert_eq!(b.next_set(0), None);
        b.set(3);
        b.set(64);
        b.set(129);
        assert_eq!(b.next_set(0), Some(3));
        assert_eq!(b.next_set(4), Some(64));
        assert_eq!(b.next_set(65), Some(129));
        assert_eq!(b.next_set(130), None);
        assert_eq!(b.first_clear_from_word(0), Some(0));
        for i in 0..130 {
            b.set(i);
        }
        assert_eq!(b.first_clear_from_word(1), None);
        b.clear(70);
        assert_eq!(b.first_clear_from_word(2), Some(70));
        assert!(!b.get(70) && b.get(71));
    }
}
