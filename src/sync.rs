//! The one door to synchronisation primitives.
//!
//! Every module that shares state across threads imports its atomics, locks
//! and cells from here. Under `--cfg tidebuf_loom` the same names resolve to
//! [`loom`]'s model-checked versions, so the loom models in `src/tests/`
//! exercise the real code paths rather than copies of them.
//!
//! The cfg is `tidebuf_loom`, not `loom`: `--cfg loom` also switches tokio (a
//! dev-dependency) into its own loom mode, where it does not build.
//!
//! `Arc`/`Weak` for the pool's own lifetime come from `std` in both modes:
//! loom has no `Weak`, and the pool handle's lifetime is not what the models
//! check (they drive arenas, chunks and buffers directly).

pub(crate) use std::sync::{Arc, Weak};

#[cfg(not(tidebuf_loom))]
pub(crate) use std::sync::atomic;

#[cfg(tidebuf_loom)]
pub(crate) use loom::sync::atomic;

#[cfg(not(tidebuf_loom))]
pub(crate) use parking_lot::Mutex;

#[cfg(tidebuf_loom)]
pub(crate) use self::mock::Mutex;

#[cfg(tidebuf_loom)]
mod mock {
    /// `parking_lot`-shaped adapter over loom's mutex: `lock()` without a
    /// poison `Result`, so call sites read the same in both modes.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            // A panic while holding the lock fails the model anyway.
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }
}
