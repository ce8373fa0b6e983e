//! A [`prometheus_client`] collector for a pool (feature `prometheus`).
//!
//! ```text
//!  scrape ─▶ PoolCollector::encode ─▶ pool.metrics() (atomics only) ─▶ text
//!            one pass per family; one series per pool (its labels) and arena/kind
//! ```
//!
//! Metrics follow Prometheus conventions: the unit in the name, `_total`
//! on counters, HELP text on every family.
//!
//! | family | type | labels |
//! |---|---|---|
//! | `tidebuf_used_bytes` | gauge | |
//! | `tidebuf_active_bytes` | gauge | |
//! | `tidebuf_cached_bytes` | gauge | |
//! | `tidebuf_chunks` | gauge | |
//! | `tidebuf_huge_buffers` | gauge | |
//! | `tidebuf_huge_bytes` | gauge | |
//! | `tidebuf_codec_buffer_bytes` | gauge | |
//! | `tidebuf_waiters` | gauge | |
//! | `tidebuf_arena_threads` | gauge | `arena` |
//! | `tidebuf_arena_chunks` | gauge | `arena` |
//! | `tidebuf_arena_used_bytes` | gauge | `arena` |
//! | `tidebuf_arena_active_bytes` | gauge | `arena` |
//! | `tidebuf_arena_cached_bytes` | gauge | `arena` |
//! | `tidebuf_allocations_total` | counter | `kind` = small, normal, huge |
//! | `tidebuf_deallocations_total` | counter | `kind` |
//! | `tidebuf_cache_hits_total`, `tidebuf_cache_misses_total` | counter | |
//! | `tidebuf_trims_total`, `tidebuf_trimmed_bytes_total` | counter | |
//! | `tidebuf_wait_seconds_total` | counter | |
//!
//! A pool's labels ([`PoolCollector::with_labels`]) come first on each of
//! its series, before `arena` or `kind`.
//!
//! At a quiet moment, `used = Σ arena used + huge`, `active = Σ arena
//! active + live huge bytes` and `cached = Σ arena cached + recycled huge
//! mappings`.
//!
//! Owns the collector. Calls the public API only (`Pool::metrics`). Called
//! by a `prometheus_client` registry.

use crate::{ArenaMetrics, ByKind, Pool, PoolMetrics};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::fmt::Error;

/// Reads [`Pool::metrics`] at scrape time. Register it in your own
/// registry in one line:
///
/// ```
/// use prometheus_client::registry::Registry;
/// let pool = tidebuf::Pool::new();
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(tidebuf::PoolCollector::new(&pool)));
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
/// assert!(text.contains("tidebuf_used_bytes"));
/// ```
///
/// # Several pools in one registry
///
/// Two collectors made with [`new`](PoolCollector::new) in one registry
/// would emit the same series twice. Give each pool labels that tell them
/// apart, and put them in **one** collector
/// ([`with_labels`](PoolCollector::with_labels), then
/// [`with_pool`](PoolCollector::with_pool)): each family is then written
/// once, with one series per pool.
///
/// ```
/// use prometheus_client::registry::Registry;
/// use tidebuf::{Pool, PoolCollector};
/// let (http, grpc) = (Pool::new(), Pool::new());
/// let collector = PoolCollector::with_labels(&http, [("pool", "http")])
///     .with_pool(&grpc, [("pool", "grpc")]);
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(collector));
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
/// assert!(text.contains(r#"tidebuf_used_bytes{pool="http"} "#));
/// assert!(text.contains(r#"tidebuf_used_bytes{pool="grpc"} "#));
/// assert_eq!(text.matches("# TYPE tidebuf_used_bytes ").count(), 1);
/// ```
///
/// The alternative is the registry's own labels: one sub-registry per
/// pool, `registry.sub_registry_with_label(("pool".into(), "http".into()))`,
/// each with a [`PoolCollector::new`]. The series come out the same
/// (`tidebuf_used_bytes{pool="http"}`), but prometheus-client 0.24 encodes
/// each sub-registry's collectors separately, so every family's `# HELP`
/// and `# TYPE` lines appear once per pool — which OpenMetrics does not
/// allow (a family's name is unique in an exposition) and the classic text
/// parsers (Pushgateway, `promtool check metrics`) reject. The same holds
/// for several `with_labels` collectors registered one by one. Prefer one
/// collector for all the pools a registry exports.
///
/// Label names must be valid Prometheus label names, and not `arena` or
/// `kind` (the collector's own); two pools in one collector need different
/// label sets. Neither is checked.
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
#[derive(Debug)]
pub struct PoolCollector {
    /// Each pool with the labels on all its series.
    pools: Vec<(Pool, Vec<(String, String)>)>,
}

impl PoolCollector {
    /// A collector for `pool` (it keeps a handle to it); its series carry
    /// no labels but `arena` and `kind`.
    pub fn new(pool: &Pool) -> PoolCollector {
        PoolCollector::with_labels(pool, NO_LABELS)
    }

    /// A collector for `pool` whose every series also carries `labels`
    /// (constant labels, such as `[("pool", "http")]`), written first.
    ///
    /// ```
    /// let pool = tidebuf::Pool::new();
    /// let collector = tidebuf::PoolCollector::with_labels(&pool, [("pool", "http")]);
    /// # let mut registry = prometheus_client::registry::Registry::default();
    /// # registry.register_collector(Box::new(collector));
    /// # let mut text = String::new();
    /// # prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    /// # assert!(text.contains(r#"tidebuf_arena_threads{pool="http",arena="0"} "#));
    /// ```
    pub fn with_labels<K, V>(pool: &Pool, labels: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        PoolCollector { pools: Vec::new() }.with_pool(pool, labels)
    }

    /// Adds another pool to this collector, its series carrying `labels`:
    /// each family is then encoded once, with the series of every pool
    /// (see [Several pools in one registry](PoolCollector#several-pools-in-one-registry)).
    pub fn with_pool<K, V>(mut self, pool: &Pool, labels: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let labels = labels
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.pools.push((pool.clone(), labels));
        self
    }
}

/// The empty label set, typed for [`PoolCollector::with_labels`].
const NO_LABELS: [(&str, &str); 0] = [];

/// A pool's labels, plus the series' own (`arena`, `kind`) if any.
type Labels<'a> = (&'a [(String, String)], &'a [(&'a str, &'a str)]);

/// One value of a family.
#[derive(Clone, Copy)]
enum Value {
    Gauge(i64),
    Counter(u64),
    /// A counter of seconds.
    Seconds(f64),
}

/// Writes one series of `family`: without braces when it has no labels at
/// all (as a single unlabelled pool always wrote it).
fn series(family: &mut MetricEncoder<'_>, labels: Labels<'_>, v: Value) -> Result<(), Error> {
    fn write(e: &mut MetricEncoder<'_>, v: Value) -> Result<(), Error> {
        match v {
            Value::Gauge(v) => e.encode_gauge(&v),
            Value::Counter(v) => e.encode_counter::<NoLabelSet, _, u64>(&v, None),
            Value::Seconds(v) => e.encode_counter::<NoLabelSet, _, f64>(&v, None),
        }
    }
    if labels.0.is_empty() && labels.1.is_empty() {
        write(family, v)
    } else {
        write(&mut family.encode_family(&labels)?, v)
    }
}

/// A pool-wide family: name, help, unit, and how to read it.
type PoolSeries<'u> = (
    &'static str,
    &'static str,
    Option<&'u Unit>,
    fn(&PoolMetrics) -> Value,
);

/// A per-arena gauge: name, help, unit, and how to read it.
type ArenaGauge<'u> = (
    &'static str,
    &'static str,
    Option<&'u Unit>,
    fn(&ArenaMetrics) -> usize,
);

/// A counter by size-class kind: name, help, and how to read it.
type KindCounter = (&'static str, &'static str, fn(&PoolMetrics) -> ByKind);

fn gauge(v: usize) -> Value {
    Value::Gauge(v as i64)
}

/// Pool-wide families of one type, one series per pool.
fn pool_families(
    e: &mut DescriptorEncoder<'_>,
    pools: &[(PoolMetrics, &[(String, String)])],
    ty: MetricType,
    families: &[PoolSeries<'_>],
) -> Result<(), Error> {
    for &(name, help, unit, value) in families {
        let mut family = e.encode_descriptor(name, help, unit, ty)?;
        for (m, labels) in pools {
            series(&mut family, (labels, &[]), value(m))?;
        }
    }
    Ok(())
}

impl Collector for PoolCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), Error> {
        let pools: Vec<(PoolMetrics, &[(String, String)])> = self
            .pools
            .iter()
            .map(|(pool, labels)| (pool.metrics(), labels.as_slice()))
            .collect();
        let bytes = Some(&Unit::Bytes);
        let seconds = Some(&Unit::Seconds);
        pool_families(
            &mut e,
            &pools,
            MetricType::Gauge,
            &[
                (
                    "tidebuf_used",
                    "Memory the pool holds from the OS (committed chunk pages and huge buffers).",
                    bytes,
                    |m| gauge(m.used_bytes),
                ),
                (
                    "tidebuf_active",
                    "Size-class capacity of live buffers.",
                    bytes,
                    |m| gauge(m.active_bytes),
                ),
                (
                    "tidebuf_cached",
                    "Free memory parked for reuse (thread caches, recycled huge mappings).",
                    bytes,
                    |m| gauge(m.cached_bytes),
                ),
                ("tidebuf_chunks", "Chunks held.", None, |m| gauge(m.chunks)),
                (
                    "tidebuf_huge_buffers",
                    "Live huge buffers (larger than a chunk).",
                    None,
                    |m| gauge(m.huge_buffers),
                ),
                (
                    "tidebuf_huge",
                    "Bytes of huge mappings held: live huge buffers and recycled mappings (the part of used no arena holds).",
                    bytes,
                    |m| gauge(m.huge_bytes),
                ),
                (
                    "tidebuf_codec_buffer",
                    "Capacity held by tidebuf::codec read and write buffers (part of active).",
                    bytes,
                    |m| gauge(m.codec_buffer_bytes),
                ),
                (
                    "tidebuf_waiters",
                    "Requests waiting for memory under max_memory (Pool::alloc_wait).",
                    None,
                    |m| gauge(m.waiters),
                ),
            ],
        )?;
        let arena_gauges: [ArenaGauge<'_>; 5] = [
            (
                "tidebuf_arena_threads",
                "Threads bound to the arena.",
                None,
                |a| a.threads,
            ),
            (
                "tidebuf_arena_chunks",
                "Chunks the arena holds.",
                None,
                |a| a.chunks,
            ),
            (
                "tidebuf_arena_used",
                "Committed bytes of the arena's chunks.",
                bytes,
                |a| a.used_bytes,
            ),
            (
                "tidebuf_arena_active",
                "Size-class capacity of live buffers from the arena's chunks.",
                bytes,
                |a| a.active_bytes,
            ),
            (
                "tidebuf_arena_cached",
                "Free regions of the arena's chunks parked in thread caches.",
                bytes,
                |a| a.cached_bytes,
            ),
        ];
        for (name, help, unit, value) in arena_gauges {
            let mut family = e.encode_descriptor(name, help, unit, MetricType::Gauge)?;
            for (m, labels) in &pools {
                for a in &m.arenas {
                    let index = a.index.to_string();
                    let own = [("arena", index.as_str())];
                    series(&mut family, (labels, &own), gauge(value(a)))?;
                }
            }
        }
        let by_kind: [KindCounter; 2] = [
            (
                "tidebuf_allocations",
                "Buffers allocated, by size-class kind.",
                |m| m.allocations,
            ),
            (
                "tidebuf_deallocations",
                "Buffers released, by size-class kind.",
                |m| m.deallocations,
            ),
        ];
        for (name, help, value) in by_kind {
            let mut family = e.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (m, labels) in &pools {
                let v = value(m);
                for (kind, n) in [("small", v.small), ("normal", v.normal), ("huge", v.huge)] {
                    let own = [("kind", kind)];
                    series(&mut family, (labels, &own), Value::Counter(n))?;
                }
            }
        }
        pool_families(
            &mut e,
            &pools,
            MetricType::Counter,
            &[
                (
                    "tidebuf_cache_hits",
                    "Allocations served by a thread cache.",
                    None,
                    |m| Value::Counter(m.cache_hits),
                ),
                (
                    "tidebuf_cache_misses",
                    "Allocations that found their thread-cache bin empty.",
                    None,
                    |m| Value::Counter(m.cache_misses),
                ),
                ("tidebuf_trims", "Trim passes run.", None, |m| {
                    Value::Counter(m.trims)
                }),
                (
                    "tidebuf_trimmed",
                    "Memory given back to the OS by trimming.",
                    bytes,
                    |m| Value::Counter(m.trimmed_bytes),
                ),
                (
                    "tidebuf_wait",
                    "Time requests spent waiting for memory under max_memory, once done waiting.",
                    seconds,
                    |m| Value::Seconds(m.wait_time.as_secs_f64()),
                ),
            ],
        )?;
        Ok(())
    }
}
