//! Building a pool: every setting, its default, and its validation.
//!
//! ```text
//!  Pool::builder() ─▶ PoolBuilder ─.arenas() .page_size() … ─▶ build()
//!                                     │ config(): every value checked, defaults
//!                                     │ from the Machine (OS page, CPUs)
//!                                     ▼
//!                      Config ─▶ Heap::new ─▶ background trimmer (decaying policies)
//! ```
//!
//! An invalid setting is a [`ConfigError`] naming it; nothing below here
//! re-checks a value. Owns the defaults and the limits. Calls `config`,
//! `heap`, `trim` (to register with the background trimmer) and `limit`
//! (for `max_memory_fraction`). Called by the `Pool` handle (`build`,
//! `Pool::new`) and by buffers that grow with no pool of their own
//! ([`global_heap`]).

use crate::backing::Backing;
use crate::config::{CacheConfig, Config};
use crate::error::ConfigError;
use crate::handle::MAX_PAGES;
use crate::heap::Heap;
use crate::policy::TrimPolicy;
use crate::sync::Arc;

const MIN_PAGE: usize = 4 << 10;
const MAX_PAGE: usize = 1 << 20;
const MAX_CHUNK: usize = 1 << 30;
/// A chunk holds the largest subpage run (`size_class::MAX_SUBPAGE_RUN`).
const MIN_CHUNK: usize = 128 << 10;
const _: () = assert!(MIN_CHUNK >= crate::size_class::MAX_SUBPAGE_RUN);
const MAX_ARENAS: usize = 4096;

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
const DEFAULT_CHUNK: usize = 8 << 20;
// The default chunk holds at least 8 pages of any page size allowed.
const _: () = assert!(DEFAULT_CHUNK >= 8 * MAX_PAGE);

/// Builds a [`Pool`](crate::Pool); every setting has a default (Netty 4.1's sizes unless
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
                max_capacity: 1 << 20,
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
    /// (default 8 MiB).
    /// Requests above it are huge: served by a mapping of their own.
    ///
    /// Netty's chunk is 4 MiB. Twice that keeps every size of a 1–5 MiB
    /// response a page run in a chunk, where a thread's next buffer lands
    /// on the memory its last one just wrote, still in the CPU caches;
    /// with 4 MiB chunks a quarter of such buffers were huge, in memory of
    /// their own, and a thread's working set twice as large (8 threads on
    /// 2 cores: 34 µs per buffer against 17.9 µs with 8 MiB, glibc 17.4).
    /// A smaller chunk gives back memory in finer steps under a trickle.
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = Some(bytes);
        self
    }

    /// Builds for a simulated machine (the crate's own tests).
    #[cfg(all(test, not(tidebuf_loom)))]
    pub(crate) fn simulate(mut self, os_page: usize, cpus: usize) -> Self {
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

    /// Largest buffer capacity thread caches keep (default 1 MiB; Netty
    /// stops at 32 KiB). Up to 32 KiB each thread's bins are its own
    /// (`small_cache_size`, `normal_cache_size`). Above, a bin keeps as
    /// many entries, and at most a chunk's worth, and all the threads' bins
    /// above 32 KiB together reserve at most one chunk: a thread that reuses
    /// a large size skips the arena lock, while hundreds of threads serving
    /// a trickle hold no more than one (per-thread bins alone held 272 MiB
    /// for a 40 MiB peak, 300 threads, 64–512 KiB pieces). Lower it to
    /// 32 KiB for Netty's behaviour.
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
    /// read once when the pool is built: the smallest cgroup v2
    /// `memory.max` of this process's cgroup and its ancestors (else the
    /// cgroup v1 `memory.limit_in_bytes` likewise), at most physical RAM.
    /// For a pool
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
    /// (checked on its slow paths) and on [`Pool::trim`](crate::Pool::trim).
    pub fn background_trimmer(mut self, on: bool) -> Self {
        self.background_trimmer = on;
        self
    }

    /// Checks every setting: the pool's validated configuration.
    fn config(mut self) -> Result<Config, ConfigError> {
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
        let chunk = self.chunk_size.unwrap_or(DEFAULT_CHUNK);
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
        Ok(Config {
            arenas,
            page_size: page,
            chunk_size: chunk,
            cache: self.cache,
            max_memory: self.max_memory,
            backing: self.backing,
            trim_policy: self.trim_policy,
            background_trimmer: self.background_trimmer,
            os_page: machine.os_page,
        })
    }

    /// Checks every setting and builds the pool's heap, registered with
    /// the background trimmer if its policy decays.
    pub(crate) fn heap(self) -> Result<Arc<Heap>, ConfigError> {
        let heap = Heap::new(self.config()?);
        if let (Some(tick), true) = (heap.env().clock.tick(), heap.config.background_trimmer) {
            let on = crate::trim::background::register(heap.weak(), tick);
            heap.env().clock.set_trimmer(on);
        }
        Ok(heap)
    }

    /// The default heap for the machine `self` was made for. Never fails:
    /// only an OS page above the largest pool page (1 MiB) makes the
    /// defaults invalid, and heap backing has no page constraint.
    pub(crate) fn default_heap(self) -> Arc<Heap> {
        self.clone().heap().unwrap_or_else(|_| {
            self.backing(Backing::Heap)
                .heap()
                .expect("the default settings with heap backing are valid")
        })
    }
}

/// The process-wide heap with every default setting, built on first use:
/// `Pool::global()`'s, and where a buffer that has no pool grows.
pub(crate) fn global_heap() -> &'static Arc<Heap> {
    static GLOBAL: std::sync::OnceLock<Arc<Heap>> = std::sync::OnceLock::new();
    GLOBAL.get_or_init(|| PoolBuilder::default().default_heap())
}

#[cfg(all(test, not(tidebuf_loom)))]
mod tests {
    use super::*;
    use crate::Pool;

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
            assert_eq!(pool.chunk_size(), 8 << 20);
            assert_eq!(pool.heap().config.os_page, os_page);
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
                let pool = Pool::from_heap(
                    PoolBuilder::default()
                        .simulate(os_page, cpus)
                        .default_heap(),
                );
                let buf = pool.alloc(100);
                assert_eq!(buf.capacity(), 112);
                assert!(pool.arena_count() <= MAX_ARENAS);
            }
        }
    }
}
