//! Helpers shared by the provider tests: a log capture and run-time canaries.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::fmt::MakeWriter;

/// A canary secret built at run time (nothing secret-shaped is committed).
pub fn canary(tag: &str) -> String {
    format!("test-secret-{}-{tag}", "canary42")
}

/// Everything logged in this test process, as text.
///
/// A thread-scoped subscriber (`set_default`) is not reliable when tests run in parallel:
/// callsites first hit on another test's thread, with no subscriber, are cached as "never"
/// and the scoped capture misses them. So the capture is process-wide: one global TRACE
/// subscriber writing into one buffer, installed once. Tests assert that their canaries never
/// appear anywhere in it (a stricter check than their own lines only).
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

static GLOBAL: OnceLock<LogBuffer> = OnceLock::new();

/// Returned by [`LogBuffer::install`]; the capture stays installed for the process.
pub struct CaptureGuard;

impl LogBuffer {
    fn global() -> &'static LogBuffer {
        GLOBAL.get_or_init(|| {
            let buf = LogBuffer::default();
            let sub = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(buf.clone())
                .finish();
            // Fails only if another global subscriber exists; then nothing is captured and
            // the tests' "the capture works" assertions say so.
            let _ = tracing::subscriber::set_global_default(sub);
            buf
        })
    }
    /// Make sure the process-wide capture is installed.
    pub fn install(&self) -> CaptureGuard {
        Self::global();
        CaptureGuard
    }
    /// Everything captured so far in this process.
    pub fn text(&self) -> String {
        let g = Self::global();
        String::from_utf8_lossy(&g.0.lock().expect("log buffer")).into_owned()
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
