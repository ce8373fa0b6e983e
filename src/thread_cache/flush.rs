//! Giving a thread cache's entries back: the owner's sweep (Netty's: what
//! a bin did not reuse since the last sweep), a full flush by the owner, at
//! its thread's exit, or by a trimmer that claimed an idle owner's cache;
//! and the counters `metrics()` reads.
//!
//! ```text
//!  owner:   sweep (every sweep_threshold allocations) · flush_own · flush_at_exit
//!  trimmer: claim ─ heavy fence ─ owner IDLE? ─ flush_entered ─ release claim
//! ```

use super::*;

impl ThreadCache {
    /// Adds the bytes parked here to `by_arena` (indexed by arena): the
    /// foreign entries as counted, the rest to this cache's arena.
    pub(crate) fn add_parked_by_arena(&self, by_arena: &mut [usize]) {
        let mut own: usize = self.bins.iter().map(|b| b.len.get() * b.size).sum();
        for (total, foreign) in by_arena.iter_mut().zip(self.by_arena.iter()) {
            *total = total.wrapping_add(foreign.get());
            own = own.wrapping_sub(foreign.get());
        }
        // Read while the owner runs, the counts may be a moment apart (and
        // their difference, for that moment, below zero: then nothing).
        if let Some(total) = by_arena.get_mut(self.arena() as usize) {
            if own <= isize::MAX as usize {
                *total = total.wrapping_add(own);
            }
        }
    }

    #[inline]
    pub(super) fn tick(&self, arenas: &Arenas) {
        // A countdown: one decrement and a test on the fast path.
        let left = self.until_sweep.get().wrapping_sub(1);
        self.until_sweep.set(left);
        if left == 0 {
            self.until_sweep.set(self.sweep_threshold);
            self.sweep(arenas);
        }
    }

    /// Owner only. Gives back each bin's entries beyond what it served since
    /// the last sweep, and a large bin's reserved room beyond that too (a
    /// bin in use keeps its room, so its releases stay on the fast path).
    /// Returns the number of entries given back.
    #[cold]
    pub(crate) fn sweep(&self, arenas: &Arenas) -> usize {
        let mut flushed = 0;
        for (class, bin) in self.bins.iter().enumerate() {
            let used = bin.hits.get() - bin.hits_at_sweep.get();
            bin.hits_at_sweep.set(bin.hits.get());
            let surplus = bin.entries(|entries| {
                let surplus = entries.len().saturating_sub(used);
                arenas.free_uncounted(
                    class as ClassIdx,
                    self.unpark(class as ClassIdx, entries.drain(..surplus)),
                );
                surplus
            });
            bin.unreserve_beyond(used);
            flushed += surplus;
        }
        flushed
    }

    /// Owner only. Gives every entry back; 0 if the trimmer is doing it.
    pub(crate) fn flush_own(&self, arenas: &Arenas) -> usize {
        if !self.enter() {
            return 0;
        }
        let n = self.flush_entered(arenas);
        self.leave();
        n
    }

    /// The owner's thread is exiting: waits out a trimmer that holds the
    /// entries (it is flushing them anyway), then gives everything back.
    pub(crate) fn flush_at_exit(&self, arenas: &Arenas) -> usize {
        while !self.enter() {
            crate::sync::yield_now();
        }
        let n = self.flush_entered(arenas);
        self.leave();
        n
    }

    /// Any thread but the owner: takes the entries if the owner is not using
    /// them right now and gives them back. `None` if it could not.
    pub(crate) fn flush_foreign(&self, arenas: &Arenas) -> Option<usize> {
        if self.claim.swap(true, Acquire) {
            return None; // another trimmer has it
        }
        // After the heavy fence the owner either is visibly BUSY or will see
        // the claim before it touches the entries again.
        let n = if barrier::heavy() && self.state.load(Acquire) == IDLE {
            Some(self.flush_entered(arenas))
        } else {
            None
        };
        self.claim.store(false, Release);
        n
    }

    /// Operations so far (hits, misses, releases): unchanged means idle.
    pub(crate) fn ops(&self) -> u64 {
        self.bins
            .iter()
            .map(|b| (b.hits.get() + b.misses.get() + b.puts.get()) as u64)
            .sum()
    }

    /// Entered (owner or claiming trimmer). Gives every entry back.
    pub(super) fn flush_entered(&self, arenas: &Arenas) -> usize {
        let mut flushed = 0;
        for (class, bin) in self.bins.iter().enumerate() {
            let n = bin.entries(|entries| {
                let n = entries.len();
                arenas.free_uncounted(
                    class as ClassIdx,
                    self.unpark(class as ClassIdx, entries.drain(..)),
                );
                n
            });
            bin.unreserve_beyond(0);
            flushed += n;
        }
        flushed
    }

    /// Whether this cache holds anything a trimmer would give back:
    /// entries, or a large bin's reserved room.
    pub(crate) fn holds_anything(&self) -> bool {
        self.bins
            .iter()
            .any(|b| b.len.get() > 0 || (b.large.is_some() && b.limit.get() > 0))
    }

    /// Counters, readable from any thread.
    pub(crate) fn totals(&self, arenas: &Arenas) -> CacheTotals {
        let mut t = CacheTotals::default();
        for (c, bin) in self.bins.iter().enumerate() {
            let normal = (c >= arenas.classes().small_count()) as usize;
            t.cached_bytes += bin.len.get() * arenas.classes().size(c as ClassIdx);
            t.hits[normal] += bin.hits.get() as u64;
            t.misses += bin.misses.get() as u64;
            t.puts[normal] += bin.puts.get() as u64;
        }
        t
    }
}
