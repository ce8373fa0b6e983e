//! Loom models of the crate's races, beside the private code they drive.
//! Run with `.ci/loom.sh` (`--cfg tidebuf_loom`).

mod loom_arena;
mod loom_cache;
mod loom_close;
mod loom_release;
mod loom_wait;
