//! The trim policy and what a trim pass reports (public types).
//!
//! [`TrimPolicy`] says when the pool gives memory back on its own;
//! [`Pool::trim`](crate::Pool::trim) does it now, whatever the policy, and
//! returns a [`TrimReport`]. The passes themselves are in `trim.rs`.
//!
//! ```text
//!  used ▲      burst        idle > period
//!       │   ┌────────┐
//!       │   │        └──┐ Decay: empty chunks released
//!       │   │           └────────────
//!       │───┘ Never: stays at the peak (Netty)
//!       └────────────────────────────────▶ time
//! ```
//!
//! Plain data; calls nothing. Read by the clock (the tick interval), the
//! builder and trimming.

use std::time::Duration;

/// When the pool gives memory back on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrimPolicy {
    /// Keep everything for reuse forever, like Netty's pooled allocator.
    /// Memory still returns on [`Pool::trim`](crate::Pool::trim), when the
    /// last `Pool` handle is dropped, and for huge buffers on release.
    Never,
    /// Give back memory that stayed unused for longer than `idle`.
    Decay {
        /// How long memory must stay unused before it is given back.
        idle: Duration,
    },
}

impl TrimPolicy {
    /// The default idle period of [`TrimPolicy::Decay`]: 10 s.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(10);

    /// `Decay` with the given idle period.
    pub const fn decay(idle: Duration) -> TrimPolicy {
        TrimPolicy::Decay { idle }
    }
}

impl Default for TrimPolicy {
    /// `Decay` with a 10 s idle period.
    fn default() -> Self {
        TrimPolicy::decay(TrimPolicy::DEFAULT_IDLE)
    }
}

/// What one trim pass gave back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrimReport {
    /// Bytes returned to the OS (or the global allocator).
    pub bytes_released: usize,
    /// Chunks released.
    pub chunks_released: usize,
    /// Thread-cache entries returned to their arenas.
    pub cache_entries_flushed: usize,
}

impl TrimReport {
    pub(crate) fn merge(&mut self, other: TrimReport) {
        self.bytes_released += other.bytes_released;
        self.chunks_released += other.chunks_released;
        self.cache_entries_flushed += other.cache_entries_flushed;
    }
}
