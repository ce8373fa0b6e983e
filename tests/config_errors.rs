//! Every invalid setting is a `ConfigError` naming it; bad requests are
//! `AllocError`s; nothing panics and live buffers survive.

use std::time::Duration;
use tidebuf::{AllocErrorKind, Pool, TrimPolicy};

fn err(b: tidebuf::PoolBuilder) -> tidebuf::ConfigError {
    b.build().unwrap_err()
}

#[test]
fn invalid_settings_name_the_setting() {
    let cases = [
        (err(Pool::builder().arenas(0)), "arenas", "0"),
        (err(Pool::builder().arenas(100_000)), "arenas", "100000"),
        (err(Pool::builder().page_size(3000)), "page_size", "3000"),
        (err(Pool::builder().page_size(2048)), "page_size", "2048"),
        (
            err(Pool::builder().page_size(2 << 20)),
            "page_size",
            "2097152",
        ),
        (
            err(Pool::builder().chunk_size(3 << 20)),
            "chunk_size",
            "3145728",
        ),
        (
            err(Pool::builder().chunk_size(32 << 10)),
            "chunk_size",
            "32768",
        ),
        (
            err(Pool::builder().chunk_size(2 << 30)),
            "chunk_size",
            "2147483648",
        ),
        (
            err(Pool::builder().max_memory(Some(1 << 20))),
            "max_memory",
            "1048576",
        ),
        (
            err(Pool::builder().trim_policy(TrimPolicy::decay(Duration::ZERO))),
            "trim_policy",
            "0ns",
        ),
    ];
    let fractions = [
        (
            err(Pool::builder().max_memory_fraction(0.0)),
            "max_memory_fraction",
            "0",
        ),
        (
            err(Pool::builder().max_memory_fraction(1.5)),
            "max_memory_fraction",
            "1.5",
        ),
        (
            err(Pool::builder().max_memory_fraction(-0.1)),
            "max_memory_fraction",
            "-0.1",
        ),
        (
            err(Pool::builder().max_memory_fraction(f64::NAN)),
            "max_memory_fraction",
            "NaN",
        ),
    ];
    for (e, setting, value) in cases.into_iter().chain(fractions) {
        assert_eq!(e.setting, setting);
        assert_eq!(e.value, value);
        assert!(
            e.to_string()
                .starts_with(&format!("{setting}: {value} (expected: ")),
            "{e}"
        );
    }
    assert_eq!(
        err(Pool::builder().page_size(3000)).to_string(),
        "page_size: 3000 (expected: a power of two in 4096..=1048576)"
    );
}

#[test]
fn edges_that_are_valid() {
    Pool::builder()
        .page_size(4096)
        .chunk_size(128 << 10)
        .build()
        .unwrap();
    Pool::builder()
        .page_size(1 << 20)
        .chunk_size(8 << 20)
        .build()
        .unwrap();
    Pool::builder().chunk_size(1 << 30).build().unwrap();
    // The smallest cap: one chunk (8 MiB by default).
    Pool::builder()
        .arenas(1)
        .max_memory(Some(8 << 20))
        .build()
        .unwrap();
}

#[test]
fn oversized_requests_are_errors_not_panics() {
    let pool = Pool::new();
    let mut keep = pool.alloc(100);
    keep.extend_from_slice(b"intact");
    for size in [isize::MAX as usize + 1, usize::MAX] {
        let e = pool.try_alloc(size).unwrap_err();
        assert_eq!((e.requested, e.kind), (size, AllocErrorKind::TooLarge));
        assert!(e.to_string().contains("isize::MAX"), "{e}");
    }
    // isize::MAX itself fits no mapping: refused by the system, not a panic.
    let e = pool.try_alloc(isize::MAX as usize).unwrap_err();
    assert_ne!(e.kind, AllocErrorKind::TooLarge);
    assert_eq!(&keep[..], b"intact");
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 112);
    assert!(m.used_bytes >= m.active_bytes);
}

#[test]
fn max_memory_fraction_caps_at_a_share_of_the_limit() {
    // This machine's limit (cgroup or RAM), halved, becomes the cap.
    let pool = Pool::builder().max_memory_fraction(0.5).build().unwrap();
    let err = pool.try_alloc(usize::MAX >> 2).unwrap_err();
    let AllocErrorKind::OverLimit { limit, .. } = err.kind else {
        panic!("expected the cap to refuse: {err}");
    };
    let whole = Pool::builder().max_memory_fraction(1.0).build().unwrap();
    let AllocErrorKind::OverLimit { limit: all, .. } =
        whole.try_alloc(usize::MAX >> 2).unwrap_err().kind
    else {
        panic!("expected the cap to refuse");
    };
    assert!(
        limit > 0 && limit.abs_diff(all / 2) <= 1,
        "{limit} vs {all}"
    );
}
