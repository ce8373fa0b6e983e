//! Parity with `bytes`: the tests of the `bytes` crate's own suite (1.12.2:
//! `tests/test_bytes.rs`, `test_buf.rs`, `test_buf_mut.rs`, `test_debug.rs`,
//! `test_iter.rs`) that concern the `BytesMut` / `Bytes` methods
//! `PooledBytesMut` / `PooledBytes` have, ported to the pooled types, plus
//! tests of the traits they share with `bytes` and of the empty views that
//! hold nothing.
//!
//! Constructors map as follows: `BytesMut::with_capacity(n)` is
//! `pool.alloc(n)`, `BytesMut::from(s)` is `pool.copy_from_slice(s)`,
//! `Bytes::from(s)` / `Bytes::copy_from_slice(s)` / `Bytes::from_static(s)`
//! is `pool.copy_from_slice(s).freeze()`, `BytesMut::new()` is
//! `PooledBytesMut::default()` and `Bytes::new()` is `PooledBytes::new()`.
//!
//! Assertions are as strict as in `bytes` except where one of tidebuf's
//! documented differences forces a change; each such change is marked
//! `// tidebuf:` with the reason:
//! - the capacity is a size class (`alloc(10).capacity()` is 16);
//! - a view left with zero bytes by `split_to`, `split`, `split_off(0)` or
//!   `advance` holds no memory (capacity 0); `clear` / `truncate` on a
//!   `PooledBytesMut` keep the capacity; every zero-length `PooledBytes`
//!   holds nothing (`ref_count() == 0`);
//! - a `bytes::Bytes` made from a pooled buffer is owner-backed, so
//!   `Bytes::is_unique` is false for it and `BytesMut::from(bytes)` copies.
//!

#![warn(rust_2018_idioms)]

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::io::IoSlice;
use std::mem;
use tidebuf::{Pool, PooledBytes, PooledBytesMut};

const LONG: &[u8] = b"mary had a little lamb, little lamb, little lamb";
const SHORT: &[u8] = b"hello world";

/// `BytesMut::from(data)`: a pooled copy.
fn mut_from(pool: &Pool, data: &[u8]) -> PooledBytesMut {
    pool.copy_from_slice(data)
}

/// `Bytes::from(data)` / `Bytes::copy_from_slice(data)` /
/// `Bytes::from_static(data)`: a frozen pooled copy.
fn bytes_from(pool: &Pool, data: &[u8]) -> PooledBytes {
    pool.copy_from_slice(data).freeze()
}

/// A pool whose metrics are exact: no thread cache parks released regions.
fn exact_pool() -> Pool {
    Pool::builder().thread_cache(false).build().unwrap()
}

fn active(pool: &Pool) -> usize {
    pool.metrics().active_bytes
}

fn allocations(pool: &Pool) -> u64 {
    pool.metrics().allocations.total()
}

// ---------------------------------------------------------------------------
// tests/test_bytes.rs
// ---------------------------------------------------------------------------

fn is_sync<T: Sync>() {}
fn is_send<T: Send>() {}

#[test]
fn test_bounds() {
    is_sync::<PooledBytes>();
    is_sync::<PooledBytesMut>();
    is_send::<PooledBytes>();
    is_send::<PooledBytesMut>();
}

#[test]
fn test_layout() {
    // Not ported: `bytes`' "4 words" size assertions. The layout is a
    // representation, not API: tidebuf's are 6 and 5 words by design (see
    // the diagram in src/buf/mod.rs). The niche assertions hold as in bytes.
    assert_eq!(
        mem::size_of::<PooledBytes>(),
        mem::size_of::<Option<PooledBytes>>(),
        "PooledBytes should be same size as Option<PooledBytes>",
    );

    assert_eq!(
        mem::size_of::<PooledBytesMut>(),
        mem::size_of::<Option<PooledBytesMut>>(),
        "PooledBytesMut should be same size as Option<PooledBytesMut>",
    );
}

#[test]
fn from_slice() {
    let pool = Pool::new();
    let a = bytes_from(&pool, &b"abcdefgh"[..]);
    assert_eq!(a, b"abcdefgh"[..]);
    assert_eq!(a, &b"abcdefgh"[..]);
    assert_eq!(a, Vec::from(&b"abcdefgh"[..]));
    assert_eq!(b"abcdefgh"[..], a);
    assert_eq!(&b"abcdefgh"[..], a);
    assert_eq!(Vec::from(&b"abcdefgh"[..]), a);

    let a = mut_from(&pool, &b"abcdefgh"[..]);
    assert_eq!(a, b"abcdefgh"[..]);
    assert_eq!(a, &b"abcdefgh"[..]);
    assert_eq!(a, Vec::from(&b"abcdefgh"[..]));
    assert_eq!(b"abcdefgh"[..], a);
    assert_eq!(&b"abcdefgh"[..], a);
    assert_eq!(Vec::from(&b"abcdefgh"[..]), a);
}

#[test]
fn fmt() {
    let pool = Pool::new();
    let a = format!("{:?}", bytes_from(&pool, &b"abcdefg"[..]));
    let b = "b\"abcdefg\"";

    assert_eq!(a, b);

    let a = format!("{:?}", mut_from(&pool, &b"abcdefg"[..]));
    assert_eq!(a, b);
}

#[test]
fn fmt_write() {
    use std::fmt::Write;
    let pool = Pool::new();
    let s = String::from_iter((0..10).map(|_| "abcdefg"));

    let mut a = pool.alloc(64);
    write!(a, "{}", &s[..64]).unwrap();
    assert_eq!(a, &s.as_bytes()[..64]);

    let mut b = pool.alloc(64);
    write!(b, "{}", &s[..32]).unwrap();
    write!(b, "{}", &s[32..64]).unwrap();
    assert_eq!(b, &s.as_bytes()[..64]);

    let mut c = pool.alloc(64);
    write!(c, "{}", s).unwrap();
    assert_eq!(c, s[..].as_bytes());
}

#[test]
fn len() {
    let pool = Pool::new();
    let a = bytes_from(&pool, &b"abcdefg"[..]);
    assert_eq!(a.len(), 7);

    let a = mut_from(&pool, &b"abcdefg"[..]);
    assert_eq!(a.len(), 7);

    let a = bytes_from(&pool, &b""[..]);
    assert!(a.is_empty());

    let a = mut_from(&pool, &b""[..]);
    assert!(a.is_empty());
}

#[test]
fn index() {
    let pool = Pool::new();
    let a = bytes_from(&pool, &b"hello world"[..]);
    assert_eq!(a[0..5], *b"hello");
}

#[test]
fn slice() {
    let pool = Pool::new();
    let a = bytes_from(&pool, &b"hello world"[..]);

    let b = a.slice(3..5);
    assert_eq!(b, b"lo"[..]);

    let b = a.slice(0..0);
    assert_eq!(b, b""[..]);
    // tidebuf: a zero-length PooledBytes holds nothing.
    assert_eq!(b.ref_count(), 0);

    let b = a.slice(3..3);
    assert_eq!(b, b""[..]);
    // tidebuf: a zero-length PooledBytes holds nothing.
    assert_eq!(b.ref_count(), 0);

    let b = a.slice(a.len()..a.len());
    assert_eq!(b, b""[..]);
    // tidebuf: a zero-length PooledBytes holds nothing.
    assert_eq!(b.ref_count(), 0);

    let b = a.slice(..5);
    assert_eq!(b, b"hello"[..]);

    let b = a.slice(3..);
    assert_eq!(b, b"lo world"[..]);
}

#[test]
fn slice_with_excluded_start() {
    use core::ops::Bound::Excluded;

    let pool = Pool::new();
    let bytes = bytes_from(&pool, b"hello");
    assert_eq!(&bytes.slice((Excluded(1), Excluded(4)))[..], b"ll");
}

#[test]
#[should_panic = "out of range"]
fn slice_excluded_start_overflow() {
    use core::ops::Bound::{Excluded, Unbounded};

    let pool = Pool::new();
    let bytes = bytes_from(&pool, b"hello");
    bytes.slice((Excluded(usize::MAX), Unbounded));
}

#[test]
#[should_panic = "range end out of bounds: 44 <= 11"]
fn slice_oob_1() {
    let pool = Pool::new();
    let a = bytes_from(&pool, &b"hello world"[..]);
    a.slice(5..44);
}

#[test]
#[should_panic = "range end out of bounds: 49 <= 11"]
fn slice_oob_2() {
    let pool = Pool::new();
    let a = bytes_from(&pool, &b"hello world"[..]);
    a.slice(44..49);
}

#[test]
#[should_panic = "range start must not be greater than end: 5 <= 3"]
fn slice_start_greater_than_end() {
    let pool = Pool::new();
    let a = bytes_from(&pool, &b"hello world"[..]);
    #[allow(clippy::reversed_empty_ranges)]
    a.slice(5..3);
}

#[test]
fn split_off() {
    let pool = Pool::new();
    let mut hello = bytes_from(&pool, &b"helloworld"[..]);
    let world = hello.split_off(5);

    assert_eq!(hello, &b"hello"[..]);
    assert_eq!(world, &b"world"[..]);

    let mut hello = mut_from(&pool, &b"helloworld"[..]);
    let world = hello.split_off(5);

    assert_eq!(hello, &b"hello"[..]);
    assert_eq!(world, &b"world"[..]);
}

#[test]
#[should_panic = "split_off out of bounds: 44 <= 10"]
fn split_off_oob() {
    let pool = Pool::new();
    let mut hello = bytes_from(&pool, &b"helloworld"[..]);
    let _ = hello.split_off(44);
}

#[test]
#[should_panic = "split_off out of bounds"]
fn bytes_mut_split_off_oob() {
    let pool = Pool::new();
    let mut hello = mut_from(&pool, &b"helloworld"[..]);
    let _ = hello.split_off(44);
}

#[test]
fn split_off_uninitialized() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(1024);
    // 1024 is a size class: the capacities below are exact, as in bytes.
    assert_eq!(bytes.capacity(), 1024);
    let other = bytes.split_off(128);

    assert_eq!(bytes.len(), 0);
    assert_eq!(bytes.capacity(), 128);

    assert_eq!(other.len(), 0);
    assert_eq!(other.capacity(), 896);
}

#[test]
fn split_off_to_loop() {
    let pool = Pool::new();
    let s = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    for i in 0..(s.len() + 1) {
        {
            let mut bytes = bytes_from(&pool, &s[..]);
            let off = bytes.split_off(i);
            assert_eq!(i, bytes.len());
            let mut sum = Vec::new();
            sum.extend(bytes.iter());
            sum.extend(off.iter());
            assert_eq!(&s[..], &sum[..]);
        }
        {
            let mut bytes = mut_from(&pool, &s[..]);
            let off = bytes.split_off(i);
            assert_eq!(i, bytes.len());
            let mut sum = Vec::new();
            sum.extend(&bytes);
            sum.extend(&off);
            assert_eq!(&s[..], &sum[..]);
        }
        {
            let mut bytes = bytes_from(&pool, &s[..]);
            let off = bytes.split_to(i);
            assert_eq!(i, off.len());
            let mut sum = Vec::new();
            sum.extend(off.iter());
            sum.extend(bytes.iter());
            assert_eq!(&s[..], &sum[..]);
        }
        {
            let mut bytes = mut_from(&pool, &s[..]);
            let off = bytes.split_to(i);
            assert_eq!(i, off.len());
            let mut sum = Vec::new();
            sum.extend(&off);
            sum.extend(&bytes);
            assert_eq!(&s[..], &sum[..]);
        }
    }
}

#[test]
fn split_to_1() {
    let pool = Pool::new();
    // Static (tidebuf: no static buffers; a pooled copy)
    let mut a = bytes_from(&pool, SHORT);
    let b = a.split_to(4);

    assert_eq!(SHORT[4..], a);
    assert_eq!(SHORT[..4], b);

    // Allocated
    let mut a = bytes_from(&pool, LONG);
    let b = a.split_to(4);

    assert_eq!(LONG[4..], a);
    assert_eq!(LONG[..4], b);

    let mut a = bytes_from(&pool, LONG);
    let b = a.split_to(30);

    assert_eq!(LONG[30..], a);
    assert_eq!(LONG[..30], b);
}

#[test]
fn split_to_2() {
    let pool = Pool::new();
    let mut a = bytes_from(&pool, LONG);
    assert_eq!(LONG, a);

    let b = a.split_to(1);

    assert_eq!(LONG[1..], a);
    drop(b);
}

#[test]
#[should_panic = "split_to out of bounds: 33 <= 10"]
fn split_to_oob() {
    let pool = Pool::new();
    let mut hello = bytes_from(&pool, &b"helloworld"[..]);
    let _ = hello.split_to(33);
}

#[test]
#[should_panic = "split_to out of bounds: 33 <= 10"]
fn split_to_oob_mut() {
    let pool = Pool::new();
    let mut hello = mut_from(&pool, &b"helloworld"[..]);
    let _ = hello.split_to(33);
}

#[test]
#[should_panic = "split_to out of bounds: 128 <= 0"]
fn split_to_uninitialized() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(1024);
    let _other = bytes.split_to(128);
}

#[test]
fn split_off_to_at_gt_len() {
    fn make_bytes() -> PooledBytes {
        let mut bytes = Pool::global().alloc(100);
        bytes.put_slice(&[10, 20, 30, 40]);
        bytes.freeze()
    }

    use std::panic;

    let _ = make_bytes().split_to(4);
    let _ = make_bytes().split_off(4);

    assert!(panic::catch_unwind(move || {
        let _ = make_bytes().split_to(5);
    })
    .is_err());

    assert!(panic::catch_unwind(move || {
        let _ = make_bytes().split_off(5);
    })
    .is_err());
}

#[test]
fn truncate() {
    let pool = Pool::new();
    let s = &b"helloworld"[..];
    let mut hello = bytes_from(&pool, s);
    hello.truncate(15);
    assert_eq!(hello, s);
    hello.truncate(10);
    assert_eq!(hello, s);
    hello.truncate(5);
    assert_eq!(hello, "hello");
}

#[test]
fn truncate_to_zero_releases_shared_reference() {
    let pool = Pool::new();
    let mut bytes = mut_from(&pool, &b"hello"[..]);
    drop(bytes.split_off(bytes.len()));
    let mut truncated = bytes.freeze();
    let remaining = truncated.clone();

    truncated.truncate(0);

    assert!(truncated.is_empty());
    let mut remaining = remaining.try_into_mut().unwrap();
    remaining[0] = b'H';
    assert_eq!(remaining, b"Hello"[..]);

    let mut bytes = mut_from(&pool, &b"hello"[..]);
    drop(bytes.split_off(bytes.len()));
    let mut nonempty = bytes.freeze();
    let remaining = nonempty.clone();

    nonempty.truncate(1);

    assert_eq!(nonempty, b"h"[..]);
    assert!(remaining.try_into_mut().is_err());
}

#[test]
fn freeze_clone_shared() {
    let pool = Pool::new();
    let s = &b"abcdefgh"[..];
    let b = mut_from(&pool, s).split().freeze();
    assert_eq!(b, s);
    let c = b.clone();
    assert_eq!(c, s);
}

#[test]
fn freeze_clone_unique() {
    let pool = Pool::new();
    let s = &b"abcdefgh"[..];
    let b = mut_from(&pool, s).freeze();
    assert_eq!(b, s);
    let c = b.clone();
    assert_eq!(c, s);
}

#[test]
fn freeze_after_advance() {
    let pool = Pool::new();
    let s = &b"abcdefgh"[..];
    let mut b = mut_from(&pool, s);
    b.advance(1);
    assert_eq!(b, s[1..]);
    let b = b.freeze();
    // Verify fix for #352. Previously, freeze would ignore the start offset
    // for BytesMuts in Vec mode.
    assert_eq!(b, s[1..]);
}

#[test]
fn freeze_after_advance_arc() {
    let pool = Pool::new();
    let s = &b"abcdefgh"[..];
    let mut b = mut_from(&pool, s);
    // Make b Arc
    let _ = b.split_to(0);
    b.advance(1);
    assert_eq!(b, s[1..]);
    let b = b.freeze();
    assert_eq!(b, s[1..]);
}

#[test]
fn freeze_after_split_to() {
    let pool = Pool::new();
    let s = &b"abcdefgh"[..];
    let mut b = mut_from(&pool, s);
    let _ = b.split_to(1);
    assert_eq!(b, s[1..]);
    let b = b.freeze();
    assert_eq!(b, s[1..]);
}

#[test]
fn freeze_after_truncate() {
    let pool = Pool::new();
    let s = &b"abcdefgh"[..];
    let mut b = mut_from(&pool, s);
    b.truncate(7);
    assert_eq!(b, s[..7]);
    let b = b.freeze();
    assert_eq!(b, s[..7]);
}

#[test]
fn freeze_after_truncate_arc() {
    let pool = Pool::new();
    let s = &b"abcdefgh"[..];
    let mut b = mut_from(&pool, s);
    // Make b Arc
    let _ = b.split_to(0);
    b.truncate(7);
    assert_eq!(b, s[..7]);
    let b = b.freeze();
    assert_eq!(b, s[..7]);
}

#[test]
fn freeze_after_split_off() {
    let pool = Pool::new();
    let s = &b"abcdefgh"[..];
    let mut b = mut_from(&pool, s);
    let _ = b.split_off(7);
    assert_eq!(b, s[..7]);
    let b = b.freeze();
    assert_eq!(b, s[..7]);
}

#[test]
#[allow(clippy::iter_cloned_collect)] // the iterator is what bytes tests here
fn fns_defined_for_bytes_mut() {
    let pool = Pool::new();
    let mut bytes = mut_from(&pool, &b"hello world"[..]);

    let _ = bytes.as_ptr();
    let _ = bytes.as_mut_ptr();

    // Iterator
    let v: Vec<u8> = bytes.as_ref().iter().cloned().collect();
    assert_eq!(&v[..], bytes);
}

#[test]
fn reserve_convert() {
    let pool = Pool::new();
    // Vec -> Vec
    let mut bytes = mut_from(&pool, LONG);
    bytes.reserve(64);
    // 48 and 112 are size classes: exact, as in bytes.
    assert_eq!(bytes.capacity(), LONG.len() + 64);

    // Arc -> Vec
    let mut bytes = mut_from(&pool, LONG);
    let a = bytes.split_to(30);

    bytes.reserve(128);
    assert!(bytes.capacity() >= bytes.len() + 128);

    drop(a);
}

#[test]
fn reserve_growth() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(64);
    bytes.put("hello world".as_bytes());
    let _ = bytes.split();

    bytes.reserve(65);
    // tidebuf: `split` left `bytes` with zero bytes, so it holds no memory
    // (capacity 0) and grows afresh to the request's size class, not into
    // the old region's rest doubled (bytes: 117).
    assert_eq!(bytes.capacity(), pool.capacity_for(65).unwrap());
}

#[test]
fn reserve_allocates_at_least_original_capacity() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(1024);

    for i in 0..1020 {
        bytes.put_u8(i as u8);
    }

    let _other = bytes.split();

    bytes.reserve(16);
    // tidebuf: `split` left `bytes` with zero bytes: it holds no memory, so
    // no original capacity survives to size the next region by; it grows to
    // the request's size class (bytes: 1024).
    assert_eq!(bytes.capacity(), pool.capacity_for(16).unwrap());
}

#[test]
fn reserve_max_original_capacity_value() {
    const SIZE: usize = 128 * 1024;

    let pool = Pool::new();
    let mut bytes = pool.alloc(SIZE);

    for _ in 0..SIZE {
        bytes.put_u8(0u8);
    }

    let _other = bytes.split();

    bytes.reserve(16);
    // tidebuf: as in reserve_allocates_at_least_original_capacity: the
    // emptied view holds nothing and grows to the request's size class
    // (bytes: 64 KiB).
    assert_eq!(bytes.capacity(), pool.capacity_for(16).unwrap());
}

#[test]
fn reserve_vec_recycling() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(16);
    assert_eq!(bytes.capacity(), 16);
    let addr = bytes.as_ptr() as usize;
    bytes.put("0123456789012345".as_bytes());
    assert_eq!(bytes.as_ptr() as usize, addr);
    bytes.advance(10);
    assert_eq!(bytes.capacity(), 6);
    bytes.reserve(8);
    assert_eq!(bytes.capacity(), 16);
    assert_eq!(bytes.as_ptr() as usize, addr);
}

#[test]
fn reserve_in_arc_unique_does_not_overallocate() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(1000);
    let _ = bytes.split();

    // now bytes is Arc and refcount == 1

    // tidebuf: the capacity is the size class (1024, not 1000).
    assert_eq!(pool.capacity_for(1000).unwrap(), bytes.capacity());
    bytes.reserve(2001);
    // tidebuf: the capacity is the size class (2048, not 2001).
    assert_eq!(pool.capacity_for(2001).unwrap(), bytes.capacity());
}

#[test]
fn reserve_in_arc_unique_doubles() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(1000);
    let _ = bytes.split();

    // now bytes is Arc and refcount == 1

    // tidebuf: the capacity is the size class (1024, not 1000), which
    // already holds 1001 bytes; ask for one byte past it to make it grow,
    // and it doubles (bytes: reserve(1001) on 1000 gives 2000).
    let cap = bytes.capacity();
    assert_eq!(pool.capacity_for(1000).unwrap(), cap);
    bytes.reserve(cap + 1);
    assert_eq!(2 * cap, bytes.capacity());
}

#[test]
fn reserve_in_arc_unique_does_not_overallocate_after_split() {
    let pool = Pool::new();
    let mut bytes = mut_from(&pool, LONG);
    let orig_capacity = bytes.capacity();
    drop(bytes.split_off(LONG.len() / 2));

    // now bytes is Arc and refcount == 1

    let new_capacity = bytes.capacity();
    bytes.reserve(orig_capacity - new_capacity);
    assert_eq!(bytes.capacity(), orig_capacity);
}

#[test]
fn reserve_in_arc_unique_does_not_overallocate_after_multiple_splits() {
    let pool = Pool::new();
    let mut bytes = mut_from(&pool, LONG);
    let orig_capacity = bytes.capacity();
    for _ in 0..10 {
        drop(bytes.split_off(LONG.len() / 2));

        // now bytes is Arc and refcount == 1

        let new_capacity = bytes.capacity();
        bytes.reserve(orig_capacity - new_capacity);
    }
    assert_eq!(bytes.capacity(), orig_capacity);
}

#[test]
fn reserve_in_arc_nonunique_does_not_overallocate() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(1000);
    let _copy = bytes.split();

    // now bytes is Arc and refcount == 2

    // tidebuf: the capacity is the size class (1024, not 1000).
    assert_eq!(pool.capacity_for(1000).unwrap(), bytes.capacity());
    bytes.reserve(2001);
    // tidebuf: the capacity is the size class (2048, not 2001).
    assert_eq!(pool.capacity_for(2001).unwrap(), bytes.capacity());
}

/// This function tests `BytesMut::reserve_inner`, where `BytesMut` holds
/// a unique reference to the shared vector and decide to reuse it
/// by reallocating the `Vec`.
#[test]
fn reserve_shared_reuse() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(1000);
    bytes.put_slice(b"Hello, World!");
    drop(bytes.split());

    bytes.put_slice(b"!123ex123,sadchELLO,_wORLD!");
    // Use split_off so that v.capacity() - self.cap != off
    drop(bytes.split_off(9));
    assert_eq!(&*bytes, b"!123ex123");

    bytes.reserve(2000);
    assert_eq!(&*bytes, b"!123ex123");
    // tidebuf: the capacity is the size class of 9 + 2000 bytes (2048, not
    // 2009).
    assert_eq!(bytes.capacity(), pool.capacity_for(2009).unwrap());
}

#[test]
fn extend_mut() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(0);
    bytes.extend(LONG);
    assert_eq!(*bytes, LONG[..]);
}

#[test]
fn extend_mut_after_advance() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(16);
    bytes.extend_from_slice(b"abcdef");
    bytes.advance(2);

    bytes.extend([b'g', b'h']);

    assert_eq!(bytes.len(), 6);
    assert_eq!(&bytes[..], b"cdefgh");
    assert_eq!(bytes.capacity(), 14);
}

#[test]
fn extend_mut_non_fused() {
    // Yields 1, None, 3.
    let mut items = [Some(1), None, Some(3)].into_iter();
    let iter = core::iter::from_fn(|| items.next().flatten());

    let pool = Pool::new();
    let mut bytes = pool.alloc(16);
    bytes.extend(iter);
    assert_eq!(&bytes[..], [1]);
}

#[test]
fn extend_from_slice_mut() {
    for &i in &[3, 34] {
        let mut bytes = PooledBytesMut::default();
        bytes.extend_from_slice(&LONG[..i]);
        bytes.extend_from_slice(&LONG[i..]);
        assert_eq!(LONG[..], *bytes);
    }
}

#[test]
fn extend_from_within_normal() {
    let mut bytes = PooledBytesMut::default();
    bytes.extend_from_slice(&LONG[..23]);
    bytes.extend_from_within(10..22);
    bytes.extend_from_within(22..35);
    assert_eq!(LONG[..], *bytes);
}

#[test]
#[should_panic = "range end out of bounds: 24 <= 23"]
fn extend_from_within_out_of_range() {
    let mut bytes = PooledBytesMut::default();
    bytes.extend_from_slice(&LONG[..23]);
    bytes.extend_from_within(23..=23);
}

#[test]
fn extend_mut_from_bytes() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(0);
    bytes.extend([Bytes::from(LONG)]);
    assert_eq!(*bytes, LONG[..]);
}

#[test]
fn extend_past_lower_limit_of_size_hint() {
    // See https://github.com/tokio-rs/bytes/pull/674#pullrequestreview-1913035700
    struct Iter<I>(I);

    impl<I: Iterator<Item = u8>> Iterator for Iter<I> {
        type Item = u8;

        fn next(&mut self) -> Option<Self::Item> {
            self.0.next()
        }

        fn size_hint(&self) -> (usize, Option<usize>) {
            (5, None)
        }
    }

    let pool = Pool::new();
    let mut bytes = pool.alloc(5);
    bytes.extend(Iter(std::iter::repeat_n(0, 10)));
    assert_eq!(bytes.len(), 10);
}

#[test]
fn extend_mut_without_size_hint() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(0);
    let mut long_iter = LONG.iter();

    // Use iter::from_fn since it doesn't know a size_hint
    bytes.extend(std::iter::from_fn(|| long_iter.next()));
    assert_eq!(*bytes, LONG[..]);
}

#[test]
fn from_static() {
    let pool = Pool::new();
    let mut a = bytes_from(&pool, b"ab");
    let b = a.split_off(1);

    assert_eq!(a, b"a"[..]);
    assert_eq!(b, b"b"[..]);
}

#[test]
fn advance_static() {
    let pool = Pool::new();
    let mut a = bytes_from(&pool, b"hello world");
    a.advance(6);
    assert_eq!(a, &b"world"[..]);
}

#[test]
fn advance_vec() {
    let pool = Pool::new();
    let mut a = bytes_from(&pool, b"hello world boooo yah world zomg wat wat");
    a.advance(16);
    assert_eq!(a, b"o yah world zomg wat wat"[..]);

    a.advance(4);
    assert_eq!(a, b"h world zomg wat wat"[..]);

    a.advance(6);
    assert_eq!(a, b"d zomg wat wat"[..]);
}

#[test]
fn advance_bytes_mut() {
    let pool = Pool::new();
    let mut a = mut_from(&pool, b"hello world boooo yah world zomg wat wat");
    a.advance(16);
    assert_eq!(a, b"o yah world zomg wat wat"[..]);

    a.advance(4);
    assert_eq!(a, b"h world zomg wat wat"[..]);

    // Reserve some space.
    a.reserve(1024);
    assert_eq!(a, b"h world zomg wat wat"[..]);

    a.advance(6);
    assert_eq!(a, b"d zomg wat wat"[..]);
}

// Ensures BytesMut::advance reduces always capacity
//
// See https://github.com/tokio-rs/bytes/issues/725
#[test]
fn advance_bytes_mut_remaining_capacity() {
    let pool = Pool::new();
    let max_capacity = 256;
    for capacity in 0..=max_capacity {
        for len in 0..=capacity {
            for advance in 0..=len {
                // (bytes prints every case with eprintln!; the assertion
                // messages below name the case instead.)
                let mut buf = pool.alloc(capacity);
                // tidebuf: the capacity is the size class.
                let class = buf.capacity();
                assert_eq!(Some(class), pool.capacity_for(capacity));

                buf.resize(len, 42);
                assert_eq!(buf.len(), len, "resize should write `len` bytes");
                assert_eq!(
                    buf.remaining(),
                    len,
                    "Buf::remaining() should equal BytesMut::len"
                );

                buf.advance(advance);
                assert_eq!(
                    buf.remaining(),
                    len - advance,
                    "Buf::advance should reduce the remaining len"
                );
                // tidebuf: advancing to the end (of a non-empty buffer)
                // leaves zero bytes: the view holds no memory, capacity 0.
                let expected = if advance > 0 && advance == len {
                    0
                } else {
                    class - advance
                };
                assert_eq!(
                    buf.capacity(),
                    expected,
                    "Buf::advance should reduce the remaining capacity \
                     (capacity={capacity}, len={len}, advance={advance})"
                );
            }
        }
    }
}

#[test]
#[should_panic = "cannot advance past `remaining`: 20 <= 11"]
fn advance_past_len() {
    let pool = Pool::new();
    let mut a = mut_from(&pool, b"hello world");
    a.advance(20);
}

#[test]
#[should_panic]
fn mut_advance_past_len() {
    let pool = Pool::new();
    let mut a = mut_from(&pool, b"hello world");
    // SAFETY: it must panic before exposing anything (checked bound).
    unsafe {
        a.advance_mut(20);
    }
}

#[test]
#[should_panic = "advance out of bounds: the len is 5 but advancing by 20"]
fn mut_advance_past_len_message() {
    // Not in bytes' suite (its test is a bare should_panic): the message
    // BytesMut::advance_mut panics with. 5 = 16 (the size class of 11) - 11.
    let pool = Pool::new();
    let mut a = mut_from(&pool, b"hello world");
    // SAFETY: it must panic before exposing anything (checked bound).
    unsafe {
        a.advance_mut(20);
    }
}

#[test]
fn stress() {
    // Tests promoting a buffer from a vec -> shared in a concurrent situation
    use std::sync::{Arc, Barrier};
    use std::thread;

    const THREADS: usize = 8;
    const ITERS: usize = 1_000;

    let pool = Pool::new();
    for i in 0..ITERS {
        let data = [i as u8; 256];
        let buf = Arc::new(bytes_from(&pool, &data[..]));

        let barrier = Arc::new(Barrier::new(THREADS));
        let mut joins = Vec::with_capacity(THREADS);

        for _ in 0..THREADS {
            let c = barrier.clone();
            let buf = buf.clone();

            joins.push(thread::spawn(move || {
                c.wait();
                let buf: PooledBytes = (*buf).clone();
                drop(buf);
            }));
        }

        for th in joins {
            th.join().unwrap();
        }

        assert_eq!(*buf, data[..]);
    }
}

#[test]
fn partial_eq_bytesmut() {
    let pool = Pool::new();
    let bytes = bytes_from(&pool, &b"The quick red fox"[..]);
    let bytesmut = mut_from(&pool, &b"The quick red fox"[..]);
    assert!(bytes == bytesmut);
    assert!(bytesmut == bytes);
    let bytes2 = bytes_from(&pool, &b"Jumped over the lazy brown dog"[..]);
    assert!(bytes2 != bytesmut);
    assert!(bytesmut != bytes2);
}

#[test]
fn bytes_mut_unsplit_basic() {
    let pool = Pool::new();
    let mut buf = pool.alloc(64);
    buf.extend_from_slice(b"aaabbbcccddd");
    let ptr = buf.as_ptr();

    let splitted = buf.split_off(6);
    assert_eq!(b"aaabbb", &buf[..]);
    assert_eq!(b"cccddd", &splitted[..]);

    buf.unsplit(splitted);
    assert_eq!(b"aaabbbcccddd", &buf[..]);
    // Contiguous: O(1), in place, the capacities add back up.
    assert_eq!(buf.as_ptr(), ptr);
    assert_eq!(buf.capacity(), 64);
}

#[test]
fn bytes_mut_unsplit_empty_other() {
    let pool = Pool::new();
    let mut buf = pool.alloc(64);
    buf.extend_from_slice(b"aaabbbcccddd");

    // empty other
    let other = PooledBytesMut::default();

    buf.unsplit(other);
    assert_eq!(b"aaabbbcccddd", &buf[..]);
}

#[test]
fn bytes_mut_unsplit_empty_self() {
    // empty self
    let mut buf = PooledBytesMut::default();

    let pool = Pool::new();
    let mut other = pool.alloc(64);
    other.extend_from_slice(b"aaabbbcccddd");

    buf.unsplit(other);
    assert_eq!(b"aaabbbcccddd", &buf[..]);
}

#[test]
fn bytes_mut_unsplit_other_keeps_capacity() {
    let pool = Pool::new();
    let mut buf = pool.alloc(64);
    buf.extend_from_slice(b"aabb");

    // non empty other created "from" buf
    let mut other = buf.split_off(buf.len());
    other.extend_from_slice(b"ccddee");
    buf.unsplit(other);

    assert_eq!(buf.capacity(), 64);
}

#[test]
fn bytes_mut_unsplit_empty_other_keeps_capacity() {
    let pool = Pool::new();
    let mut buf = pool.alloc(64);
    buf.extend_from_slice(b"aabbccddee");

    // empty other created "from" buf
    let other = buf.split_off(buf.len());
    buf.unsplit(other);

    assert_eq!(buf.capacity(), 64);
}

#[test]
fn bytes_mut_unsplit_arc_different() {
    let pool = Pool::new();
    let mut buf = pool.alloc(64);
    buf.extend_from_slice(b"aaaabbbbeeee");

    let _ = buf.split_off(8); //arc

    let mut buf2 = pool.alloc(64);
    buf2.extend_from_slice(b"ccccddddeeee");

    let _ = buf2.split_off(8); //arc

    buf.unsplit(buf2);
    assert_eq!(b"aaaabbbbccccdddd", &buf[..]);
}

#[test]
fn bytes_mut_unsplit_arc_non_contiguous() {
    let pool = Pool::new();
    let mut buf = pool.alloc(64);
    buf.extend_from_slice(b"aaaabbbbeeeeccccdddd");

    let mut buf2 = buf.split_off(8); //arc

    let buf3 = buf2.split_off(4); //arc

    buf.unsplit(buf3);
    assert_eq!(b"aaaabbbbccccdddd", &buf[..]);
}

#[test]
fn bytes_mut_unsplit_two_split_offs() {
    let pool = Pool::new();
    let mut buf = pool.alloc(64);
    buf.extend_from_slice(b"aaaabbbbccccdddd");
    let ptr = buf.as_ptr();

    let mut buf2 = buf.split_off(8); //arc
    let buf3 = buf2.split_off(4); //arc

    buf2.unsplit(buf3);
    buf.unsplit(buf2);
    assert_eq!(b"aaaabbbbccccdddd", &buf[..]);
    // Both joins contiguous: O(1), in place.
    assert_eq!(buf.as_ptr(), ptr);
    assert_eq!(buf.capacity(), 64);
}

fn test_slice_ref(bytes: &PooledBytes, start: usize, end: usize, expected: &[u8]) {
    let slice = &(bytes.as_ref()[start..end]);
    let sub = bytes.slice_ref(slice);
    assert_eq!(&sub[..], expected);
}

#[test]
fn slice_ref_works() {
    let pool = Pool::new();
    let bytes = bytes_from(&pool, &b"012345678"[..]);

    test_slice_ref(&bytes, 0, 0, b"");
    test_slice_ref(&bytes, 0, 3, b"012");
    test_slice_ref(&bytes, 2, 6, b"2345");
    test_slice_ref(&bytes, 7, 9, b"78");
    test_slice_ref(&bytes, 9, 9, b"");
}

#[test]
fn slice_ref_empty() {
    let pool = Pool::new();
    let bytes = bytes_from(&pool, &b""[..]);
    let slice = &(bytes.as_ref()[0..0]);

    let sub = bytes.slice_ref(slice);
    assert_eq!(&sub[..], b"");
}

#[test]
fn slice_ref_empty_subslice() {
    let pool = Pool::new();
    let bytes = bytes_from(&pool, &b"abcde"[..]);
    let subbytes = bytes.slice(0..0);
    let slice = &subbytes[..];
    // The `slice` object is derived from the original `bytes` object
    // so `slice_ref` should work.
    assert_eq!(PooledBytes::new(), bytes.slice_ref(slice));
}

#[test]
#[should_panic]
fn slice_ref_catches_not_a_subset() {
    let pool = Pool::new();
    let bytes = bytes_from(&pool, &b"012345678"[..]);
    let slice = &b"012345"[0..4];

    bytes.slice_ref(slice);
}

#[test]
#[should_panic = "is smaller than self pointer"]
fn slice_ref_below_view_message() {
    // Not in bytes' suite (its test is a bare should_panic): the message
    // Bytes::slice_ref panics with for a subset starting before the view.
    let pool = Pool::new();
    let whole = bytes_from(&pool, &b"012345678"[..]);
    let view = whole.slice(2..6);
    view.slice_ref(&whole[0..3]);
}

#[test]
#[should_panic = "subset is out of bounds"]
fn slice_ref_past_view_message() {
    // Not in bytes' suite (its test is a bare should_panic): the message
    // Bytes::slice_ref panics with for a subset ending past the view.
    let pool = Pool::new();
    let whole = bytes_from(&pool, &b"012345678"[..]);
    let view = whole.slice(2..6);
    view.slice_ref(&whole[3..8]);
}

#[test]
fn slice_ref_not_an_empty_subset() {
    let pool = Pool::new();
    let bytes = bytes_from(&pool, &b"012345678"[..]);
    let slice = &b""[0..0];

    assert_eq!(PooledBytes::new(), bytes.slice_ref(slice));
}

#[test]
fn empty_slice_ref_not_an_empty_subset() {
    let bytes = PooledBytes::new();
    let slice = &b"some other slice"[0..0];

    assert_eq!(PooledBytes::new(), bytes.slice_ref(slice));
}

#[test]
fn bytes_buf_mut_advance() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(1024);

    // SAFETY: `advance_mut` only over bytes of `chunk_mut` (uninitialised
    // bytes counted as written, never read), and pointer arithmetic
    // inside the region.
    unsafe {
        let ptr = bytes.chunk_mut().as_mut_ptr();
        assert_eq!(1024, bytes.chunk_mut().len());

        bytes.advance_mut(10);

        let next = bytes.chunk_mut().as_mut_ptr();
        assert_eq!(1024 - 10, bytes.chunk_mut().len());
        assert_eq!(ptr.offset(10), next);

        // advance to the end
        bytes.advance_mut(1024 - 10);

        // The buffer size is doubled
        assert_eq!(1024, bytes.chunk_mut().len());
    }
}

#[test]
fn bytes_buf_mut_reuse_when_fully_consumed() {
    // A private pool (bytes: `BytesMut::new()`): the pointer check below
    // depends on what this pool hands out, which no other test touches.
    let pool = Pool::new();
    let mut buf = pool.alloc(0);
    buf.reserve(8192);
    buf.extend_from_slice(&[0u8; 100][..]);

    let p = &buf[0] as *const u8;
    buf.advance(100);
    // tidebuf: advancing to the end leaves zero bytes: the view gives its
    // region back to the pool at once (bytes keeps it)...
    assert_eq!(buf.capacity(), 0);

    buf.reserve(8192);
    buf.extend_from_slice(b" ");

    // ...and grows again in the same pool, which hands the same region back
    // (its thread cache is LIFO): the memory is reused all the same.
    assert_eq!(&buf[0] as *const u8, p);
}

#[test]
#[should_panic = "overflow"]
fn bytes_reserve_overflow() {
    let pool = Pool::new();
    let mut bytes = pool.alloc(1024);
    bytes.put_slice(b"hello world");

    bytes.reserve(usize::MAX);
}

#[test]
fn bytes_with_capacity_but_empty() {
    // See https://github.com/tokio-rs/bytes/issues/340
    // (bytes: `Bytes::from(Vec::with_capacity(1))`; the pooled analogue is
    // freezing an allocated, empty buffer.)
    let pool = Pool::new();
    let b = pool.alloc(1).freeze();
    assert!(b.is_empty());
    // tidebuf: a zero-length PooledBytes holds nothing.
    assert_eq!(b.ref_count(), 0);
}

#[test]
fn bytes_put_bytes() {
    let mut bytes = PooledBytesMut::default();
    bytes.put_u8(17);
    bytes.put_bytes(19, 2);
    assert_eq!([17, 19, 19], bytes.as_ref());
}

#[test]
fn bytes_into_vec() {
    // tidebuf: no `From<PooledBytesMut> for Vec<u8>`; the conversion goes
    // through `into_bytes` (owner-backed, so `Vec::from` copies).

    // Test kind == KIND_VEC
    let content = b"helloworld";

    let mut bytes = PooledBytesMut::default();
    bytes.put_slice(content);

    let vec: Vec<u8> = bytes.into_bytes().into();
    assert_eq!(&vec, content);

    // Test kind == KIND_ARC, shared.is_unique() == True
    let mut bytes = PooledBytesMut::default();
    bytes.put_slice(b"abcdewe23");
    bytes.put_slice(content);

    // Overwrite the bytes to make sure only one reference to the underlying
    // Vec exists.
    bytes = bytes.split_off(9);

    let vec: Vec<u8> = bytes.into_bytes().into();
    assert_eq!(&vec, content);

    // Test kind == KIND_ARC, shared.is_unique() == False
    let prefix = b"abcdewe23";

    let mut bytes = PooledBytesMut::default();
    bytes.put_slice(prefix);
    bytes.put_slice(content);

    let vec: Vec<u8> = bytes.split_off(prefix.len()).into_bytes().into();
    assert_eq!(&vec, content);

    let vec: Vec<u8> = bytes.into_bytes().into();
    assert_eq!(&vec, prefix);
}

#[test]
fn test_bytes_into_vec() {
    // tidebuf: no `From<PooledBytes> for Vec<u8>`; through `into_bytes`.
    // (The STATIC_VTABLE part is not ported: there are no static buffers.)
    let pool = Pool::new();
    let bs = b"1b23exfcz3r";

    // Test bytes_mut.SHARED_VTABLE.to_vec impl
    let mut bytes_mut: PooledBytesMut = mut_from(&pool, &bs[..]);

    // Set kind to KIND_ARC so that after freeze, Bytes will use bytes_mut.SHARED_VTABLE
    drop(bytes_mut.split_off(bs.len()));

    let b1 = bytes_mut.freeze();
    let b2 = b1.clone();

    // shared.is_unique() = False
    assert_eq!(&*Vec::from(b2.into_bytes()), bs);

    // shared.is_unique() = True
    assert_eq!(&*Vec::from(b1.into_bytes()), bs);

    // Test bytes_mut.SHARED_VTABLE.to_vec impl where offset != 0
    let mut bytes_mut1: PooledBytesMut = mut_from(&pool, &bs[..]);
    let bytes_mut2 = bytes_mut1.split_off(9);

    let b1 = bytes_mut1.freeze();
    let b2 = bytes_mut2.freeze();

    assert_eq!(Vec::from(b2.into_bytes()), bs[9..]);
    assert_eq!(Vec::from(b1.into_bytes()), bs[..9]);
}

#[test]
fn test_bytes_mut_conversion() {
    let pool = Pool::new();
    let mut b1 = pool.alloc(10);
    b1.extend(b"abcdefg");
    let b2 = Bytes::from(b1);
    let v = Vec::from(b2);
    assert_eq!(v.len(), 7);
    // tidebuf: the `Bytes` is owner-backed, so `Vec::from` copies: the
    // Vec's capacity is not the buffer's (bytes: 10). The rest of the bytes
    // test converts a plain Vec and Bytes back and forth: not ported.
    assert_eq!(v.as_slice(), b"abcdefg");
}

#[test]
fn static_is_unique() {
    // (bytes: `Bytes::from_static`; the pooled buffer without a region of
    // its own is the empty one.)
    let b = PooledBytes::new();
    assert!(!b.is_unique());
}

#[test]
fn vec_is_unique() {
    let pool = Pool::new();
    let b = bytes_from(&pool, LONG);
    assert!(b.is_unique());
}

#[test]
fn arc_is_unique() {
    let pool = Pool::new();
    let b = bytes_from(&pool, LONG);
    let c = b.clone();
    assert!(!b.is_unique());
    drop(c);
    assert!(b.is_unique());
}

#[test]
fn shared_is_unique() {
    let pool = Pool::new();
    let b = bytes_from(&pool, LONG);
    let c = b.clone();
    assert!(!c.is_unique());
    drop(b);
    assert!(c.is_unique());
}

#[test]
fn mut_shared_is_unique() {
    let pool = Pool::new();
    let mut b = mut_from(&pool, LONG);
    let c = b.split().freeze();
    // tidebuf: `split` left `b` with zero bytes, so `b` holds no reference
    // to the region and `c` is unique at once (bytes: not until `b` goes).
    assert!(c.is_unique());
    drop(b);
    assert!(c.is_unique());

    // The same with a `b` that keeps bytes, so still shares the region.
    let mut b = mut_from(&pool, LONG);
    let c = b.split_to(10).freeze();
    assert!(!c.is_unique());
    drop(b);
    assert!(c.is_unique());
}

#[test]
fn test_bytesmut_from_bytes_bytes_mut_vec() {
    // tidebuf: no `From<PooledBytes> for PooledBytesMut`; the conversion
    // that reuses the memory is `try_into_mut` (it needs the only
    // reference; `bytes` copies otherwise).
    let pool = Pool::new();
    let bs = b"1b23exfcz3r";
    let bs_long = b"1b23exfcz3r1b23exfcz3r";

    // Test case where kind == KIND_VEC
    let mut bytes_mut: PooledBytesMut = mut_from(&pool, &bs[..]);
    let ptr = bytes_mut.as_ptr();
    bytes_mut = bytes_mut.freeze().try_into_mut().unwrap();
    assert_eq!(bytes_mut.as_ptr(), ptr);
    assert_eq!(bytes_mut, bs[..]);
    bytes_mut.extend_from_slice(&bs[..]);
    assert_eq!(bytes_mut, bs_long[..]);
}

#[test]
fn test_bytesmut_from_bytes_bytes_mut_shared() {
    // tidebuf: as above, through `try_into_mut`, which refuses a shared
    // region (`BytesMut::from` copies it).
    let pool = Pool::new();
    let bs = b"1b23exfcz3r";

    // Set kind to KIND_ARC so that after freeze, Bytes will use bytes_mut.SHARED_VTABLE
    let mut bytes_mut: PooledBytesMut = mut_from(&pool, &bs[..]);
    drop(bytes_mut.split_off(bs.len()));
    let ptr = bytes_mut.as_ptr();

    let b1 = bytes_mut.freeze();
    let b2 = b1.clone();

    // shared.is_unique() = False
    let b1 = b1.try_into_mut().unwrap_err();
    assert_eq!(b1, bs[..]);
    drop(b1);

    // shared.is_unique() = True
    let b2m = b2.try_into_mut().unwrap();
    assert_eq!(b2m, bs[..]);
    assert_eq!(b2m.as_ptr(), ptr);
}

#[test]
fn test_bytesmut_from_bytes_bytes_mut_offset() {
    // tidebuf: as above, through `try_into_mut`; the two halves share one
    // region, so neither converts while the other lives.
    let pool = Pool::new();
    let bs = b"1b23exfcz3r";

    // Test bytes_mut.SHARED_VTABLE.to_mut impl where offset != 0
    let mut bytes_mut1: PooledBytesMut = mut_from(&pool, &bs[..]);
    let bytes_mut2 = bytes_mut1.split_off(9);
    let ptr2 = bytes_mut2.as_ptr();

    let b1 = bytes_mut1.freeze();
    let b2 = bytes_mut2.freeze();

    let b1 = b1.try_into_mut().unwrap_err();
    let b2 = b2.try_into_mut().unwrap_err();
    assert_eq!(b1, bs[..9]);
    drop(b1);
    let b2m = b2.try_into_mut().unwrap();

    assert_eq!(b2m, bs[9..]);
    assert_eq!(b2m.as_ptr(), ptr2);
    // The view keeps its offset; its room runs to the end of the region.
    assert_eq!(b2m.capacity(), pool.capacity_for(bs.len()).unwrap() - 9);
}

#[test]
fn try_reclaim_empty() {
    let mut buf = PooledBytesMut::default();
    assert!(!buf.try_reclaim(6));
    buf.reserve(6);
    assert!(buf.try_reclaim(6));
    let cap = buf.capacity();
    assert!(cap >= 6);
    assert!(!buf.try_reclaim(cap + 1));

    let mut buf = PooledBytesMut::default();
    buf.reserve(6);
    let cap = buf.capacity();
    assert!(cap >= 6);
    let mut split = buf.split();
    drop(buf);
    assert_eq!(0, split.capacity());
    // tidebuf: the zero-byte view `split` returned holds no memory, so it
    // has nothing to reclaim even once `buf` is gone (bytes: true).
    assert!(!split.try_reclaim(6));
    assert!(!split.try_reclaim(cap + 1));
}

#[test]
fn try_reclaim_vec() {
    let pool = Pool::new();
    // tidebuf: the capacity is the size class (16, not 6): the test's 6
    // becomes `cap` throughout.
    let mut buf = pool.alloc(6);
    let cap = buf.capacity();
    assert_eq!(Some(cap), pool.capacity_for(6));
    buf.put_slice(b"abc");
    // Reclaiming a ludicrous amount of space should calmly return false
    assert!(!buf.try_reclaim(usize::MAX));

    assert!(!buf.try_reclaim(cap));
    buf.advance(2);
    assert_eq!(cap - 2, buf.capacity());
    // We can reclaim 5 bytes, because the byte in the buffer can be moved to the front. 6 bytes
    // cannot be reclaimed because there is already one byte stored
    assert!(!buf.try_reclaim(cap));
    assert!(buf.try_reclaim(cap - 1));
    buf.advance(1);
    // tidebuf: advancing to the end leaves zero bytes: the view holds no
    // memory, so nothing is left to reclaim (bytes: true, capacity 6).
    assert!(!buf.try_reclaim(cap));
    assert_eq!(0, buf.capacity());
}

#[test]
fn try_reclaim_arc() {
    let pool = Pool::new();
    // tidebuf: the capacity is the size class (16, not 6): the test's 6
    // becomes `cap`.
    let mut buf = pool.alloc(6);
    let cap = buf.capacity();
    buf.put_slice(b"abc");
    let x = buf.split().freeze();
    buf.put_slice(b"def");
    // Reclaiming a ludicrous amount of space should calmly return false
    assert!(!buf.try_reclaim(usize::MAX));

    let y = buf.split().freeze();
    let z = y.clone();
    assert!(!buf.try_reclaim(cap));
    drop(x);
    drop(z);
    assert!(!buf.try_reclaim(cap));
    drop(y);
    // tidebuf: `split` left `buf` with zero bytes: it holds no memory, so
    // it reclaims nothing even once every other view is gone (bytes: true,
    // capacity 6).
    assert!(!buf.try_reclaim(cap));
    assert_eq!(0, buf.capacity());
    assert_eq!(0, buf.len());
    buf.put_slice(b"abc");
    buf.put_slice(b"def");
    // (It grew again in the same pool, to the size class of 3 bytes.)
    assert_eq!(cap, buf.capacity());
    assert_eq!(6, buf.len());
    assert!(!buf.try_reclaim(cap));
    buf.advance(4);
    // tidebuf: bytes asks for 4 (the whole 6 minus the 2 left); here that
    // is `cap - 2`, which needs the 2 bytes moved to the front.
    assert!(buf.try_reclaim(cap - 2));
    buf.advance(2);
    // tidebuf: advancing to the end leaves zero bytes: the view holds no
    // memory (bytes: true).
    assert!(!buf.try_reclaim(cap));
    assert_eq!(0, buf.capacity());
}

#[test]
fn slice_empty_addr() {
    let pool = Pool::new();
    let buf = bytes_from(&pool, &[0; 1024]);

    let empty_end = buf.slice(1024..);
    assert_eq!(empty_end.len(), 0);
    // tidebuf: a zero-length PooledBytes holds nothing: its pointer is not
    // into the region (bytes: the end / start of `buf`).
    assert_eq!(empty_end.ref_count(), 0);

    let empty_start = buf.slice(..0);
    assert_eq!(empty_start.len(), 0);
    // tidebuf: as above.
    assert_eq!(empty_start.ref_count(), 0);

    // Is miri happy about the provenance?
    let _ = &empty_end[..];
    let _ = &empty_start[..];
}

#[test]
fn split_off_empty_addr() {
    let pool = Pool::new();
    let mut buf = bytes_from(&pool, &[0; 1024]);

    let empty_end = buf.split_off(1024);
    assert_eq!(empty_end.len(), 0);
    // tidebuf: a zero-length PooledBytes holds nothing: its pointer is not
    // into the region (bytes: the end of `buf`).
    assert_eq!(empty_end.ref_count(), 0);

    let _ = buf.split_off(0);
    assert_eq!(buf.len(), 0);
    // tidebuf: as above (bytes: the start).
    assert_eq!(buf.ref_count(), 0);

    // Is miri happy about the provenance?
    let _ = &empty_end[..];
    let _ = &buf[..];
}

#[test]
fn split_to_empty_addr() {
    let pool = Pool::new();
    let mut buf = bytes_from(&pool, &[0; 1024]);

    let empty_start = buf.split_to(0);
    assert_eq!(empty_start.len(), 0);
    // tidebuf: a zero-length PooledBytes holds nothing: its pointer is not
    // into the region (bytes: the start of `buf`).
    assert_eq!(empty_start.ref_count(), 0);

    let _ = buf.split_to(1024);
    assert_eq!(buf.len(), 0);
    // tidebuf: as above (bytes: the end).
    assert_eq!(buf.ref_count(), 0);

    // Is miri happy about the provenance?
    let _ = &empty_start[..];
    let _ = &buf[..];
}

#[test]
fn split_off_empty_addr_mut() {
    let pool = Pool::new();
    let mut buf = mut_from(&pool, [0; 1024].as_slice());

    let ptr_start = buf.as_ptr();

    let empty_end = buf.split_off(1024);
    assert_eq!(empty_end.len(), 0);
    // tidebuf: `buf` is full (1024 is a size class), so the tail has no
    // room, as in bytes; it holds no memory, so its pointer is not the end
    // of `buf` (bytes: it is).
    assert_eq!(empty_end.capacity(), 0);
    assert_eq!(buf.as_ptr(), ptr_start);

    let _ = buf.split_off(0);
    assert_eq!(buf.len(), 0);
    // tidebuf: `split_off(0)` left `buf` with zero bytes: it holds no
    // memory (capacity 0) and its pointer is not the start (bytes: it is).
    assert_eq!(buf.capacity(), 0);

    // Is miri happy about the provenance?
    let _ = &empty_end[..];
    let _ = &buf[..];
}

#[test]
fn split_to_empty_addr_mut() {
    let pool = Pool::new();
    let mut buf = mut_from(&pool, [0; 1024].as_slice());

    let ptr_start = buf.as_ptr();

    let empty_start = buf.split_to(0);
    assert_eq!(empty_start.len(), 0);
    // tidebuf: the zero-byte head holds no memory (capacity 0, as in bytes);
    // its pointer is not the start of `buf` (bytes: it is).
    assert_eq!(empty_start.capacity(), 0);
    assert_eq!(buf.as_ptr(), ptr_start);

    let _ = buf.split_to(1024);
    assert_eq!(buf.len(), 0);
    // tidebuf: `split_to(len)` left `buf` with zero bytes: it holds no
    // memory (capacity 0) and its pointer is not the end (bytes: it is).
    assert_eq!(buf.capacity(), 0);

    // Is miri happy about the provenance?
    let _ = &empty_start[..];
    let _ = &buf[..];
}

#[test]
fn bytes_mut_split_boundary_capacities() {
    let pool = Pool::new();
    // 64 is a size class: the capacities are exact, as in bytes.
    assert_eq!(pool.capacity_for(64), Some(64));

    // VEC mode
    // tidebuf: `split_off` at 11 (= len) is in
    // bytes_mut_split_boundary_capacities_split_off_at_len (a bug).
    for at in [0, 5] {
        let mut buf = pool.alloc(64);
        buf.extend_from_slice(b"hello world");

        let other = buf.split_off(at);
        assert_eq!(
            buf.capacity() + other.capacity(),
            64,
            "split_off at {} should preserve total capacity",
            at
        );
    }

    for at in [0, 5, 11] {
        let mut buf = pool.alloc(64);
        buf.extend_from_slice(b"hello world");

        let other = buf.split_to(at);
        if at == buf.len() + other.len() {
            // tidebuf: `split_to(len)` left `buf` with zero bytes: it holds
            // no memory (capacity 0), so only the head's `at` remains.
            assert_eq!(buf.capacity(), 0);
            assert_eq!(other.capacity(), at);
            continue;
        }
        assert_eq!(
            buf.capacity() + other.capacity(),
            64,
            "split_to at {} should preserve total capacity",
            at
        );
    }

    // ARC mode (promote via a no-op split)
    for at in [0, 5] {
        let mut buf = pool.alloc(64);
        buf.extend_from_slice(b"hello world");
        let _ = buf.split_to(0); // promotes to ARC

        let other = buf.split_off(at);
        assert_eq!(
            buf.capacity() + other.capacity(),
            64,
            "ARC split_off at {} should preserve total capacity",
            at
        );
    }

    for at in [0, 5, 11] {
        let mut buf = pool.alloc(64);
        buf.extend_from_slice(b"hello world");
        let _ = buf.split_to(0); // promotes to ARC

        let other = buf.split_to(at);
        if at == buf.len() + other.len() {
            // tidebuf: as above.
            assert_eq!(buf.capacity(), 0);
            assert_eq!(other.capacity(), at);
            continue;
        }
        assert_eq!(
            buf.capacity() + other.capacity(),
            64,
            "ARC split_to at {} should preserve total capacity",
            at
        );
    }
}

#[test]
fn bytes_mut_split_boundary_capacities_split_off_at_len() {
    // The `split_off` at 11 (= len) cases of bytes'
    // bytes_mut_split_boundary_capacities, kept apart so the rest runs.
    let pool = Pool::new();
    for promote in [false, true] {
        let at = 11;
        let mut buf = pool.alloc(64);
        buf.extend_from_slice(b"hello world");
        if promote {
            let _ = buf.split_to(0); // promotes to ARC
        }

        let other = buf.split_off(at);
        assert_eq!(
            buf.capacity() + other.capacity(),
            64,
            "split_off at {} should preserve total capacity",
            at
        );
    }
}

#[test]
fn owned_is_unique_always_false() {
    let pool = Pool::new();
    let b1 = pool.copy_from_slice(&[1, 2, 3, 4, 5, 6, 7]).into_bytes();
    assert!(!b1.is_unique()); // even if ref_cnt == 1
    let b2 = b1.clone();
    assert!(!b1.is_unique());
    assert!(!b2.is_unique());
    drop(b1);
    assert!(!b2.is_unique()); // even if ref_cnt == 1

    // Through `From` too, from either type.
    let b3 = Bytes::from(pool.copy_from_slice(&[1, 2, 3]));
    assert!(!b3.is_unique());
    let b4 = Bytes::from(pool.copy_from_slice(&[1, 2, 3]).freeze());
    assert!(!b4.is_unique());
}

#[test]
fn owned_buf_sharing() {
    let pool = Pool::new();
    let buf = [1, 2, 3, 4, 5, 6, 7];
    let b1 = pool.copy_from_slice(&buf).into_bytes();
    let b2 = b1.clone();
    assert_eq!(&buf[..], &b1[..]);
    assert_eq!(&buf[..], &b2[..]);
    assert_eq!(b1.as_ptr(), b2.as_ptr());
    assert_eq!(b1.len(), b2.len());
    assert_eq!(b1.len(), buf.len());
}

#[test]
fn owned_buf_slicing() {
    let pool = Pool::new();
    let pooled = pool.copy_from_slice(SHORT);
    let ptr = pooled.as_ptr();
    let b1 = pooled.into_bytes();
    assert_eq!(SHORT, &b1[..]);
    let b2 = b1.slice(1..(b1.len() - 1));
    assert_eq!(&SHORT[1..(SHORT.len() - 1)], b2);
    assert_eq!(ptr.wrapping_add(1), b2.as_ptr());
    assert_eq!(SHORT.len() - 2, b2.len());
}

#[test]
fn owned_dropped_exactly_once() {
    // (bytes counts the owner's drops; here the region's return to the
    // pool, seen in its metrics.)
    let pool = exact_pool();
    let buf: [u8; 5] = [1, 2, 3, 4, 5];
    let b1 = pool.copy_from_slice(&buf).into_bytes();
    let class = pool.capacity_for(buf.len()).unwrap();
    let released = || pool.metrics().deallocations.total();
    let b2 = b1.clone();
    assert_eq!(released(), 0);
    drop(b1);
    assert_eq!(released(), 0);
    let b3 = b2.slice(1..b2.len() - 1);
    drop(b2);
    assert_eq!(released(), 0);
    assert_eq!(active(&pool), class);
    drop(b3);
    assert_eq!(released(), 1);
    assert_eq!(active(&pool), 0);
}

#[test]
fn owned_to_mut() {
    let pool = exact_pool();
    let buf: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    let b1 = pool.copy_from_slice(&buf).into_bytes();

    // Holding an owner will fail converting to a BytesMut,
    // even when the bytes instance has a ref_cnt == 1.
    let b1 = b1.try_into_mut().unwrap_err();

    // That said, it's still possible, just not cheap.
    let bm1: BytesMut = b1.into();
    let new_buf = &bm1[..];
    assert_eq!(new_buf, &buf[..]);

    // `.into::<BytesMut>()` has correctly dropped the owner
    assert_eq!(active(&pool), 0);
}

#[test]
fn owned_to_vec() {
    let pool = exact_pool();
    let buf: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    let b1 = pool.copy_from_slice(&buf).into_bytes();

    let v1 = b1.to_vec();
    assert_eq!(&v1[..], &buf[..]);
    assert_eq!(&v1[..], &b1[..]);

    drop(b1);
    assert_eq!(active(&pool), 0);
}

#[test]
fn owned_into_vec() {
    let pool = exact_pool();
    let buf: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    let b1 = pool.copy_from_slice(&buf).into_bytes();

    let v1: Vec<u8> = b1.into();
    assert_eq!(&v1[..], &buf[..]);
    // into() vec will copy out of the owner and drop it
    assert_eq!(active(&pool), 0);
}

#[test]
#[should_panic = "overflow"]
fn bytes_mut_reserve_overflow() {
    let pool = Pool::new();
    let mut a = mut_from(&pool, &b"hello world"[..]);
    let mut b = a.split_off(5);
    // Ensure b becomes the unique owner of the backing storage
    drop(a);
    // Trigger overflow in new_cap + offset inside reserve
    b.reserve(usize::MAX - 6);
    // This call relies on the corrupted cap and may cause UB & HBO
    b.put_u8(b'h');
}

// ---------------------------------------------------------------------------
// tests/test_buf.rs: `Buf` on both types
// ---------------------------------------------------------------------------

mod test_buf {
    use super::*;

    // A random 64-byte ascii string, with the first 8 bytes altered to
    // give valid representations of f32 and f64 (making them easier to compare)
    // and negative signed numbers when interpreting as big endian
    // (testing Sign Extension for `Buf::get_int' and `Buf::get_int_ne`).
    const INPUT: &[u8] = b"\xffFqrjrDqPhvTc45vvq33f6bJrUtyHESuTeklWKgYd64xgzxJwvAkpYYnpNJyZSRn";

    macro_rules! e {
        ($big_endian_val:expr, $little_endian_val:expr) => {
            if cfg!(target_endian = "big") {
                $big_endian_val
            } else {
                $little_endian_val
            }
        };
    }

    // (bytes gates the `chunks_vectored` tests on its `std` feature, which
    // the `bytes` dependency has on by default.)
    macro_rules! buf_tests {
        ($make_input:ident) => {
            buf_tests!($make_input, true);
        };
        ($make_input:ident, $checks_vectored_is_complete:expr) => {
            use super::*;

            #[test]
            fn empty_state() {
                let buf = $make_input(&[]);
                assert_eq!(buf.remaining(), 0);
                assert!(!buf.has_remaining());
                assert!(buf.chunk().is_empty());
            }

            #[test]
            fn fresh_state() {
                let buf = $make_input(INPUT);
                assert_eq!(buf.remaining(), 64);
                assert!(buf.has_remaining());

                let chunk = buf.chunk();
                assert!(chunk.len() <= 64);
                assert!(INPUT.starts_with(chunk));
            }

            #[test]
            fn advance() {
                let mut buf = $make_input(INPUT);
                buf.advance(8);
                assert_eq!(buf.remaining(), 64 - 8);
                assert!(buf.has_remaining());

                let chunk = buf.chunk();
                assert!(chunk.len() <= 64 - 8);
                assert!(INPUT[8..].starts_with(chunk));
            }

            #[test]
            fn advance_to_end() {
                let mut buf = $make_input(INPUT);
                buf.advance(64);
                assert_eq!(buf.remaining(), 0);
                assert!(!buf.has_remaining());

                let chunk = buf.chunk();
                assert!(chunk.is_empty());
            }

            #[test]
            #[should_panic = "cannot advance past `remaining`: 65 <= 64"]
            fn advance_past_end() {
                let mut buf = $make_input(INPUT);
                buf.advance(65);
            }

            #[test]
            fn chunks_vectored_empty() {
                let buf = $make_input(&[]);
                let mut bufs = [IoSlice::new(&[]); 16];

                let n = buf.chunks_vectored(&mut bufs);
                assert_eq!(n, 0);
                assert!(bufs.iter().all(|buf| buf.is_empty()));
            }

            #[test]
            fn chunks_vectored_is_complete() {
                let buf = $make_input(INPUT);
                let mut bufs = [IoSlice::new(&[]); 16];

                let n = buf.chunks_vectored(&mut bufs);
                assert!(n > 0);
                assert!(n <= 16);

                let bufs_concat = bufs[..n]
                    .iter()
                    .flat_map(|b| b.iter().copied())
                    .collect::<Vec<u8>>();
                if $checks_vectored_is_complete {
                    assert_eq!(bufs_concat, INPUT);
                } else {
                    // If this panics then `buf` implements `chunks_vectored`.
                    // Remove the `false` argument from `buf_tests!` for that type.
                    assert!(bufs_concat.len() < INPUT.len());
                    assert!(INPUT.starts_with(&bufs_concat));
                }

                for buf in &bufs[n..] {
                    assert!(buf.is_empty());
                }
            }

            #[test]
            fn copy_to_slice() {
                let mut buf = $make_input(INPUT);

                let mut chunk = [0u8; 8];
                buf.copy_to_slice(&mut chunk);
                assert_eq!(buf.remaining(), 64 - 8);
                assert!(buf.has_remaining());
                assert_eq!(chunk, INPUT[..8]);

                let chunk = buf.chunk();
                assert!(chunk.len() <= 64 - 8);
                assert!(INPUT[8..].starts_with(chunk));
            }

            #[test]
            fn copy_to_slice_big() {
                let mut buf = $make_input(INPUT);

                let mut chunk = [0u8; 56];
                buf.copy_to_slice(&mut chunk);
                assert_eq!(buf.remaining(), 64 - 56);
                assert!(buf.has_remaining());
                assert_eq!(chunk, INPUT[..56]);

                let chunk = buf.chunk();
                assert!(chunk.len() <= 64 - 56);
                assert!(INPUT[56..].starts_with(chunk));
            }

            #[test]
            fn copy_to_slice_to_end() {
                let mut buf = $make_input(INPUT);

                let mut chunk = [0u8; 64];
                buf.copy_to_slice(&mut chunk);
                assert_eq!(buf.remaining(), 0);
                assert!(!buf.has_remaining());
                assert_eq!(chunk, INPUT);

                assert!(buf.chunk().is_empty());
            }

            #[test]
            #[should_panic = "advance out of bounds: the len is 64 but advancing by 65"]
            fn copy_to_slice_overflow() {
                let mut buf = $make_input(INPUT);

                let mut chunk = [0u8; 65];
                buf.copy_to_slice(&mut chunk);
            }

            #[test]
            fn copy_to_bytes() {
                let mut buf = $make_input(INPUT);

                let chunk = buf.copy_to_bytes(8);
                assert_eq!(buf.remaining(), 64 - 8);
                assert!(buf.has_remaining());
                assert_eq!(chunk, INPUT[..8]);

                let chunk = buf.chunk();
                assert!(chunk.len() <= 64 - 8);
                assert!(INPUT[8..].starts_with(chunk));
            }

            #[test]
            fn copy_to_bytes_big() {
                let mut buf = $make_input(INPUT);

                let chunk = buf.copy_to_bytes(56);
                assert_eq!(buf.remaining(), 64 - 56);
                assert!(buf.has_remaining());
                assert_eq!(chunk, INPUT[..56]);

                let chunk = buf.chunk();
                assert!(chunk.len() <= 64 - 56);
                assert!(INPUT[56..].starts_with(chunk));
            }

            #[test]
            fn copy_to_bytes_to_end() {
                let mut buf = $make_input(INPUT);

                let chunk = buf.copy_to_bytes(64);
                assert_eq!(buf.remaining(), 0);
                assert!(!buf.has_remaining());
                assert_eq!(chunk, INPUT);

                assert!(buf.chunk().is_empty());
            }

            #[test]
            #[should_panic]
            fn copy_to_bytes_overflow() {
                let mut buf = $make_input(INPUT);

                let _ = buf.copy_to_bytes(65);
            }

            #[test]
            #[should_panic = "split_to out of bounds: 65 <= 64"]
            fn copy_to_bytes_overflow_message() {
                // Not in bytes' suite (its test is a bare should_panic).
                let mut buf = $make_input(INPUT);

                let _ = buf.copy_to_bytes(65);
            }

            buf_tests!(number $make_input, get_u8, get_u8_overflow, u8, get_u8, 0xff);
            buf_tests!(number $make_input, get_i8, get_i8_overflow, i8, get_i8, 0xffu8 as i8);
            buf_tests!(number $make_input, get_u16_be, get_u16_be_overflow, u16, get_u16, 0xff46);
            buf_tests!(number $make_input, get_u16_le, get_u16_le_overflow, u16, get_u16_le, 0x46ff);
            buf_tests!(number $make_input, get_u16_ne, get_u16_ne_overflow, u16, get_u16_ne, e!(0xff46, 0x46ff));
            buf_tests!(number $make_input, get_i16_be, get_i16_be_overflow, i16, get_i16, 0xff46u16 as i16);
            buf_tests!(number $make_input, get_i16_le, get_i16_le_overflow, i16, get_i16_le, 0x46ff);
            buf_tests!(number $make_input, get_i16_ne, get_i16_ne_overflow, i16, get_i16_ne, e!(0xff46u16 as i16, 0x46ff));
            buf_tests!(number $make_input, get_u32_be, get_u32_be_overflow, u32, get_u32, 0xff467172);
            buf_tests!(number $make_input, get_u32_le, get_u32_le_overflow, u32, get_u32_le, 0x727146ff);
            buf_tests!(number $make_input, get_u32_ne, get_u32_ne_overflow, u32, get_u32_ne, e!(0xff467172, 0x727146ff));
            buf_tests!(number $make_input, get_i32_be, get_i32_be_overflow, i32, get_i32, 0xff467172u32 as i32);
            buf_tests!(number $make_input, get_i32_le, get_i32_le_overflow, i32, get_i32_le, 0x727146ff);
            buf_tests!(number $make_input, get_i32_ne, get_i32_ne_overflow, i32, get_i32_ne, e!(0xff467172u32 as i32, 0x727146ff));
            buf_tests!(number $make_input, get_u64_be, get_u64_be_overflow, u64, get_u64, 0xff4671726a724471);
            buf_tests!(number $make_input, get_u64_le, get_u64_le_overflow, u64, get_u64_le, 0x7144726a727146ff);
            buf_tests!(number $make_input, get_u64_ne, get_u64_ne_overflow, u64, get_u64_ne, e!(0xff4671726a724471, 0x7144726a727146ff));
            buf_tests!(number $make_input, get_i64_be, get_i64_be_overflow, i64, get_i64, 0xff4671726a724471u64 as i64);
            buf_tests!(number $make_input, get_i64_le, get_i64_le_overflow, i64, get_i64_le, 0x7144726a727146ff);
            buf_tests!(number $make_input, get_i64_ne, get_i64_ne_overflow, i64, get_i64_ne, e!(0xff4671726a724471u64 as i64, 0x7144726a727146ff));
            buf_tests!(number $make_input, get_u128_be, get_u128_be_overflow, u128, get_u128, 0xff4671726a7244715068765463343576);
            buf_tests!(number $make_input, get_u128_le, get_u128_le_overflow, u128, get_u128_le, 0x76353463547668507144726a727146ff);
            buf_tests!(number $make_input, get_u128_ne, get_u128_ne_overflow, u128, get_u128_ne, e!(0xff4671726a7244715068765463343576, 0x76353463547668507144726a727146ff));
            buf_tests!(number $make_input, get_i128_be, get_i128_be_overflow, i128, get_i128, 0xff4671726a7244715068765463343576u128 as i128);
            buf_tests!(number $make_input, get_i128_le, get_i128_le_overflow, i128, get_i128_le, 0x76353463547668507144726a727146ff);
            buf_tests!(number $make_input, get_i128_ne, get_i128_ne_overflow, i128, get_i128_ne, e!(0xff4671726a7244715068765463343576u128 as i128, 0x76353463547668507144726a727146ff));
            buf_tests!(number $make_input, get_f32_be, get_f32_be_overflow, f32, get_f32, f32::from_bits(0xff467172));
            buf_tests!(number $make_input, get_f32_le, get_f32_le_overflow, f32, get_f32_le, f32::from_bits(0x727146ff));
            buf_tests!(number $make_input, get_f32_ne, get_f32_ne_overflow, f32, get_f32_ne, f32::from_bits(e!(0xff467172, 0x727146ff)));
            buf_tests!(number $make_input, get_f64_be, get_f64_be_overflow, f64, get_f64, f64::from_bits(0xff4671726a724471));
            buf_tests!(number $make_input, get_f64_le, get_f64_le_overflow, f64, get_f64_le, f64::from_bits(0x7144726a727146ff));
            buf_tests!(number $make_input, get_f64_ne, get_f64_ne_overflow, f64, get_f64_ne, f64::from_bits(e!(0xff4671726a724471, 0x7144726a727146ff)));

            buf_tests!(var_number $make_input, get_uint_be, get_uint_be_zero, get_uint_be_overflow, u64, get_uint, 3, 0xff4671);
            buf_tests!(var_number $make_input, get_uint_le, get_uint_le_zero, get_uint_le_overflow, u64, get_uint_le, 3, 0x7146ff);
            buf_tests!(var_number $make_input, get_uint_ne, get_uint_ne_zero, get_uint_ne_overflow, u64, get_uint_ne, 3, e!(0xff4671, 0x7146ff));
            buf_tests!(var_number $make_input, get_int_be, get_int_be_zero, get_int_be_overflow, i64, get_int, 3, 0xffffffffffff4671u64 as i64);
            buf_tests!(var_number $make_input, get_int_le, get_int_le_zero, get_int_le_overflow, i64, get_int_le, 3, 0x7146ff);
            buf_tests!(var_number $make_input, get_int_ne, get_int_ne_zero, get_int_ne_overflow, i64, get_int_ne, 3, e!(0xffffffffffff4671u64 as i64, 0x7146ff));
        };
        (number $make_input:ident, $ok_name:ident, $panic_name:ident, $number:ty, $method:ident, $value:expr) => {
            #[test]
            fn $ok_name() {
                let mut buf = $make_input(INPUT);

                let value = buf.$method();
                assert_eq!(buf.remaining(), 64 - mem::size_of::<$number>());
                assert!(buf.has_remaining());
                assert_eq!(value, $value);
            }

            #[test]
            #[should_panic]
            fn $panic_name() {
                let mut buf = $make_input(&[]);

                let _ = buf.$method();
            }
        };
        (var_number $make_input:ident, $ok_name:ident, $ok_zero_name:ident, $panic_name:ident, $number:ty, $method:ident, $len:expr, $value:expr) => {
            #[test]
            fn $ok_name() {
                let mut buf = $make_input(INPUT);

                let value = buf.$method($len);
                assert_eq!(buf.remaining(), 64 - $len);
                assert!(buf.has_remaining());
                assert_eq!(value, $value);
            }

            // Regression test for https://github.com/tokio-rs/bytes/issues/798
            #[test]
            fn $ok_zero_name() {
                let mut buf = $make_input(INPUT);

                let value = buf.$method(0);
                assert_eq!(buf.remaining(), 64);
                assert!(buf.has_remaining());
                assert_eq!(value, 0);
            }

            #[test]
            #[should_panic]
            fn $panic_name() {
                let mut buf = $make_input(&[]);

                let _ = buf.$method($len);
            }
        };
    }

    /// bytes' `mod bytes`.
    mod pooled_bytes {
        fn make_input(buf: &'static [u8]) -> impl Buf {
            Pool::global().copy_from_slice(buf).freeze()
        }

        buf_tests!(make_input);
    }

    /// bytes' `mod bytes_mut`.
    mod pooled_bytes_mut {
        fn make_input(buf: &'static [u8]) -> impl Buf {
            Pool::global().copy_from_slice(buf)
        }

        buf_tests!(make_input);
    }

    #[test]
    fn copy_to_bytes_mut() {
        let pool = Pool::new();
        let mut bytes_mut = mut_from(&pool, b"foobar".as_slice());
        let ptr = bytes_mut.as_ptr();
        let ret = bytes_mut.copy_to_bytes(bytes_mut.len());
        assert_eq!(ret.as_ptr(), ptr);
        drop(bytes_mut);
        // tidebuf: the returned `Bytes` is owner-backed, so
        // `BytesMut::from` copies it (bytes: same pointer)...
        let bytes_mut2 = BytesMut::from(ret);
        assert_ne!(bytes_mut2.as_ptr(), ptr);
        assert_eq!(bytes_mut2, b"foobar"[..]);
        // ...the pooled round trip that keeps the memory is
        // split/freeze/try_into_mut.
        let mut bytes_mut = mut_from(&pool, b"foobar".as_slice());
        let ptr = bytes_mut.as_ptr();
        let ret = bytes_mut.split_to(bytes_mut.len()).freeze();
        assert_eq!(ret.as_ptr(), ptr);
        drop(bytes_mut);
        let bytes_mut2 = ret.try_into_mut().unwrap();
        assert_eq!(bytes_mut2.as_ptr(), ptr);
    }

    #[test]
    fn try_get_int_sign_extends() {
        // (bytes runs this on `&[u8]`; here on the pooled types, through
        // the same default `Buf` methods.)
        use ::bytes::TryGetError;
        let pool = Pool::new();
        // 3-byte big-endian 0xffffff == -1; must match get_int
        let mut a = bytes_from(&pool, &[0xff, 0xff, 0xff][..]);
        assert_eq!(a.try_get_int(3), Ok(-1));
        assert_eq!(a.remaining(), 0);
        let mut ctrl = mut_from(&pool, &[0xff, 0xff, 0xff][..]);
        assert_eq!(ctrl.get_int(3), -1);
        // little-endian variant
        let mut le = bytes_from(&pool, &[0xff, 0xff, 0xff][..]);
        assert_eq!(le.try_get_int_le(3), Ok(-1));
        // native-endian delegates
        let mut ne = mut_from(&pool, &[0xff, 0xff, 0xff][..]);
        assert_eq!(ne.try_get_int_ne(3), Ok(-1));
        // positive value unchanged
        let mut pos = bytes_from(&pool, &[0x01, 0x02, 0x03][..]);
        assert_eq!(pos.try_get_int(3), Ok(0x010203));
        // full width
        let mut full = mut_from(&pool, &[0xff; 8][..]);
        assert_eq!(full.try_get_int(8), Ok(-1));
        // insufficient data still errors with the documented shape
        let mut short = bytes_from(&pool, &[0x01, 0x02, 0x03][..]);
        assert_eq!(
            short.try_get_int(4),
            Err(TryGetError {
                requested: 4,
                available: 3
            })
        );
    }
}

// ---------------------------------------------------------------------------
// tests/test_buf_mut.rs: `BufMut` on PooledBytesMut
// ---------------------------------------------------------------------------

mod test_buf_mut {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn test_vec_as_mut_buf() {
        // (bytes runs this on a `Vec`; here on a PooledBytesMut.)
        let pool = Pool::new();
        let mut buf = pool.alloc(64);

        assert_eq!(buf.remaining_mut(), isize::MAX as usize);

        assert!(buf.chunk_mut().len() >= 64);

        buf.put(&b"zomg"[..]);

        assert_eq!(&buf, b"zomg");

        assert_eq!(buf.remaining_mut(), isize::MAX as usize - 4);
        assert_eq!(buf.capacity(), 64);

        for _ in 0..16 {
            buf.put(&b"zomg"[..]);
        }

        assert_eq!(buf.len(), 68);
    }

    #[test]
    fn test_vec_put_bytes() {
        // (bytes: on a `Vec`.)
        let mut buf = PooledBytesMut::default();
        buf.put_u8(17);
        buf.put_bytes(19, 2);
        assert_eq!([17, 19, 19], &buf[..]);
    }

    #[test]
    fn test_put_u8() {
        // (bytes: on a `Vec`.)
        let pool = Pool::new();
        let mut buf = pool.alloc(8);
        buf.put_u8(33);
        assert_eq!(b"\x21", &buf[..]);
    }

    #[test]
    fn test_put_i8_negative() {
        let mut buf = PooledBytesMut::default();
        buf.put_i8(-1);
        buf.put_i8(i8::MIN);
        assert_eq!(b"\xff\x80", &buf[..]);
    }

    #[test]
    fn test_put_u8_grow_from_empty() {
        let expected: Vec<u8> = (0..=255).collect();

        let mut vec = Vec::new();
        let mut buf = PooledBytesMut::default();
        assert_eq!(buf.capacity(), 0);
        for &n in &expected {
            vec.put_u8(n);
            buf.put_u8(n);
        }
        assert_eq!(expected, vec);
        assert_eq!(expected, buf);
    }

    #[test]
    fn test_bytes_mut_put_u8_after_split() {
        let pool = Pool::new();
        // The front half has no spare capacity after `split_to`, so writing to it
        // must reallocate rather than clobber the back half.
        let mut back = mut_from(&pool, &b"abcdef"[..]);
        let mut front = back.split_to(3);
        assert_eq!(front.capacity(), 3);
        front.put_u8(b'X');
        back.put_u8(b'Y');
        assert_eq!(b"abcX", &front[..]);
        assert_eq!(b"defY", &back[..]);

        // `split` leaves the spare capacity with the now-empty original, so this
        // writes in place at a non-zero offset into the shared allocation.
        let mut buf = pool.alloc(8);
        buf.put_slice(b"abc");
        let front = buf.split();
        // tidebuf: `split` left `buf` with zero bytes: it holds no memory
        // (capacity 0), and the next write grows it in the same pool
        // instead of writing in place (bytes: capacity > 0, same pointer).
        assert_eq!(buf.capacity(), 0);
        buf.put_u8(b'Z');
        assert!(buf.capacity() > 0);
        assert_eq!(b"abc", &front[..]);
        assert_eq!(b"Z", &buf[..]);
    }

    #[test]
    fn test_put_u16() {
        // (bytes: on a `Vec`.)
        let pool = Pool::new();
        let mut buf = pool.alloc(8);
        buf.put_u16(8532);
        assert_eq!(b"\x21\x54", &buf[..]);

        buf.clear();
        buf.put_u16_le(8532);
        assert_eq!(b"\x54\x21", &buf[..]);
    }

    #[test]
    fn test_put_int() {
        // (bytes: on a `Vec`.)
        let pool = Pool::new();
        let mut buf = pool.alloc(8);
        buf.put_int(0x1020304050607080, 3);
        assert_eq!(b"\x60\x70\x80", &buf[..]);
    }

    #[test]
    #[should_panic = "size too large"]
    fn test_put_int_nbytes_overflow() {
        // (bytes: on a `Vec`.)
        let pool = Pool::new();
        let mut buf = pool.alloc(8);
        buf.put_int(0x1020304050607080, 9);
    }

    #[test]
    fn test_put_int_le() {
        // (bytes: on a `Vec`.)
        let pool = Pool::new();
        let mut buf = pool.alloc(8);
        buf.put_int_le(0x1020304050607080, 3);
        assert_eq!(b"\x80\x70\x60", &buf[..]);
    }

    #[test]
    #[should_panic = "size too large"]
    fn test_put_int_le_nbytes_overflow() {
        // (bytes: on a `Vec`.)
        let pool = Pool::new();
        let mut buf = pool.alloc(8);
        buf.put_int_le(0x1020304050607080, 9);
    }

    #[test]
    fn test_clone() {
        let pool = Pool::new();
        let mut buf = pool.alloc(100);
        buf.write_str("this is a test").unwrap();
        let buf2 = buf.clone();
        // A copy: its own memory, the same bytes.
        assert_ne!(buf.as_ptr(), buf2.as_ptr());
        assert_eq!(buf, buf2);

        buf.write_str(" of our emergency broadcast system").unwrap();
        assert!(buf != buf2);
    }

    /// Test if with zero capacity BytesMut does not infinitely recurse in put from Buf
    #[test]
    fn test_bytes_mut_reuse() {
        let mut buf = PooledBytesMut::default();
        buf.put(&[] as &[u8]);
        let mut buf = PooledBytesMut::default();
        buf.put(&[1u8, 2, 3] as &[u8]);
    }
}

// ---------------------------------------------------------------------------
// tests/test_debug.rs and tests/test_iter.rs
// ---------------------------------------------------------------------------

mod test_debug {
    use super::*;

    #[test]
    fn fmt() {
        let vec: Vec<_> = (0..0x100).map(|b| b as u8).collect();

        let expected = "b\"\
        \\0\\x01\\x02\\x03\\x04\\x05\\x06\\x07\
        \\x08\\t\\n\\x0b\\x0c\\r\\x0e\\x0f\
        \\x10\\x11\\x12\\x13\\x14\\x15\\x16\\x17\
        \\x18\\x19\\x1a\\x1b\\x1c\\x1d\\x1e\\x1f\
        \x20!\\\"#$%&'()*+,-./0123456789:;<=>?\
        @ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_\
        `abcdefghijklmnopqrstuvwxyz{|}~\\x7f\
        \\x80\\x81\\x82\\x83\\x84\\x85\\x86\\x87\
        \\x88\\x89\\x8a\\x8b\\x8c\\x8d\\x8e\\x8f\
        \\x90\\x91\\x92\\x93\\x94\\x95\\x96\\x97\
        \\x98\\x99\\x9a\\x9b\\x9c\\x9d\\x9e\\x9f\
        \\xa0\\xa1\\xa2\\xa3\\xa4\\xa5\\xa6\\xa7\
        \\xa8\\xa9\\xaa\\xab\\xac\\xad\\xae\\xaf\
        \\xb0\\xb1\\xb2\\xb3\\xb4\\xb5\\xb6\\xb7\
        \\xb8\\xb9\\xba\\xbb\\xbc\\xbd\\xbe\\xbf\
        \\xc0\\xc1\\xc2\\xc3\\xc4\\xc5\\xc6\\xc7\
        \\xc8\\xc9\\xca\\xcb\\xcc\\xcd\\xce\\xcf\
        \\xd0\\xd1\\xd2\\xd3\\xd4\\xd5\\xd6\\xd7\
        \\xd8\\xd9\\xda\\xdb\\xdc\\xdd\\xde\\xdf\
        \\xe0\\xe1\\xe2\\xe3\\xe4\\xe5\\xe6\\xe7\
        \\xe8\\xe9\\xea\\xeb\\xec\\xed\\xee\\xef\
        \\xf0\\xf1\\xf2\\xf3\\xf4\\xf5\\xf6\\xf7\
        \\xf8\\xf9\\xfa\\xfb\\xfc\\xfd\\xfe\\xff\"";

        let pool = Pool::new();
        assert_eq!(expected, format!("{:?}", bytes_from(&pool, &vec)));
        assert_eq!(expected, format!("{:?}", mut_from(&pool, &vec)));
        // And byte for byte what bytes prints.
        assert_eq!(expected, format!("{:?}", Bytes::from(vec)));
    }
}

mod test_iter {
    use super::*;
    use bytes::buf::IntoIter;

    #[test]
    fn iter_len() {
        let pool = Pool::new();
        let buf = bytes_from(&pool, b"hello world");
        let iter = IntoIter::new(buf);

        assert_eq!(iter.size_hint(), (11, Some(11)));
        assert_eq!(iter.len(), 11);

        // The same through `IntoIterator`, for both types.
        let iter = bytes_from(&pool, b"hello world").into_iter();
        assert_eq!(iter.size_hint(), (11, Some(11)));
        assert_eq!(iter.len(), 11);
        let iter = mut_from(&pool, b"hello world").into_iter();
        assert_eq!(iter.size_hint(), (11, Some(11)));
        assert_eq!(iter.len(), 11);
    }

    #[test]
    fn empty_iter_len() {
        let buf = PooledBytes::new();
        let iter = IntoIter::new(buf);

        assert_eq!(iter.size_hint(), (0, Some(0)));
        assert_eq!(iter.len(), 0);

        let iter = PooledBytesMut::default().into_iter();
        assert_eq!(iter.size_hint(), (0, Some(0)));
        assert_eq!(iter.len(), 0);
    }
}

// ---------------------------------------------------------------------------
// Beyond bytes' suite: the traits and round trips the pooled types share with
// `bytes`, checked against `bytes` itself where it has them.
// ---------------------------------------------------------------------------

mod traits {
    use super::*;
    use std::cmp::Ordering;
    use std::collections::hash_map::DefaultHasher;
    use std::collections::{HashMap, HashSet};
    use std::hash::{Hash, Hasher};

    #[test]
    fn lower_upper_hex() {
        let pool = Pool::new();
        let all: Vec<u8> = (0..=255).collect();
        for data in [&b""[..], &b"\x00\x0f\xab\xff"[..], &all[..]] {
            let lower = format!("{:x}", Bytes::copy_from_slice(data));
            let upper = format!("{:X}", Bytes::copy_from_slice(data));
            assert_eq!(format!("{:x}", bytes_from(&pool, data)), lower);
            assert_eq!(format!("{:X}", bytes_from(&pool, data)), upper);
            assert_eq!(format!("{:x}", mut_from(&pool, data)), lower);
            assert_eq!(format!("{:X}", mut_from(&pool, data)), upper);
        }
        assert_eq!(
            format!("{:x}", bytes_from(&pool, b"\x00\x0f\xab")),
            "000fab"
        );
        assert_eq!(format!("{:X}", mut_from(&pool, b"\x00\x0f\xab")), "000FAB");
    }

    #[test]
    fn debug_of_empty_views() {
        let pool = Pool::new();
        assert_eq!(format!("{:?}", PooledBytes::new()), "b\"\"");
        assert_eq!(format!("{:?}", PooledBytesMut::default()), "b\"\"");
        let mut buf = mut_from(&pool, b"x");
        let _ = buf.split();
        assert_eq!(format!("{:?}", buf), "b\"\"");
    }

    #[test]
    fn len_is_empty() {
        let pool = Pool::new();
        assert!(PooledBytes::new().is_empty());
        assert_eq!(PooledBytes::default().len(), 0);
        assert!(PooledBytesMut::default().is_empty());
        let mut buf = pool.alloc(64);
        assert!(buf.is_empty());
        buf.put_slice(b"abc");
        assert_eq!((buf.len(), buf.is_empty()), (3, false));
        let frozen = buf.freeze();
        assert_eq!((frozen.len(), frozen.is_empty()), (3, false));
    }

    /// `a` against `b` both ways (`==`, `!=`, `partial_cmp`, `<`, `>=`), as
    /// the plain byte strings compare.
    fn check_cmp<A, B>(a: &A, b: &B)
    where
        A: PartialEq<B> + PartialOrd<B> + AsRef<[u8]> + ?Sized,
        B: PartialEq<A> + PartialOrd<A> + AsRef<[u8]> + ?Sized,
    {
        let (x, y) = (a.as_ref(), b.as_ref());
        let ctx = format!("{x:?} vs {y:?}");
        assert_eq!(a == b, x == y, "{ctx}");
        assert_eq!(b == a, x == y, "{ctx}");
        assert_eq!(a != b, x != y, "{ctx}");
        assert_eq!(b != a, x != y, "{ctx}");
        assert_eq!(PartialOrd::partial_cmp(a, b), x.partial_cmp(y), "{ctx}");
        assert_eq!(PartialOrd::partial_cmp(b, a), y.partial_cmp(x), "{ctx}");
        assert_eq!(a < b, x < y, "{ctx}");
        assert_eq!(b < a, y < x, "{ctx}");
        assert_eq!(a >= b, x >= y, "{ctx}");
        assert_eq!(b >= a, y >= x, "{ctx}");
    }

    /// `a` against `b` one way (for right-hand sides that implement no
    /// comparison with the pooled types, such as `&[u8; N]`).
    fn check_cmp_one_way<A, B>(a: &A, b: &B)
    where
        A: PartialEq<B> + PartialOrd<B> + AsRef<[u8]> + ?Sized,
        B: AsRef<[u8]> + ?Sized,
    {
        let (x, y) = (a.as_ref(), b.as_ref());
        let ctx = format!("{x:?} vs {y:?}");
        assert_eq!(a == b, x == y, "{ctx}");
        assert_eq!(a != b, x != y, "{ctx}");
        assert_eq!(PartialOrd::partial_cmp(a, b), x.partial_cmp(y), "{ctx}");
        assert_eq!(a < b, x < y, "{ctx}");
        assert_eq!(a >= b, x >= y, "{ctx}");
    }

    /// Every comparison both pooled types have, against every right-hand
    /// side that `bytes` compares with.
    macro_rules! check_all {
        ($p:expr, $s:expr) => {{
            let p = &$p;
            let s: &'static str = $s;
            check_cmp(p, s.as_bytes()); // [u8]
            check_cmp(p, &s.as_bytes()); // &[u8]
            check_cmp(p, &s.as_bytes().to_vec()); // Vec<u8>
            check_cmp(p, s); // str
            check_cmp(p, &s); // &str
            check_cmp(p, &s.to_string()); // String
            check_cmp(p, &Bytes::from_static(s.as_bytes())); // bytes::Bytes
            check_cmp(p, &BytesMut::from(s)); // bytes::BytesMut
        }};
    }

    const STRINGS: [&str; 8] = ["", "a", "ab", "abc", "abd", "abcd", "b", "\u{ff}"];

    #[test]
    fn partial_eq_partial_ord_with_byte_strings() {
        let pool = Pool::new();
        for l in STRINGS {
            for r in STRINGS {
                check_all!(bytes_from(&pool, l.as_bytes()), r);
                check_all!(mut_from(&pool, l.as_bytes()), r);
                // Each other, both directions, and each with itself.
                check_cmp(
                    &bytes_from(&pool, l.as_bytes()),
                    &mut_from(&pool, r.as_bytes()),
                );
                check_cmp(
                    &mut_from(&pool, l.as_bytes()),
                    &bytes_from(&pool, r.as_bytes()),
                );
                check_cmp(
                    &bytes_from(&pool, l.as_bytes()),
                    &bytes_from(&pool, r.as_bytes()),
                );
                check_cmp(
                    &mut_from(&pool, l.as_bytes()),
                    &mut_from(&pool, r.as_bytes()),
                );
            }
        }
    }

    #[test]
    fn partial_eq_partial_ord_with_arrays() {
        let pool = Pool::new();
        for l in STRINGS {
            let p = bytes_from(&pool, l.as_bytes());
            let m = mut_from(&pool, l.as_bytes());
            // [u8; N] (both ways; bytes has no array comparisons, tidebuf
            // adds them) and &[u8; N] (one way: nothing implements
            // `&[u8; N] == PooledBytes`, as for `Bytes`).
            check_cmp(&p, b"ab");
            check_cmp(&p, b"abc");
            check_cmp(&p, b"");
            check_cmp_one_way(&p, &b"ab");
            check_cmp_one_way(&p, &b"abd");
            check_cmp(&m, b"ab");
            check_cmp(&m, b"abc");
            check_cmp(&m, b"");
            check_cmp_one_way(&m, &b"ab");
            check_cmp_one_way(&m, &b"abd");
        }
        // The forms bytes' own tests write.
        let p = bytes_from(&pool, b"abc");
        assert_eq!(p, *b"abc");
        assert_eq!(*b"abc", p);
        assert_eq!(p, b"abc");
        assert!(p < *b"abd");
        assert!(*b"abd" > p);
        assert!(p == "abc");
        assert!("abc" == p);
        assert!(p == *"abc");
        assert!(*"abc" == p);
        let owned = String::from("abc");
        assert!(p == owned);
        assert!(owned == p);
        assert!(p < "abd");
        assert!("abd" > p);
    }

    #[test]
    fn eq_ord() {
        let pool = Pool::new();
        let mut pooled: Vec<PooledBytes> = STRINGS
            .iter()
            .rev()
            .map(|s| bytes_from(&pool, s.as_bytes()))
            .collect();
        let mut muts: Vec<PooledBytesMut> = STRINGS
            .iter()
            .rev()
            .map(|s| mut_from(&pool, s.as_bytes()))
            .collect();
        let mut plain: Vec<&[u8]> = STRINGS.iter().rev().map(|s| s.as_bytes()).collect();
        pooled.sort();
        muts.sort();
        plain.sort();
        let sorted: Vec<&[u8]> = pooled.iter().map(|b| &b[..]).collect();
        assert_eq!(sorted, plain);
        let sorted: Vec<&[u8]> = muts.iter().map(|b| &b[..]).collect();
        assert_eq!(sorted, plain);
        for (a, x) in pooled.iter().zip(&plain) {
            for (b, y) in pooled.iter().zip(&plain) {
                assert_eq!(a.cmp(b), x.cmp(y));
                assert_eq!(a == b, x == y);
            }
        }
        for (a, x) in muts.iter().zip(&plain) {
            for (b, y) in muts.iter().zip(&plain) {
                assert_eq!(a.cmp(b), x.cmp(y));
            }
        }
        // Equal contents in different regions are equal.
        assert_eq!(
            bytes_from(&pool, b"same").cmp(&bytes_from(&pool, b"same")),
            Ordering::Equal
        );
        assert_eq!(mut_from(&pool, b"same"), mut_from(&pool, b"same"));
    }

    fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn hash_and_borrow() {
        let pool = Pool::new();
        for s in STRINGS {
            let s = s.as_bytes();
            // As `[u8]` hashes (what `Borrow<[u8]>` requires), and as bytes'
            // types hash.
            assert_eq!(hash_of(&bytes_from(&pool, s)), hash_of(s));
            assert_eq!(hash_of(&mut_from(&pool, s)), hash_of(s));
            assert_eq!(
                hash_of(&bytes_from(&pool, s)),
                hash_of(&Bytes::copy_from_slice(s))
            );
            assert_eq!(hash_of(&mut_from(&pool, s)), hash_of(&BytesMut::from(s)));
        }

        // A PooledBytes as a map key, looked up by `&[u8]`.
        let mut map: HashMap<PooledBytes, u32> = HashMap::new();
        map.insert(bytes_from(&pool, b"content-type"), 1);
        map.insert(bytes_from(&pool, b"content-length"), 2);
        let whole = bytes_from(&pool, b"xx-host-xx");
        map.insert(whole.slice(3..7), 3);
        assert_eq!(map.get(&b"content-type"[..]), Some(&1));
        assert_eq!(map.get(&b"content-length"[..]), Some(&2));
        assert_eq!(map.get(&b"host"[..]), Some(&3));
        assert_eq!(map.get(&b"content"[..]), None);
        assert_eq!(map.get(&bytes_from(&pool, b"content-type")), Some(&1));
        assert_eq!(map.remove(&b"host"[..]), Some(3));

        let mut set: HashSet<PooledBytesMut> = HashSet::new();
        assert!(set.insert(mut_from(&pool, b"a")));
        assert!(!set.insert(mut_from(&pool, b"a")));
        assert!(set.contains(&b"a"[..]));
        assert!(!set.contains(&b"b"[..]));
    }

    #[test]
    fn as_ref_borrow_deref() {
        use std::borrow::{Borrow, BorrowMut};
        let pool = Pool::new();
        let mut m = mut_from(&pool, b"abc");
        let r: &[u8] = m.as_ref();
        assert_eq!(r, b"abc");
        let r: &[u8] = m.borrow();
        assert_eq!(r, b"abc");
        m.as_mut()[0] = b'x';
        let r: &mut [u8] = m.borrow_mut();
        r[1] = b'y';
        assert_eq!(&*m, b"xyc");
        let f = m.freeze();
        let r: &[u8] = f.as_ref();
        assert_eq!(r, b"xyc");
        let r: &[u8] = f.borrow();
        assert_eq!(r, b"xyc");
    }

    #[test]
    fn into_iterator_owned_and_by_ref() {
        let pool = Pool::new();
        let m = mut_from(&pool, b"abc");
        let by_ref: Vec<&u8> = (&m).into_iter().collect();
        assert_eq!(by_ref, [&b'a', &b'b', &b'c']);
        let mut n = 0;
        for b in &m {
            assert_eq!(*b, b"abc"[n]);
            n += 1;
        }
        assert_eq!(n, 3);
        let owned: Vec<u8> = m.into_iter().collect();
        assert_eq!(owned, b"abc");

        let f = bytes_from(&pool, b"abc");
        let by_ref: Vec<&u8> = (&f).into_iter().collect();
        assert_eq!(by_ref, [&b'a', &b'b', &b'c']);
        let mut n = 0;
        for b in &f {
            assert_eq!(*b, b"abc"[n]);
            n += 1;
        }
        assert_eq!(n, 3);
        let owned: Vec<u8> = f.into_iter().collect();
        assert_eq!(owned, b"abc");

        // As bytes' own IntoIter does.
        let ours: Vec<u8> = bytes_from(&pool, LONG).into_iter().collect();
        let theirs: Vec<u8> = Bytes::from_static(LONG).into_iter().collect();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn extend_u8_ref_u8_bytes() {
        let pool = Pool::new();
        let mut ours = pool.alloc(0);
        let mut theirs = BytesMut::new();
        ours.extend(b"abc".iter().copied()); // Extend<u8>
        theirs.extend(b"abc".iter().copied());
        ours.extend(b"def"); // Extend<&u8>
        theirs.extend(b"def");
        ours.extend([Bytes::from_static(b"gh"), Bytes::new(), Bytes::from(LONG)]); // Extend<Bytes>
        theirs.extend([Bytes::from_static(b"gh"), Bytes::new(), Bytes::from(LONG)]);
        ours.extend(std::iter::empty::<u8>());
        theirs.extend(std::iter::empty::<u8>());
        assert_eq!(ours, theirs);
    }

    #[test]
    fn fmt_write_grows_past_the_class() {
        use std::fmt::Write;
        let pool = Pool::new();
        let mut buf = pool.alloc(4);
        write!(buf, "{}-{}", "x".repeat(20), 42).unwrap();
        assert_eq!(&buf[..], format!("{}-42", "x".repeat(20)).as_bytes());
        assert!(buf.capacity() >= 23);
    }
}

mod round_trips {
    use super::*;

    #[test]
    fn clone_pooled_bytes_mut_is_a_copy() {
        let pool = exact_pool();
        let mut buf = pool.alloc(64);
        buf.put_slice(b"hello");
        let mut copy = buf.clone();
        assert_ne!(copy.as_ptr(), buf.as_ptr());
        assert_eq!(copy, buf);
        // In the same pool: two regions live.
        assert_eq!(active(&pool), 64 + copy.capacity());
        copy[0] = b'j';
        copy.put_slice(b" world");
        assert_eq!(buf, b"hello"[..]);
        assert_eq!(copy, b"jello world"[..]);
        drop((buf, copy));
        assert_eq!(active(&pool), 0);

        // The clone of a view that holds nothing holds nothing either, and
        // grows in the same pool.
        let mut buf = pool.alloc(64);
        buf.put_slice(b"x");
        drop(buf.split());
        let mut copy = buf.clone();
        assert_eq!((copy.len(), copy.capacity()), (0, 0));
        assert_eq!(active(&pool), 0);
        let before = allocations(&pool);
        copy.put_slice(b"y");
        assert_eq!(allocations(&pool), before + 1);
    }

    #[test]
    fn clone_pooled_bytes_shares() {
        let pool = Pool::new();
        let a = bytes_from(&pool, b"hello");
        let b = a.clone();
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_eq!((a.ref_count(), b.ref_count()), (2, 2));
        drop(a);
        assert_eq!(b.ref_count(), 1);
    }

    #[test]
    fn freeze_try_into_mut_is_unique() {
        let pool = Pool::new();
        let mut m = pool.alloc(64);
        m.put_slice(b"hello");
        let ptr = m.as_ptr();

        let f = m.freeze();
        assert!(f.is_unique());
        assert_eq!(f.ref_count(), 1);
        assert_eq!(f.as_ptr(), ptr);

        // Unique: back without a copy, with the whole region's room.
        let mut m = f.try_into_mut().unwrap();
        assert_eq!(m.as_ptr(), ptr);
        assert_eq!(m.capacity(), 64);
        m.put_slice(b" world");
        assert_eq!(m.as_ptr(), ptr);
        assert_eq!(m, b"hello world"[..]);

        // Shared: refused, the value comes back untouched.
        let f = m.freeze();
        let g = f.clone();
        assert!(!f.is_unique());
        let f = f.try_into_mut().unwrap_err();
        assert_eq!(f, b"hello world"[..]);
        drop(g);
        assert!(f.is_unique());

        // A slice of it, once alone, converts too: from its own offset.
        let tail = f.slice(6..);
        drop(f);
        assert!(tail.is_unique());
        let tail = tail.try_into_mut().unwrap();
        assert_eq!(tail.as_ptr(), ptr.wrapping_add(6));
        assert_eq!(tail.capacity(), 64 - 6);
        assert_eq!(tail, b"world"[..]);

        // An empty PooledBytes is never unique (like an empty Bytes).
        assert!(!PooledBytes::new().is_unique());
        assert!(PooledBytes::new().try_into_mut().is_err());
        let b = Bytes::new();
        assert!(!b.is_unique());
    }

    #[test]
    fn into_bytes_and_from_are_zero_copy() {
        let pool = exact_pool();

        let m = mut_from(&pool, b"hello");
        let ptr = m.as_ptr();
        let b = m.into_bytes();
        assert_eq!(b.as_ptr(), ptr);
        assert_eq!(b, b"hello"[..]);
        // The region stays out until the last `Bytes` goes.
        assert_eq!(active(&pool), 16);
        let c = b.slice(1..);
        drop(b);
        assert_eq!(active(&pool), 16);
        drop(c);
        assert_eq!(active(&pool), 0);

        let f = bytes_from(&pool, b"hello");
        let ptr = f.as_ptr();
        let b = f.into_bytes();
        assert_eq!(b.as_ptr(), ptr);
        assert_eq!(b, b"hello"[..]);
        drop(b);

        let m = mut_from(&pool, b"hello");
        let ptr = m.as_ptr();
        let b = Bytes::from(m);
        assert_eq!(b.as_ptr(), ptr);
        drop(b);

        let f = bytes_from(&pool, b"hello");
        let ptr = f.as_ptr();
        let b: Bytes = f.into();
        assert_eq!(b.as_ptr(), ptr);
        drop(b);
        assert_eq!(active(&pool), 0);

        // Empty: an empty `Bytes`, and no memory kept.
        let b = pool.alloc(64).into_bytes();
        assert!(b.is_empty());
        assert_eq!(active(&pool), 0);
        let b = Bytes::from(PooledBytes::new());
        assert!(b.is_empty());
    }

    #[test]
    fn copy_to_bytes_is_zero_copy() {
        let pool = Pool::new();
        let mut m = mut_from(&pool, b"hello world");
        let ptr = m.as_ptr();
        let head = m.copy_to_bytes(5);
        assert_eq!(head, b"hello"[..]);
        assert_eq!(head.as_ptr(), ptr);
        assert_eq!(m.as_ptr(), ptr.wrapping_add(5));
        let rest = m.copy_to_bytes(6);
        assert_eq!(rest.as_ptr(), ptr.wrapping_add(5));
        assert_eq!(rest, b" world"[..]);
        assert!(m.is_empty());

        let mut f = bytes_from(&pool, b"hello world");
        let ptr = f.as_ptr();
        let head = f.copy_to_bytes(5);
        assert_eq!(head.as_ptr(), ptr);
        assert_eq!(f.as_ptr(), ptr.wrapping_add(5));
        assert_eq!(f.ref_count(), 2); // `head` owns a reference
        drop(head);
        assert_eq!(f.ref_count(), 1);
    }

    #[test]
    fn buf_get_and_advance_on_pooled_bytes_mut() {
        let pool = Pool::new();
        let mut m = mut_from(&pool, b"\x01\x00\x00\x00\x02rest");
        assert_eq!(m.get_u8(), 1);
        assert_eq!(m.get_u32(), 2);
        m.advance(1);
        assert_eq!(&m[..], b"est");
        assert_eq!(m.remaining(), 3);
        assert_eq!(m.chunk(), b"est");
    }

    #[test]
    fn buf_mut_put() {
        let pool = Pool::new();
        let mut ours = pool.alloc(0);
        let mut theirs = BytesMut::new();
        for n in 0..40u8 {
            ours.put_u8(n);
            theirs.put_u8(n);
            ours.put_slice(&[n; 3]);
            theirs.put_slice(&[n; 3]);
            ours.put_bytes(n, n as usize);
            theirs.put_bytes(n, n as usize);
            ours.put_u32(u32::from(n) << 20);
            theirs.put_u32(u32::from(n) << 20);
        }
        ours.put(Bytes::from_static(b"end"));
        theirs.put(Bytes::from_static(b"end"));
        assert_eq!(ours, theirs);
    }

    #[test]
    fn reserve_after_split_to_reuses_the_front() {
        let pool = Pool::new();
        let mut bytes = pool.alloc(16);
        let addr = bytes.as_ptr() as usize;
        bytes.put("0123456789012345".as_bytes());
        let head = bytes.split_to(10);
        assert_eq!(bytes.capacity(), 6);
        assert_eq!(head, b"0123456789"[..]);
        drop(head);
        // The only view now: the freed front is reused, the bytes moved down.
        bytes.reserve(8);
        assert_eq!(bytes.capacity(), 16);
        assert_eq!(bytes.as_ptr() as usize, addr);
        assert_eq!(&bytes[..], b"012345");
    }

    #[test]
    fn reserve_after_split_to_leaves_a_live_head_alone() {
        let pool = Pool::new();
        let mut bytes = pool.alloc(16);
        let addr = bytes.as_ptr() as usize;
        bytes.put("0123456789012345".as_bytes());
        let head = bytes.split_to(10);
        // The head still lives in the front: reserve moves elsewhere.
        bytes.reserve(8);
        assert!(bytes.capacity() >= 14);
        assert_ne!(bytes.as_ptr() as usize, addr);
        assert_eq!(&bytes[..], b"012345");
        assert_eq!(head, b"0123456789"[..]);
        assert_eq!(head.as_ptr() as usize, addr);
    }

    #[test]
    fn try_unsplit_contiguous_and_not() {
        let pool = Pool::new();
        let mut buf = pool.alloc(64);
        buf.put_slice(b"aaaabbbbcccc");
        let ptr = buf.as_ptr();

        // split_off undone: O(1), same pointer, capacities add up.
        let tail = buf.split_off(4);
        let (a, b) = (buf.capacity(), tail.capacity());
        assert_eq!(a + b, 64);
        buf.try_unsplit(tail).unwrap();
        assert_eq!(buf.as_ptr(), ptr);
        assert_eq!(buf.capacity(), a + b);
        assert_eq!(buf, b"aaaabbbbcccc"[..]);

        // split_to undone (the head takes the tail back).
        let mut head = buf.split_to(8);
        let (a, b) = (head.capacity(), buf.capacity());
        head.try_unsplit(buf).unwrap();
        assert_eq!(head.as_ptr(), ptr);
        assert_eq!(head.capacity(), a + b);
        assert_eq!(head, b"aaaabbbbcccc"[..]);

        // Not adjacent (wrong order): refused, `other` given back as it was.
        let mut back = head;
        let front = back.split_to(4);
        let front = back.try_unsplit(front).unwrap_err();
        assert_eq!(front, b"aaaa"[..]);
        assert_eq!(front.as_ptr(), ptr);
        assert_eq!(back, b"bbbbcccc"[..]);
        assert_eq!(back.as_ptr(), ptr.wrapping_add(4));
        // ... `unsplit` copies instead.
        back.unsplit(front);
        assert_eq!(back, b"bbbbccccaaaa"[..]);

        // Different regions: refused; `unsplit` copies.
        let mut x = mut_from(&pool, b"xx");
        let y = mut_from(&pool, b"yy");
        let y = x.try_unsplit(y).unwrap_err();
        assert_eq!(y, b"yy"[..]);
        x.unsplit(y);
        assert_eq!(x, b"xxyy"[..]);

        // Empty sides join in O(1).
        let mut x = mut_from(&pool, b"xx");
        x.try_unsplit(PooledBytesMut::default()).unwrap();
        assert_eq!(x, b"xx"[..]);
        let mut e = PooledBytesMut::default();
        let xp = x.as_ptr();
        e.try_unsplit(x).unwrap();
        assert_eq!(e.as_ptr(), xp);
    }

    #[test]
    fn unsplit_non_contiguous_copies_and_releases_other() {
        let pool = exact_pool();
        let mut a = pool.alloc(64);
        a.put_slice(b"aaaa");
        let mut b = pool.alloc(64);
        b.put_slice(b"bbbb");
        let ptr = a.as_ptr();
        assert_eq!(active(&pool), 128);
        a.unsplit(b);
        assert_eq!(a, b"aaaabbbb"[..]);
        assert_eq!(a.as_ptr(), ptr); // it had the room: copied in place
        assert_eq!(active(&pool), 64); // `b`'s region went back
    }

    #[test]
    fn truncate_clear_resize_mut() {
        let pool = Pool::new();
        let mut ours = pool.alloc(10);
        let mut theirs = BytesMut::with_capacity(10);
        let cap = ours.capacity();
        // tidebuf: the capacity is the size class.
        assert_eq!(Some(cap), pool.capacity_for(10));

        for (len, value) in [(3, b'a'), (3, b'b'), (40, b'c'), (2, 0), (0, 1), (5, 2)] {
            ours.resize(len, value);
            theirs.resize(len, value);
            assert_eq!(ours, theirs, "resize({len}, {value})");
        }
        let cap = ours.capacity();
        ours.truncate(10);
        theirs.truncate(10);
        assert_eq!(ours, theirs);
        ours.truncate(1);
        theirs.truncate(1);
        assert_eq!(ours, theirs);
        // truncate and clear keep the capacity (documented, as for `Vec`).
        assert_eq!(ours.capacity(), cap);
        ours.clear();
        theirs.clear();
        assert_eq!(ours, theirs);
        assert!(ours.is_empty());
        assert_eq!(ours.capacity(), cap);
    }

    #[test]
    fn alloc_zeroed_is_zeroed() {
        let pool = Pool::new();
        for n in [0, 1, 15, 16, 17, 1000, 70_000] {
            let ours = pool.alloc_zeroed(n);
            assert_eq!(ours, BytesMut::zeroed(n));
            assert!(ours.capacity() >= n);
        }
    }

    #[test]
    fn extend_from_within_ranges() {
        let pool = Pool::new();
        let mut ours = mut_from(&pool, b"abcdef");
        let mut theirs = BytesMut::from(&b"abcdef"[..]);
        ours.extend_from_within(..);
        theirs.extend_from_within(..);
        ours.extend_from_within(2..);
        theirs.extend_from_within(2..);
        ours.extend_from_within(..=1);
        theirs.extend_from_within(..=1);
        ours.extend_from_within(3..3);
        theirs.extend_from_within(3..3);
        assert_eq!(ours, theirs);
    }

    #[test]
    #[should_panic = "range start must not be greater than end: 4 <= 2"]
    fn extend_from_within_decreasing() {
        let pool = Pool::new();
        let mut ours = mut_from(&pool, b"abcdef");
        #[allow(clippy::reversed_empty_ranges)]
        ours.extend_from_within(4..2);
    }

    #[test]
    fn default_and_mem_take() {
        let pool = exact_pool();
        assert_eq!(
            PooledBytesMut::default().capacity(),
            BytesMut::default().capacity()
        );

        let mut buf = mut_from(&pool, b"abc");
        let taken = mem::take(&mut buf);
        assert_eq!(taken, b"abc"[..]);
        assert!(buf.is_empty());
        assert_eq!(buf.capacity(), 0);
        assert_eq!(active(&pool), 16);
        drop(taken);
        assert_eq!(active(&pool), 0);
        // `Default` grows in `Pool::global()`, not in this pool.
        let before = allocations(&pool);
        buf.put_slice(b"x");
        assert_eq!(allocations(&pool), before);
        assert!(buf.capacity() > 0);

        let mut frozen = bytes_from(&pool, b"abc");
        let taken = mem::take(&mut frozen);
        assert_eq!(taken, b"abc"[..]);
        assert!(frozen.is_empty());
        assert_eq!(frozen.ref_count(), 0);
        assert_eq!(taken.ref_count(), 1);
        drop(taken);
        assert_eq!(active(&pool), 0);
        assert_eq!(PooledBytes::default(), PooledBytes::new());
        assert_eq!(PooledBytes::default().ref_count(), 0);
    }

    /// The same operations on a PooledBytesMut and a BytesMut give the same
    /// bytes (not the same capacities: those are size classes here).
    #[test]
    fn same_bytes_as_bytes_mut() {
        let pool = Pool::new();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % n.max(1)
        };
        let mut ours = pool.alloc(0);
        let mut theirs = BytesMut::new();
        let mut our_parts: Vec<PooledBytesMut> = Vec::new();
        let mut their_parts: Vec<BytesMut> = Vec::new();
        for step in 0..5000 {
            let len = ours.len();
            match next(11) {
                0 | 1 => {
                    let n = next(100);
                    let data: Vec<u8> = (0..n).map(|i| (step + i) as u8).collect();
                    ours.extend_from_slice(&data);
                    theirs.extend_from_slice(&data);
                }
                2 => {
                    let at = next(len + 1);
                    our_parts.push(ours.split_to(at));
                    their_parts.push(theirs.split_to(at));
                }
                3 => {
                    let at = next(len + 1);
                    our_parts.push(ours.split_off(at));
                    their_parts.push(theirs.split_off(at));
                }
                4 => {
                    let n = next(len + 1);
                    ours.advance(n);
                    theirs.advance(n);
                }
                5 => {
                    let n = next(len + 1);
                    ours.truncate(n);
                    theirs.truncate(n);
                }
                6 => {
                    let n = next(2 * len + 10);
                    ours.resize(n, step as u8);
                    theirs.resize(n, step as u8);
                }
                7 if len > 0 => {
                    let a = next(len);
                    let b = a + next(len - a + 1);
                    ours.extend_from_within(a..b);
                    theirs.extend_from_within(a..b);
                }
                8 => {
                    if let (Some(o), Some(t)) = (our_parts.pop(), their_parts.pop()) {
                        ours.unsplit(o);
                        theirs.unsplit(t);
                    }
                }
                9 => {
                    let n = next(300);
                    ours.reserve(n);
                    theirs.reserve(n);
                    assert!(ours.capacity() - ours.len() >= n);
                }
                _ => {
                    if next(3) == 0 {
                        ours = ours.freeze().try_into_mut().unwrap_or_else(|b| {
                            let mut m = pool.alloc(b.len());
                            m.extend_from_slice(&b);
                            m
                        });
                        theirs = theirs.freeze().try_into_mut().unwrap_or_else(|b| {
                            let mut m = BytesMut::with_capacity(b.len());
                            m.extend_from_slice(&b);
                            m
                        });
                    } else {
                        ours.put_u16(step as u16);
                        theirs.put_u16(step as u16);
                    }
                }
            }
            assert_eq!(ours, theirs, "step {step}");
            if our_parts.len() > 8 {
                assert_eq!(our_parts.remove(0), their_parts.remove(0));
            }
        }
        assert_eq!(our_parts, their_parts);
    }
}

// ---------------------------------------------------------------------------
// Empty views hold nothing (documented difference): the emptied side of a
// split or advance keeps no reference to the region, seen in the metrics of
// a pool without a thread cache (exact figures).
// ---------------------------------------------------------------------------

mod empty_views_hold_nothing {
    use super::*;

    /// A 64-byte region with "hello world" in it, the only thing live in
    /// `pool`.
    fn hello(pool: &Pool) -> PooledBytesMut {
        assert_eq!(active(pool), 0);
        let mut buf = pool.alloc(64);
        buf.extend_from_slice(b"hello world");
        assert_eq!(active(pool), 64);
        buf
    }

    /// `buf` (holding nothing, nothing else live) grows again in `pool`.
    fn grows_again_in(pool: &Pool, mut buf: PooledBytesMut) {
        assert_eq!(buf.capacity(), 0);
        assert_eq!(active(pool), 0);
        let before = allocations(pool);
        buf.extend_from_slice(b"again");
        assert_eq!(allocations(pool), before + 1);
        assert_eq!(active(pool), buf.capacity());
        assert_eq!(buf, b"again"[..]);
        drop(buf);
        assert_eq!(active(pool), 0);
    }

    #[test]
    fn after_split_to_len() {
        let pool = exact_pool();
        let mut buf = hello(&pool);
        let head = buf.split_to(buf.len());
        assert_eq!(buf.capacity(), 0);
        drop(head);
        assert_eq!(active(&pool), 0); // `buf` still alive
        grows_again_in(&pool, buf);
    }

    #[test]
    fn after_split() {
        let pool = exact_pool();
        let mut buf = hello(&pool);
        let head = buf.split();
        assert_eq!(head, b"hello world"[..]);
        assert_eq!(buf.capacity(), 0);
        drop(head);
        assert_eq!(active(&pool), 0);
        grows_again_in(&pool, buf);
    }

    #[test]
    fn after_split_off_0() {
        let pool = exact_pool();
        let mut buf = hello(&pool);
        let tail = buf.split_off(0);
        assert_eq!(tail, b"hello world"[..]);
        assert_eq!(buf.capacity(), 0);
        drop(tail);
        assert_eq!(active(&pool), 0);
        grows_again_in(&pool, buf);
    }

    #[test]
    fn after_advance_to_the_end_of_the_remainder() {
        let pool = exact_pool();
        let mut buf = hello(&pool);
        let head = buf.split_to(5);
        buf.advance(buf.len());
        assert_eq!(buf.capacity(), 0);
        assert_eq!(active(&pool), 64); // `head` keeps the region
        drop(head);
        assert_eq!(active(&pool), 0); // `buf` alive, holding nothing
        grows_again_in(&pool, buf);
    }

    #[test]
    fn after_advance_to_the_end_alone() {
        let pool = exact_pool();
        let mut buf = hello(&pool);
        buf.advance(buf.len());
        assert_eq!(buf.capacity(), 0);
        assert_eq!(active(&pool), 0);
        grows_again_in(&pool, buf);
    }

    #[test]
    fn after_reading_it_all_through_buf() {
        let pool = exact_pool();
        let mut buf = hello(&pool);
        let mut out = [0u8; 11];
        buf.copy_to_slice(&mut out);
        assert_eq!(&out, b"hello world");
        assert_eq!(active(&pool), 0);
        grows_again_in(&pool, buf);
    }

    #[test]
    fn head_of_split_to_0() {
        let pool = exact_pool();
        let mut buf = hello(&pool);
        let head = buf.split_to(0);
        assert_eq!(head.capacity(), 0);
        drop(buf);
        assert_eq!(active(&pool), 0); // `head` alive, holding nothing
        grows_again_in(&pool, head);
    }

    #[test]
    fn clear_and_truncate_keep_the_region() {
        // The documented exception: on a PooledBytesMut these keep it.
        let pool = exact_pool();
        let mut buf = hello(&pool);
        buf.truncate(0);
        assert_eq!(buf.capacity(), 64);
        assert_eq!(active(&pool), 64);
        buf.extend_from_slice(b"x");
        buf.clear();
        assert_eq!(buf.capacity(), 64);
        assert_eq!(active(&pool), 64);
        let before = allocations(&pool);
        buf.extend_from_slice(b"again");
        assert_eq!(allocations(&pool), before); // written in place
    }

    #[test]
    fn freeze_of_an_empty_buffer() {
        let pool = exact_pool();
        let frozen = pool.alloc(64).freeze();
        assert_eq!(frozen.ref_count(), 0);
        assert_eq!(active(&pool), 0);
    }

    #[test]
    fn pooled_bytes_slice_k_k() {
        let pool = exact_pool();
        let whole = hello(&pool).freeze();
        let empties = [whole.slice(0..0), whole.slice(3..3), whole.slice(11..11)];
        for e in &empties {
            assert!(e.is_empty());
            assert_eq!(e.ref_count(), 0);
        }
        assert_eq!(whole.ref_count(), 1);
        drop(whole);
        assert_eq!(active(&pool), 0); // the empty slices are still alive
        drop(empties);
    }

    #[test]
    fn pooled_bytes_truncate_0() {
        let pool = exact_pool();
        let mut a = hello(&pool).freeze();
        let b = a.clone();
        assert_eq!(b.ref_count(), 2);
        a.truncate(0);
        assert_eq!(a.ref_count(), 0);
        assert_eq!(b.ref_count(), 1);
        drop(b);
        assert_eq!(active(&pool), 0); // `a` alive, holding nothing
        drop(a);
    }

    #[test]
    fn pooled_bytes_every_empty_result() {
        type Empty = fn(&mut PooledBytes) -> PooledBytes;
        let cases: [(&str, Empty); 7] = [
            ("clear", |b| {
                b.clear();
                PooledBytes::new()
            }),
            ("truncate(0)", |b| {
                b.truncate(0);
                PooledBytes::new()
            }),
            ("split_to(len) leaves self empty", |b| b.split_to(b.len())),
            ("split_off(0) leaves self empty", |b| b.split_off(0)),
            ("advance(len)", |b| {
                b.advance(b.len());
                PooledBytes::new()
            }),
            ("split_to(0) returns empty", |b| {
                let e = b.split_to(0);
                mem::replace(b, e)
            }),
            ("split_off(len) returns empty", |b| {
                let e = b.split_off(b.len());
                mem::replace(b, e)
            }),
        ];
        for (name, empty) in cases {
            let pool = exact_pool();
            let mut view = hello(&pool).freeze();
            let other = empty(&mut view);
            assert!(view.is_empty(), "{name}");
            assert_eq!(view.ref_count(), 0, "{name}");
            assert_eq!(other.ref_count(), other.len().min(1), "{name}");
            drop(other);
            assert_eq!(active(&pool), 0, "{name}: the empty view pins nothing");
            drop(view);
        }
    }

    #[test]
    fn bytes_from_an_emptied_view() {
        let pool = exact_pool();
        let mut buf = hello(&pool);
        let head = buf.split().into_bytes();
        let empty = buf.into_bytes();
        assert!(empty.is_empty());
        drop(head);
        assert_eq!(active(&pool), 0);
        drop(empty);
    }
}

/// `From<_> for Vec<u8>` on both types copies the bytes out and lets go.
#[test]
fn into_vec_copies_out_and_releases() {
    let pool = Pool::builder().thread_cache(false).build().unwrap();
    let v: Vec<u8> = pool.copy_from_slice(b"abc").into();
    assert_eq!(v, b"abc");
    let frozen = pool.copy_from_slice(b"defg").freeze();
    let v: Vec<u8> = frozen.slice(1..).into();
    assert_eq!(v, b"efg");
    assert_eq!(frozen.ref_count(), 1, "the slice's reference went");
    drop(frozen);
    assert_eq!(pool.metrics().active_bytes, 0);
}
