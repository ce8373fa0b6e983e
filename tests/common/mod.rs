//! Helpers shared by the integration tests.

/// Marsaglia's xorshift64: deterministic randomness, no dependency.
pub(crate) struct Rng(pub(crate) u64);

#[allow(dead_code)] // each test binary uses a part
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}
