//! Release racing a waiter's registration under the cap: the waiter is
//! either served or woken — never left waiting with the memory back.

use crate::budget::Budget;
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::task::{Wake, Waker};

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

#[test]
fn loom_wait_release_racing_register_loses_no_wake_up() {
    loom::model(|| {
        // Room for 2 units; 2 are held; the waiter needs 1.
        let budget = Arc::new(Budget::new(Some(2)));
        budget.reserve(2).unwrap();
        let releaser = {
            let budget = budget.clone();
            thread::spawn(move || budget.unreserve(1))
        };
        let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        // The waiter, as `AllocWait::poll` does it: register, try, settle.
        let mut id = None;
        let served = loop {
            let (me, head, generation) = budget.waiters.register(id, &waker);
            id = Some(me);
            assert!(head);
            if budget.reserve(1).is_ok() {
                break true;
            }
            if budget.waiters.settle(generation) {
                break false; // waits: a later release must wake it
            }
        };
        releaser.join().unwrap();
        assert!(
            served || flag.0.load(SeqCst),
            "memory came back but the waiter was neither served nor woken"
        );
        budget.waiters.leave(id.unwrap(), 0);
    });
}
