//! PooledBytesMut / PooledBytes behaviour through the public API.

use bytes::{Buf, BufMut};
use std::io::Write;
use tidebuf::{Backing, Pool};

fn pools() -> Vec<Pool> {
    [Backing::Mmap, Backing::Heap]
        .into_iter()
        .map(|b| Pool::builder().backing(b).build().unwrap())
        .collect()
}

#[test]
fn capacity_is_the_size_class() {
    let pool = Pool::new();
    for (req, cap) in [
        (0, 16),
        (1, 16),
        (16, 16),
        (17, 32),
        (1500, 1536),
        (28 << 10, 28 << 10),
        ((28 << 10) + 1, 32 << 10),
    ] {
        let buf = pool.alloc(req);
        assert_eq!(buf.capacity(), cap, "request {req}");
        assert!(buf.is_empty());
    }
    // Huge requests get a huge class: four per doubling above the chunk.
    let chunk = pool.chunk_size();
    let huge = pool.alloc(chunk + 1);
    assert_eq!(huge.capacity(), chunk + chunk / 4);
    assert_eq!(pool.metrics().huge_buffers, 1);
}

#[test]
fn write_read_grow_all_paths() {
    for pool in pools() {
        let mut buf = pool.alloc(8);
        buf.extend_from_slice(b"0123");
        buf.put_u32(0xDEAD_BEEF);
        write!(buf, "-{}", 7).unwrap();
        assert_eq!(&buf[..8], b"0123\xDE\xAD\xBE\xEF");
        assert_eq!(&buf[8..], b"-7");
        // Grow through small, normal and into huge, keeping the contents.
        let huge = pool.chunk_size() + (1 << 20);
        let pattern: Vec<u8> = (0..huge).map(|i| (i % 251) as u8).collect();
        buf.clear();
        for piece in pattern.chunks(100_000) {
            buf.extend_from_slice(piece);
        }
        assert_eq!(buf.len(), pattern.len());
        assert!(buf[..] == pattern[..]);
        buf.truncate(3);
        assert_eq!(&buf[..], &pattern[..3]);
        buf[0] = 9;
        assert_eq!(buf[0], 9);
        drop(buf);
        assert_eq!(pool.metrics().active_bytes, 0);
    }
}

#[test]
fn bufmut_chunk_grows_when_full() {
    let pool = Pool::new();
    let mut buf = pool.alloc(16);
    buf.put_bytes(7, 16);
    assert_eq!(buf.len(), buf.capacity());
    buf.put_u8(1); // chunk_mut must make room, not panic
    assert_eq!(buf.len(), 17);
    assert!(buf.capacity() >= 32);
}

#[test]
#[should_panic(expected = "advance out of bounds: the len is 16 but advancing by 17")]
fn advance_mut_past_capacity_panics() {
    let pool = Pool::new();
    let mut buf = pool.alloc(16);
    // SAFETY: never reached: the call panics before bytes are counted.
    unsafe { buf.advance_mut(17) };
}

#[test]
#[should_panic(expected = "capacity overflow")]
fn reserve_overflow_panics_like_vec() {
    let pool = Pool::new();
    let mut buf = pool.alloc(16);
    buf.extend_from_slice(b"x");
    buf.reserve(usize::MAX);
}

#[test]
fn try_reserve_failure_leaves_buffer_intact() {
    let pool = Pool::new();
    let mut buf = pool.alloc(16);
    buf.extend_from_slice(b"keep");
    assert!(buf.try_reserve(isize::MAX as usize).is_err());
    assert_eq!(&buf[..], b"keep");
    assert_eq!(buf.capacity(), 16);
}

#[test]
fn freeze_clone_slice_refcount() {
    for pool in pools() {
        let mut buf = pool.alloc(64 << 10);
        buf.extend_from_slice(b"hello, world");
        let a = buf.freeze();
        assert_eq!(a.ref_count(), 1);
        let b = a.clone();
        let c = a.slice(7..);
        let d = c.slice(..=2);
        assert_eq!(
            (a.ref_count(), &c[..], &d[..]),
            (4, &b"world"[..], &b"wor"[..])
        );
        drop(a);
        drop(b);
        assert_eq!(d.ref_count(), 2);
        assert_eq!(pool.metrics().active_bytes, 64 << 10);
        drop(c);
        assert_eq!(pool.metrics().active_bytes, 64 << 10);
        drop(d);
        assert_eq!(pool.metrics().active_bytes, 0);
    }
}

#[test]
#[should_panic(expected = "range end out of bounds: 4 <= 3")]
fn slice_out_of_range_panics() {
    let pool = Pool::new();
    let mut buf = pool.alloc(8);
    buf.extend_from_slice(b"abc");
    let _ = buf.freeze().slice(1..4);
}

#[test]
fn buf_advance_and_copy_to_bytes_share_memory() {
    let pool = Pool::new();
    let mut buf = pool.alloc(32);
    buf.extend_from_slice(b"headbodytail");
    let mut frozen = buf.freeze();
    let base = frozen.as_ptr() as usize;
    frozen.advance(4);
    let body = frozen.copy_to_bytes(4);
    assert_eq!(&body[..], b"body");
    assert_eq!(
        body.as_ptr() as usize,
        base + 4,
        "copy_to_bytes must not copy"
    );
    assert_eq!(frozen.remaining(), 4);
    assert_eq!(frozen.chunk(), b"tail");
    drop(frozen);
    assert_eq!(
        pool.metrics().active_bytes,
        32,
        "the Bytes still holds the region"
    );
    drop(body);
    assert_eq!(pool.metrics().active_bytes, 0);
}

#[test]
fn into_bytes_is_zero_copy() {
    let pool = Pool::new();
    let mut buf = pool.alloc(5000);
    buf.extend_from_slice(&[42; 5000]);
    let frozen = buf.freeze();
    let ptr = frozen.as_ptr();
    let bytes: bytes::Bytes = frozen.into();
    assert_eq!(bytes.as_ptr(), ptr);
    let half = bytes.slice(2500..);
    drop(bytes);
    assert_eq!(pool.metrics().active_bytes, 5120);
    drop(half);
    assert_eq!(pool.metrics().active_bytes, 0);
}

#[test]
fn release_from_another_thread() {
    let pool = Pool::builder().arenas(2).build().unwrap();
    let bufs: Vec<_> = (0..1000)
        .map(|i| {
            let mut b = pool.alloc(1 + i * 37 % 70_000);
            b.extend_from_slice(&[i as u8; 1]);
            if i % 2 == 0 {
                either::Left(b)
            } else {
                either::Right(b.freeze())
            }
        })
        .collect();
    std::thread::spawn(move || drop(bufs)).join().unwrap();
    let m = pool.metrics();
    assert_eq!(m.active_bytes, 0);
    assert_eq!(m.allocations.total(), m.deallocations.total());
}

mod either {
    #[allow(dead_code)] // held only to be dropped on another thread
    pub(crate) enum Either<L, R> {
        Left(L),
        Right(R),
    }
    pub(crate) use Either::{Left, Right};
}

#[test]
fn dropping_the_pool_with_live_buffers_is_safe() {
    let pool = Pool::new();
    let mut small = pool.alloc(100);
    small.extend_from_slice(b"still here");
    let mut normal = pool.alloc(100_000);
    normal.extend_from_slice(&[3; 100_000]);
    let shared = normal.freeze();
    let huge = pool.alloc(pool.chunk_size() + 1);
    drop(pool);
    assert_eq!(&small[..], b"still here");
    assert!(shared.iter().all(|&b| b == 3));
    let s2 = shared.clone();
    std::thread::spawn(move || drop(s2)).join().unwrap();
    drop((small, shared, huge));
}

/// Four words each, and `None` costs nothing: a buffer returned by value
/// moves in two full-width stores.
#[test]
fn buffers_are_four_words_and_options_of_them_too() {
    use std::mem::size_of;
    use tidebuf::{PooledBytes, PooledBytesMut};
    assert_eq!(size_of::<PooledBytesMut>(), 32);
    assert_eq!(size_of::<Option<PooledBytesMut>>(), 32);
    assert_eq!(size_of::<PooledBytes>(), 32);
    assert_eq!(size_of::<Option<PooledBytes>>(), 32);
}

/// A view that moved into its region (`advance`, `split_to`, a slice of a
/// frozen buffer) finds the region's start again from the chunk's page map
/// when it goes: the very region comes back, for small, normal and huge
/// classes, whichever view is the last.
#[test]
fn moved_views_return_the_region_they_came_from() {
    use bytes::Buf;
    let pool = Pool::builder()
        .trim_policy(tidebuf::TrimPolicy::Never)
        .build()
        .unwrap();
    for size in [64, 1500, 20 << 10, 64 << 10, 1 << 20, 5 << 20, 10 << 20] {
        for last in 0..3 {
            let mut buf = pool.alloc(size);
            let start = buf.as_ptr();
            let cap = buf.capacity();
            buf.resize(cap, 7);
            let mut tail = buf.split_off(cap / 3); // a unique view that moved
            let mut mid = tail.split_to(cap / 3); // two views, shared
            tail.advance(1);
            let frozen = mid.split_to(1).freeze().slice(0..1);
            match last {
                0 => drop((buf, mid, frozen, tail)),
                1 => drop((tail, mid, buf, frozen)),
                _ => drop((buf, tail, mid, frozen)),
            }
            let m = pool.metrics();
            assert_eq!(m.active_bytes, 0, "size {size}, order {last}");
            // The region is back whole: the next request of its class gets
            // it again (from the thread cache, the arena or the huge cache).
            let again = pool.alloc(size);
            assert_eq!(again.as_ptr(), start, "size {size}, order {last}");
        }
    }
}
