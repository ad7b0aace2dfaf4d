//! The SQLite profile a process chooses before it opens its store: the console's reader
//! profile (a large page cache and a memory map) versus the controller's lean default. Its own
//! test binary, because the choice is once per process.

use odooops::store::{set_sqlite_profile, SqliteProfile, Store};

#[tokio::test]
async fn the_console_profile_gives_sqlite_a_large_cache_and_a_memory_map() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("lean.db").display());
    // Before any choice: the controller's lean default.
    let lean = Store::open(Some(&url), dir.path()).await.expect("open");
    assert_eq!(
        lean.sqlite_memory().await.expect("pragmas"),
        Some((-1024, 0))
    );
    lean.close().await;

    set_sqlite_profile(SqliteProfile::Reader);
    let url = format!("sqlite:{}", dir.path().join("reader.db").display());
    let reader = Store::open(Some(&url), dir.path()).await.expect("open");
    assert_eq!(
        reader.sqlite_memory().await.expect("pragmas"),
        Some((-16384, 268_435_456))
    );
    // The first choice stands.
    set_sqlite_profile(SqliteProfile::Lean);
    let url = format!("sqlite:{}", dir.path().join("again.db").display());
    let again = Store::open(Some(&url), dir.path()).await.expect("open");
    assert_eq!(
        again.sqlite_memory().await.expect("pragmas"),
        Some((-16384, 268_435_456))
    );
    reader.close().await;
    again.close().await;
}
