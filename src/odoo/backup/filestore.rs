//! Filestore restore: the backup's tarball unpacked beside the target directory
//! (`<dir>.restore_<id>`), then swapped in after the database (`<dir>` → `<dir>.old_<ts>`).

use super::BackupError;
use crate::store::Store;
use std::path::{Path, PathBuf};

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
