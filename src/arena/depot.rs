//! An arena's depot: full thread-cache bins handed over whole.
//!
//! ```text
//!  consumer's bin full ──deposit: swap with a spare──▶ depot [bin][bin]…   (≤ 4 bins, ≤ 1 MiB)
//!  producer's bin empty ◀──withdraw: swap, one region to the caller──┘
//!  trim / decay ──drain──▶ each region back to its subpage or run
//! ```
//!
//! A thread that releases what another allocates (a consumer behind a
//! channel) fills its bins with the producer's regions. Freeing them one by
//! one under the arena lock and cutting them again for the producer's next
//! refill is most of the cost of cross-thread release; moving the whole
//! bin instead is one vector swap each way, and the swapped-out vectors
//! circulate as spares, so nothing is allocated in steady state. Deposited
//! regions stay handed out from their subpages' and runs' point of view;
//! they count as the arena's cached bytes.
//!
//! Owns the deposited bins and the spares. Calls `region` and, through the
//! env, the size classes, the clock and the closed flag. Called by one
//! arena (`mod.rs`, `tables.rs`), under its lock.

use super::{ArenaStats, Env};
use crate::clock::Scope;
use crate::region::Region;
use crate::size_class::ClassIdx;

/// Most full bins a depot keeps, and most spare vectors.
const DEPOT_BINS: usize = 4;
/// Most bytes a depot keeps (one bin always fits).
const DEPOT_BYTES: usize = 1 << 20;

/// Full bins of one arena, kept under its lock.
#[derive(Debug, Default)]
pub(super) struct Depot {
    bins: Vec<Magazine>,
    /// Emptied bins' vectors, handed to the next depositor.
    spares: Vec<SpareBin>,
}

/// A full thread-cache bin parked in the depot: regions of this arena.
#[derive(Debug)]
struct Magazine {
    class: ClassIdx,
    regions: Vec<Region>,
    /// Decay epoch of the deposit.
    epoch: u64,
}

/// An emptied bin's vector (no regions in it: only its capacity is kept).
#[derive(Debug)]
struct SpareBin(Vec<Region>);

// SAFETY: the regions are plain descriptors of memory the arena owns while
// they are deposited (nobody else refers to them); like the chunk table's
// headers, they are only touched under the arena lock.
unsafe impl Send for Magazine {}
// SAFETY: an empty vector: it refers to no region at all.
unsafe impl Send for SpareBin {}

impl Depot {
    /// Takes a full bin whole, leaving a spare (or an unallocated vector)
    /// in its place; `false` if the depot is full or the pool closed
    /// (nothing may be parked then).
    pub(super) fn deposit(
        &mut self,
        stats: &ArenaStats,
        env: &Env,
        class: ClassIdx,
        bin: &mut Vec<Region>,
    ) -> bool {
        let bytes = bin.len() * env.classes.size(class);
        let held = stats.depot_bytes.get();
        if env.is_closed()
            || self.bins.len() >= DEPOT_BINS
            || (!self.bins.is_empty() && held + bytes > DEPOT_BYTES)
        {
            return false;
        }
        // Only a spare of this bin's capacity: a bin is full at
        // `len == capacity`, so a vector from a class with more entries
        // would lift its bound (a 64 KiB bin holding 256 regions).
        let spare = self
            .spares
            .iter()
            .position(|s| s.0.capacity() == bin.capacity())
            .map_or_else(Vec::new, |at| self.spares.swap_remove(at).0);
        let regions = std::mem::replace(bin, spare);
        stats.depot_bytes.add(bytes);
        self.bins.push(Magazine {
            class,
            regions,
            epoch: env.clock.epoch(),
        });
        true
    }

    /// Hands a deposited bin of `class` to `bin` and one region of it to
    /// the caller, if the depot has one and `bin` is empty. (A refill can
    /// find its bin not empty: the owner's pop backed off because a
    /// trimmer held the cache. Swapping then would turn the bin's regions
    /// into a spare — and hand them to a bin of another class.)
    pub(super) fn withdraw(
        &mut self,
        stats: &ArenaStats,
        env: &Env,
        class: ClassIdx,
        bin: &mut Vec<Region>,
    ) -> Option<Region> {
        if !bin.is_empty() {
            return None;
        }
        let at = self.bins.iter().rposition(|m| m.class == class)?;
        let mut regions = self.bins.swap_remove(at).regions;
        stats
            .depot_bytes
            .sub(regions.len() * env.classes.size(class));
        let region = regions.pop();
        let empty = std::mem::replace(bin, regions);
        debug_assert!(empty.is_empty(), "a spare holds no region");
        if empty.capacity() > 0 && self.spares.len() < DEPOT_BINS {
            self.spares.push(SpareBin(empty));
        }
        region
    }

    /// Takes out the bins `scope` covers (deposited at or before its
    /// epoch, or all), for the caller to free region by region; a full
    /// trim also lets the spares go.
    pub(super) fn drain(
        &mut self,
        stats: &ArenaStats,
        env: &Env,
        scope: Scope,
    ) -> Vec<(ClassIdx, Vec<Region>)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.bins.len() {
            if !scope.covers(self.bins[i].epoch) {
                i += 1;
                continue;
            }
            let Magazine { class, regions, .. } = self.bins.swap_remove(i);
            stats
                .depot_bytes
                .sub(regions.len() * env.classes.size(class));
            out.push((class, regions));
        }
        if matches!(scope, Scope::All) {
            self.spares = Vec::new();
        }
        out
    }
}
