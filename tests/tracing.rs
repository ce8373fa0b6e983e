//! The `tracing` feature's events, captured by a minimal subscriber: a
//! trim says what it gave back and why, a refusal at the cap gives its
//! figures, and a wait at the cap is reported when it ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tidebuf::{Pool, TrimPolicy};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One event: its target and its fields as `name=value` strings.
type Captured = (String, Vec<String>);

/// Every event seen.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields(Vec<String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let target = event.metadata().target().to_string();
        self.0.lock().unwrap().push((target, fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    fn of(&self, target: &str) -> Vec<Vec<String>> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|(t, _)| t == target)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

fn has(fields: &[String], want: &str) -> bool {
    fields.iter().any(|f| f == want)
}

#[test]
fn trims_refusals_and_waits_are_events_with_their_figures() {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let pool = Pool::builder()
            .chunk_size(1 << 20)
            .max_memory(Some(4 << 20))
            .trim_policy(TrimPolicy::Never)
            .build()
            .unwrap();
        // A trim that gives a chunk back.
        drop(pool.alloc(100_000));
        let report = pool.trim();
        let trims = capture.of("tidebuf::trim");
        let last = trims.last().expect("a trim event");
        assert!(has(last, "cause=\"explicit\""), "{last:?}");
        assert!(
            has(last, &format!("bytes={}", report.bytes_released)),
            "{last:?}"
        );
        assert!(has(last, "chunks=1"), "{last:?}");
        // A refusal at the cap.
        let held = pool.alloc(3 << 20);
        assert!(pool.try_alloc(3 << 20).is_err());
        let refusals = capture.of("tidebuf::cap");
        let r = refusals.last().expect("a cap event");
        assert!(
            has(r, "limit=4194304") && has(r, "requested=3145728"),
            "{r:?}"
        );
        // A wait that times out.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let waited = rt.block_on(pool.try_alloc_wait(3 << 20, Duration::from_millis(20)));
        assert!(waited.is_err());
        let waits = capture.of("tidebuf::wait");
        assert!(
            waits.iter().any(|w| has(w, "requested=3145728")),
            "{waits:?}"
        );
        assert!(waits.iter().any(|w| has(w, "served=false")), "{waits:?}");
        drop(held);
    });
}
