//! An asymmetric fence: almost free on the thread-cache owner's side, a
//! system call on the trimmer's.
//!
//! ```text
//!  owner (every cache op)            trimmer (rarely)
//!  state = BUSY                      claim = true
//!  light()   compiler-only fence     heavy()   membarrier: every running
//!  if claim { back off }                       thread executes a full fence
//!  … use the cache …                 if state == IDLE { flush the cache }
//!  state = IDLE                      claim = false
//! ```
//!
//! This is Dekker's mutual exclusion with the expensive half of the fence
//! moved to the rare side: after `heavy()` returns, either the owner's BUSY
//! store is visible to the trimmer, or the owner's later load of `claim`
//! sees `true`. Linux `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` is the
//! heavy side (measured here: about 0.1 µs a call); where it is missing
//! (other systems, old kernels, seccomp), `heavy()` reports `false` and
//! the trimmer leaves live threads' caches alone — they still return at
//! thread exit and on the owner's own trims and sweeps.
//!
//! Under `--cfg tidebuf_loom` both sides are `SeqCst` fences, which loom
//! models: the models check the protocol, not the system call.
//!
//! Owns nothing: the two fences of the cache hand-off. Calls only `libc`
//! (`membarrier`). Called by the thread caches.

#[cfg(not(tidebuf_loom))]
use std::sync::atomic::{compiler_fence, Ordering::SeqCst};

/// The owner's side: orders its BUSY store before its `claim` load, given
/// that the other side calls [`heavy`].
#[inline(always)]
pub(crate) fn light() {
    #[cfg(not(tidebuf_loom))]
    compiler_fence(SeqCst);
    #[cfg(tidebuf_loom)]
    loom::sync::atomic::fence(loom::sync::atomic::Ordering::SeqCst);
}

/// The trimmer's side: a full fence on every thread of the process.
/// `false` if unavailable, and then the caller must not rely on it.
pub(crate) fn heavy() -> bool {
    #[cfg(tidebuf_loom)]
    {
        loom::sync::atomic::fence(loom::sync::atomic::Ordering::SeqCst);
        true
    }
    #[cfg(all(not(tidebuf_loom), target_os = "linux"))]
    {
        linux::heavy()
    }
    #[cfg(all(not(tidebuf_loom), not(target_os = "linux")))]
    {
        false
    }
}

#[cfg(all(not(tidebuf_loom), target_os = "linux"))]
mod linux {
    use std::sync::OnceLock;

    const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier(cmd: libc::c_long) -> bool {
        // SAFETY: membarrier takes two integer arguments and touches no
        // memory of ours; failure is reported through the return value.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_long,
                0 as libc::c_long,
            ) == 0
        }
    }

    pub(super) fn heavy() -> bool {
        static REGISTERED: OnceLock<bool> = OnceLock::new();
        *REGISTERED.get_or_init(|| membarrier(CMD_REGISTER_PRIVATE_EXPEDITED))
            && membarrier(CMD_PRIVATE_EXPEDITED)
    }
}
