//! The Prometheus collector: every series, in the official client's text
//! encoding, with values that follow the pool.
#![cfg(feature = "prometheus")]

use prometheus_client::registry::Registry;
use tidebuf::{Pool, PoolCollector};

fn scrape(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

fn value(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn every_series_with_help_and_values() {
    let pool = Pool::builder().arenas(2).build().unwrap();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(PoolCollector::new(&pool)));
    let live = pool.alloc(100_000);
    drop(pool.alloc(1000));
    let text = scrape(&registry);
    for family in [
        "tidebuf_used_bytes",
        "tidebuf_active_bytes",
        "tidebuf_cached_bytes",
        "tidebuf_chunks",
        "tidebuf_huge_buffers",
        "tidebuf_arena_threads",
        "tidebuf_arena_chunks",
        "tidebuf_arena_used_bytes",
        "tidebuf_arena_active_bytes",
        "tidebuf_allocations",
        "tidebuf_deallocations",
        "tidebuf_cache_hits",
        "tidebuf_cache_misses",
        "tidebuf_trims",
        "tidebuf_trimmed_bytes",
    ] {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "no HELP for {family}:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "no TYPE for {family}"
        );
    }
    assert_eq!(value(&text, "tidebuf_active_bytes"), (112 << 10) as f64);
    assert_eq!(
        value(&text, "tidebuf_used_bytes"),
        pool.metrics().used_bytes as f64
    );
    assert_eq!(
        value(&text, r#"tidebuf_allocations_total{kind="normal"}"#),
        1.0
    );
    assert_eq!(
        value(&text, r#"tidebuf_allocations_total{kind="small"}"#),
        1.0
    );
    assert_eq!(value(&text, r#"tidebuf_arena_threads{arena="0"}"#), 1.0);
    assert!(text.contains(r#"tidebuf_arena_threads{arena="1"} 0"#));
    assert!(text.contains("# TYPE tidebuf_cache_hits counter"));
    drop(live);
    pool.trim();
    let text = scrape(&registry);
    assert_eq!(value(&text, "tidebuf_used_bytes"), 0.0);
    assert_eq!(value(&text, "tidebuf_trims_total"), 1.0);
}
