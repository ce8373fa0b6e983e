//! The `asan` wiring: a deliberate use after release inside a pooled chunk
//! is reported by AddressSanitizer. The use happens in a child process
//! (this test binary, re-run), which ASan aborts; the parent reads its
//! report. Run by `.ci/run` with `RUSTFLAGS=-Zsanitizer=address` on nightly.
#![cfg(feature = "asan")]

use std::process::Command;

const CHILD: &str = "TIDEBUF_ASAN_CHILD";

#[test]
fn use_after_release_in_a_chunk_is_reported() {
    if std::env::var_os(CHILD).is_some() {
        let pool = tidebuf::Pool::new();
        let mut buf = pool.alloc(100);
        buf.extend_from_slice(b"released soon");
        let stale = buf.as_ptr();
        drop(buf); // back in the pool, poisoned
                   // SAFETY: deliberately not: this read is what ASan must catch.
        let byte = unsafe { *stale };
        println!("read {byte} after release: ASan missed it");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "use_after_release_in_a_chunk_is_reported",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the child should have been stopped by ASan"
    );
    assert!(
        stderr.contains("AddressSanitizer: use-after-poison"),
        "{stderr}"
    );
}
