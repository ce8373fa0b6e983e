//! Wake-ups at a deadline, for futures that wait with a timeout — without
//! an async runtime: one process-wide thread sleeps until the nearest
//! deadline and wakes its waker.
//!
//! ```text
//!  wake_at(t, waker) ─▶ Timer ─▶ due: (t, seq) → waker ─▶ timer thread: sleep until min t ─▶ wake
//!  drop(Timer) ───────────────▶ entry removed (the waker goes with it)
//! ```
//!
//! A waiting future keeps its [`Timer`] and drops it when it ends, however
//! it ends (served, failed, cancelled): the entry and its waker leave with
//! it, so cancelled waits pile nothing up until their deadlines. The thread
//! starts with the first deadline and ends when none is left. Like the
//! trimmer, its state records the process it runs in, so a child after
//! `fork()` starts a thread of its own. Process-global state uses `std`
//! primitives, not the `sync` shim: the models do not wait on time.
//!
//! Owns the timer thread. Calls only `std`. Called by the pool's waiting
//! future (`Pool::try_alloc_wait`).

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::task::Waker;
use std::time::Instant;

struct State {
    /// Deadlines by time (and arrival, to keep equal times apart).
    due: BTreeMap<(Instant, u64), Waker>,
    seq: u64,
    running: bool,
    /// The process the running thread belongs to.
    pid: u32,
}

static STATE: Mutex<State> = Mutex::new(State {
    due: BTreeMap::new(),
    seq: 0,
    running: false,
    pid: 0,
});
static WAKE: Condvar = Condvar::new();

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A registered deadline; dropping it removes the entry and its waker.
#[derive(Debug)]
pub(crate) struct Timer {
    key: (Instant, u64),
    waker: Waker,
}

impl Timer {
    /// Whether this entry wakes `waker` (else the waiter re-arms).
    pub(crate) fn wakes(&self, waker: &Waker) -> bool {
        self.waker.will_wake(waker)
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // Gone already if it fired: then this finds nothing.
        let removed = state().due.remove(&self.key);
        drop(removed); // outside the lock: a waker's drop may run user code
    }
}

/// Wakes `waker` at `deadline` (or soon after) unless the returned
/// [`Timer`] is dropped first. If no thread can be started, wakes it at
/// once and returns `None`: the waiter then sees its deadline not yet
/// passed and arms again, so it waits by polling rather than never.
pub(crate) fn wake_at(deadline: Instant, waker: &Waker) -> Option<Timer> {
    let mut state = state();
    state.seq += 1;
    let key = (deadline, state.seq);
    if !(state.running && state.pid == std::process::id()) {
        let started = std::thread::Builder::new()
            .name("tidebuf-timer".into())
            .spawn(run)
            .is_ok();
        state.running = started;
        state.pid = std::process::id();
        if !started {
            drop(state);
            waker.wake_by_ref();
            return None;
        }
    }
    state.due.insert(key, waker.clone());
    drop(state);
    WAKE.notify_one();
    Some(Timer {
        key,
        waker: waker.clone(),
    })
}

fn run() {
    let mut state = state();
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(entry) = state.due.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        if !due.is_empty() {
            drop(state);
            due.into_iter().for_each(Waker::wake);
            state = self::state();
            continue;
        }
        let Some(&(next, _)) = state.due.keys().next() else {
            state.running = false;
            return;
        };
        state = WAKE
            .wait_timeout(state, next.saturating_duration_since(now))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}
