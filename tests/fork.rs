//! `fork()`: the child inherits the background trimmer's state but not its
//! thread. A pool built in the child must still decay with no further call
//! (the child starts a trimmer of its own), and so must a pool built before
//! the fork, once the child has used it (its activity restarts a trimmer in
//! the child, which ticks every pool that came along).
#![cfg(unix)]

use std::time::{Duration, Instant};
use tidebuf::{Pool, TrimPolicy};

/// One fork at a time: a fork copies the other test's pools too, and a
/// lock one of its threads holds at that instant (an allocation in
/// progress) stays held in the child — true of any lock, and why a child
/// should not count on pools other threads were using as it forked.
static ONE_FORK_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn decaying(idle_ms: u64) -> Pool {
    Pool::builder()
        .trim_policy(TrimPolicy::decay(Duration::from_millis(idle_ms)))
        .build()
        .unwrap()
}

/// A burst in `pool` (its chunks and this thread's cache entries stay
/// behind), then no call but `metrics()`; 0 if the memory went back within
/// `limit`, 1 if not, 2 if the burst left nothing to decay.
fn burst_then_idle(pool: &Pool, limit: Duration) -> i32 {
    drop((0..64).map(|_| pool.alloc(64 << 10)).collect::<Vec<_>>());
    if pool.metrics().used_bytes == 0 {
        return 2; // nothing left to decay: the test would prove nothing
    }
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if pool.metrics().used_bytes == 0 {
            return 0;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    1
}

/// Runs `child` in a forked child and returns its exit code.
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only allocates, sleeps and exits with `_exit`; the
    // parent waits for it.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child();
        // SAFETY: ends the child at once, running no parent-owned destructor.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child status {status}");
    libc::WEXITSTATUS(status)
}

#[test]
fn a_pool_built_after_fork_decays_in_the_child() {
    let _one = ONE_FORK_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The parent's trimmer runs (a long tick: it sleeps, not holding its
    // lock, when the fork happens).
    let parent_pool = decaying(3_600_000);
    drop(parent_pool.alloc(100));
    // A generous limit: the 5 ms tick has hundreds of chances in it,
    // however loaded the machine.
    let code = in_child(|| burst_then_idle(&decaying(20), Duration::from_secs(30)));
    assert_eq!(
        code, 0,
        "1: the child's pool never decayed; 2: it had nothing to decay"
    );
    // The parent's trimmer is unaffected.
    drop(parent_pool);
}

#[test]
fn a_pool_built_before_fork_decays_in_the_child() {
    let _one = ONE_FORK_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pool = decaying(20);
    // It decays in the parent, by the parent's trimmer.
    assert_eq!(burst_then_idle(&pool, Duration::from_secs(30)), 0, "parent");
    let code = in_child(|| burst_then_idle(&pool, Duration::from_secs(30)));
    assert_eq!(
        code, 0,
        "1: the inherited pool never decayed in the child; 2: nothing to decay"
    );
}
