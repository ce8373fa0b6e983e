//! Structured events for `tracing` (feature `tracing`); without the
//! feature the macro expands to nothing, so no call site costs anything.
//!
//! ```text
//!  tidebuf::trim   bytes, chunks, cache_entries, cause = decay | explicit | cap | close
//!  tidebuf::cap    requested, used, needed, limit        (a refusal at max_memory)
//!  tidebuf::wait   requested, waited_us, served          (alloc_wait)
//!  tidebuf::arena  from, to                              (a thread moved on contention)
//! ```
//!
//! Owns nothing. Calls `tracing` when the feature is on. Called by
//! trimming, the allocation path, the waiting future and the thread caches.

/// `event!(target, LEVEL, field = value, …, "message")`.
macro_rules! event {
    ($target:literal, $level:ident, $($fields:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::event!(target: $target, tracing::Level::$level, $($fields)*);
    }};
}
pub(crate) use event;
