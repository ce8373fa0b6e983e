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
//!
//! Owns nothing: it re-exports `std`/`parking_lot` or `loom`. Calls no
//! module. Called by every module with shared state.

pub(crate) use std::sync::{Arc, Weak};

#[cfg(not(tidebuf_loom))]
pub(crate) use std::sync::atomic;

#[cfg(tidebuf_loom)]
pub(crate) use loom::sync::atomic;

#[cfg(not(tidebuf_loom))]
pub(crate) use parking_lot::{Mutex, MutexGuard};

#[cfg(tidebuf_loom)]
pub(crate) use self::mock::{Mutex, MutexGuard};

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

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }
}

/// Declares thread-locals: `std`'s (with `const` initialisers, the cheapest
/// to reach) normally, loom's under `tidebuf_loom` — loom runs its threads
/// as coroutines on one OS thread, so `std` thread-locals would be shared.
#[cfg(not(tidebuf_loom))]
macro_rules! thread_locals {
    ($( static $name:ident : $t:ty = $init:expr; )*) => {
        std::thread_local! { $( static $name: $t = const { $init }; )* }
    };
}

#[cfg(tidebuf_loom)]
macro_rules! thread_locals {
    ($( static $name:ident : $t:ty = $init:expr; )*) => {
        loom::thread_local! { $( static $name: $t = $init; )* }
    };
}

pub(crate) use thread_locals;

/// An `UnsafeCell` whose accesses loom can check for races: every access
/// goes through `with_mut`, which loom tracks for its duration.
#[cfg(not(tidebuf_loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(tidebuf_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a raw pointer to the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(tidebuf_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Lets other threads run (loom's scheduler needs to know, or a wait loop
/// never lets the thread it waits for make progress).
#[inline]
pub(crate) fn yield_now() {
    #[cfg(not(tidebuf_loom))]
    std::thread::yield_now();
    #[cfg(tidebuf_loom)]
    loom::thread::yield_now();
}
