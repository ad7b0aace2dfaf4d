//! Helpers shared by the provider tests: a log capture and run-time canaries.

use std::io;
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;

/// A canary secret built at run time (nothing secret-shaped is committed).
pub fn canary(tag: &str) -> String {
    format!("test-secret-{}-{tag}", "canary42")
}

/// Everything logged while it is installed, as text.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
    /// Install as this thread's subscriber at TRACE (every crate, HTTP stack included).
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(self.clone())
            .finish();
        let guard = tracing::subscriber::set_default(sub);
        // Callsites that parallel tests (with no subscriber) cached as "never" must be
        // re-evaluated now that this subscriber exists, or its capture misses them.
        tracing::callsite::rebuild_interest_cache();
        guard
    }
}

impl io::Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}
