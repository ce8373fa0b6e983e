//! The owner/trimmer hand-off meeting the arena's depot: a refill whose
//! pop backed off (a trimmer held the cache, found the owner busy, and
//! let go) finds its bin not empty, and must not swap it for a deposited
//! one — that turned the bin's regions into a depot spare, which the next
//! deposit of any class handed on: 1 KiB regions served as 2 KiB buffers.

use crate::region::Region;
use crate::{Pool, TrimPolicy};

#[test]
fn a_refill_after_a_backed_off_pop_keeps_its_bin() {
    let pool = Pool::builder()
        .arenas(1)
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap();
    let heap = pool.heap().clone();
    let arenas = &heap.arenas;
    let (small, large) = (
        arenas.classes().class_of(1024).unwrap(),
        arenas.classes().class_of(2048).unwrap(),
    );
    let held = pool.alloc(1024); // the refill parks more of the class
    let cache = crate::local::cache(&heap).unwrap();
    let (before, _) = cache.parked(small);
    assert!(!before.is_empty());
    // Another thread's full bin of the class waits in the arena's depot.
    let mut full: Vec<Region> = (0..cache.bin_max(small))
        .map(|_| arenas.get(0).allocate(&arenas.env, small).unwrap())
        .collect();
    assert!(arenas.get(0).deposit(&arenas.env, small, &mut full));

    // A trimmer claims the cache; the owner's pop backs off, its bin
    // untouched; the trimmer, finding the owner busy, lets go.
    cache.set_claim(true);
    assert!(cache.pop(arenas, small).is_none());
    cache.set_claim(false);
    // The owner's slow path refills.
    let refilled = cache.fill(arenas, small).unwrap();

    let (after, counted) = cache.parked(small);
    assert!(
        before.iter().all(|p| after.contains(p)),
        "every region parked before the refill is still in its bin"
    );
    assert_eq!(counted, after.len());
    // Fill and overflow the 2 KiB bin so that it is deposited and takes a
    // spare: it must hold no 1 KiB region, and no 2 KiB buffer may be one.
    drop((0..300).map(|_| pool.alloc(2048)).collect::<Vec<_>>());
    let (large_bin, _) = cache.parked(large);
    assert!(large_bin.iter().all(|p| !before.contains(p)));
    let served: Vec<_> = (0..large_bin.len()).map(|_| pool.alloc(2048)).collect();
    assert!(served
        .iter()
        .all(|b| !before.contains(&(b.as_ptr() as usize))));
    drop((served, held));
    // Straight back to its arena, as it came (not through a buffer, so not
    // through the debug-checks tracker either).
    arenas.free_direct(refilled, small);
    assert_eq!(pool.metrics().active_bytes, 0);
}
