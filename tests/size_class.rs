//! Size classes through `Pool::capacity_for`: exhaustive up to 64 KiB,
//! sampled above, for the default and a non-default geometry. Huge requests
//! (above the chunk) follow the same four-per-doubling classes.

use tidebuf::Pool;

/// The jemalloc-style class list: 16, 32, 48, 64, then 4 per power of two.
fn classes(max: usize) -> Vec<usize> {
    let mut out = vec![16, 32, 48, 64];
    let mut base = 64;
    while *out.last().unwrap() < max {
        for k in 1..=4 {
            out.push(base + k * base / 4);
        }
        base *= 2;
    }
    out
}

fn check(pool: &Pool, sizes: impl Iterator<Item = usize>) {
    let table = classes(1 << 40);
    for size in sizes {
        let cap = pool.capacity_for(size).unwrap();
        if size > pool.chunk_size() {
            assert_eq!(cap % pool.page_size(), 0, "huge {size}: whole pages");
        }
        let want = *table.iter().find(|&&c| c >= size.max(1)).unwrap();
        assert_eq!(cap, want, "size {size}");
        // At most 25 % rounding above the first group.
        if size > 64 {
            assert!(cap * 4 <= size * 5 + 4 * 16, "size {size} -> {cap}");
        }
    }
}

#[test]
fn every_size_up_to_64k() {
    check(&Pool::new(), 0..=64 << 10);
}

#[test]
fn sampled_sizes_above_64k() {
    let pool = Pool::new();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let samples = (0..20_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (64 << 10) + (x % (8 << 20)) as usize
    });
    check(&pool, samples);
    let edges = [
        4 << 20,
        (4 << 20) - 1,
        (4 << 20) + 1,
        3 << 20,
        (3 << 20) + 1,
    ];
    check(&pool, edges.into_iter());
}

#[test]
fn other_geometry() {
    let pool = Pool::builder()
        .page_size(4096)
        .chunk_size(1 << 20)
        .build()
        .unwrap();
    check(
        &pool,
        (0..=64 << 10).step_by(7).chain([1 << 20, (1 << 20) + 1]),
    );
}

#[test]
fn beyond_isize_max_has_no_class() {
    let pool = Pool::new();
    assert_eq!(pool.capacity_for(isize::MAX as usize + 1), None);
    assert_eq!(pool.capacity_for(usize::MAX), None);
    assert_eq!(
        pool.capacity_for(isize::MAX as usize),
        None,
        "page rounding overflows isize"
    );
}
