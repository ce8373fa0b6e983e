//! A [`prometheus_client`] collector for a pool (feature `prometheus`).
//!
//! ```text
//!  scrape ─▶ PoolCollector::encode ─▶ pool.metrics() (atomics only) ─▶ text
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
//! | `tidebuf_arena_threads` | gauge | `arena` |
//! | `tidebuf_arena_chunks` | gauge | `arena` |
//! | `tidebuf_arena_used_bytes` | gauge | `arena` |
//! | `tidebuf_arena_active_bytes` | gauge | `arena` |
//! | `tidebuf_arena_cached_bytes` | gauge | `arena` |
//!
//! At a quiet moment, `used = Σ arena used + huge`, `active = Σ arena
//! active + live huge bytes` and `cached = Σ arena cached + recycled huge
//! mappings`.
//! | `tidebuf_allocations_total` | counter | `kind` = small, normal, huge |
//! | `tidebuf_deallocations_total` | counter | `kind` |
//! | `tidebuf_cache_hits_total`, `tidebuf_cache_misses_total` | counter | |
//! | `tidebuf_trims_total`, `tidebuf_trimmed_bytes_total` | counter | |

use crate::{ByKind, Pool};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
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
#[derive(Debug)]
pub struct PoolCollector {
    pool: Pool,
}

impl PoolCollector {
    /// A collector for `pool` (it keeps a handle to it).
    pub fn new(pool: &Pool) -> PoolCollector {
        PoolCollector { pool: pool.clone() }
    }
}

fn gauge(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: usize,
) -> Result<(), Error> {
    let g = ConstGauge::new(v as i64);
    g.encode(e.encode_descriptor(name, help, unit, MetricType::Gauge)?)
}

fn counter(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: u64,
) -> Result<(), Error> {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, unit, MetricType::Counter)?)
}

fn by_kind(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: ByKind) -> Result<(), Error> {
    let mut family = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (kind, n) in [("small", v.small), ("normal", v.normal), ("huge", v.huge)] {
        let labels = [("kind", kind)];
        ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A per-arena gauge: name, help, unit, and how to read it.
type ArenaGauge<'u> = (
    &'static str,
    &'static str,
    Option<&'u Unit>,
    fn(&crate::ArenaMetrics) -> usize,
);

impl Collector for PoolCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), Error> {
        let m = self.pool.metrics();
        let bytes = Some(&Unit::Bytes);
        gauge(
            &mut e,
            "tidebuf_used",
            "Memory the pool holds from the OS (committed chunk pages and huge buffers).",
            bytes,
            m.used_bytes,
        )?;
        gauge(
            &mut e,
            "tidebuf_active",
            "Size-class capacity of live buffers.",
            bytes,
            m.active_bytes,
        )?;
        gauge(
            &mut e,
            "tidebuf_cached",
            "Free memory parked for reuse (thread caches, recycled huge mappings).",
            bytes,
            m.cached_bytes,
        )?;
        gauge(&mut e, "tidebuf_chunks", "Chunks held.", None, m.chunks)?;
        gauge(
            &mut e,
            "tidebuf_huge_buffers",
            "Live huge buffers (larger than a chunk).",
            None,
            m.huge_buffers,
        )?;
        gauge(
            &mut e,
            "tidebuf_huge",
            "Bytes of huge mappings held: live huge buffers and recycled mappings (the part of used no arena holds).",
            bytes,
            m.huge_bytes,
        )?;
        gauge(
            &mut e,
            "tidebuf_codec_buffer",
            "Capacity held by tidebuf::codec read and write buffers (part of active).",
            bytes,
            m.codec_buffer_bytes,
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
            for a in &m.arenas {
                let index = a.index.to_string();
                let labels = [("arena", index.as_str())];
                ConstGauge::new(value(a) as i64).encode(family.encode_family(&labels)?)?;
            }
        }
        by_kind(
            &mut e,
            "tidebuf_allocations",
            "Buffers allocated, by size-class kind.",
            m.allocations,
        )?;
        by_kind(
            &mut e,
            "tidebuf_deallocations",
            "Buffers released, by size-class kind.",
            m.deallocations,
        )?;
        counter(
            &mut e,
            "tidebuf_cache_hits",
            "Allocations served by a thread cache.",
            None,
            m.cache_hits,
        )?;
        counter(
            &mut e,
            "tidebuf_cache_misses",
            "Allocations that found their thread-cache bin empty.",
            None,
            m.cache_misses,
        )?;
        counter(&mut e, "tidebuf_trims", "Trim passes run.", None, m.trims)?;
        counter(
            &mut e,
            "tidebuf_trimmed",
            "Memory given back to the OS by trimming.",
            bytes,
            m.trimmed_bytes,
        )?;
        Ok(())
    }
}
