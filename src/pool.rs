//! The pool handle: what users hold, and the composition behind it.
//!
//! ```text
//!  Pool (Clone) ─┬─ Arc<Heap>          the shared state (heap.rs)
//!                └─ Arc<CloseOnDrop>   the last handle closes the pool
//!
//!  alloc ──▶ alloc.rs (Grant) ──▶ PooledBytesMut       trim ──▶ trim.rs
//!  metrics ──▶ metrics.rs                              build ──▶ builder.rs
//! ```
//!
//! Lifetime: the last `Pool` handle closes the pool — empty chunks are
//! released at once, and from then on every chunk is released the moment it
//! empties. Each chunk holds a strong reference to the heap, so arenas and
//! counters outlive the handles for as long as any buffer is alive; the
//! last chunk to go frees them.
//!
//! Owns the handle only. Calls the builder, the heap, the allocation path,
//! trimming, metrics and the buffers. Called by users, the codecs and the
//! Prometheus collector.

use crate::alloc::Grant;
use crate::builder::PoolBuilder;
use crate::error::{alloc_failed, AllocError, ConfigError};
use crate::heap::Heap;
use crate::metrics::PoolMetrics;
use crate::policy::TrimReport;
use crate::sync::Arc;
use crate::wait::AllocWait;
use crate::PooledBytesMut;

/// A pooled buffer allocator. Cheap to clone (a shared handle); `Send + Sync`.
///
/// ```
/// use tidebuf::Pool;
/// let pool = Pool::new();
/// let mut buf = pool.alloc(1500);
/// buf.extend_from_slice(b"hello");
/// let frozen = buf.freeze();
/// assert_eq!(&frozen[..], b"hello");
/// ```
///
/// Dropping the last handle while buffers are alive is safe: their memory
/// is freed when the last of them goes.
#[derive(Debug, Clone)]
pub struct Pool {
    heap: Arc<Heap>,
    _close: Arc<CloseOnDrop>,
}

/// Closes the pool when the last `Pool` handle is dropped.
#[derive(Debug)]
struct CloseOnDrop(Arc<Heap>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        // Give back what is free now, and let every chunk go as soon as it
        // empties.
        self.0.close();
        self.0.trim_now(crate::trim::Cause::Close);
    }
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new()
    }
}

impl Pool {
    /// A pool with every default setting. Never panics: the defaults
    /// follow the machine (the page size its OS page, the arena count its
    /// CPUs, both within their bounds).
    pub fn new() -> Pool {
        Pool::from_heap(PoolBuilder::default().default_heap())
    }

    /// A builder to change settings.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// The process-wide pool with every default setting, built on first
    /// use. `PooledBytesMut::default()` grows here.
    pub fn global() -> &'static Pool {
        static GLOBAL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(|| Pool::from_heap(crate::builder::global_heap().clone()))
    }

    /// The shared state.
    #[cfg(any(test, feature = "codec"))]
    pub(crate) fn heap(&self) -> &Arc<Heap> {
        &self.heap
    }

    /// A codec buffer's capacity changed from `was` to `now` bytes.
    #[cfg(feature = "codec")]
    pub(crate) fn codec_buffer_resized(&self, was: usize, now: usize) {
        if now > was {
            self.heap.codec_bytes.add((now - was) as u64);
        } else {
            self.heap.codec_bytes.sub((was - now) as u64);
        }
    }

    /// A buffer of `len` zero bytes (`BytesMut::zeroed`).
    ///
    /// # Panics
    /// As [`alloc`](Self::alloc).
    pub fn alloc_zeroed(&self, len: usize) -> PooledBytesMut {
        let mut buf = self.alloc(len);
        buf.resize(len, 0);
        buf
    }

    /// A buffer holding a copy of `data` (`BytesMut::from(&[u8])`,
    /// `Bytes::copy_from_slice`; `.freeze()` it for the latter).
    ///
    /// # Panics
    /// As [`alloc`](Self::alloc).
    pub fn copy_from_slice(&self, data: &[u8]) -> PooledBytesMut {
        let mut buf = self.alloc(data.len());
        buf.extend_from_slice(data);
        buf
    }

    /// A weak reference to the shared state: the models check that it is
    /// freed once nothing uses the pool any more.
    #[cfg(all(test, tidebuf_loom))]
    pub(crate) fn heap_weak(&self) -> crate::sync::Weak<Heap> {
        Arc::downgrade(&self.heap)
    }

    pub(crate) fn from_heap(heap: Arc<Heap>) -> Pool {
        Pool {
            _close: Arc::new(CloseOnDrop(heap.clone())),
            heap,
        }
    }

    /// An empty buffer with room for at least `capacity` bytes.
    ///
    /// # Panics
    /// If `capacity > isize::MAX` ("capacity overflow", like
    /// `Vec::with_capacity`), and if `max_memory` refuses the memory: the
    /// panic message names `max_memory`, used and limit, and the panic
    /// unwinds, so a task that hits the cap dies and the process lives.
    /// Only a refusal by the OS aborts, through
    /// [`std::alloc::handle_alloc_error`], as std does. [`Pool::try_alloc`]
    /// reports all three as an [`AllocError`] instead.
    #[inline(always)]
    pub fn alloc(&self, capacity: usize) -> PooledBytesMut {
        let grant = match self.heap.allocate_cached(capacity) {
            Some(grant) => grant,
            None => self.alloc_slow(capacity),
        };
        PooledBytesMut::new(grant)
    }

    // Returns the grant, not the buffer: a buffer returned from here would
    // be written through a pointer to the caller's buffer, which then lives
    // on the stack (see `PooledBytesMut::grow_detached`).
    #[inline(never)]
    fn alloc_slow(&self, capacity: usize) -> Grant {
        match self.heap.allocate_missed(capacity) {
            Ok(grant) => grant,
            Err(err) => alloc_failed(err),
        }
    }

    /// An empty buffer with room for at least `capacity` bytes, or why not.
    ///
    /// ```
    /// let pool = tidebuf::Pool::builder().max_memory(Some(8 << 20)).build()?;
    /// let big = pool.try_alloc(6 << 20).unwrap();
    /// let err = pool.try_alloc(6 << 20).unwrap_err();
    /// assert!(matches!(err.kind, tidebuf::AllocErrorKind::OverLimit { .. }));
    /// # drop(big);
    /// # Ok::<(), tidebuf::ConfigError>(())
    /// ```
    #[inline(always)]
    pub fn try_alloc(&self, capacity: usize) -> Result<PooledBytesMut, AllocError> {
        self.heap.allocate(capacity).map(PooledBytesMut::new)
    }

    /// An empty buffer with room for at least `capacity` bytes, once
    /// `max_memory` lets it fit: instead of failing at the cap, waits until
    /// released memory makes room (backpressure). Waiters are served first
    /// come, first served — a large request is not starved by small ones —
    /// and are woken when memory comes back (buffers released, chunks or
    /// mappings given back by a trim). Runtime-agnostic (plain wakers) and
    /// cancel-safe: dropping the future leaves no reservation and no waker
    /// behind. Without a cap it is [`try_alloc`](Self::try_alloc).
    ///
    /// # Errors
    /// At once, for a request the cap can never hold (a huge class larger
    /// than `max_memory` itself) or above `isize::MAX`; when the OS refuses.
    ///
    /// ```
    /// # futures_executor_shim::block_on(async {
    /// let pool = tidebuf::Pool::builder().max_memory(Some(8 << 20)).build()?;
    /// let held = pool.alloc(6 << 20);
    /// let waiting = pool.alloc_wait(6 << 20);
    /// drop(held); // room again: the waiter is woken and served
    /// let buf = waiting.await.unwrap();
    /// assert!(buf.capacity() >= 6 << 20);
    /// # Ok::<(), tidebuf::ConfigError>(())
    /// # }).unwrap();
    /// # mod futures_executor_shim {
    /// #     pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #         let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// #         rt.block_on(f)
    /// #     }
    /// # }
    /// ```
    pub fn alloc_wait(&self, capacity: usize) -> AllocWait<'_> {
        AllocWait::new(&self.heap, capacity, None)
    }

    /// As [`alloc_wait`](Self::alloc_wait), giving up after `timeout` with
    /// the `OverLimit` error that made it wait.
    pub fn try_alloc_wait(&self, capacity: usize, timeout: std::time::Duration) -> AllocWait<'_> {
        AllocWait::new(&self.heap, capacity, Some(timeout))
    }

    /// A snapshot of the pool's counters. Reads atomics only.
    pub fn metrics(&self) -> PoolMetrics {
        self.heap.metrics()
    }

    /// Gives back now whatever can be given back, whatever the policy.
    pub fn trim(&self) -> TrimReport {
        self.heap.trim_now(crate::trim::Cause::Explicit)
    }

    /// Page size in bytes.
    pub fn page_size(&self) -> usize {
        self.heap.classes().page_size()
    }

    /// Chunk size in bytes; larger requests are huge.
    pub fn chunk_size(&self) -> usize {
        self.heap.classes().chunk_size()
    }

    /// Most arenas the pool uses.
    pub fn arena_count(&self) -> usize {
        self.heap.config.arenas
    }

    /// The capacity a request of `size` bytes gets: its size class (above
    /// the chunk size, huge classes run four per doubling, as below) — for
    /// a huge request at least that: a recycled mapping of a larger class
    /// it may get instead can be up to 1.25× the class (the buffer's
    /// [`capacity`](crate::PooledBytesMut::capacity) says exactly).
    /// `None` above `isize::MAX`.
    ///
    /// ```
    /// let pool = tidebuf::Pool::new();
    /// assert_eq!(pool.capacity_for(1500), Some(1536));
    /// assert_eq!(pool.capacity_for(0), Some(16));
    /// ```
    pub fn capacity_for(&self, size: usize) -> Option<usize> {
        if size > isize::MAX as usize {
            return None;
        }
        let classes = self.heap.classes();
        match classes.class_of(size) {
            Some(c) => Some(classes.size(c)),
            None => classes.huge_size(size),
        }
    }

    /// Every buffer alive right now: capacity, age, and the allocation
    /// backtrace when the environment variable `TIDEBUF_LEAK_BACKTRACE=1`
    /// is set — for buffers kept alive by `mem::forget` or reference
    /// cycles, as Netty's `ResourceLeakDetector` reports leaks.
    /// (`debug-checks` feature.)
    #[cfg(feature = "debug-checks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "debug-checks")))]
    pub fn outstanding(&self) -> Vec<crate::Outstanding> {
        self.heap.tracker.outstanding()
    }

    /// Checks every internal invariant (page runs tile each chunk, subpage
    /// counts match their bitmaps, groups hold every chunk).
    #[cfg(any(test, feature = "debug-checks"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "debug-checks")))]
    pub fn validate(&self) {
        for arena in self.heap.arenas.iter() {
            arena.validate();
        }
    }
}

impl PoolBuilder {
    /// Checks every setting and builds the pool.
    pub fn build(self) -> Result<Pool, ConfigError> {
        self.heap().map(Pool::from_heap)
    }
}
