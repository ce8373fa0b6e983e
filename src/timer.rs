//! Wake-ups at a deadline, for futures that wait with a timeout — without
//! an async runtime: one process-wide thread sleeps until the nearest
//! deadline and wakes its waker.
//!
//! ```text
//!  wake_at(t, waker) ─▶ heap of (t, waker) ─▶ timer thread: sleep until min t ─▶ waker.wake()
//! ```
//!
//! A deadline whose future already finished wakes a waker nobody polls:
//! harmless. The thread starts with the first deadline and ends when none
//! is left. Like the trimmer, its state records the process it runs in, so
//! a child after `fork()` starts a thread of its own. Process-global state
//! uses `std` primitives, not the `sync` shim: the models do not wait on
//! time.
//!
//! Owns the timer thread. Calls only `std`. Called by the pool's waiting
//! future (`Pool::try_alloc_wait`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex};
use std::task::Waker;
use std::time::Instant;

struct Deadline(Instant, u64, Waker);

impl PartialEq for Deadline {
    fn eq(&self, other: &Self) -> bool {
        (self.0, self.1) == (other.0, other.1)
    }
}
impl Eq for Deadline {}
impl PartialOrd for Deadline {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Deadline {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(other.0, other.1))
    }
}

struct State {
    due: BinaryHeap<Reverse<Deadline>>,
    seq: u64,
    running: bool,
    /// The process the running thread belongs to.
    pid: u32,
}

static STATE: Mutex<State> = Mutex::new(State {
    due: BinaryHeap::new(),
    seq: 0,
    running: false,
    pid: 0,
});
static WAKE: Condvar = Condvar::new();

/// Wakes `waker` at `deadline` (or soon after). If no thread can be
/// started, wakes it at once: the waiter then sees its deadline not yet
/// passed and registers again, so it waits by polling rather than never.
pub(crate) fn wake_at(deadline: Instant, waker: Waker) {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    state.seq += 1;
    let seq = state.seq;
    state.due.push(Reverse(Deadline(deadline, seq, waker)));
    if !(state.running && state.pid == std::process::id()) {
        let started = std::thread::Builder::new()
            .name("tidebuf-timer".into())
            .spawn(run)
            .is_ok();
        state.running = started;
        state.pid = std::process::id();
        if !started {
            let Reverse(Deadline(_, _, waker)) = state.due.pop().expect("just pushed");
            drop(state);
            waker.wake();
            return;
        }
    }
    drop(state);
    WAKE.notify_one();
}

fn run() {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        while state.due.peek().is_some_and(|d| d.0 .0 <= now) {
            due.push(state.due.pop().expect("peeked").0 .2);
        }
        if !due.is_empty() {
            drop(state);
            due.into_iter().for_each(Waker::wake);
            state = STATE.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        let Some(next) = state.due.peek().map(|d| d.0 .0) else {
            state.running = false;
            return;
        };
        state = WAKE
            .wait_timeout(state, next.saturating_duration_since(now))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}
