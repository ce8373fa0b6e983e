//! `TIDEBUF_LEAK_BACKTRACE=1` records where each outstanding buffer was
//! allocated. (Its own test binary: the variable is read once per process.)
#![cfg(feature = "debug-checks")]

#[test]
fn outstanding_buffers_carry_their_allocation_backtrace() {
    std::env::set_var("TIDEBUF_LEAK_BACKTRACE", "1");
    let pool = tidebuf::Pool::new();
    let leaked = pool.alloc(3000);
    let out = pool.outstanding();
    assert_eq!(out.len(), 1);
    let trace = out[0].backtrace.as_deref().expect("a backtrace");
    assert!(
        trace.contains("leak_backtrace"),
        "the test's own frame is in it:\n{trace}"
    );
    drop(leaked);
}
