//! Model test: random sequences of alloc / write / freeze / slice / clone /
//! drop / send-to-another-thread / trim, checked after every step against a
//! plain model of which regions are live and what they must contain.
//!
//! Invariants checked after each operation:
//! - every live buffer or view still holds its region's pattern, at the
//!   address and length the model expects (nothing writes under a live
//!   buffer);
//! - no two live regions overlap (`[ptr, ptr + capacity)`);
//! - `active_bytes` is the sum of `capacity_for(requested)` over live
//!   regions, and the other counters agree with the model;
//! - a frozen region's `ref_count` is the number of live views of it.
//!
//! At the end of each case everything is dropped and the pool must account
//! for every byte, then give every chunk back on `trim`.

use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use tidebuf::{Backing, Pool, PooledBytes, PooledBytesMut, TrimPolicy};

const PAGE: usize = 8 << 10;
/// Small enough that huge buffers (own mapping) stay cheap.
const CHUNK: usize = 1 << 20;
const SMALL_MAX: usize = 28 << 10;
const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// Pattern period: a prime, so the pattern does not line up with pages or
/// size classes and a region shifted onto another shows up as a mismatch.
const PERIOD: usize = 4093;

/// Pool settings that change which paths serve a request.
#[derive(Debug, Clone)]
struct Settings {
    backing: Backing,
    thread_cache: bool,
    small_cache: u32,
    normal_cache: u32,
    max_cached: usize,
    sweep: u32,
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        prop_oneof![Just(Backing::Mmap), Just(Backing::Heap)],
        any::<bool>(),
        // Zero-sized bins cache nothing, tiny ones overflow and flush; the
        // defaults mostly park.
        prop::sample::select(vec![0u32, 1, 2, 256]),
        prop::sample::select(vec![0u32, 1, 64]),
        // Nothing cached, the default, and every normal class.
        prop::sample::select(vec![0, 32 * KIB, CHUNK]),
        // Frequent sweeps, or (default) none within a case.
        prop::sample::select(vec![3u32, 8192]),
    )
        .prop_map(
            |(backing, thread_cache, small_cache, normal_cache, max_cached, sweep)| Settings {
                backing,
                thread_cache,
                small_cache,
                normal_cache,
                max_cached,
                sweep,
            },
        )
}

#[derive(Debug, Clone)]
enum Op {
    Alloc(usize),
    Freeze(Index),
    /// Handle, then start and end of the subrange.
    Slice(Index, Index, Index),
    Clone(Index),
    Drop(Index),
    Send(Index),
    Trim,
}

/// Requests of every kind: class edges, small, normal and huge.
fn size() -> impl Strategy<Value = usize> {
    let edges = vec![
        0,
        1,
        16,
        17,
        4096,
        4097,
        SMALL_MAX,
        SMALL_MAX + 1,
        32 * KIB,
        CHUNK,
        CHUNK + 1,
    ];
    prop_oneof![
        3 => prop::sample::select(edges),
        // The lookup-table range, where most classes are.
        2 => 1..=4 * KIB,
        4 => 1..=64 * KIB,
        // Rarer: large buffers dominate the cost of the per-op checks.
        1 => 64 * KIB..=2 * MIB,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => size().prop_map(Op::Alloc),
        3 => any::<Index>().prop_map(Op::Freeze),
        2 => any::<(Index, Index, Index)>().prop_map(|(h, a, b)| Op::Slice(h, a, b)),
        2 => any::<Index>().prop_map(Op::Clone),
        5 => any::<Index>().prop_map(Op::Drop),
        2 => any::<Index>().prop_map(Op::Send),
        1 => Just(Op::Trim),
    ]
}

/// One period of region `id`'s pattern (splitmix64 of id and position).
fn pattern(id: u64) -> Arc<[u8]> {
    (0..PERIOD as u64)
        .map(|k| {
            let mut z = id
                .wrapping_mul(PERIOD as u64)
                .wrapping_add(k)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// Whether `data`, found at `offset` into its region, matches the pattern.
/// Compares whole period pieces so it runs at memcmp speed in debug builds.
fn matches(pattern: &[u8], offset: usize, mut data: &[u8]) -> bool {
    let mut at = offset % PERIOD;
    while !data.is_empty() {
        let n = data.len().min(PERIOD - at);
        if data[..n] != pattern[at..at + n] {
            return false;
        }
        data = &data[n..];
        at = 0;
    }
    true
}

fn fill(buf: &mut PooledBytesMut, pattern: &[u8], len: usize) {
    let mut at = 0;
    while buf.len() < len {
        let n = (len - buf.len()).min(PERIOD - at);
        buf.extend_from_slice(&pattern[at..at + n]);
        at = (at + n) % PERIOD;
    }
}

enum Buf {
    Mut(PooledBytesMut),
    Frozen(PooledBytes),
}

impl Buf {
    fn bytes(&self) -> &[u8] {
        match self {
            Buf::Mut(b) => b,
            Buf::Frozen(b) => b,
        }
    }
}

/// A live handle: the region it belongs to and where its view starts.
struct View {
    region: u64,
    offset: usize,
    buf: Buf,
}

/// One allocation as the model sees it.
struct Region {
    requested: usize,
    start: usize,
    cap: usize,
    pattern: Arc<[u8]>,
    /// Live handles on it; the region is returned when this reaches 0.
    handles: usize,
}

/// What the other thread gets: a handle and what it must contain.
struct Parcel {
    buf: Buf,
    pattern: Arc<[u8]>,
    offset: usize,
}

/// A long-lived second thread that checks and drops the handles it is sent.
struct Remote {
    to: Option<mpsc::Sender<Parcel>>,
    acks: mpsc::Receiver<bool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Remote {
    fn spawn() -> Remote {
        let (to, parcels) = mpsc::channel::<Parcel>();
        let (ack, acks) = mpsc::channel();
        let thread = thread::spawn(move || {
            for p in parcels {
                let ok = matches(&p.pattern, p.offset, p.buf.bytes());
                // Dropped here, before the ack: the caller then knows the
                // release (possibly the region's last) has happened.
                drop(p.buf);
                if ack.send(ok).is_err() {
                    break;
                }
            }
        });
        Remote {
            to: Some(to),
            acks,
            thread: Some(thread),
        }
    }

    /// Hands `parcel` over and waits until it has been checked and dropped.
    fn send(&self, parcel: Parcel) -> bool {
        let to = self.to.as_ref().expect("remote is running");
        to.send(parcel).is_ok() && self.acks.recv().unwrap_or(false)
    }

    /// Ends the thread and waits for it, thread-locals included: its exit
    /// is what returns the entries parked in its thread cache.
    fn stop(&mut self) -> bool {
        self.to = None; // ends the thread's loop
        self.thread.take().is_none_or(|t| t.join().is_ok())
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Skip joining while unwinding: a failing case must not hang or abort.
        if !thread::panicking() {
            self.stop();
        }
    }
}

struct Model {
    pool: Pool,
    regions: BTreeMap<u64, Region>,
    views: Vec<View>,
    next_id: u64,
    remote: Remote,
}

impl Model {
    fn new(s: &Settings) -> Model {
        let pool = Pool::builder()
            .arenas(2)
            .page_size(PAGE)
            .chunk_size(CHUNK)
            .backing(s.backing)
            .thread_cache(s.thread_cache)
            .small_cache_size(s.small_cache)
            .normal_cache_size(s.normal_cache)
            .max_cached_buffer_capacity(s.max_cached)
            .cache_sweep_threshold(s.sweep)
            .trim_policy(TrimPolicy::Never)
            .build()
            .expect("valid settings");
        assert_eq!(pool.chunk_size(), CHUNK);
        Model {
            pool,
            regions: BTreeMap::new(),
            views: Vec::new(),
            next_id: 0,
            remote: Remote::spawn(),
        }
    }

    /// Indices of views that hold a `PooledBytesMut` (or the others).
    fn of_kind(&self, mutable: bool) -> Vec<usize> {
        (0..self.views.len())
            .filter(|&i| matches!(self.views[i].buf, Buf::Mut(_)) == mutable)
            .collect()
    }

    /// Forgets a view that has been (or is about to be) dropped.
    fn forget(&mut self, view: &View) {
        let region = self.regions.get_mut(&view.region).expect("live region");
        region.handles -= 1;
        if region.handles == 0 {
            self.regions.remove(&view.region);
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Alloc(size) => {
                let id = self.next_id;
                self.next_id += 1;
                let mut buf = self.pool.alloc(*size);
                let cap = buf.capacity();
                let class_cap = self.pool.capacity_for(*size).expect("valid size");
                if *size <= CHUNK {
                    prop_assert_eq!(cap, class_cap, "request {}", size);
                } else {
                    // A recycled huge mapping may be larger, wasting at most
                    // a quarter.
                    prop_assert!(
                        cap >= class_cap && cap - class_cap <= class_cap / 4,
                        "request {} got {}",
                        size,
                        cap
                    );
                }
                prop_assert!(cap >= *size && buf.is_empty());
                let pattern = pattern(id);
                // The whole capacity, so trespassing anywhere in it shows.
                fill(&mut buf, &pattern, cap);
                prop_assert_eq!(buf.capacity(), cap, "filling to capacity must not grow");
                let start = buf.as_ptr() as usize;
                self.regions.insert(
                    id,
                    Region {
                        requested: *size,
                        start,
                        cap,
                        pattern,
                        handles: 1,
                    },
                );
                self.views.push(View {
                    region: id,
                    offset: 0,
                    buf: Buf::Mut(buf),
                });
            }
            Op::Freeze(pick) => {
                let muts = self.of_kind(true);
                if muts.is_empty() {
                    return Ok(());
                }
                let view = self.views.swap_remove(*pick.get(&muts));
                let Buf::Mut(buf) = view.buf else {
                    unreachable!("picked a mutable view")
                };
                let frozen = buf.freeze();
                let r = &self.regions[&view.region];
                prop_assert_eq!(frozen.as_ptr() as usize, r.start, "freeze moved the bytes");
                prop_assert_eq!(frozen.len(), r.cap);
                prop_assert_eq!(frozen.ref_count(), 1);
                self.views.push(View {
                    buf: Buf::Frozen(frozen),
                    ..view
                });
            }
            Op::Slice(pick, a, b) => {
                let frozen = self.of_kind(false);
                if frozen.is_empty() {
                    return Ok(());
                }
                let view = &self.views[*pick.get(&frozen)];
                let Buf::Frozen(buf) = &view.buf else {
                    unreachable!("picked a frozen view")
                };
                let len = buf.len();
                let start = a.index(len + 1);
                let end = start + b.index(len - start + 1);
                if start == end {
                    // An empty view holds nothing: no reference taken.
                    let before = buf.ref_count();
                    let empty = buf.slice(start..end);
                    prop_assert_eq!((empty.len(), empty.ref_count()), (0, 0));
                    prop_assert_eq!(buf.ref_count(), before);
                    return Ok(());
                }
                let sliced = View {
                    region: view.region,
                    offset: view.offset + start,
                    buf: Buf::Frozen(buf.slice(start..end)),
                };
                self.regions.get_mut(&sliced.region).expect("live").handles += 1;
                self.views.push(sliced);
            }
            Op::Clone(pick) => {
                let frozen = self.of_kind(false);
                if frozen.is_empty() {
                    return Ok(());
                }
                let view = &self.views[*pick.get(&frozen)];
                let Buf::Frozen(buf) = &view.buf else {
                    unreachable!("picked a frozen view")
                };
                let cloned = View {
                    region: view.region,
                    offset: view.offset,
                    buf: Buf::Frozen(buf.clone()),
                };
                self.regions.get_mut(&cloned.region).expect("live").handles += 1;
                self.views.push(cloned);
            }
            Op::Drop(pick) => {
                if self.views.is_empty() {
                    return Ok(());
                }
                let view = self.views.swap_remove(pick.index(self.views.len()));
                self.forget(&view);
                drop(view);
            }
            Op::Send(pick) => {
                if self.views.is_empty() {
                    return Ok(());
                }
                let view = self.views.swap_remove(pick.index(self.views.len()));
                self.forget(&view);
                let pattern = match self.regions.get(&view.region) {
                    Some(r) => r.pattern.clone(),
                    // The remote holds the last handle: rebuild the pattern.
                    None => pattern(view.region),
                };
                let ok = self.remote.send(Parcel {
                    buf: view.buf,
                    pattern,
                    offset: view.offset,
                });
                prop_assert!(ok, "the other thread saw wrong contents");
            }
            Op::Trim => {
                self.pool.trim();
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        // Regions are disjoint: sorted by start, each ends before the next.
        let mut ranges: Vec<(usize, usize, u64)> = self
            .regions
            .iter()
            .map(|(&id, r)| (r.start, r.start + r.cap, id))
            .collect();
        ranges.sort_unstable();
        for w in ranges.windows(2) {
            prop_assert!(
                w[0].1 <= w[1].0,
                "regions {} {:x?} and {} {:x?} overlap",
                w[0].2,
                (w[0].0, w[0].1),
                w[1].2,
                (w[1].0, w[1].1)
            );
        }

        for v in &self.views {
            let r = &self.regions[&v.region];
            let data = v.buf.bytes();
            prop_assert_eq!(data.as_ptr() as usize, r.start + v.offset);
            prop_assert!(v.offset + data.len() <= r.cap);
            prop_assert!(
                matches(&r.pattern, v.offset, data),
                "contents of region {} changed under a live buffer",
                v.region
            );
            match &v.buf {
                Buf::Mut(b) => {
                    prop_assert_eq!(b.capacity(), r.cap);
                    prop_assert_eq!(r.handles, 1, "a PooledBytesMut is unique");
                }
                Buf::Frozen(b) => prop_assert_eq!(b.ref_count(), r.handles),
            }
        }

        let m = self.pool.metrics();
        let active: usize = self.regions.values().map(|r| r.cap).sum();
        prop_assert_eq!(m.active_bytes, active);
        prop_assert_eq!(
            m.allocations.total(),
            m.deallocations.total() + self.regions.len() as u64,
            "every live region is one allocation not yet deallocated"
        );
        let huge: Vec<usize> = self
            .regions
            .values()
            .filter(|r| r.requested > CHUNK)
            .map(|r| r.cap)
            .collect();
        prop_assert_eq!(m.huge_buffers, huge.len());
        // Quiescent: every used byte is a committed chunk byte or a huge
        // buffer; trims purge free runs, so chunks may hold less than their
        // size, but never less than the huge buffers plus what is live.
        let huge_sum = huge.iter().sum::<usize>();
        // Recycled huge mappings are used and cached, outside any chunk.
        prop_assert!(m.used_bytes <= m.chunks * CHUNK + huge_sum + m.cached_bytes);
        prop_assert!(m.used_bytes >= huge_sum + (m.active_bytes - huge_sum.min(m.active_bytes)));
        prop_assert!(m.used_bytes >= m.active_bytes + m.cached_bytes);
        // Cheap enough to run every step, which pins a corruption to the
        // operation that caused it.
        #[cfg(feature = "debug-checks")]
        self.pool.validate();
        Ok(())
    }

    /// Drops everything; the pool must then be empty and give all back.
    fn finish(mut self) -> Result<(), TestCaseError> {
        self.views.clear();
        self.regions.clear();
        // `trim` flushes only the calling thread's cache; the other thread
        // flushes its own (the releases it made) when it exits.
        prop_assert!(self.remote.stop(), "the other thread panicked");
        let m = self.pool.metrics();
        prop_assert_eq!(m.active_bytes, 0);
        prop_assert_eq!(m.allocations.total(), m.deallocations.total());
        prop_assert_eq!(m.huge_buffers, 0);
        #[cfg(feature = "debug-checks")]
        self.pool.validate();
        self.pool.trim();
        let m = self.pool.metrics();
        prop_assert_eq!(m.used_bytes, 0);
        prop_assert_eq!(m.chunks, 0);
        prop_assert_eq!(m.cached_bytes, 0);
        #[cfg(feature = "debug-checks")]
        self.pool.validate();
        Ok(())
    }
}

fn run(settings: &Settings, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut model = Model::new(settings);
    for op in ops {
        model.apply(op)?;
        model.check()?;
    }
    model.finish()
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES still overrides, for longer soak runs.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(64),
        // Keep failures out of the source tree; a failing case prints its
        // minimal input, which is what to turn into a regression test.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn pool_matches_model(
        settings in settings(),
        ops in prop::collection::vec(op(), 150..=250),
    ) {
        run(&settings, &ops)?;
    }
}
