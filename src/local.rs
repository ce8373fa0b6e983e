//! Per-thread, per-pool state, found through one `thread_local!`.
//!
//! ```text
//! thread T ── LOCALS: [ (pool A, Weak, state) , (pool B, Weak, state) ]
//!                              │
//!                              └─ state: bound arena (and, later, cache)
//! ```
//!
//! The key of an entry is the address of the pool's shared state. The entry
//! holds a `Weak` to it, which keeps that allocation (not the pool) alive, so
//! no other pool can reuse the address while the entry exists.
//!
//! When the thread exits, the destructor of `LOCALS` unbinds the thread from
//! its arena in every pool still alive — a thread's share does not outlive
//! the thread. Entries of dropped pools are pruned when a new entry is added.

use crate::pool::PoolInner;
use crate::sync::atomic::Ordering::Relaxed;
use crate::sync::Weak;
use std::cell::RefCell;

/// What a thread keeps per pool.
#[derive(Debug)]
pub(crate) struct ThreadState {
    /// Index of the arena this thread allocates from.
    pub(crate) arena: u32,
}

struct Local {
    key: usize,
    pool: Weak<PoolInner>,
    state: Box<ThreadState>,
}

struct Locals(RefCell<Vec<Local>>);

impl Drop for Locals {
    fn drop(&mut self) {
        for local in self.0.get_mut().drain(..) {
            if let Some(pool) = local.pool.upgrade() {
                pool.arenas[local.state.arena as usize]
                    .threads
                    .fetch_sub(1, Relaxed);
            }
        }
    }
}

std::thread_local! {
    static LOCALS: Locals = const { Locals(RefCell::new(Vec::new())) };
}

/// Runs `f` on this thread's state for `pool`, binding the thread first if
/// needed. `None` while the thread is being torn down (its thread-locals are
/// gone): callers then fall back to the shared path.
#[inline]
pub(crate) fn with_state<R>(pool: &PoolInner, f: impl FnOnce(&mut ThreadState) -> R) -> Option<R> {
    let key = pool as *const PoolInner as usize;
    LOCALS
        .try_with(|locals| {
            let mut locals = locals.0.try_borrow_mut().ok()?;
            if let Some(local) = locals.iter_mut().find(|l| l.key == key) {
                return Some(f(&mut local.state));
            }
            locals.retain(|l| l.pool.strong_count() > 0);
            let arena = pool.bind_thread();
            locals.push(Local {
                key,
                pool: pool.weak(),
                state: Box::new(ThreadState { arena }),
            });
            Some(f(&mut locals.last_mut().expect("just pushed").state))
        })
        .ok()
        .flatten()
}
