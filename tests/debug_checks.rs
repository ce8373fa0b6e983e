//! The `debug-checks` safety nets: poison checked on reuse, double release
//! and the leak tracker. Run with `cargo test --features debug-checks`.
#![cfg(feature = "debug-checks")]

use std::panic::{catch_unwind, AssertUnwindSafe};
use tidebuf::Pool;

fn panic_text(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

// Under ASan the stale write itself is reported (and aborts the process):
// tests/asan.rs covers that side.
#[cfg(not(feature = "asan"))]
#[test]
fn a_write_after_release_is_reported_with_the_size_class() {
    let pool = Pool::new();
    let buf = pool.alloc(100);
    let stale = buf.as_ptr() as *mut u8;
    drop(buf); // parked in this thread's cache, poisoned
               // Deliberately what the check exists for: a write through a stale
               // pointer into released (still mapped, pool-owned) memory.
               // SAFETY: not sound in general; the memory stays mapped by the pool and
               // nothing else uses it until the next allocation below.
    unsafe { stale.add(5).write(7) };
    let text = panic_text(|| drop(pool.alloc(100)));
    assert!(text.contains("write after release"), "{text}");
    assert!(text.contains("112-byte buffer (class 6)"), "{text}");
}

#[test]
fn a_double_release_is_reported() {
    let pool = Pool::new();
    let buf = pool.alloc(64);
    // SAFETY: deliberately duplicates the buffer to release it twice; the
    // tracker stops the second release before it touches the pool.
    let twin = unsafe { std::ptr::read(&buf) };
    drop(buf);
    let text = panic_text(|| drop(twin));
    assert!(text.contains("double release"), "{text}");
}

#[test]
fn outstanding_lists_live_and_forgotten_buffers() {
    let pool = Pool::new();
    assert!(pool.outstanding().is_empty());
    let a = pool.alloc(1000);
    let b = pool.copy_from_slice(&[1; 100_000]).freeze();
    std::mem::forget(pool.alloc(10 << 20)); // a leak, huge
    let mut caps: Vec<_> = pool.outstanding().iter().map(|o| o.capacity).collect();
    caps.sort_unstable();
    assert_eq!(caps, [1024, 112 << 10, 10 << 20]);
    assert!(
        pool.outstanding().iter().all(|o| o.backtrace.is_none()),
        "off unless TIDEBUF_LEAK_BACKTRACE=1"
    );
    drop((a, b));
    let left = pool.outstanding();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].capacity, 10 << 20);
}
