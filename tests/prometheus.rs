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
        "tidebuf_waiters",
        "tidebuf_wait_seconds",
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
    assert_eq!(value(&text, "tidebuf_waiters"), 0.0);
    assert_eq!(value(&text, "tidebuf_wait_seconds_total"), 0.0);
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
    let huge = pool.alloc(10 << 20);
    drop(pool.alloc(12 << 20)); // a recycled huge mapping
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

/// The series lines of a scrape (name and labels, value dropped), in order.
fn series_keys(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').unwrap().0)
        .collect()
}

/// Two pools in one registry, told apart by their labels: no series twice,
/// every series of each pool carries its label (first, before `arena` or
/// `kind`), each family written once, and the values are each pool's own.
#[test]
fn two_labelled_pools_in_one_registry() {
    let http = Pool::builder().arenas(2).build().unwrap();
    let grpc = Pool::builder().arenas(3).build().unwrap();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(
        PoolCollector::with_labels(&http, [("pool", "http")]).with_pool(&grpc, [("pool", "grpc")]),
    ));
    let _live = http.alloc(100_000);
    let _other = grpc.alloc(1000);
    let text = scrape(&registry);

    let keys = series_keys(&text);
    let unique: std::collections::BTreeSet<_> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "a series twice in\n{text}");
    for key in &keys {
        assert!(
            key.contains(r#"{pool="http""#) || key.contains(r#"{pool="grpc""#),
            "{key} has no pool label"
        );
    }
    // Every series of the one-pool scrape, once per pool.
    let mut single = Registry::default();
    single.register_collector(Box::new(PoolCollector::new(&http)));
    let single = scrape(&single);
    let per_pool = |label: &str| keys.iter().filter(|k| k.contains(label)).count();
    // grpc has one arena more: 5 per-arena families.
    assert_eq!(per_pool(r#"pool="http""#), series_keys(&single).len());
    assert_eq!(per_pool(r#"pool="grpc""#), series_keys(&single).len() + 5);
    for line in single.lines().filter(|l| l.starts_with("# TYPE ")) {
        assert_eq!(text.matches(line).count(), 1, "{line} not once in\n{text}");
    }
    // Labels come first, then the collector's own.
    assert_eq!(
        value(&text, r#"tidebuf_arena_threads{pool="grpc",arena="2"}"#),
        0.0
    );
    assert_eq!(
        value(
            &text,
            r#"tidebuf_allocations_total{pool="http",kind="normal"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"tidebuf_allocations_total{pool="grpc",kind="normal"}"#
        ),
        0.0
    );
    assert_eq!(
        value(&text, r#"tidebuf_active_bytes{pool="http"}"#),
        (112 << 10) as f64
    );
    assert_eq!(value(&text, r#"tidebuf_active_bytes{pool="grpc"}"#), 1024.0);
}

/// The registry's alternative: one sub-registry per pool, labelled by
/// `sub_registry_with_label`, each with an unlabelled collector. The series
/// are distinct and labelled too (the families' HELP and TYPE lines are
/// repeated per pool, which the single collector above avoids).
#[test]
fn sub_registries_with_labels_keep_pools_apart() {
    let a = Pool::new();
    let b = Pool::new();
    let mut registry = Registry::default();
    for (name, pool) in [("a", &a), ("b", &b)] {
        registry
            .sub_registry_with_label(("pool".into(), name.into()))
            .register_collector(Box::new(PoolCollector::new(pool)));
    }
    let live = b.alloc(5000);
    let text = scrape(&registry);
    let keys = series_keys(&text);
    let unique: std::collections::BTreeSet<_> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "a series twice in\n{text}");
    assert!(keys
        .iter()
        .all(|k| k.contains(r#"pool="a""#) || k.contains(r#"pool="b""#)));
    assert_eq!(value(&text, r#"tidebuf_active_bytes{pool="a"}"#), 0.0);
    assert_eq!(
        value(&text, r#"tidebuf_active_bytes{pool="b"}"#),
        live.capacity() as f64
    );
}
