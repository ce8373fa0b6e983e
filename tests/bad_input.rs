//! Bad input, one case per row: the exact error or documented panic, and
//! nothing lost — live buffers intact and metrics consistent afterwards.

use bytes::{Buf, BufMut};
use std::panic::{catch_unwind, AssertUnwindSafe};
use tidebuf::{AllocErrorKind, Pool};

/// A pool with one live, filled buffer, and a check that it survived.
fn with_witness(f: impl FnOnce(&Pool)) {
    let pool = Pool::builder()
        .chunk_size(1 << 20)
        .max_memory(Some(8 << 20))
        .build()
        .unwrap();
    let mut witness = pool.alloc(3000);
    witness.extend_from_slice(&[0x42; 3000]);
    let witness = witness.freeze();
    f(&pool);
    assert!(witness.iter().all(|&b| b == 0x42), "a live buffer changed");
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 3072, "only the witness is live");
    assert!(m.used_bytes >= m.active_bytes + m.cached_bytes);
    assert!(m.used_bytes <= 8 << 20);
    drop(witness);
    assert_eq!(pool.metrics().active_bytes, 0);
}

/// Runs `f`, expecting a panic whose message contains `msg`.
fn panics_with(msg: &str, f: impl FnOnce()) {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    let text = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(text.contains(msg), "panic {text:?} lacks {msg:?}");
}

#[test]
fn sizes() {
    with_witness(|pool| {
        // 0 gets the smallest class.
        assert_eq!(pool.try_alloc(0).unwrap().capacity(), 16);
        for size in [isize::MAX as usize + 1, usize::MAX] {
            let e = pool.try_alloc(size).unwrap_err();
            assert_eq!((e.requested, e.kind), (size, AllocErrorKind::TooLarge));
        }
        // isize::MAX itself is beyond any cap or mapping: refused, no panic.
        assert!(pool.try_alloc(isize::MAX as usize).is_err());
        panics_with("capacity overflow", || drop(pool.alloc(usize::MAX)));
    });
}

#[test]
fn cap_exceeded() {
    with_witness(|pool| {
        let e = pool.try_alloc(9 << 20).unwrap_err();
        assert!(
            matches!(e.kind, AllocErrorKind::OverLimit { limit, .. } if limit == 8 << 20),
            "{e}"
        );
        let held: Vec<_> = (0..7)
            .filter_map(|_| pool.try_alloc(1 << 20).ok())
            .collect();
        assert!(held.len() >= 6);
        assert!(matches!(
            pool.try_alloc(2 << 20).unwrap_err().kind,
            AllocErrorKind::OverLimit { .. }
        ));
    });
}

#[test]
fn slices_out_of_range() {
    with_witness(|pool| {
        let mut b = pool.alloc(10);
        b.extend_from_slice(b"0123456789");
        let f = b.freeze();
        panics_with("range end out of bounds: 11 <= 10", || drop(f.slice(5..11)));
        panics_with("range start must not be greater than end: 6 <= 5", || {
            #[allow(clippy::reversed_empty_ranges)]
            drop(f.slice(6..5))
        });
        panics_with("range end out of bounds: 11 <= 10", || drop(f.slice(..=10)));
        assert_eq!(&f.slice(10..)[..], b"", "an empty tail is fine");
        assert_eq!(f.ref_count(), 1, "failed slices leave no reference behind");
    });
}

#[test]
fn reserve_overflow() {
    with_witness(|pool| {
        let mut b = pool.alloc(16);
        b.extend_from_slice(b"keep");
        let e = b.try_reserve(usize::MAX).unwrap_err();
        assert_eq!(e.kind, AllocErrorKind::TooLarge);
        assert!(b.try_reserve(isize::MAX as usize).is_err());
        assert_eq!((&b[..], b.capacity()), (&b"keep"[..], 16));
        panics_with("capacity overflow", || b.reserve(usize::MAX));
    });
}

#[test]
fn split_and_advance_past_the_end() {
    with_witness(|pool| {
        let mut b = pool.alloc(8);
        b.extend_from_slice(b"abcdef");
        let mut f = b.freeze();
        panics_with("split_off out of bounds: 7 <= 6", || {
            drop(f.clone().split_off(7))
        });
        panics_with("split_to out of bounds: 7 <= 6", || {
            drop(f.clone().split_to(7))
        });
        panics_with("cannot advance past `remaining`: 7 <= 6", || {
            f.clone().advance(7)
        });
        panics_with("split_to out of bounds: 7 <= 6", || {
            drop(f.clone().copy_to_bytes(7))
        });
        let head = f.split_to(2);
        let tail = f.split_off(2);
        assert_eq!(
            (&head[..], &f[..], &tail[..]),
            (&b"ab"[..], &b"cd"[..], &b"ef"[..])
        );
        assert_eq!(f.ref_count(), 3);
        let mut m = pool.alloc(16);
        // SAFETY: never reached: the call panics before counting bytes.
        panics_with(
            "advance out of bounds: the len is 16 but advancing by 17",
            || unsafe { m.advance_mut(17) },
        );
    });
}
