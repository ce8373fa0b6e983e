#!/usr/bin/env bash
# Loom models (src/tests/loom_*.rs). Own target dir: a changed RUSTFLAGS
# rebuilds every dependency, and the normal build should stay cached.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg tidebuf_loom ${RUSTFLAGS:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
# Only the models: the plain unit tests would touch loom atomics outside a model.
cargo test --release --lib "$@" -- --test-threads=2 loom_
