//! AddressSanitizer wiring behind the `asan` feature: free pooled memory is
//! poisoned through ASan's interface, so a use after release *inside* a
//! pooled chunk is reported like one in the global heap.
//!
//! ```text
//!  new chunk / huge mapping ─▶ poison all
//!  hand out region          ─▶ unpoison [ptr, ptr + capacity)
//!  release region           ─▶ poison   [ptr, ptr + capacity)
//!  destroy chunk            ─▶ unpoison all, then unmap
//! ```
//!
//! The feature needs the ASan runtime: build with
//! `RUSTFLAGS=-Zsanitizer=address cargo +nightly … --features asan`.
//!
//! Owns nothing: two calls into the sanitizer runtime. Calls no module.
//! Called by the arenas, huge mappings, thread caches and the allocation and
//! release paths (feature `asan`).

use std::ffi::c_void;

extern "C" {
    fn __asan_poison_memory_region(addr: *const c_void, size: usize);
    fn __asan_unpoison_memory_region(addr: *const c_void, size: usize);
}

/// Marks `[ptr, ptr + len)` unaddressable for ASan.
pub(crate) fn poison(ptr: *const u8, len: usize) {
    // SAFETY: the ASan interface only records shadow state for the range;
    // callers pass memory the pool owns.
    unsafe { __asan_poison_memory_region(ptr.cast(), len) }
}

/// Marks `[ptr, ptr + len)` addressable again.
pub(crate) fn unpoison(ptr: *const u8, len: usize) {
    // SAFETY: as in `poison`.
    unsafe { __asan_unpoison_memory_region(ptr.cast(), len) }
}
