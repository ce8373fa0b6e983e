//! Trimming: giving pooled memory back.
//!
//! [`TrimPolicy`] says when the pool gives memory back on its own;
//! [`Pool::trim`](crate::Pool::trim) does it now, whatever the policy, and
//! returns a [`TrimReport`].
//!
//! ```text
//!  used ▲      burst        idle > period
//!       │   ┌────────┐
//!       │   │        └──┐ Decay: empty chunks released
//!       │   │           └────────────
//!       │───┘ Never: stays at the peak (Netty)
//!       └────────────────────────────────▶ time
//! ```

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

/// The background trimmer: one thread per process, started with the first
/// pool that wants it, holding pools weakly, sleeping until the nearest
/// pool's next tick, and ending when no such pool is alive.
///
/// ```text
///  pools: [(Weak<A>, tick 2.5 s, next 10:00:02.5), (Weak<B>, 50 ms, …)]
///  loop: sleep until min(next) ─▶ tick the due pools ─▶ drop dead ones
///        └─ woken early when a pool registers
/// ```
///
/// Process-global state lives in `std` primitives, not the `sync` shim:
/// loom models drive `decay_tick` directly rather than this thread.
///
/// `fork()`: the child inherits this state — the pool list and the
/// `running` flag — but not the thread. The state records the id of the
/// process whose thread it is; a registration in another process (the
/// child) starts a trimmer of its own, which then also ticks the pools
/// inherited from the parent (they are the child's copies).
pub(crate) mod background {
    use crate::pool::PoolInner;
    use std::sync::{Condvar, Mutex, Weak};
    use std::time::{Duration, Instant};

    struct Entry {
        pool: Weak<PoolInner>,
        tick: Duration,
        next: Instant,
    }

    #[derive(Default)]
    struct State {
        pools: Vec<Entry>,
        running: bool,
        /// The process the running trimmer belongs to.
        pid: u32,
    }

    impl State {
        /// Whether a trimmer thread runs in this process (not merely in the
        /// parent this process was forked from).
        fn running_here(&self) -> bool {
            self.running && self.pid == std::process::id()
        }
    }

    static STATE: Mutex<State> = Mutex::new(State {
        pools: Vec::new(),
        running: false,
        pid: 0,
    });

    /// `now + tick`, or for a tick too long to represent (a decay period of
    /// `Duration::MAX`, say) a deadline centuries away.
    pub(crate) fn deadline(now: Instant, tick: Duration) -> Instant {
        now.checked_add(tick)
            .or_else(|| now.checked_add(Duration::from_secs(1 << 32)))
            .unwrap_or(now)
    }
    static WAKE: Condvar = Condvar::new();

    /// Lets the trimmer tick `pool` every `tick`, starting it if needed.
    /// `false` if no thread could be started: the pool then decays on its
    /// own activity instead.
    pub(crate) fn register(pool: Weak<PoolInner>, tick: Duration) -> bool {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        state.pools.push(Entry {
            pool,
            tick,
            next: deadline(Instant::now(), tick),
        });
        if !state.running_here() {
            let spawned = std::thread::Builder::new()
                .name("tidebuf-trimmer".into())
                .spawn(run);
            state.running = spawned.is_ok();
            state.pid = std::process::id();
            if !state.running {
                state.pools.pop();
                return false;
            }
        }
        WAKE.notify_one();
        true
    }

    /// Whether the trimmer thread is alive.
    #[cfg(all(test, not(tidebuf_loom)))]
    pub(crate) fn running() -> bool {
        STATE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .running_here()
    }

    fn run() {
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            state.pools.retain(|e| e.pool.strong_count() > 0);
            let Some(next) = state.pools.iter().map(|e| e.next).min() else {
                state.running = false;
                return;
            };
            let now = Instant::now();
            if next > now {
                state = WAKE
                    .wait_timeout(state, next - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            }
            let due: Vec<Weak<PoolInner>> = state
                .pools
                .iter_mut()
                .filter(|e| e.next <= now)
                .map(|e| {
                    e.next = deadline(now, e.tick);
                    e.pool.clone()
                })
                .collect();
            drop(state);
            for pool in due.iter().filter_map(Weak::upgrade) {
                pool.decay_tick();
            }
            state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(all(test, not(tidebuf_loom)))]
mod tests {
    use crate::{Pool, TrimPolicy};
    use std::time::{Duration, Instant};

    #[test]
    fn trimmer_runs_while_a_decaying_pool_lives_and_then_ends() {
        let pool = Pool::builder()
            .trim_policy(TrimPolicy::decay(Duration::from_millis(20)))
            .build()
            .unwrap();
        assert!(super::background::running());
        let buf = pool.alloc(100_000);
        drop(pool);
        // A live buffer keeps the pool's state (and its trimmer entry) alive.
        std::thread::sleep(Duration::from_millis(30));
        assert!(super::background::running());
        drop(buf);
        let deadline = Instant::now() + Duration::from_secs(5);
        while super::background::running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            !super::background::running(),
            "the trimmer ends with its last pool"
        );
        // And starts again with the next one.
        let _again = Pool::builder()
            .trim_policy(TrimPolicy::decay(Duration::from_millis(20)))
            .build()
            .unwrap();
        assert!(super::background::running());
    }
}
