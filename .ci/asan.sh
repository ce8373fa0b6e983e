#!/usr/bin/env bash
# The test suite (loom excluded) under AddressSanitizer, with free pooled
# memory poisoned through ASan's interface (feature `asan`). Needs nightly.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "skipped: no nightly toolchain (AddressSanitizer needs -Zsanitizer=address)"
    exit 0
fi
export RUSTFLAGS="-Zsanitizer=address ${RUSTFLAGS:-}"
export RUSTDOCFLAGS="-Zsanitizer=address ${RUSTDOCFLAGS:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/asan}"
# Leak reports would flag the process-wide trimmer thread's state.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
cargo +nightly test --target x86_64-unknown-linux-gnu --features asan,debug-checks --tests "$@"
