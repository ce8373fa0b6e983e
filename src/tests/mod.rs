//! Tests that drive private code from the whole crate: the loom models of
//! its races (run with `.ci/loom.sh`, `--cfg tidebuf_loom`) and, in
//! ordinary builds, what needs a private lever (`spread`: a thread's
//! contention count; `backed_off_refill`: the trimmer's claim; `foreign`:
//! which arena a thread allocates from).

#[cfg(not(tidebuf_loom))]
mod backed_off_refill;
#[cfg(not(tidebuf_loom))]
mod foreign;
#[cfg(not(tidebuf_loom))]
mod large_room;
#[cfg(tidebuf_loom)]
mod loom_arena;
#[cfg(tidebuf_loom)]
mod loom_cache;
#[cfg(tidebuf_loom)]
mod loom_close;
#[cfg(tidebuf_loom)]
mod loom_release;
#[cfg(tidebuf_loom)]
mod loom_wait;
#[cfg(not(tidebuf_loom))]
mod spread;
