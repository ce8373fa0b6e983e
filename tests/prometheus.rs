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
        "tidebuf_arena_cached_bytes",
        "tidebuf_huge_bytes",
        "tidebuf_codec_buffer_bytes",
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

/// Sum of a per-arena family over its `arena` labels.
fn arena_sum(text: &str, family: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{arena=")))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// The per-arena series add up to the pool's, with cached regions released
/// by another thread into its cache (which used to count as arena-active).
#[test]
fn arena_series_add_up_to_the_pool_series() {
    let pool = Pool::builder().arenas(2).build().unwrap();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(PoolCollector::new(&pool)));
    let live: Vec<_> = (0..40).map(|i| pool.alloc(100 + i * 500)).collect();
    let gone: Vec<_> = (0..40).map(|i| pool.alloc(1000 + i * 300)).collect();
    let huge = pool.alloc(5 << 20);
    drop(pool.alloc(6 << 20)); // a recycled huge mapping
    let (tx, rx) = std::sync::mpsc::channel();
    let scraper = std::thread::spawn({
        let pool = pool.clone();
        move || {
            drop(gone); // into this thread's cache
            let _keep = pool.alloc(300);
            tx.send(()).unwrap();
            // Stay alive (cache and all) until the scrape below is done.
            std::thread::park();
        }
    });
    rx.recv().unwrap();
    let text = scrape(&registry);
    let total = |s: &str| value(&text, s);
    let live_huge = huge.capacity() as f64;
    assert!(total("tidebuf_cached_bytes") > total("tidebuf_huge_bytes") - live_huge);
    assert_eq!(
        arena_sum(&text, "tidebuf_arena_active_bytes"),
        total("tidebuf_active_bytes") - live_huge
    );
    assert_eq!(
        arena_sum(&text, "tidebuf_arena_cached_bytes"),
        total("tidebuf_cached_bytes") - (total("tidebuf_huge_bytes") - live_huge)
    );
    assert_eq!(
        arena_sum(&text, "tidebuf_arena_used_bytes"),
        total("tidebuf_used_bytes") - total("tidebuf_huge_bytes")
    );
    scraper.thread().unpark();
    scraper.join().unwrap();
    drop((live, huge));
}
