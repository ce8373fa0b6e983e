//! Decay epochs: the pool's notion of "unused for a whole period".
//!
//! ```text
//!  period (idle) = IDLE_TICKS ticks     tick = idle / 4
//!  epoch:   0    1    2    3    4    5    6
//!           │────│────│────│────│────│────│
//!  chunk touched in epoch 1 ─────────────▶ idle since ≤ 6 − 5 = 1: given back at epoch 6
//! ```
//!
//! Chunks, thread caches and recycled huge mappings remember the epoch they
//! were last used in; a decay tick advances the epoch and gives back what
//! stayed untouched for [`IDLE_TICKS`] whole ticks — at least one period,
//! at most one period and two ticks after load fell. Ticks come from the
//! background trimmer, or, without it, from slow-path allocations once a
//! tick is due ([`Clock::tick_due`]).
//!
//! Owns the epoch and that schedule; calls only `sync` and the policy
//! type. Used by the arenas, huge mappings, thread caches and trimming.

use crate::policy::TrimPolicy;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use crossbeam_utils::CachePadded;
use std::time::{Duration, Instant};

/// Ticks per decay period: memory is given back after it stayed unused for
/// this many ticks (plus the one it was last used in).
pub(crate) const IDLE_TICKS: u64 = 4;

/// Which chunks (or cached mappings) a trim pass may touch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// Every chunk (`Pool::trim`, the cap).
    All,
    /// Chunks untouched since this epoch or earlier (the decay policy).
    IdleSince(u64),
}

impl Scope {
    /// Whether something last used in epoch `touched` is in scope.
    pub(crate) fn covers(self, touched: u64) -> bool {
        match self {
            Scope::All => true,
            Scope::IdleSince(epoch) => touched <= epoch,
        }
    }
}

/// How often the decay policy runs for an idle period `idle`.
pub(crate) fn tick_interval(idle: Duration) -> Duration {
    (idle / IDLE_TICKS as u32).max(Duration::from_millis(1))
}

/// Whole milliseconds in `d`, saturating at `u64::MAX` (about 585 million
/// years, which no decay period in a real process reaches).
pub(crate) fn saturating_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `now + d`, or for a span too long to represent (a decay period of
/// `Duration::MAX`, say) a deadline centuries away.
pub(crate) fn deadline(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(1 << 32)))
        .unwrap_or(now)
}

/// `Clock::trimmer` when no background trimmer ticks the clock.
const NO_TRIMMER: u32 = u32::MAX;

/// The decay epoch and the schedule of ticks.
#[derive(Debug)]
pub(crate) struct Clock {
    /// Decay ticks so far.
    epoch: CachePadded<AtomicU64>,
    /// The tick interval, for a decaying policy.
    tick: Option<Duration>,
    /// The fork count (`fork::count`) of the process whose background
    /// trimmer ticks this clock, or `NO_TRIMMER`. In a child forked since,
    /// the count differs: that thread did not come along.
    trimmer: AtomicU32,
    /// Without the trimmer: when (ms after `born`) the next tick is due.
    next_tick_ms: AtomicU64,
    born: Instant,
}

impl Clock {
    pub(crate) fn new(policy: TrimPolicy) -> Clock {
        Clock {
            epoch: CachePadded::new(AtomicU64::new(0)),
            tick: match policy {
                TrimPolicy::Decay { idle } => Some(tick_interval(idle)),
                TrimPolicy::Never => None,
            },
            trimmer: AtomicU32::new(NO_TRIMMER),
            next_tick_ms: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    /// Current decay epoch (ticks so far).
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Relaxed)
    }

    /// Starts the next epoch; returns it.
    pub(crate) fn advance(&self) -> u64 {
        self.epoch.fetch_add(1, Relaxed) + 1
    }

    /// The tick interval of a decaying policy.
    pub(crate) fn tick(&self) -> Option<Duration> {
        self.tick
    }

    /// The background trimmer of this process took over the ticks (or,
    /// with `false`, none did).
    pub(crate) fn set_trimmer(&self, on: bool) {
        let trimmer = if on { crate::fork::count() } else { NO_TRIMMER };
        self.trimmer.store(trimmer, Relaxed);
    }

    /// A background trimmer ticked this clock in the process this one was
    /// forked from, and none does here (see `trim::revive`).
    pub(crate) fn trimmer_left_behind(&self) -> bool {
        let trimmer = self.trimmer.load(Relaxed);
        trimmer != NO_TRIMMER && trimmer != crate::fork::count()
    }

    /// Without the background trimmer: whether a tick is due now, claiming
    /// it (at most one caller per tick gets `true`).
    pub(crate) fn tick_due(&self) -> bool {
        let Some(tick) = self.tick else {
            return false;
        };
        if self.trimmer.load(Relaxed) == crate::fork::count() {
            return false; // this process's trimmer ticks it
        }
        let now = saturating_ms(self.born.elapsed());
        let due = self.next_tick_ms.load(Relaxed);
        now >= due
            && self
                .next_tick_ms
                .compare_exchange(
                    due,
                    now.saturating_add(saturating_ms(tick)),
                    Relaxed,
                    Relaxed,
                )
                .is_ok()
    }
}
