//! How many times this process's ancestry forked into it: a
//! `pthread_atfork` child handler counts each `fork()`, so a thread started
//! before one (the background trimmer) can be known not to exist here.
//!
//! ```text
//!  parent: trimmer thread, pools registered ── fork() ──▶ child: same pools, no trimmer thread
//!                                                         count() = parent's + 1
//! ```
//!
//! Reading the count is one atomic load (a pid check would be a system
//! call). The hook is installed on first use, before the trimmer starts,
//! with the trimmer's own handlers around the fork (it holds its state's
//! lock across it, so the child never inherits that lock taken).
//!
//! Owns the counter. Calls `libc` (unix) and `std`. Called by the clock
//! (is the trimmer alive here?) and the trimmer (installs the hook).

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

static FORKS: AtomicU32 = AtomicU32::new(0);

/// Forks into this process so far (0 in a process that no fork made
/// since the hook went in).
#[inline]
pub(crate) fn count() -> u32 {
    FORKS.load(Relaxed)
}

/// Installs `pthread_atfork` handlers once: `prepare` runs in the forking
/// thread before the fork, `parent` after it in the parent, and in the
/// child this counts the fork and then runs `child`. Without them
/// (`pthread_atfork` failed, or not unix) the count stays 0 and forks go
/// unnoticed, as before.
pub(crate) fn watch(prepare: extern "C" fn(), parent: extern "C" fn(), child: extern "C" fn()) {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        static CHILD: std::sync::OnceLock<extern "C" fn()> = std::sync::OnceLock::new();
        extern "C" fn in_child() {
            // Async-signal-safe: an atomic add and a plain call.
            FORKS.fetch_add(1, Relaxed);
            if let Some(child) = CHILD.get() {
                child();
            }
        }
        ONCE.call_once(|| {
            let _ = CHILD.set(child);
            // SAFETY: registers handlers that take no arguments and only
            // touch statics (and the caller's, which promise the same).
            unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(in_child)) };
        });
    }
    #[cfg(not(unix))]
    let _ = (prepare, parent, child);
}
