//! `odooops backup download`: a backup's dump copied out of the artifact store, verified.

use super::BackupError;
use crate::ssot::Ssot;
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// Copy a backup's dump to `out`, verifying its sha256 on the way; a mismatch removes the file.
pub async fn download(
    store: &Store,
    ssot: &Ssot,
    backup_id: Uuid,
    out: &Path,
) -> Result<(String, u64), BackupError> {
    let b = store
        .backup(backup_id)
        .await?
        .ok_or_else(|| BackupError::NotFound(backup_id.to_string()))?;
    let store = &super::store_for(store, ssot, &b.environment)?;
    let mut reader = store.artifact_store().open_reader(&b.sha256).await?;
    let io = |source| BackupError::Io {
        path: out.display().to_string(),
        source,
    };
    let tmp = out.with_extension("part");
    let mut f = tokio::fs::File::create(&tmp).await.map_err(io)?;
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    let copied: Result<(), BackupError> = async {
        loop {
            let k = reader.read(&mut buf).await.map_err(io)?;
            if k == 0 {
                break;
            }
            hasher.update(&buf[..k]);
            n += k as u64;
            f.write_all(&buf[..k]).await.map_err(io)?;
        }
        f.sync_all().await.map_err(io)?;
        Ok(())
    }
    .await;
    drop(f);
    if let Err(e) = copied {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    let got = hex::encode(hasher.finalize());
    if got != b.sha256 {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(BackupError::Invalid(format!(
            "backup {backup_id}: the stored dump's sha256 is {got}, the manifest says {}; the artifact is corrupt (nothing written to {})",
            b.sha256,
            out.display()
        )));
    }
    tokio::fs::rename(&tmp, out).await.map_err(io)?;
    Ok((got, n))
}
