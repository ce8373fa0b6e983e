//! Trimming: giving pooled memory back — now (`Pool::trim`, the cap, a
//! close) or as the decay policy says, from the background trimmer.
//!
//! ```text
//!  trim_now:   own cache ─┐
//!              idle foreign caches ─┼─▶ arenas: empty chunks unmapped, free runs purged
//!  decay_tick: caches idle a period ┘       + recycled huge mappings unmapped
//!              (epoch += 1; only what is untouched since epoch − IDLE_TICKS − 1)
//! ```
//!
//! Owns the background trimmer thread. Calls the heap (its arenas, huge
//! mappings and cache registry), `local` (this thread's own cache) and the
//! clock. Called by the `Pool` handle, the allocation slow path (the cap,
//! and decay without the trimmer) and the background trimmer.

use crate::clock::{Scope, IDLE_TICKS};
use crate::heap::Heap;
use crate::local;
use crate::policy::TrimReport;
use crate::sync::atomic::Ordering::Relaxed;

impl Heap {
    /// Trims now, whatever the policy: every thread cache not in use at
    /// this instant (this thread's included), every empty chunk, and the
    /// free page runs of every mmap-backed chunk.
    pub(crate) fn trim_now(&self, cause: Cause) -> TrimReport {
        let mut report = TrimReport::default();
        let own = local::existing_cache(self);
        if let Some(cache) = own {
            report.cache_entries_flushed += cache.flush_own(&self.arenas);
        }
        for cache in self.caches_except(own) {
            report.cache_entries_flushed += cache.flush_foreign(&self.arenas).unwrap_or(0);
        }
        report.merge(self.trim_arenas(Scope::All));
        self.count_trim(&report, cause);
        report
    }

    /// One step of the decay policy (the trimmer calls it every quarter
    /// period): gives back what stayed unused for a whole period — caches
    /// of threads that made no cache operation, empty chunks, and free runs
    /// of chunks nobody allocated from or released into.
    pub(crate) fn decay_tick(&self) -> TrimReport {
        let epoch = self.env().clock.advance();
        self.huge.new_period();
        let mut report = TrimReport::default();
        // Untouched since `idle_since`: IDLE_TICKS full ticks, at least one
        // period. Nothing qualifies before that many ticks have passed —
        // but every tick notes which caches changed, so a cache idle since
        // the pool's first ticks goes as soon as it qualifies.
        let idle_since = epoch.checked_sub(IDLE_TICKS + 1);
        for cache in self.caches_except(local::existing_cache(self)) {
            let ops = cache.ops();
            if ops != cache.seen_ops.load(Relaxed) || cache.seen_epoch.load(Relaxed) == 0 {
                cache.seen_ops.store(ops, Relaxed);
                cache.seen_epoch.store(epoch, Relaxed);
            } else if idle_since.is_some_and(|since| cache.seen_epoch.load(Relaxed) <= since)
                && cache.holds_anything()
            {
                report.cache_entries_flushed += cache.flush_foreign(&self.arenas).unwrap_or(0);
            }
        }
        let Some(idle_since) = idle_since else {
            self.count_trim(&report, Cause::Decay);
            return report;
        };
        report.merge(self.trim_arenas(Scope::IdleSince(idle_since)));
        self.count_trim(&report, Cause::Decay);
        report
    }

    /// Without the background trimmer, a slow-path allocation runs the
    /// decay step when it is due (at most one thread does it per tick).
    pub(crate) fn decay_on_activity(&self) {
        let clock = &self.env().clock;
        // A child forked from a process whose trimmer ticked this pool: the
        // pool came along, the thread did not. Start this process's own.
        if clock.trimmer_left_behind() && background::revive() {
            clock.set_trimmer(true);
        }
        if clock.tick_due() {
            self.decay_tick();
        }
    }

    /// Gives back what `scope` covers in the arenas and the huge cache.
    /// The caller holds a reference to the heap (chunks destroyed here drop
    /// theirs).
    fn trim_arenas(&self, scope: Scope) -> TrimReport {
        let env = self.env();
        let _borrowed = env.borrowed();
        let mut report = TrimReport {
            bytes_released: self.huge.drop_cached(env, scope),
            ..TrimReport::default()
        };
        for arena in self.arenas.iter() {
            let trimmed = arena.trim(env, scope);
            report.bytes_released += trimmed.purged_bytes;
            for (header, committed) in trimmed.chunks {
                report.bytes_released += committed;
                report.chunks_released += 1;
                // SAFETY: removed from its arena by `trim`; `self` stays alive
                // because the caller holds a heap reference.
                unsafe { crate::arena::destroy_chunk(header, committed) };
            }
        }
        report
    }

    fn count_trim(&self, report: &TrimReport, cause: Cause) {
        self.trims.add(1);
        self.trimmed_bytes.add(report.bytes_released as u64);
        if report.bytes_released > 0 || report.cache_entries_flushed > 0 {
            crate::trace::event!(
                "tidebuf::trim",
                DEBUG,
                bytes = report.bytes_released,
                chunks = report.chunks_released,
                cache_entries = report.cache_entries_flushed,
                cause = cause.name(),
                "gave memory back"
            );
        }
        let _ = cause;
    }
}

/// Why a trim pass ran (a field of the `tidebuf::trim` event).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cause {
    /// The decay policy.
    Decay,
    /// `Pool::trim`.
    Explicit,
    /// `max_memory` refused a request: room is made first.
    Cap,
    /// The last handle went.
    Close,
}

impl Cause {
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    fn name(self) -> &'static str {
        match self {
            Cause::Decay => "decay",
            Cause::Explicit => "explicit",
            Cause::Cap => "cap",
            Cause::Close => "close",
        }
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
    use crate::heap::Heap;
    use std::sync::{Condvar, Mutex, MutexGuard, Weak};
    use std::time::{Duration, Instant};

    struct Entry {
        pool: Weak<Heap>,
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

    static WAKE: Condvar = Condvar::new();

    /// Lets the trimmer tick `pool` every `tick`, starting it if needed.
    /// `false` if no thread could be started: the pool then decays on its
    /// own activity instead.
    pub(crate) fn register(pool: Weak<Heap>, tick: Duration) -> bool {
        crate::fork::watch(lock_for_fork, unlock_after_fork, unlock_after_fork);
        let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        state.pools.push(Entry {
            pool,
            tick,
            next: crate::clock::deadline(Instant::now(), tick),
        });
        if !start_here(&mut state) {
            state.pools.pop();
            return false;
        }
        WAKE.notify_one();
        true
    }

    /// Held by the trimmer while it ticks pools (after the state's lock,
    /// never while waiting for it).
    static TICKING: Mutex<()> = Mutex::new(());

    /// The state's lock and `TICKING`, held by the forking thread across a
    /// `fork()`.
    type HeldForFork = (MutexGuard<'static, State>, MutexGuard<'static, ()>);

    std::thread_local! {
        static HELD_FOR_FORK: std::cell::RefCell<Option<HeldForFork>> =
            const { std::cell::RefCell::new(None) };
    }

    /// Before a fork: takes the state's lock, then waits out a tick in
    /// progress, so that the child (whose only thread is this one) never
    /// inherits either lock held, nor an arena lock the trimmer held.
    extern "C" fn lock_for_fork() {
        let state = STATE.lock().unwrap_or_else(|e| e.into_inner());
        let ticking = TICKING.lock().unwrap_or_else(|e| e.into_inner());
        HELD_FOR_FORK.with(|held| *held.borrow_mut() = Some((state, ticking)));
    }

    /// After a fork, in parent and child alike: lets it go.
    extern "C" fn unlock_after_fork() {
        let guard = HELD_FOR_FORK.with(|held| held.borrow_mut().take());
        drop(guard);
    }

    /// In a child forked from a process whose trimmer ticked registered
    /// pools: starts this process's trimmer, which ticks the pools whose
    /// entries came along with the fork. `false` if it cannot now — the
    /// state's lock is held (maybe by a parent's thread that did not come
    /// along: never wait for it) or no thread starts; the pool then decays
    /// on its own activity, and the next activity tries again.
    pub(crate) fn revive() -> bool {
        let mut state = match STATE.try_lock() {
            Ok(state) => state,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return false,
        };
        let running = start_here(&mut state);
        drop(state);
        WAKE.notify_one();
        running
    }

    /// Starts the trimmer thread unless one runs in this process; whether
    /// one runs now.
    fn start_here(state: &mut State) -> bool {
        if !state.running_here() {
            let spawned = std::thread::Builder::new()
                .name("tidebuf-trimmer".into())
                .spawn(run);
            state.running = spawned.is_ok();
            state.pid = std::process::id();
        }
        state.running
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
            let due: Vec<Weak<Heap>> = state
                .pools
                .iter_mut()
                .filter(|e| e.next <= now)
                .map(|e| {
                    e.next = crate::clock::deadline(now, e.tick);
                    e.pool.clone()
                })
                .collect();
            // Taken before the state's lock goes, in the same order as
            // `lock_for_fork`: a fork never happens in the middle of a tick,
            // so the child inherits no arena lock held by this thread.
            let ticking = TICKING.lock().unwrap_or_else(|e| e.into_inner());
            drop(state);
            for pool in due.iter().filter_map(Weak::upgrade) {
                pool.decay_tick();
            }
            drop(ticking);
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
