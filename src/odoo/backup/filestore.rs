//! The filestore in a backup: tarred into the artifact store while a backup runs; on restore
//! the backup's tarball unpacked beside the target directory (`<dir>.restore_<id>`), then
//! swapped in after the database (`<dir>` → `<dir>.old_<ts>`).

use super::pg::CountingOutput;
use super::BackupError;
use crate::jobs::CancelToken;
use crate::store::{Store, StoredBlob};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// `<dir><suffix>` as a sibling of `dir`.
pub fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "filestore".to_string());
    dir.with_file_name(format!("{name}{suffix}"))
}

/// Unpack artifact `sha` into `into` (created; must not exist). Entries escaping the
/// directory are refused by the tar reader.
pub async fn unpack(store: &Store, sha: &str, into: &Path) -> Result<(), BackupError> {
    if into.exists() {
        tokio::fs::remove_dir_all(into).await.map_err(io(into))?;
    }
    tokio::fs::create_dir_all(into).await.map_err(io(into))?;
    let reader = store.artifact_store().open_reader(sha).await?;
    let dest = into.to_path_buf();
    let r = tokio::task::spawn_blocking(move || {
        let bridge = tokio_util::io::SyncIoBridge::new(reader);
        let mut ar = tar::Archive::new(bridge);
        ar.set_preserve_permissions(false);
        ar.unpack(&dest)
    })
    .await
    .map_err(|e| BackupError::Invalid(format!("unpacking the filestore: {e}")))?;
    if let Err(e) = r {
        let _ = tokio::fs::remove_dir_all(into).await;
        return Err(io(into)(e));
    }
    Ok(())
}

/// Put `fresh` in place of `dir`, keeping the previous directory as `<dir>.old_<ts>`.
/// Returns where the previous one went.
pub async fn swap(fresh: &Path, dir: &Path, ts: i64) -> Result<Option<PathBuf>, BackupError> {
    let mut old = None;
    if dir.exists() {
        let o = sibling(dir, &format!(".old_{ts}"));
        tokio::fs::rename(dir, &o).await.map_err(io(dir))?;
        old = Some(o);
    } else if let Some(parent) = dir.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io(parent))?;
    }
    if let Err(e) = tokio::fs::rename(fresh, dir).await {
        if let Some(o) = &old {
            let _ = tokio::fs::rename(o, dir).await;
        }
        return Err(io(dir)(e));
    }
    Ok(old)
}

/// Tar the filestore directory in a blocking thread, streamed into the artifact store.
pub(super) async fn tar(
    store: &Store,
    dir: &Path,
    cancel: &CancelToken,
) -> Result<StoredBlob, BackupError> {
    if !dir.is_dir() {
        return Err(BackupError::Io {
            path: dir.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "filestore directory not found",
            ),
        });
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<std::io::Cursor<Vec<u8>>>>(8);
    let root = dir.to_path_buf();
    let worker = tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter(tx.clone());
        let mut b = tar::Builder::new(writer);
        b.follow_symlinks(false);
        let r = b.append_dir_all(".", &root).and_then(|_| b.finish());
        if let Err(e) = r {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let reader = CountingOutput::new(
        tokio_util::io::StreamReader::new(stream),
        Arc::new(AtomicU64::new(0)),
        cancel,
    );
    // On cancel the reader fails, put_reader removes its temporary file and the worker stops
    // when its channel closes.
    let r = store
        .artifact_store()
        .put_reader(reader)
        .await
        .map_err(BackupError::Store);
    let _ = worker.await;
    if let Ok(b) = &r {
        if cancel.is_cancelled() {
            super::dump::forget_blob_unless_recorded(store, &b.sha256).await;
            return Err(BackupError::Cancelled);
        }
    }
    r
}

struct ChannelWriter(tokio::sync::mpsc::Sender<std::io::Result<std::io::Cursor<Vec<u8>>>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(std::io::Cursor::new(buf.to_vec())))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "reader gone"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
