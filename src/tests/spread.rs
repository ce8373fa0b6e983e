//! A thread that keeps meeting its arena's lock taken moves to another
//! arena (`ThreadCache::spread`), and with the `tracing` feature says so in
//! a `tidebuf::arena` event naming both arenas. Contention itself is up to
//! the scheduler, so the test sets the thread's contention count, the
//! private lever `spread` reads, instead of racing for the lock.

use crate::{Pool, TrimPolicy};
use std::sync::atomic::Ordering::Relaxed;

#[test]
fn a_contended_thread_moves_to_an_unused_arena_and_says_so() {
    let pool = Pool::builder()
        .arenas(2)
        .trim_policy(TrimPolicy::Never)
        .build()
        .unwrap();
    // A 2 MiB run is not cached by default: every request takes the slow
    // path, where `spread` runs.
    let run = 2 << 20;
    let moves = events::capture(|| {
        drop(pool.alloc(run)); // binds this thread to arena 0
        let cache = crate::local::existing_cache(pool.heap()).unwrap();
        assert_eq!(cache.arena(), 0);
        cache.recent_contention.store(u32::MAX / 2, Relaxed);
        drop(pool.alloc(run)); // contended: moves before allocating
        assert_eq!(cache.arena(), 1);
    });
    let threads: Vec<usize> = pool.metrics().arenas.iter().map(|a| a.threads).collect();
    assert_eq!(threads, [0, 1], "bound once, to the arena it moved to");
    if cfg!(feature = "tracing") {
        assert_eq!(moves, ["from=0 to=1"]);
    }
}

/// The `tidebuf::arena` events a closure emits on this thread, as
/// `from=… to=…`; none without the `tracing` feature.
mod events {
    #[cfg(feature = "tracing")]
    pub(super) fn capture(f: impl FnOnce()) -> Vec<String> {
        use std::sync::{Arc, Mutex};
        use tracing::field::{Field, Visit};

        #[derive(Clone, Default)]
        struct Moves(Arc<Mutex<Vec<String>>>);
        struct Fields(Vec<String>);
        impl Visit for Fields {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() != "message" {
                    self.0.push(format!("{}={value:?}", field.name()));
                }
            }
        }
        impl tracing::Subscriber for Moves {
            fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
                m.target() == "tidebuf::arena"
            }
            fn event(&self, event: &tracing::Event<'_>) {
                let mut fields = Fields(Vec::new());
                event.record(&mut fields);
                self.0.lock().unwrap().push(fields.0.join(" "));
            }
            fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
                tracing::span::Id::from_u64(1)
            }
            fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
            fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
            fn enter(&self, _: &tracing::span::Id) {}
            fn exit(&self, _: &tracing::span::Id) {}
        }

        let moves = Moves::default();
        tracing::subscriber::with_default(moves.clone(), f);
        let seen = moves.0.lock().unwrap().clone();
        seen
    }

    #[cfg(not(feature = "tracing"))]
    pub(super) fn capture(f: impl FnOnce()) -> Vec<String> {
        f();
        Vec::new()
    }
}
