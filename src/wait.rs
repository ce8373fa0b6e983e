//! Waiting for memory at the cap: the future behind `Pool::alloc_wait`.
//!
//! ```text
//!  poll ─ nobody queued? try now ─ fits ─────────────────────▶ Ready(buffer)
//!    │                            └ over the cap ┐
//!    └─ queued ─────────────────────────────────┴▶ register (FIFO) ─ head? try ─ fits ─▶ leave, Ready
//!                                                     │ not head / over the cap ─▶ Pending
//!  woken by: memory given back (unmap, purge, trim), a release, the head
//!  ahead of it leaving, or its deadline (timer thread)
//! ```
//!
//! Runtime-agnostic: plain `std::task::Waker`s; a deadline is kept by the
//! crate's timer thread, not by a runtime. Cancel-safe: a waiter holds no
//! reservation, and dropping the future takes it out of the queue (waking
//! the next one if it was the head) and its deadline off the timer. A
//! request the cap could never hold — a huge class larger than
//! `max_memory` itself — fails at once.
//!
//! Owns the future. Calls the allocation path, the budget's wait queue,
//! the timer and the buffers. Called by the `Pool` handle.

use crate::error::{AllocError, AllocErrorKind};
use crate::heap::Heap;
use crate::PooledBytesMut;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A buffer once `max_memory` lets it fit: the future of
/// [`Pool::alloc_wait`](crate::Pool::alloc_wait) and
/// [`Pool::try_alloc_wait`](crate::Pool::try_alloc_wait).
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct AllocWait<'a> {
    heap: &'a Heap,
    size: usize,
    deadline: Option<Instant>,
    /// Place in the queue, once registered.
    id: Option<u64>,
    /// When it first had to wait.
    since: Option<Instant>,
    /// The deadline's wake-up, while one is armed (dropped with the
    /// future, taking its waker with it).
    timer: Option<crate::timer::Timer>,
    /// The refusal that made it wait (returned on timeout).
    refused: Option<AllocError>,
}

impl<'a> AllocWait<'a> {
    pub(crate) fn new(heap: &'a Heap, size: usize, timeout: Option<Duration>) -> AllocWait<'a> {
        AllocWait {
            heap,
            size,
            deadline: timeout.map(|t| crate::clock::deadline(Instant::now(), t)),
            id: None,
            since: None,
            timer: None,
            refused: None,
        }
    }

    /// A request the cap can never hold: a huge class above `max_memory`.
    fn never_fits(&self) -> Option<AllocError> {
        let limit = self.heap.env().budget.limit()?;
        let classes = self.heap.classes();
        if classes.class_of(self.size).is_some() {
            return None; // a class within a chunk, and max_memory ≥ chunk
        }
        let needed = classes.huge_size(self.size)?;
        (needed > limit).then_some(AllocError {
            requested: self.size,
            kind: AllocErrorKind::OverLimit {
                used: self.heap.env().budget.used(),
                needed,
                limit,
            },
        })
    }

    /// One attempt: `Ok(Some)` served, `Ok(None)` over the cap (wait),
    /// `Err` any other failure.
    fn attempt(&mut self) -> Result<Option<PooledBytesMut>, AllocError> {
        match self.heap.allocate(self.size) {
            Ok(grant) => Ok(Some(PooledBytesMut::new(grant))),
            Err(
                err @ AllocError {
                    kind: AllocErrorKind::OverLimit { .. },
                    ..
                },
            ) => {
                self.refused = Some(err);
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Out of the queue, and off the timer; `served` says whether it got
    /// its buffer.
    fn leave(&mut self, served: bool) {
        self.timer = None;
        if let Some(id) = self.id.take() {
            let waited = self.since.map_or(0, |t| t.elapsed().as_nanos() as u64);
            self.heap.env().budget.waiters.leave(id, waited);
            crate::trace::event!(
                "tidebuf::wait",
                DEBUG,
                requested = self.size,
                waited_us = waited / 1000,
                served,
                "stopped waiting for memory"
            );
            let _ = served;
        }
    }
}

impl Future for AllocWait<'_> {
    type Output = Result<PooledBytesMut, AllocError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.id.is_none() {
            if let Some(err) = this.never_fits() {
                return Poll::Ready(Err(err));
            }
            // Nobody queued: no one to be fair to.
            if !this.heap.env().budget.waiters.any() {
                match this.attempt() {
                    Ok(Some(buf)) => return Poll::Ready(Ok(buf)),
                    Ok(None) => {}
                    Err(err) => return Poll::Ready(Err(err)),
                }
            }
            this.since = Some(Instant::now());
            crate::trace::event!(
                "tidebuf::wait",
                DEBUG,
                requested = this.size,
                used = this.heap.env().budget.used(),
                "waiting for memory under max_memory"
            );
        }
        let waiters = &this.heap.env().budget.waiters;
        loop {
            let (id, head, generation) = waiters.register(this.id, cx.waker());
            this.id = Some(id);
            if !head {
                break;
            }
            match this.attempt() {
                Ok(Some(buf)) => {
                    this.leave(true);
                    return Poll::Ready(Ok(buf));
                }
                // Over the cap: wait, unless memory came back meanwhile.
                Ok(None) if waiters.settle(generation) => break,
                Ok(None) => continue,
                Err(err) => {
                    this.leave(false);
                    return Poll::Ready(Err(err));
                }
            }
        }
        if let Some(deadline) = this.deadline {
            if Instant::now() >= deadline {
                this.leave(false);
                let err = this.refused.take().unwrap_or(AllocError {
                    requested: this.size,
                    kind: AllocErrorKind::OverLimit {
                        used: this.heap.env().budget.used(),
                        needed: this.size,
                        limit: this.heap.env().budget.limit().unwrap_or(usize::MAX),
                    },
                });
                return Poll::Ready(Err(err));
            }
            // Armed once per waker: a future moved to another task re-arms
            // (the old entry goes as it is replaced).
            if !this.timer.as_ref().is_some_and(|t| t.wakes(cx.waker())) {
                this.timer = crate::timer::wake_at(deadline, cx.waker());
            }
        }
        Poll::Pending
    }
}

impl Drop for AllocWait<'_> {
    fn drop(&mut self) {
        // Cancelled (or finished): out of the queue, nothing reserved.
        self.leave(false);
    }
}
