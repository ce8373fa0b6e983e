//! Requests waiting for memory under `max_memory`, first come first served.
//!
//! ```text
//!  alloc_wait(n) ─ register (tail) ─ head? ─ try ─ fits ─▶ leave, wake the new head
//!                                      │      └ over the cap: Pending
//!                                      └ not head: Pending (no jumping the queue)
//!  memory back (unmap, purge, a release) ─▶ notify: wake the head
//!  future dropped ─▶ leave (the head's leaving wakes the next one)
//! ```
//!
//! Only the head tries, so a big request is not starved by small ones
//! slipping past it. A waiter holds no reservation while it waits — only a
//! place in the queue and a waker — so dropping its future (cancelling)
//! leaves nothing behind.
//!
//! No lost wake-up: every change of the budget ends with `notify`, which
//! bumps a generation and wakes the head under the queue's lock. A waiter
//! registers (reading the generation) under that lock, tries *without* it,
//! and on failure `settle`s under it again: if the generation moved in
//! between, memory came back during its try and it tries again; if not,
//! any later change finds it registered and wakes it. (Checked by the loom
//! model `loom_wait`.)
//!
//! Owns the queue. Calls `sync`. Called by the budget (to notify) and the
//! pool's waiting future.

use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use crate::sync::Mutex;
use std::collections::VecDeque;
use std::task::Waker;

/// Waiters for memory, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    queue: Mutex<Queue>,
    /// Entries in the queue: the notifier's cheap check.
    waiting: AtomicUsize,
    /// Nanoseconds spent waiting by waiters that left.
    waited_ns: AtomicU64,
}

#[derive(Debug, Default)]
struct Queue {
    entries: VecDeque<(u64, Waker)>,
    next_id: u64,
    /// Budget changes so far (`notify` calls).
    generation: u64,
}

impl WaitQueue {
    /// Joins the queue (or, with `id`, updates this waiter's waker); returns
    /// the waiter's id, whether it is at the head, and the generation to
    /// [`settle`](Self::settle) with after a failed try. The caller tries its
    /// request only after this, and only if it is the head.
    pub(crate) fn register(&self, id: Option<u64>, waker: &Waker) -> (u64, bool, u64) {
        let mut q = self.queue.lock();
        let id = match id.and_then(|id| q.entries.iter().position(|e| e.0 == id)) {
            Some(at) => {
                if !q.entries[at].1.will_wake(waker) {
                    q.entries[at].1 = waker.clone();
                }
                q.entries[at].0
            }
            None => {
                let id = q.next_id;
                q.next_id += 1;
                q.entries.push_back((id, waker.clone()));
                self.waiting.fetch_add(1, Relaxed);
                id
            }
        };
        let head = q.entries.front().is_some_and(|e| e.0 == id);
        (id, head, q.generation)
    }

    /// After a failed try: `true` to wait (nothing changed since
    /// `generation`, and any later change will wake the head), `false` to
    /// try again (memory came back meanwhile).
    pub(crate) fn settle(&self, generation: u64) -> bool {
        self.queue.lock().generation == generation
    }

    /// Leaves the queue (served, failed, timed out or cancelled), adding
    /// `waited_ns`; if this waiter was the head, the next one is woken.
    pub(crate) fn leave(&self, id: u64, waited_ns: u64) {
        let mut q = self.queue.lock();
        let Some(at) = q.entries.iter().position(|e| e.0 == id) else {
            return;
        };
        q.entries.remove(at);
        self.waiting.fetch_sub(1, Relaxed);
        self.waited_ns.fetch_add(waited_ns, Relaxed);
        let next = (at == 0)
            .then(|| q.entries.front().map(|e| e.1.clone()))
            .flatten();
        drop(q);
        if let Some(waker) = next {
            waker.wake();
        }
    }

    /// Whether anyone waits (a hint: a waiter may join right after).
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.waiting.load(Relaxed) > 0
    }

    /// The budget changed (memory given back): wakes the head, if any.
    /// Takes the lock every time — it is called where memory is unmapped or
    /// purged, and by a release only when someone waits (`any`), never on
    /// a buffer's fast path.
    pub(crate) fn notify(&self) {
        let mut q = self.queue.lock();
        q.generation += 1;
        let head = q.entries.front().map(|e| e.1.clone());
        drop(q);
        if let Some(waker) = head {
            waker.wake();
        }
    }

    /// Waiters now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Relaxed)
    }

    /// Total time waited by waiters that left, in nanoseconds.
    pub(crate) fn waited_ns(&self) -> u64 {
        self.waited_ns.load(Relaxed)
    }
}
