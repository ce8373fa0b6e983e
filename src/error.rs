//! Errors: [`ConfigError`] for a bad builder setting, [`AllocError`] for a
//! request the pool cannot serve.
//!
//! Messages follow Netty's shape, naming the setting and what was expected:
//! `page_size: 3000 (expected: a power of two >= 4096)`.
//!
//! Owns the public error types and the panic an infallible path makes
//! (`alloc_failed`). Calls nothing. Called by the builder, the allocation
//! path, the buffers and the handle.

use std::fmt;

/// An invalid [`PoolBuilder`](crate::PoolBuilder) setting.
///
/// ```
/// let err = tidebuf::Pool::builder().page_size(3000).build().unwrap_err();
/// assert_eq!(err.setting, "page_size");
/// assert_eq!(err.to_string(), "page_size: 3000 (expected: a power of two in 4096..=1048576)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The builder method whose value was rejected.
    pub setting: &'static str,
    /// The rejected value, as given.
    pub value: String,
    /// What the setting accepts.
    pub expected: &'static str,
}

impl ConfigError {
    pub(crate) fn new(
        setting: &'static str,
        value: impl fmt::Display,
        expected: &'static str,
    ) -> Self {
        ConfigError {
            setting,
            value: value.to_string(),
            expected,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (expected: {})",
            self.setting, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// Why an allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocErrorKind {
    /// The request exceeds `isize::MAX` bytes (no Rust allocation may).
    TooLarge,
    /// Serving the request would take `used_bytes` over `max_memory`, even
    /// after trimming what could be trimmed: `used + needed > limit`.
    ///
    /// `used` is the figure the refusal was decided on, read in the same
    /// atomic step that refused the reservation, after the pool had made
    /// what room it could. With no other thread allocating or releasing,
    /// [`PoolMetrics::used_bytes`](crate::PoolMetrics::used_bytes) read
    /// right after shows the same figure; with others, it may have moved
    /// since (reservations are taken and given back concurrently).
    OverLimit {
        /// `used_bytes` the refusal was decided on.
        used: usize,
        /// Bytes the request needed to reserve: a whole chunk when no
        /// chunk had room for a pooled size, purged pages to recommit, or
        /// the mapping of a huge buffer (its huge class).
        needed: usize,
        /// The configured `max_memory`.
        limit: usize,
    },
    /// The operating system (or the global allocator) refused memory.
    OutOfMemory,
}

/// A request the pool could not serve; returned by
/// [`Pool::try_alloc`](crate::Pool::try_alloc).
///
/// ```
/// let pool = tidebuf::Pool::new();
/// let err = pool.try_alloc(usize::MAX).unwrap_err();
/// assert_eq!(err.requested, usize::MAX);
/// assert_eq!(err.kind, tidebuf::AllocErrorKind::TooLarge);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AllocError {
    /// The requested capacity in bytes.
    pub requested: usize,
    /// Why it failed.
    pub kind: AllocErrorKind,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "allocation of {} bytes failed: ", self.requested)?;
        match self.kind {
            AllocErrorKind::TooLarge => write!(f, "larger than isize::MAX"),
            AllocErrorKind::OverLimit {
                used,
                needed,
                limit,
            } => write!(
                f,
                "max_memory reached (used {used} of limit {limit} bytes, {needed} more needed)"
            ),
            AllocErrorKind::OutOfMemory => write!(f, "the system refused memory"),
        }
    }
}

impl std::error::Error for AllocError {}

/// Failure on an infallible path (`alloc`, `reserve`, `BufMut`, …):
/// - above `isize::MAX`, a "capacity overflow" panic, as `Vec`;
/// - refused by `max_memory`, a panic naming the cap: it unwinds, so the
///   task or request that hit the cap dies and the process lives — the cap
///   exists to stop a process from being killed for memory;
/// - refused by the OS, `handle_alloc_error` (an abort), as std does.
#[cold]
#[track_caller]
pub(crate) fn alloc_failed(err: AllocError) -> ! {
    match err.kind {
        AllocErrorKind::TooLarge => panic!("capacity overflow: {err}"),
        AllocErrorKind::OverLimit { .. } => panic!(
            "tidebuf: {err}; the pool's max_memory refused it \
             (use try_alloc / try_reserve to handle the refusal)"
        ),
        AllocErrorKind::OutOfMemory => std::alloc::handle_alloc_error(
            std::alloc::Layout::from_size_align(err.requested, 1)
                .unwrap_or(std::alloc::Layout::new::<u8>()),
        ),
    }
}
