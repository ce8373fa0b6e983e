//! The pool: builder, shared state, and the allocation entry points.
//!
//! ```text
//!  Pool (handle, Clone) ──Arc──▶ PoolInner ◀──Arc── every ChunkHeader
//!                                  ├─ arenas[0..n]  (lock each)
//!                                  ├─ used_bytes    (the max_memory reservation)
//!                                  └─ huge counters
//! ```
//!
//! Lifetime: the last `Pool` handle closes the pool — empty chunks are
//! released at once, and from then on every chunk is released the moment it
//! empties. Each chunk holds a strong reference to `PoolInner`, so arenas
//! and counters outlive the handles for as long as any buffer is alive; the
//! last chunk to go frees them.

use crate::arena::{destroy_chunk, Arena, Refused, Scope};
use crate::backing::{Backing, Memory};
use crate::chunk::{ChunkHeader, HUGE_ARENA};
use crate::error::{AllocError, AllocErrorKind, ConfigError};
use crate::handle::MAX_PAGES;
use crate::huge::HugeCache;
use crate::local;
use crate::metrics::{ArenaMetrics, ByKind, PoolMetrics, SharedCounter};
use crate::region::{Region, HUGE_CLASS};
use crate::size_class::{ClassIdx, SizeClasses};
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use crate::sync::{Arc, Mutex, Weak};
use crate::thread_cache::{CacheConfig, CacheTotals, ThreadCache};
use crate::trim::{TrimPolicy, TrimReport};
use crate::PooledBytesMut;
use crossbeam_utils::CachePadded;
use std::ptr::NonNull;

const MIN_PAGE: usize = 4 << 10;
const MAX_PAGE: usize = 1 << 20;
const MAX_CHUNK: usize = 1 << 30;
/// A chunk holds the largest subpage run (`size_class::MAX_SUBPAGE_RUN`).
const MIN_CHUNK: usize = 128 << 10;
const _: () = assert!(MIN_CHUNK >= crate::size_class::MAX_SUBPAGE_RUN);
const MAX_ARENAS: usize = 4096;

/// Settings of a pool, validated by [`PoolBuilder::build`].
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) arenas: usize,
    pub(crate) cache: CacheConfig,
    pub(crate) max_memory: Option<usize>,
    pub(crate) backing: Backing,
    pub(crate) trim_policy: TrimPolicy,
    pub(crate) background_trimmer: bool,
    /// The OS page size (what `madvise` works in).
    pub(crate) os_page: usize,
}

/// The machine a pool is built for: its OS page size and CPU count. Read
/// from the system, or (in the crate's own tests) simulated, so that a
/// 16 KiB-page or 4096-CPU machine can be tested on any machine.
#[derive(Debug, Clone, Copy)]
struct Machine {
    os_page: usize,
    cpus: usize,
}

impl Machine {
    fn this() -> Machine {
        Machine {
            os_page: crate::backing::os_page_size(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// Default page size: 8 KiB, or the OS page if larger (an mmap-backed
    /// page must be whole OS pages; see `build`).
    fn default_page(self) -> usize {
        DEFAULT_PAGE.max(self.os_page).min(MAX_PAGE)
    }

    /// Default arena count: 2 × CPUs, within what a pool can have.
    fn default_arenas(self) -> usize {
        self.cpus.saturating_mul(2).clamp(1, MAX_ARENAS)
    }
}

const DEFAULT_PAGE: usize = 8 << 10;
const DEFAULT_CHUNK: usize = 4 << 20;

/// Builds a [`Pool`]; every setting has a default (Netty 4.1's sizes unless
/// a method says otherwise).
///
/// ```
/// use tidebuf::{Backing, Pool, TrimPolicy};
/// let pool = Pool::builder()
///     .arenas(4)
///     .page_size(8 << 10)
///     .chunk_size(4 << 20)
///     .max_memory(Some(512 << 20))
///     .backing(Backing::Heap)
///     .trim_policy(TrimPolicy::Never)
///     .build()?;
/// assert_eq!(pool.chunk_size(), 4 << 20);
/// # Ok::<(), tidebuf::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct PoolBuilder {
    arenas: Option<usize>,
    page_size: Option<usize>,
    chunk_size: Option<usize>,
    machine: Machine,
    cache: CacheConfig,
    max_memory: Option<usize>,
    backing: Backing,
    trim_policy: TrimPolicy,
    background_trimmer: bool,
    max_memory_fraction: Option<f64>,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            arenas: None,
            page_size: None,
            chunk_size: None,
            machine: Machine::this(),
            cache: CacheConfig {
                enabled: true,
                small_entries: 256,
                normal_entries: 64,
                max_capacity: 32 << 10,
                sweep_threshold: 8192,
            },
            max_memory: None,
            backing: Backing::default(),
            trim_policy: TrimPolicy::default(),
            background_trimmer: true,
            max_memory_fraction: None,
        }
    }
}

impl PoolBuilder {
    /// Most arenas the pool uses, 1 to 4096 (default: 2 × available cores,
    /// at most 4096).
    pub fn arenas(mut self, n: usize) -> Self {
        self.arenas = Some(n);
        self
    }

    /// Page size: a power of two from 4 KiB to 1 MiB, and with
    /// [`Backing::Mmap`] at least the OS page (default: 8 KiB, or the OS
    /// page where that is larger — 16 KiB or 64 KiB on some aarch64 and
    /// ppc64le kernels). Free pages are given back to the OS a pool page
    /// at a time, and the OS can only take whole OS pages.
    pub fn page_size(mut self, bytes: usize) -> Self {
        self.page_size = Some(bytes);
        self
    }

    /// Chunk size: `page_size × 2^k` with k ≥ 3, from 128 KiB to 1 GiB
    /// (default 4 MiB, or 8 pages where the page is above 512 KiB).
    /// Requests above it are huge: served by a mapping of their own.
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = Some(bytes);
        self
    }

    /// Builds for a simulated machine (the crate's own tests).
    #[cfg(test)]
    fn simulate(mut self, os_page: usize, cpus: usize) -> Self {
        self.machine = Machine { os_page, cpus };
        self
    }

    /// Per-thread caches in front of the arenas (default on).
    pub fn thread_cache(mut self, on: bool) -> Self {
        self.cache.enabled = on;
        self
    }

    /// Entries a thread cache keeps per small size class (default 256).
    pub fn small_cache_size(mut self, entries: u32) -> Self {
        self.cache.small_entries = entries;
        self
    }

    /// Entries a thread cache keeps per normal size class (default 64).
    pub fn normal_cache_size(mut self, entries: u32) -> Self {
        self.cache.normal_entries = entries;
        self
    }

    /// Largest buffer capacity thread caches keep (default 32 KiB).
    pub fn max_cached_buffer_capacity(mut self, bytes: usize) -> Self {
        self.cache.max_capacity = bytes;
        self
    }

    /// Allocations through a thread cache between sweeps, which give back
    /// entries a bin did not reuse since the last sweep (default 8192).
    pub fn cache_sweep_threshold(mut self, allocations: u32) -> Self {
        self.cache.sweep_threshold = allocations;
        self
    }

    /// Hard cap on `used_bytes` (default `None`: no cap). At least one chunk.
    pub fn max_memory(mut self, bytes: Option<usize>) -> Self {
        self.max_memory = bytes;
        self.max_memory_fraction = None;
        self
    }

    /// Caps `used_bytes` at `fraction` of the memory this process may use,
    /// read once when the pool is built: the cgroup v2 `memory.max`, else
    /// the cgroup v1 `memory.limit_in_bytes`, else physical RAM. For a pool
    /// that sizes itself to its container:
    ///
    /// ```
    /// let pool = tidebuf::Pool::builder().max_memory_fraction(0.5).build()?;
    /// # Ok::<(), tidebuf::ConfigError>(())
    /// ```
    ///
    /// Replaces an earlier [`max_memory`](Self::max_memory). A fraction
    /// outside (0, 1] is a [`ConfigError`].
    pub fn max_memory_fraction(mut self, fraction: f64) -> Self {
        self.max_memory_fraction = Some(fraction);
        self
    }

    /// Where chunk memory comes from (default [`Backing::Mmap`] on unix).
    pub fn backing(mut self, backing: Backing) -> Self {
        self.backing = backing;
        self
    }

    /// When the pool gives memory back on its own (default: decay, 10 s).
    pub fn trim_policy(mut self, policy: TrimPolicy) -> Self {
        self.trim_policy = policy;
        self
    }

    /// With a decay policy, whether the process-wide background trimmer
    /// applies it (default on), so memory is given back even when no thread
    /// calls into the pool again. Off, the pool decays only as it is used
    /// (checked on its slow paths) and on [`Pool::trim`].
    pub fn background_trimmer(mut self, on: bool) -> Self {
        self.background_trimmer = on;
        self
    }

    /// Checks every setting and builds the pool.
    pub fn build(mut self) -> Result<Pool, ConfigError> {
        let machine = self.machine;
        let arenas = self.arenas.unwrap_or_else(|| machine.default_arenas());
        if arenas == 0 || arenas > MAX_ARENAS {
            return Err(ConfigError::new("arenas", arenas, "1..=4096"));
        }
        let page = self.page_size.unwrap_or_else(|| machine.default_page());
        if !page.is_power_of_two() || !(MIN_PAGE..=MAX_PAGE).contains(&page) {
            return Err(ConfigError::new(
                "page_size",
                page,
                "a power of two in 4096..=1048576",
            ));
        }
        if self.backing == Backing::Mmap && page < machine.os_page {
            // A purge of one free pool page would zero the whole OS page
            // around it, live neighbours included.
            return Err(ConfigError::new(
                "page_size",
                page,
                "with Backing::Mmap, at least the OS page size (sysconf(_SC_PAGESIZE))",
            ));
        }
        let chunk = self
            .chunk_size
            .unwrap_or_else(|| DEFAULT_CHUNK.max(8 * page));
        let chunk_ok = chunk.is_power_of_two()
            && chunk >= 8 * page
            && (MIN_CHUNK..=MAX_CHUNK).contains(&chunk)
            && chunk / page < MAX_PAGES;
        if !chunk_ok {
            return Err(ConfigError::new(
                "chunk_size",
                chunk,
                "page_size × 2^k with k >= 3, in 128 KiB..=1 GiB",
            ));
        }
        if let Some(fraction) = self.max_memory_fraction {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(ConfigError::new(
                    "max_memory_fraction",
                    fraction,
                    "a fraction in (0, 1]",
                ));
            }
            let Some(limit) = crate::limit::memory_limit(std::path::Path::new("/")) else {
                return Err(ConfigError::new(
                    "max_memory_fraction",
                    fraction,
                    "a readable memory limit (cgroup or /proc/meminfo)",
                ));
            };
            self.max_memory = Some((limit as f64 * fraction).min(usize::MAX as f64) as usize);
        }
        if let Some(max) = self.max_memory {
            if max < chunk {
                return Err(ConfigError::new("max_memory", max, "at least chunk_size"));
            }
        }
        if let TrimPolicy::Decay { idle } = self.trim_policy {
            if idle.is_zero() {
                return Err(ConfigError::new(
                    "trim_policy",
                    format!("{idle:?}"),
                    "a decay period above zero",
                ));
            }
        }
        let c = self.cache;
        for (setting, value) in [
            ("small_cache_size", c.small_entries),
            ("normal_cache_size", c.normal_entries),
        ] {
            if value > 1 << 16 {
                return Err(ConfigError::new(setting, value, "at most 65536 entries"));
            }
        }
        if c.sweep_threshold == 0 {
            return Err(ConfigError::new("cache_sweep_threshold", 0, "at least 1"));
        }
        let config = Config {
            arenas,
            cache: self.cache,
            max_memory: self.max_memory,
            backing: self.backing,
            trim_policy: self.trim_policy,
            background_trimmer: self.background_trimmer,
            os_page: machine.os_page,
        };
        let inner = PoolInner::new(config, SizeClasses::new(page, chunk));
        if let (TrimPolicy::Decay { idle }, true) =
            (inner.config.trim_policy, inner.config.background_trimmer)
        {
            let on = crate::trim::background::register(
                Arc::downgrade(&inner),
                decay_tick_interval(idle),
            );
            inner.has_trimmer.store(on, Relaxed);
        }
        Ok(Pool::from_inner(inner))
    }
}

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
    inner: Arc<PoolInner>,
    _close: Arc<CloseOnDrop>,
}

/// Closes the pool when the last `Pool` handle is dropped.
#[derive(Debug)]
struct CloseOnDrop(Arc<PoolInner>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
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
        Pool::with_defaults_for(PoolBuilder::default())
    }

    /// The default pool for the machine `defaults` was made for.
    fn with_defaults_for(defaults: PoolBuilder) -> Pool {
        defaults.clone().build().unwrap_or_else(|_| {
            // Only an OS page above the largest pool page (1 MiB) gets here;
            // heap backing has no page constraint.
            defaults
                .backing(Backing::Heap)
                .build()
                .expect("the default settings with heap backing are valid")
        })
    }

    /// A builder to change settings.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// The process-wide pool with every default setting, built on first
    /// use. `PooledBytesMut::default()` grows here.
    pub fn global() -> &'static Pool {
        static GLOBAL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(Pool::new)
    }

    /// A new reference to the shared state.
    pub(crate) fn inner_arc(&self) -> Arc<PoolInner> {
        self.inner.clone()
    }

    /// A codec buffer's capacity changed from `was` to `now` bytes.
    #[cfg(feature = "codec")]
    pub(crate) fn codec_buffer_resized(&self, was: usize, now: usize) {
        if now > was {
            self.inner.codec_bytes.add((now - was) as u64);
        } else {
            self.inner.codec_bytes.sub((was - now) as u64);
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

    /// The shared state (for the crate's own models and tests).
    #[cfg(tidebuf_loom)]
    pub(crate) fn inner(&self) -> &PoolInner {
        &self.inner
    }

    /// A weak reference to the shared state: the models check that it is
    /// freed once nothing uses the pool any more.
    #[cfg(tidebuf_loom)]
    pub(crate) fn inner_weak(&self) -> Weak<PoolInner> {
        Arc::downgrade(&self.inner)
    }

    fn from_inner(inner: Arc<PoolInner>) -> Pool {
        Pool {
            _close: Arc::new(CloseOnDrop(inner.clone())),
            inner,
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
        match self.inner.allocate_cached(capacity) {
            Some(buf) => buf,
            None => self.alloc_slow(capacity),
        }
    }

    #[inline(never)]
    fn alloc_slow(&self, capacity: usize) -> PooledBytesMut {
        match self.inner.allocate_missed(capacity) {
            Ok(buf) => buf,
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
        self.inner.allocate(capacity)
    }

    /// A snapshot of the pool's counters. Reads atomics only.
    pub fn metrics(&self) -> PoolMetrics {
        self.inner.metrics()
    }

    /// Gives back now whatever can be given back, whatever the policy.
    pub fn trim(&self) -> TrimReport {
        self.inner.trim_now()
    }

    /// Page size in bytes.
    pub fn page_size(&self) -> usize {
        self.inner.classes.page_size()
    }

    /// Chunk size in bytes; larger requests are huge.
    pub fn chunk_size(&self) -> usize {
        self.inner.classes.chunk_size()
    }

    /// Most arenas the pool uses.
    pub fn arena_count(&self) -> usize {
        self.inner.config.arenas
    }

    /// The capacity a request of `size` bytes gets: its size class, or for
    /// a huge request at least the page-rounded size — a recycled mapping
    /// it may get instead can be up to 1.25× that (the buffer's
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
        match self.inner.classes.class_of(size) {
            Some(c) => Some(self.inner.classes.size(c)),
            None => self.inner.classes.huge_size(size),
        }
    }

    /// Every buffer alive right now: capacity, age, and the allocation
    /// backtrace when the environment variable `TIDEBUF_LEAK_BACKTRACE=1`
    /// is set — for buffers kept alive by `mem::forget` or reference
    /// cycles, as Netty's `ResourceLeakDetector` reports leaks.
    /// (`debug-checks` feature.)
    #[cfg(feature = "debug-checks")]
    pub fn outstanding(&self) -> Vec<crate::Outstanding> {
        self.inner.tracker.outstanding()
    }

    /// Checks every internal invariant (page runs tile each chunk, subpage
    /// counts match their bitmaps, groups hold every chunk).
    #[cfg(any(test, feature = "debug-checks"))]
    pub fn validate(&self) {
        for arena in self.inner.arenas.iter() {
            arena.validate();
        }
    }
}

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

/// Shared state of a pool.
#[derive(Debug)]
pub(crate) struct PoolInner {
    pub(crate) config: Config,
    pub(crate) classes: SizeClasses,
    pub(crate) arenas: Box<[Arena]>,
    /// Bytes reserved from the OS: chunks + huge buffers (`used_bytes`).
    used: CachePadded<AtomicUsize>,
    huge: HugeStats,
    /// Released huge mappings kept for reuse.
    huge_cache: HugeCache,
    /// Most huge bytes alive at once since the last decay tick (the cache
    /// keeps at most this much).
    huge_high_water: AtomicUsize,
    trims: SharedCounter,
    trimmed_bytes: SharedCounter,
    /// Capacity held by `codec` read and write buffers right now.
    codec_bytes: SharedCounter,
    closed: AtomicBool,
    me: Weak<PoolInner>,
    /// Every live thread cache, for `metrics()`; and the totals of caches
    /// whose threads have exited.
    caches: Mutex<(Vec<Arc<ThreadCache>>, CacheTotals)>,
    /// Decay ticks so far; chunks and caches remember the epoch they were
    /// last used in.
    epoch: CachePadded<AtomicU64>,
    /// Without the background trimmer: when (ms after `born`) the next
    /// decay step is due, checked on slow paths.
    next_decay_ms: AtomicU64,
    born: std::time::Instant,
    /// Whether the background trimmer ticks this pool.
    has_trimmer: AtomicBool,
    /// Live `borrowed()` guards, for the check in `Drop`.
    #[cfg(any(test, feature = "debug-checks"))]
    borrows: AtomicUsize,
    /// Bytes of memory actually held (mapped or committed), for the check
    /// that the cap holds in real memory (`holds_memory`).
    #[cfg(any(test, feature = "debug-checks"))]
    held: AtomicUsize,
    /// Live buffers, for `Pool::outstanding`.
    #[cfg(feature = "debug-checks")]
    tracker: crate::debug::Tracker,
    /// Arenas in use (the first `active_arenas` of `arenas`); grows on
    /// contention up to `arenas.len()`.
    active_arenas: AtomicUsize,
}

/// See [`PoolInner::borrowed`]. Without the checks it does nothing.
#[cfg_attr(not(any(test, feature = "debug-checks")), allow(dead_code))]
struct BorrowGuard<'a>(&'a PoolInner);

impl Drop for BorrowGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        #[cfg(any(test, feature = "debug-checks"))]
        self.0.borrows.fetch_sub(1, Relaxed);
    }
}

#[cfg(any(test, feature = "debug-checks"))]
impl Drop for PoolInner {
    fn drop(&mut self) {
        // A read-modify-write reads the latest count even where the model
        // checker cannot see the synchronisation of the last `Arc` drop.
        let borrows = self.borrows.fetch_add(0, Relaxed);
        // Not while unwinding from another failure: one report is enough.
        if !std::thread::panicking() {
            assert_eq!(
                borrows, 0,
                "the pool was freed while a method borrowing it was still running"
            );
        }
    }
}

/// Recycled huge mappings kept, at most, in chunks' worth of bytes.
const HUGE_CACHE_CHUNKS: usize = 16;

/// Unmaps a huge buffer's mapping and frees its header.
///
/// # Safety
/// `header` is a huge header (from `allocate_huge`) that nothing else
/// refers to; it is destroyed once. This may drop the pool's last
/// reference: the caller must not touch the pool afterwards.
unsafe fn destroy_huge(header: NonNull<ChunkHeader>) {
    // SAFETY: per the contract, leaked from a `Box` and owned by us now.
    let header = unsafe { Box::from_raw(header.as_ptr()) };
    #[cfg(feature = "asan")]
    crate::asan::unpoison(header.base.as_ptr(), header.memory.len());
    let ChunkHeader { memory, pool, .. } = *header;
    let len = memory.len();
    // Unmap, then give back the reservation, then the pool (as in
    // `destroy_chunk`: the cap covers memory the process holds).
    drop(memory);
    pool.released_memory(len);
    pool.unreserve(len);
    drop(pool);
}

/// Lock contentions a thread meets, within one window, before it moves.
const SPREAD_AFTER: u32 = 4;
/// Slow-path calls of a thread per contention-counting window.
const SPREAD_WINDOW: u32 = 64;

/// How often the decay policy runs for an idle period `idle`.
fn decay_tick_interval(idle: std::time::Duration) -> std::time::Duration {
    (idle / IDLE_TICKS as u32).max(std::time::Duration::from_millis(1))
}

/// Whole milliseconds in `d`, saturating at `u64::MAX` (about 585 million
/// years, which no decay period in a real process reaches).
fn saturating_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Ticks per decay period: memory is given back after it stayed unused for
/// this many ticks (plus the one it was last used in).
pub(crate) const IDLE_TICKS: u64 = 4;

#[derive(Debug, Default)]
struct HugeStats {
    count: SharedCounter,
    active_bytes: SharedCounter,
    allocations: SharedCounter,
    deallocations: SharedCounter,
}

impl PoolInner {
    fn new(config: Config, classes: SizeClasses) -> Arc<PoolInner> {
        Arc::new_cyclic(|me| PoolInner {
            arenas: (0..config.arenas)
                .map(|i| Arena::new(i as u32, classes.small_count()))
                .collect(),
            config,
            classes,
            used: CachePadded::new(AtomicUsize::new(0)),
            huge: HugeStats::default(),
            huge_cache: HugeCache::default(),
            huge_high_water: AtomicUsize::new(0),
            trims: SharedCounter::default(),
            trimmed_bytes: SharedCounter::default(),
            codec_bytes: SharedCounter::default(),
            closed: AtomicBool::new(false),
            me: me.clone(),
            caches: Mutex::new((Vec::new(), CacheTotals::default())),
            epoch: CachePadded::new(AtomicU64::new(0)),
            next_decay_ms: AtomicU64::new(0),
            born: std::time::Instant::now(),
            has_trimmer: AtomicBool::new(false),
            #[cfg(any(test, feature = "debug-checks"))]
            held: AtomicUsize::new(0),
            #[cfg(any(test, feature = "debug-checks"))]
            borrows: AtomicUsize::new(0),
            #[cfg(feature = "debug-checks")]
            tracker: crate::debug::Tracker::default(),
            active_arenas: AtomicUsize::new(1),
        })
    }

    /// Marks `&self` as borrowed by a method that destroys chunks or huge
    /// mappings — each of which drops a pool reference — until the guard
    /// drops. With the crate's checks on, the pool's destructor asserts that
    /// no such borrow is live: the last reference must never go while a
    /// `&PoolInner` still points at the pool.
    #[inline]
    fn borrowed(&self) -> BorrowGuard<'_> {
        #[cfg(any(test, feature = "debug-checks"))]
        self.borrows.fetch_add(1, Relaxed);
        BorrowGuard(self)
    }

    /// A strong reference for a new chunk or huge buffer.
    pub(crate) fn strong(&self) -> Arc<PoolInner> {
        self.me.upgrade().expect("a pool in use is alive")
    }

    /// A weak reference for thread-local entries.
    pub(crate) fn weak(&self) -> Weak<PoolInner> {
        self.me.clone()
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Relaxed)
    }

    /// Reserves `bytes` of `used_bytes` before memory is mapped or
    /// committed, failing if that would pass `max_memory` — with the figure
    /// the refusal was decided on. One atomic update, so two threads can
    /// never both squeeze under the cap.
    pub(crate) fn reserve(&self, bytes: usize) -> Result<(), Refused> {
        match self.config.max_memory {
            None => {
                self.used.fetch_add(bytes, Relaxed);
                Ok(())
            }
            Some(limit) => self
                .used
                .fetch_update(Relaxed, Relaxed, |used| {
                    used.checked_add(bytes).filter(|&n| n <= limit)
                })
                .map(drop)
                .map_err(|used| Refused::OverLimit {
                    used,
                    needed: bytes,
                }),
        }
    }

    /// Gives back a reservation, after its memory was unmapped or purged.
    pub(crate) fn unreserve(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Relaxed);
    }

    /// Memory was just mapped or committed under a reservation. With the
    /// crate's checks on, counts it and checks the cap holds for memory
    /// itself, not only for the reservation counter.
    #[inline]
    pub(crate) fn holds_memory(&self, bytes: usize) {
        #[cfg(any(test, feature = "debug-checks"))]
        {
            let held = self.held.fetch_add(bytes, Relaxed) + bytes;
            if let Some(limit) = self.config.max_memory {
                assert!(
                    held <= limit,
                    "memory held ({held}) passed max_memory ({limit})"
                );
            }
        }
        let _ = bytes;
    }

    /// Memory was just unmapped or purged (before its reservation goes).
    #[inline]
    pub(crate) fn released_memory(&self, bytes: usize) {
        #[cfg(any(test, feature = "debug-checks"))]
        self.held.fetch_sub(bytes, Relaxed);
        let _ = bytes;
    }

    /// Binds the calling thread to the arena with the fewest threads.
    pub(crate) fn bind_thread(&self) -> u32 {
        let arena = self.least_used_arena();
        arena.threads.fetch_add(1, Relaxed);
        arena.index
    }

    /// The arena in use with the fewest threads.
    fn least_used_arena(&self) -> &Arena {
        let active = self.active_arenas.load(Relaxed).max(1);
        self.arenas[..active]
            .iter()
            .min_by_key(|a| a.threads.load(Relaxed))
            .expect("at least one arena")
    }

    /// Arenas on demand: a thread that keeps finding its arena locked —
    /// [`SPREAD_AFTER`] contentions within [`SPREAD_WINDOW`] slow-path calls
    /// of its own — moves, to a new arena while fewer than `arenas` are in
    /// use, else to the least-used one if that has fewer threads. Under a
    /// trickle nobody contends, all threads share one arena, and the
    /// footprint follows the buffers alive rather than arenas × chunk.
    /// Returns the arena to use.
    pub(crate) fn spread(&self, cache: &ThreadCache) -> u32 {
        let current = cache.arena();
        let contention = cache.recent_contention.load(Relaxed) + local::take_contention();
        let calls = cache.window_calls.load(Relaxed) + 1;
        if contention < SPREAD_AFTER {
            let window_over = calls >= SPREAD_WINDOW;
            cache
                .recent_contention
                .store(if window_over { 0 } else { contention }, Relaxed);
            cache
                .window_calls
                .store(if window_over { 0 } else { calls }, Relaxed);
            return current;
        }
        cache.recent_contention.store(0, Relaxed);
        cache.window_calls.store(0, Relaxed);
        let active = self.active_arenas.load(Relaxed);
        let target = if active < self.arenas.len()
            && self
                .active_arenas
                .compare_exchange(active, active + 1, Relaxed, Relaxed)
                .is_ok()
        {
            &self.arenas[active]
        } else {
            self.least_used_arena()
        };
        let from = &self.arenas[current as usize];
        if target.index != current && target.threads.load(Relaxed) < from.threads.load(Relaxed) {
            target.threads.fetch_add(1, Relaxed);
            from.threads.fetch_sub(1, Relaxed);
            cache.arena.store(target.index, Relaxed);
            return target.index;
        }
        current
    }

    /// The fast path alone: a hit in this thread's cache, or `None`. An
    /// `Option` (40 bytes, the pointer's niche) rather than a `Result` with
    /// an `AllocError` beside it (48): returned through memory, the wider
    /// value costs a store-forwarding stall (measured: 8.3 → 14.4 ns).
    // Always inlined: returned through memory, the buffer's words are read
    // back with wider loads than they were stored with, which cannot be
    // store-forwarded (a measured stall of about 10 ns).
    #[inline(always)]
    pub(crate) fn allocate_cached(&self, size: usize) -> Option<PooledBytesMut> {
        let class = self.classes.class_of(size)?;
        let cache = local::cache(self)?;
        if !cache.caches(class) {
            return None;
        }
        let region = cache.pop(self, class)?;
        #[cfg(all(feature = "debug-checks", feature = "asan"))]
        crate::asan::unpoison(region.ptr.as_ptr(), self.classes.size(class));
        #[cfg(feature = "debug-checks")]
        crate::debug::check(&region, self.classes.size(class), class);
        Some(self.hand_out(region, class, self.classes.size(class)))
    }

    /// Allocates a buffer of at least `size` bytes: the fast path, else
    /// the slow one.
    #[inline(always)]
    pub(crate) fn allocate(&self, size: usize) -> Result<PooledBytesMut, AllocError> {
        match self.allocate_cached(size) {
            Some(buf) => Ok(buf),
            None => self.allocate_missed(size),
        }
    }

    /// After `allocate_cached` found nothing: the slow path, with this
    /// thread's cache if the size has a class (the miss is counted).
    #[inline(never)]
    pub(crate) fn allocate_missed(&self, size: usize) -> Result<PooledBytesMut, AllocError> {
        let cache = self.classes.class_of(size).and_then(|_| local::cache(self));
        self.allocate_slow(size, cache)
    }

    #[inline(never)]
    fn allocate_slow(
        &self,
        size: usize,
        cache: Option<&ThreadCache>,
    ) -> Result<PooledBytesMut, AllocError> {
        if size > isize::MAX as usize {
            return Err(AllocError {
                requested: size,
                kind: AllocErrorKind::TooLarge,
            });
        }
        self.decay_on_activity();
        if let Some(cache) = cache {
            self.spread(cache);
        }
        let class = self.classes.class_of(size);
        let mut trimmed = false;
        loop {
            let result = match (class, cache) {
                (Some(class), Some(cache)) if cache.caches(class) => cache.fill(self, class),
                (Some(class), _) => {
                    let arena = cache.map_or(0, |c| c.arena());
                    self.arenas[arena as usize].allocate(self, class)
                }
                (None, _) => self.allocate_huge(size),
            };
            let kind = match result {
                Ok(region) => {
                    return Ok(match class {
                        Some(class) => self.hand_out(region, class, self.classes.size(class)),
                        None => {
                            let cap = region.header().memory.len();
                            self.hand_out(region, HUGE_CLASS, cap)
                        }
                    })
                }
                Err(Refused::OverLimit { .. }) if !trimmed => {
                    // Make room, then try once more: recycled huge mappings
                    // go first; only if that frees nothing, trim everything.
                    if self.drop_huge_cache(Scope::All) == 0 {
                        self.trim_now();
                        trimmed = true;
                    }
                    continue;
                }
                Err(Refused::OverLimit { used, needed }) => AllocErrorKind::OverLimit {
                    used,
                    needed,
                    limit: self.config.max_memory.unwrap_or(usize::MAX),
                },
                Err(Refused::OutOfMemory) => AllocErrorKind::OutOfMemory,
            };
            return Err(AllocError {
                requested: size,
                kind,
            });
        }
    }

    /// Wraps a region in a buffer (and, with `debug-checks`, tracks it).
    #[inline(always)]
    fn hand_out(&self, region: Region, class: ClassIdx, cap: usize) -> PooledBytesMut {
        #[cfg(feature = "asan")]
        crate::asan::unpoison(region.ptr.as_ptr(), cap);
        #[cfg(feature = "debug-checks")]
        self.tracker.allocated(&region, cap);
        PooledBytesMut::new(region, class, cap)
    }

    /// A new cache for the calling thread, bound to the least-used arena.
    pub(crate) fn register_cache(&self) -> Arc<ThreadCache> {
        let cache = Arc::new(ThreadCache::new(self, self.bind_thread()));
        let mut caches = self.caches.lock();
        // Under the registry lock, which `close` takes after setting
        // `closed`: a cache registered during a close is marked either way.
        if self.is_closed() {
            cache.closed.store(true, Relaxed);
        }
        caches.0.push(cache.clone());
        drop(caches);
        cache
    }

    /// The calling thread is exiting: its cache goes back to the arenas, its
    /// counters into the pool's totals, and the thread leaves its arena.
    pub(crate) fn retire_cache(&self, cache: &Arc<ThreadCache>) {
        cache.flush_at_exit(self);
        let mut caches = self.caches.lock();
        caches.1.add(cache.totals(self));
        caches.0.retain(|c| !Arc::ptr_eq(c, cache));
        drop(caches);
        local::unbind(self, cache);
    }

    /// Releases a (non-huge) region of this pool straight to its arena,
    /// counted as a deallocation: the owner's cache is being trimmed at this
    /// instant, or the pool is closed.
    ///
    /// The caller holds a strong reference to this pool for the whole call
    /// (`release_through_cache`, `release_closed`): the chunk destroyed here
    /// may hold another, and `&self` must stay valid until we return.
    pub(crate) fn free_direct(&self, region: Region, class: ClassIdx) {
        let _borrowed = self.borrowed();
        let arena = region.header().arena as usize;
        if let Some((chunk, committed)) = self.arenas[arena].free(self, region, class, true) {
            // SAFETY: `free` unlinked it and handed it to us; destroyed once.
            // Its pool reference is not the last: the caller holds one.
            unsafe { destroy_chunk(chunk, committed) };
        }
    }

    /// Returns regions to their arenas (one lock per run of same-arena
    /// regions), not counted as deallocations: thread-cache flushes.
    ///
    /// Every caller holds a strong reference to this pool across the call
    /// (a `Pool` handle, the trimmer's or a thread exit's upgraded `Weak`,
    /// `release_through_cache`'s own, or an outstanding buffer being grown,
    /// whose chunk is not among those emptied here).
    pub(crate) fn free_uncounted(&self, class: ClassIdx, regions: impl Iterator<Item = Region>) {
        let _borrowed = self.borrowed();
        let mut regions = regions.peekable();
        let mut doomed = Vec::new();
        while let Some(first) = regions.peek() {
            let arena = first.header().arena as usize;
            self.arenas[arena].free_run_of(self, class, &mut regions, &mut doomed);
        }
        for (chunk, committed) in doomed {
            // SAFETY: unlinked by `free_run_of`, destroyed once; its pool
            // reference is not the last, since the caller holds one (above).
            unsafe { destroy_chunk(chunk, committed) };
        }
    }

    fn allocate_huge(&self, size: usize) -> Result<Region, Refused> {
        let len = self.classes.huge_size(size).ok_or(Refused::OutOfMemory)?;
        let header = match self.huge_cache.take(len) {
            // Already reserved and faulted in: no mmap, no page faults.
            Some(header) => {
                #[cfg(feature = "debug-checks")]
                {
                    // SAFETY: a cached header is alive and ours now.
                    let hdr = unsafe { header.as_ref() };
                    let region = Region {
                        ptr: hdr.base,
                        chunk: header,
                    };
                    #[cfg(feature = "asan")]
                    crate::asan::unpoison(hdr.base.as_ptr(), hdr.memory.len());
                    crate::debug::check(&region, hdr.memory.len(), HUGE_CLASS);
                }
                header
            }
            None => {
                if let Err(refused) = self.reserve(len) {
                    // Recycled mappings are the first thing to give up.
                    if self.drop_huge_cache(Scope::All) == 0 {
                        return Err(refused);
                    }
                    self.reserve(len)?;
                }
                let Some(memory) =
                    Memory::allocate(self.config.backing, len, self.classes.page_size())
                else {
                    self.unreserve(len);
                    return Err(Refused::OutOfMemory);
                };
                self.holds_memory(len);
                let shift = self.classes.page_size().trailing_zeros();
                let header = ChunkHeader::new(memory, 1, shift, HUGE_ARENA, 0, self.strong());
                NonNull::from(Box::leak(Box::new(header)))
            }
        };
        // SAFETY: a live huge header, ours until its region is released.
        let hdr = unsafe { header.as_ref() };
        self.huge.count.add(1);
        self.huge.active_bytes.add(hdr.memory.len() as u64);
        self.huge.allocations.add(1);
        self.huge_high_water
            .fetch_max(self.huge.active_bytes.get() as usize, Relaxed);
        Ok(Region {
            ptr: hdr.base,
            chunk: header,
        })
    }

    /// A released huge region: kept for reuse if the cache has room. If not,
    /// it is handed back for the caller to unmap with [`destroy_huge`]
    /// after this returns (that may drop the pool's last reference).
    fn release_huge(&self, header: NonNull<ChunkHeader>) -> Option<NonNull<ChunkHeader>> {
        // SAFETY: the header is alive until destroyed by the caller.
        let len = unsafe { header.as_ref() }.memory.len();
        self.huge.count.sub(1);
        self.huge.active_bytes.sub(len as u64);
        self.huge.deallocations.add(1);
        // Whether the pool is closed is decided by `put`, under the cache's
        // lock (see huge.rs): a closed cache refuses.
        // Keep no more than was alive at once lately (at least two chunks'
        // worth, at most HUGE_CACHE_CHUNKS): a trickle parks little, a
        // steady stream of big buffers enough to never map again.
        let chunk = self.classes.chunk_size();
        let limit = self
            .huge_high_water
            .load(Relaxed)
            .clamp(2 * chunk, HUGE_CACHE_CHUNKS * chunk);
        self.huge_cache.put(header, self.epoch(), limit).err()
    }

    /// Unmaps the recycled huge mappings `scope` covers; returns the bytes.
    fn drop_huge_cache(&self, scope: Scope) -> usize {
        let _borrowed = self.borrowed();
        let mut bytes = 0;
        for header in self.huge_cache.drain(scope) {
            // SAFETY: drained from the cache: owned here, destroyed once.
            bytes += unsafe { header.as_ref() }.memory.len();
            // SAFETY: as above; `self` outlives this call (the caller holds
            // a reference), so the header's pool reference is not the last.
            unsafe { destroy_huge(header) };
        }
        bytes
    }

    /// Trims now, whatever the policy: every thread cache not in use at
    /// this instant (this thread's included), every empty chunk, and the
    /// free page runs of every mmap-backed chunk.
    pub(crate) fn trim_now(&self) -> TrimReport {
        let mut report = TrimReport::default();
        if let Some(cache) = local::existing_cache(self) {
            report.cache_entries_flushed += cache.flush_own(self);
        }
        for cache in self.foreign_caches() {
            report.cache_entries_flushed += cache.flush_foreign(self).unwrap_or(0);
        }
        report.merge(self.trim_arenas(Scope::All));
        self.count_trim(&report);
        report
    }

    /// One step of the decay policy (the trimmer calls it every quarter
    /// period): gives back what stayed unused for a whole period — caches
    /// of threads that made no cache operation, empty chunks, and free runs
    /// of chunks nobody allocated from or released into.
    pub(crate) fn decay_tick(&self) -> TrimReport {
        let epoch = self.epoch.fetch_add(1, Relaxed) + 1;
        self.huge_high_water
            .store(self.huge.active_bytes.get() as usize, Relaxed);
        let mut report = TrimReport::default();
        // Untouched since `idle_since`: IDLE_TICKS full ticks, at least one
        // period. Nothing qualifies before that many ticks have passed.
        let Some(idle_since) = epoch.checked_sub(IDLE_TICKS + 1) else {
            self.count_trim(&report);
            return report;
        };
        for cache in self.foreign_caches() {
            let ops = cache.ops();
            if ops != cache.seen_ops.load(Relaxed) || cache.seen_epoch.load(Relaxed) == 0 {
                cache.seen_ops.store(ops, Relaxed);
                cache.seen_epoch.store(epoch, Relaxed);
            } else if cache.seen_epoch.load(Relaxed) <= idle_since
                && cache.totals(self).cached_bytes > 0
            {
                report.cache_entries_flushed += cache.flush_foreign(self).unwrap_or(0);
            }
        }
        report.merge(self.trim_arenas(Scope::IdleSince(idle_since)));
        self.count_trim(&report);
        report
    }

    /// Without the background trimmer, a slow-path allocation runs the
    /// decay step when it is due (at most one thread does it per tick).
    fn decay_on_activity(&self) {
        let TrimPolicy::Decay { idle } = self.config.trim_policy else {
            return;
        };
        if self.has_trimmer.load(Relaxed) {
            return;
        }
        let now = saturating_ms(self.born.elapsed());
        let due = self.next_decay_ms.load(Relaxed);
        let tick = saturating_ms(decay_tick_interval(idle));
        if now >= due
            && self
                .next_decay_ms
                .compare_exchange(due, now.saturating_add(tick), Relaxed, Relaxed)
                .is_ok()
        {
            self.decay_tick();
        }
    }

    /// Current decay epoch (trimmer ticks so far).
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Relaxed)
    }

    /// Every registered cache (for the crate's own models and tests).
    #[cfg(tidebuf_loom)]
    pub(crate) fn caches_for_tests(&self) -> Vec<Arc<ThreadCache>> {
        self.caches.lock().0.clone()
    }

    /// Every registered cache but the calling thread's own.
    fn foreign_caches(&self) -> Vec<Arc<ThreadCache>> {
        let own = local::existing_cache(self).map(|c| c as *const ThreadCache);
        let caches = self.caches.lock();
        caches
            .0
            .iter()
            .filter(|c| Some(Arc::as_ptr(c)) != own)
            .cloned()
            .collect()
    }

    fn trim_arenas(&self, scope: Scope) -> TrimReport {
        let _borrowed = self.borrowed();
        let mut report = TrimReport {
            bytes_released: self.drop_huge_cache(scope),
            ..TrimReport::default()
        };
        for arena in self.arenas.iter() {
            let trimmed = arena.trim(self, scope);
            report.bytes_released += trimmed.purged_bytes;
            for (header, committed) in trimmed.chunks {
                report.bytes_released += committed;
                report.chunks_released += 1;
                // SAFETY: removed from its arena by `trim`; `self` stays alive
                // because the caller holds a pool reference.
                unsafe { destroy_chunk(header, committed) };
            }
        }
        report
    }

    fn count_trim(&self, report: &TrimReport) {
        self.trims.add(1);
        self.trimmed_bytes.add(report.bytes_released as u64);
    }

    /// The last handle is gone: give back what is free now, and let every
    /// chunk go as soon as it empties.
    fn close(&self) {
        self.closed.store(true, Relaxed);
        for cache in self.caches.lock().0.iter() {
            cache.closed.store(true, Relaxed);
        }
        for header in self.huge_cache.close() {
            // SAFETY: removed from the cache: owned here, destroyed once;
            // the closing handle holds a pool reference, so the header's is
            // not the last.
            unsafe { destroy_huge(header) };
        }
        self.trim_now();
    }

    pub(crate) fn metrics(&self) -> PoolMetrics {
        let mut m = PoolMetrics {
            used_bytes: self.used.load(Relaxed),
            active_bytes: self.huge.active_bytes.get() as usize,
            cached_bytes: 0,
            chunks: 0,
            huge_buffers: self.huge.count.get() as usize,
            huge_bytes: 0,
            allocations: ByKind {
                huge: self.huge.allocations.get(),
                ..ByKind::default()
            },
            deallocations: ByKind {
                huge: self.huge.deallocations.get(),
                ..ByKind::default()
            },
            cache_hits: 0,
            cache_misses: 0,
            trimmed_bytes: self.trimmed_bytes.get(),
            trims: self.trims.get(),
            codec_buffer_bytes: self.codec_bytes.get() as usize,
            arenas: Vec::with_capacity(self.arenas.len()),
        };
        let mut parked_by_arena = vec![0usize; self.arenas.len()];
        let caches = {
            let guard = self.caches.lock();
            let mut totals = guard.1;
            for cache in guard.0.iter() {
                totals.add(cache.totals(self));
                cache.add_parked_by_arena(&mut parked_by_arena);
            }
            totals
        };
        m.cached_bytes = caches.cached_bytes;
        let huge_cached = self.huge_cache.bytes();
        m.cache_hits = caches.hits[0] + caches.hits[1];
        m.cache_misses = caches.misses;
        m.allocations.small += caches.hits[0];
        m.allocations.normal += caches.hits[1];
        m.deallocations.small += caches.puts[0];
        m.deallocations.normal += caches.puts[1];
        m.huge_bytes = m.active_bytes + huge_cached;
        for (arena, &parked) in self.arenas.iter().zip(&parked_by_arena) {
            let s = &arena.stats;
            // An arena counts what it handed out, to buffers and caches
            // alike; what sits in caches is taken off here, arena by arena,
            // so that the arenas' active bytes add up to the pool's. (Read
            // while threads run, the two counters may be a moment apart.)
            let a = ArenaMetrics {
                index: arena.index as usize,
                threads: arena.threads.load(Relaxed),
                chunks: arena.chunk_count(),
                used_bytes: s.used_bytes.get(),
                active_bytes: s.active_bytes.get().saturating_sub(parked),
                cached_bytes: parked,
            };
            m.chunks += a.chunks;
            m.active_bytes += a.active_bytes;
            m.allocations.small += s.allocations[0].get() as u64;
            m.allocations.normal += s.allocations[1].get() as u64;
            m.deallocations.small += s.deallocations[0].get() as u64;
            m.deallocations.normal += s.deallocations[1].get() as u64;
            m.arenas.push(a);
        }
        m.cached_bytes += huge_cached;
        m
    }
}

/// Gives a region of class `class` back to where it came from: the
/// releasing thread's cache if it takes it (the fast path), else its arena,
/// or the OS for a huge one.
///
/// Lifetime: returning a region can empty its chunk; in a closed pool the
/// chunk is then destroyed, which drops a reference to the pool — maybe the
/// last. So no `&PoolInner` may be live when that happens: the arena path
/// ends its borrow before destroying (`release_to_arena`), and the cache's
/// slow path, whose methods borrow the pool throughout, holds a reference
/// of its own across the call (`release_through_cache`).
///
/// # Safety
/// `region` is outstanding (handed out by `PoolInner::allocate` with
/// `class`, not yet released) and no pointer into its bytes is used
/// afterwards.
#[inline]
pub(crate) unsafe fn release(region: Region, class: ClassIdx) {
    #[cfg(feature = "debug-checks")]
    {
        // SAFETY: the header outlives the outstanding region.
        let pool: &PoolInner = &unsafe { region.chunk.as_ref() }.pool;
        pool.tracker.released(&region, class);
        let cap = if class == HUGE_CLASS {
            region.header().memory.len()
        } else {
            pool.classes.size(class)
        };
        crate::debug::poison(&region, cap);
    }
    #[cfg(feature = "asan")]
    {
        // SAFETY: the header outlives the outstanding region.
        let header = unsafe { region.chunk.as_ref() };
        let cap = if class == HUGE_CLASS {
            header.memory.len()
        } else {
            header.pool.classes.size(class)
        };
        crate::asan::poison(region.ptr.as_ptr(), cap);
    }
    if class != HUGE_CLASS {
        // SAFETY: the header outlives every outstanding region of its chunk;
        // detached from `region` so the region can move below. Not used
        // once the region is handed on.
        let pool: &PoolInner = &unsafe { region.chunk.as_ref() }.pool;
        if let Some(cache) = local::cache(pool) {
            if cache.takes(class) {
                // The fast path frees nothing: it only parks the region.
                if let Err(region) = cache.try_push(region, class) {
                    // SAFETY: forwarded contract.
                    unsafe { release_through_cache(region, class) };
                }
                return;
            }
            if cache.is_closed() {
                // SAFETY: forwarded contract.
                unsafe { release_closed(region, class) };
                return;
            }
        }
    }
    // SAFETY: forwarded contract.
    unsafe { release_to_arena(region, class) }
}

/// The bin is full (or a trimmer holds the cache): the cache flushes or
/// frees directly, which may destroy chunks.
///
/// # Safety
/// As [`release`].
#[cold]
#[inline(never)]
unsafe fn release_through_cache(region: Region, class: ClassIdx) {
    // A reference of our own, so that the pool outlives every borrow of it
    // in the cache's methods, whatever they destroy.
    // SAFETY: the header outlives the outstanding region.
    let pool: Arc<PoolInner> = unsafe { region.chunk.as_ref() }.pool.clone();
    match local::cache(&pool) {
        Some(cache) => cache.push(&pool, region, class),
        // The thread is being torn down: straight to the arena.
        None => pool.free_direct(region, class),
    }
    drop(pool); // may free the pool: nothing borrows it any more
}

/// A release into a closed pool: whatever this thread's cache still holds
/// (a close can miss a cache in use at that instant) goes back with it, so
/// that chunks empty and go instead of waiting for the thread to exit.
///
/// # Safety
/// As [`release`].
#[cold]
#[inline(never)]
unsafe fn release_closed(region: Region, class: ClassIdx) {
    // SAFETY: the header outlives the outstanding region.
    let pool: Arc<PoolInner> = unsafe { region.chunk.as_ref() }.pool.clone();
    if let Some(cache) = local::cache(&pool) {
        cache.flush_own(&pool);
    }
    pool.free_direct(region, class);
    drop(pool); // may free the pool: nothing borrows it any more
}

/// Release without a cache: to the arena, or the OS for a huge region.
/// The pool is borrowed only inside the blocks below; what must be
/// destroyed is destroyed after, as the last step (it may free the pool).
///
/// # Safety
/// As [`release`].
#[inline(never)]
unsafe fn release_to_arena(region: Region, class: ClassIdx) {
    if class == HUGE_CLASS {
        let unkept = {
            // SAFETY: the header outlives the outstanding region.
            let pool: &PoolInner = &unsafe { region.chunk.as_ref() }.pool;
            pool.release_huge(region.chunk)
        };
        if let Some(header) = unkept {
            // SAFETY: released and not cached: ours, destroyed once, and no
            // reference into it or its pool is alive.
            unsafe { destroy_huge(header) };
        }
        return;
    }
    let doomed = {
        // SAFETY: the header outlives the outstanding region.
        let header: &ChunkHeader = unsafe { region.chunk.as_ref() };
        let pool: &PoolInner = &header.pool;
        pool.arenas[header.arena as usize].free(pool, region, class, true)
    };
    if let Some((chunk, committed)) = doomed {
        // SAFETY: `free` unlinked it; destroyed once, and no reference into
        // it or its pool is alive.
        unsafe { destroy_chunk(chunk, committed) };
    }
}

#[cfg(all(test, not(tidebuf_loom)))]
mod tests {
    use super::*;

    const K: usize = 1 << 10;

    /// 16 KiB and 64 KiB page kernels (aarch64, ppc64le), simulated.
    #[test]
    fn an_mmap_page_below_the_os_page_is_refused_and_the_default_follows_it() {
        for os_page in [16 * K, 64 * K] {
            let err = Pool::builder()
                .simulate(os_page, 4)
                .page_size(8 * K)
                .build()
                .unwrap_err();
            assert_eq!(err.setting, "page_size");
            assert_eq!(err.value, "8192");
            assert!(err.expected.contains("OS page"), "{err}");
            // Heap blocks are never purged: any page size works.
            let heap = Pool::builder()
                .simulate(os_page, 4)
                .page_size(8 * K)
                .backing(Backing::Heap)
                .build()
                .unwrap();
            assert_eq!(heap.page_size(), 8 * K);
            // The default builds, with pages of whole OS pages.
            let pool = Pool::builder().simulate(os_page, 4).build().unwrap();
            assert_eq!(pool.page_size(), os_page);
            assert_eq!(pool.chunk_size(), 4 << 20);
            assert_eq!(pool.inner.config.os_page, os_page);
            // And it purges whole pages only: a trim after a release keeps
            // the neighbour's bytes.
            let mut live = pool.alloc(os_page);
            live.extend_from_slice(&vec![7; os_page]);
            drop(pool.alloc(os_page));
            pool.trim();
            assert!(live.iter().all(|&b| b == 7));
        }
        // A 4 KiB page on a 4 KiB-page kernel is still fine.
        let pool = Pool::builder().simulate(4 * K, 4).page_size(4 * K).build();
        assert_eq!(pool.unwrap().page_size(), 4 * K);
        let pool = Pool::builder().simulate(4 * K, 4).build().unwrap();
        assert_eq!(pool.page_size(), 8 * K, "8 KiB stays the default");
    }

    #[test]
    fn default_arenas_stay_within_the_maximum_on_any_cpu_count() {
        for (cpus, arenas) in [(1, 2), (2048, 4096), (2049, 4096), (100_000, 4096)] {
            let pool = Pool::builder().simulate(4 * K, cpus).build().unwrap();
            assert_eq!(pool.arena_count(), arenas, "{cpus} CPUs");
        }
        // An explicit count above the maximum is still an error.
        let err = Pool::builder().simulate(4 * K, 8).arenas(4097).build();
        assert_eq!(err.unwrap_err().setting, "arenas");
    }

    #[test]
    fn the_default_pool_builds_on_every_machine() {
        for os_page in [4 * K, 16 * K, 64 * K, 1 << 20, 2 << 20, 4 << 20] {
            for cpus in [1, 3, 4096, usize::MAX] {
                let pool = Pool::with_defaults_for(PoolBuilder::default().simulate(os_page, cpus));
                let buf = pool.alloc(100);
                assert_eq!(buf.capacity(), 112);
                assert!(pool.arena_count() <= MAX_ARENAS);
            }
        }
    }
}
