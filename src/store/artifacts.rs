//! Content-addressed artifacts: plan JSON, diff text, gate reports, logs, backup dumps.
//!
//! An artifact's id is the sha256 of its bytes as 64 lowercase hex characters; ids are
//! validated before they touch a path, so there is no traversal. Blobs live under
//! `ROOT/ab/abcdef…` on a local directory (default) or `PREFIX/ab/abcdef…` in an
//! S3-compatible bucket (`object_store`). Writes stream: bytes are hashed while they are
//! written to a temporary file (or multipart upload) which is then renamed (or copied) to its
//! content address, so a reader never sees a partial blob.

use super::types::Artifact;
use super::{now, with_pool, Result, Store, StoreError};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

const CHUNK: usize = 256 * 1024;

/// Check an artifact id: exactly 64 lowercase hex characters.
pub fn validate_artifact_id(id: &str) -> Result<()> {
    if id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(StoreError::InvalidArtifactId(id.chars().take(80).collect()))
    }
}

/// Where blobs live.
#[derive(Clone)]
pub enum ArtifactStore {
    Local {
        root: PathBuf,
    },
    Object {
        store: Arc<dyn ObjectStore>,
        prefix: ObjPath,
        url: String,
    },
}

impl std::fmt::Debug for ArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A blob that was written: its id, size and where it is.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoredBlob {
    pub sha256: String,
    pub size: u64,
    pub uri: String,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl ArtifactStore {
    pub fn local(root: impl Into<PathBuf>) -> ArtifactStore {
        ArtifactStore::Local { root: root.into() }
    }

    /// `s3://bucket[/prefix]` (credentials, region and endpoint from the usual `AWS_*`
    /// environment variables, e.g. `AWS_ENDPOINT` and `AWS_ALLOW_HTTP` for MinIO or Supabase
    /// Storage), `file:///dir`, or a plain directory path.
    pub fn from_url(url: &str) -> Result<ArtifactStore> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StoreError::InvalidArtifactUrl(url.to_string()));
            }
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()?;
            let prefix = ObjPath::parse(prefix.trim_matches('/'))
                .map_err(|_| StoreError::InvalidArtifactUrl(url.to_string()))?;
            Ok(ArtifactStore::Object {
                store: Arc::new(store),
                prefix,
                url: url.to_string(),
            })
        } else if let Some(dir) = url.strip_prefix("file://") {
            Ok(ArtifactStore::local(dir))
        } else if url.contains("://") {
            Err(StoreError::InvalidArtifactUrl(url.to_string()))
        } else {
            Ok(ArtifactStore::local(url))
        }
    }

    /// Any `object_store` implementation (tests use the in-memory one).
    pub fn object(store: Arc<dyn ObjectStore>, prefix: &str, url: &str) -> ArtifactStore {
        let prefix = ObjPath::from(prefix.trim_matches('/'));
        ArtifactStore::Object {
            store,
            prefix,
            url: url.to_string(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ArtifactStore::Local { root } => format!("file://{}", root.display()),
            ArtifactStore::Object { url, .. } => url.clone(),
        }
    }

    fn local_path(root: &Path, id: &str) -> PathBuf {
        root.join(&id[..2]).join(id)
    }

    fn object_path(prefix: &ObjPath, id: &str) -> ObjPath {
        prefix.child(&id[..2]).child(id)
    }

    /// The URI of a (validated) id.
    pub fn uri(&self, id: &str) -> Result<String> {
        validate_artifact_id(id)?;
        Ok(match self {
            ArtifactStore::Local { root } => {
                format!("file://{}", Self::local_path(root, id).display())
            }
            ArtifactStore::Object { url, prefix, .. } => {
                let base = url.split('/').take(3).collect::<Vec<_>>().join("/");
                format!("{base}/{}", Self::object_path(prefix, id))
            }
        })
    }

    pub async fn put_bytes(&self, bytes: &[u8]) -> Result<StoredBlob> {
        self.put_reader(bytes).await
    }

    /// Stream a file into the store without loading it into memory.
    pub async fn put_file(&self, path: &Path) -> Result<StoredBlob> {
        let file = tokio::fs::File::open(path).await.map_err(io_err(path))?;
        self.put_reader(file).await
    }

    /// Stream any reader into the store, hashing as it goes.
    pub async fn put_reader<R: AsyncRead + Unpin>(&self, mut reader: R) -> Result<StoredBlob> {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; CHUNK];
        match self {
            ArtifactStore::Local { root } => {
                let tmp_dir = root.join(".tmp");
                tokio::fs::create_dir_all(&tmp_dir)
                    .await
                    .map_err(io_err(&tmp_dir))?;
                let tmp = tmp_dir.join(Uuid::new_v4().to_string());
                let result: Result<()> = async {
                    let mut f = tokio::fs::File::create(&tmp).await.map_err(io_err(&tmp))?;
                    loop {
                        let n = reader.read(&mut buf).await.map_err(io_err(&tmp))?;
                        if n == 0 {
                            break;
                        }
                        hasher.update(&buf[..n]);
                        size += n as u64;
                        f.write_all(&buf[..n]).await.map_err(io_err(&tmp))?;
                    }
                    f.sync_all().await.map_err(io_err(&tmp))?;
                    Ok(())
                }
                .await;
                if let Err(e) = result {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(e);
                }
                let id = hex::encode(hasher.finalize());
                let dest = Self::local_path(root, &id);
                if let Some(dir) = dest.parent() {
                    tokio::fs::create_dir_all(dir).await.map_err(io_err(dir))?;
                }
                // Same content, same name: a concurrent writer's rename is harmless.
                tokio::fs::rename(&tmp, &dest)
                    .await
                    .map_err(io_err(&dest))?;
                Ok(StoredBlob {
                    uri: self.uri(&id)?,
                    sha256: id,
                    size,
                })
            }
            ArtifactStore::Object { store, prefix, .. } => {
                let tmp = prefix.child(".tmp").child(Uuid::new_v4().to_string());
                let upload = store.put_multipart(&tmp).await?;
                let mut writer = WriteMultipart::new(upload);
                loop {
                    let n = match reader.read(&mut buf).await {
                        Ok(n) => n,
                        Err(source) => {
                            let _ = writer.abort().await;
                            return Err(StoreError::Io {
                                path: tmp.to_string(),
                                source,
                            });
                        }
                    };
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    size += n as u64;
                    writer.wait_for_capacity(4).await?;
                    writer.write(&buf[..n]);
                }
                let id = hex::encode(hasher.finalize());
                let dest = Self::object_path(prefix, &id);
                if size == 0 {
                    // Some services refuse a multipart upload without parts.
                    writer.abort().await?;
                    store
                        .put(&dest, object_store::PutPayload::default())
                        .await?;
                } else {
                    writer.finish().await?;
                    store.copy(&tmp, &dest).await?;
                    store.delete(&tmp).await?;
                }
                Ok(StoredBlob {
                    uri: self.uri(&id)?,
                    sha256: id,
                    size,
                })
            }
        }
    }

    /// Read a whole blob.
    pub async fn get(&self, id: &str) -> Result<Vec<u8>> {
        validate_artifact_id(id)?;
        match self {
            ArtifactStore::Local { root } => {
                let path = Self::local_path(root, id);
                match tokio::fs::read(&path).await {
                    Ok(b) => Ok(b),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Err(StoreError::ArtifactNotFound(id.into()))
                    }
                    Err(source) => Err(StoreError::Io {
                        path: path.display().to_string(),
                        source,
                    }),
                }
            }
            ArtifactStore::Object { store, prefix, .. } => {
                match store.get(&Self::object_path(prefix, id)).await {
                    Ok(r) => Ok(r.bytes().await?.to_vec()),
                    Err(object_store::Error::NotFound { .. }) => {
                        Err(StoreError::ArtifactNotFound(id.into()))
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Stream a blob (nothing is loaded whole into memory).
    pub async fn open_reader(&self, id: &str) -> Result<Box<dyn AsyncRead + Send + Unpin>> {
        validate_artifact_id(id)?;
        match self {
            ArtifactStore::Local { root } => {
                let path = Self::local_path(root, id);
                match tokio::fs::File::open(&path).await {
                    Ok(f) => Ok(Box::new(f)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Err(StoreError::ArtifactNotFound(id.into()))
                    }
                    Err(source) => Err(StoreError::Io {
                        path: path.display().to_string(),
                        source,
                    }),
                }
            }
            ArtifactStore::Object { store, prefix, .. } => {
                use futures::TryStreamExt;
                match store.get(&Self::object_path(prefix, id)).await {
                    Ok(r) => {
                        let stream = r.into_stream().map_err(std::io::Error::other);
                        Ok(Box::new(tokio_util::io::StreamReader::new(stream)))
                    }
                    Err(object_store::Error::NotFound { .. }) => {
                        Err(StoreError::ArtifactNotFound(id.into()))
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    pub async fn exists(&self, id: &str) -> Result<bool> {
        validate_artifact_id(id)?;
        match self {
            ArtifactStore::Local { root } => Ok(tokio::fs::try_exists(Self::local_path(root, id))
                .await
                .unwrap_or(false)),
            ArtifactStore::Object { store, prefix, .. } => {
                match store.head(&Self::object_path(prefix, id)).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Delete a blob (absent is fine).
    pub async fn delete(&self, id: &str) -> Result<()> {
        validate_artifact_id(id)?;
        match self {
            ArtifactStore::Local { root } => {
                let path = Self::local_path(root, id);
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(source) => Err(StoreError::Io {
                        path: path.display().to_string(),
                        source,
                    }),
                }
            }
            ArtifactStore::Object { store, prefix, .. } => {
                match store.delete(&Self::object_path(prefix, id)).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}

impl Store {
    /// Store bytes as an artifact and record it in `ops.artifacts`.
    pub async fn put_artifact(
        &self,
        bytes: &[u8],
        media_type: &str,
        run_id: Option<Uuid>,
    ) -> Result<Artifact> {
        let blob = self.artifact_store().put_bytes(bytes).await?;
        self.record_artifact(&blob, media_type, run_id).await
    }

    /// Stream a file (e.g. a backup dump) into the artifact store and record it.
    pub async fn put_artifact_file(
        &self,
        path: &Path,
        media_type: &str,
        run_id: Option<Uuid>,
    ) -> Result<Artifact> {
        let blob = self.artifact_store().put_file(path).await?;
        self.record_artifact(&blob, media_type, run_id).await
    }

    /// Record a blob already written; an existing row (same content) is kept as it is.
    pub async fn record_artifact(
        &self,
        blob: &StoredBlob,
        media_type: &str,
        run_id: Option<Uuid>,
    ) -> Result<Artifact> {
        validate_artifact_id(&blob.sha256)?;
        let size = i64::try_from(blob.size).unwrap_or(i64::MAX);
        let ins = self.sql(
            "INSERT INTO ops.artifacts (sha256, media_type, size_bytes, storage_uri, run_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
        );
        with_pool!(self, p => {
            sqlx::query(&ins)
                .bind(&blob.sha256).bind(media_type).bind(size).bind(&blob.uri).bind(run_id).bind(now())
                .execute(p).await?;
        });
        self.artifact(&blob.sha256)
            .await?
            .ok_or_else(|| StoreError::ArtifactNotFound(blob.sha256.clone()))
    }

    /// The metadata row of an artifact.
    pub async fn artifact(&self, id: &str) -> Result<Option<Artifact>> {
        validate_artifact_id(id)?;
        let sql = self.sql("SELECT * FROM ops.artifacts WHERE sha256 = $1");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, Artifact>(&sql).bind(id).fetch_optional(p).await?),
        )
    }

    /// Metadata and content of an artifact.
    pub async fn read_artifact(&self, id: &str) -> Result<(Artifact, Vec<u8>)> {
        let meta = self
            .artifact(id)
            .await?
            .ok_or_else(|| StoreError::ArtifactNotFound(id.into()))?;
        let bytes = self.artifact_store().get(id).await?;
        Ok((meta, bytes))
    }

    /// Remove an artifact: its metadata row, then its blob (absent is fine).
    pub async fn forget_artifact(&self, id: &str) -> Result<()> {
        validate_artifact_id(id)?;
        let sql = self.sql("DELETE FROM ops.artifacts WHERE sha256 = $1");
        with_pool!(self, p => { sqlx::query(&sql).bind(id).execute(p).await?; });
        self.artifact_store().delete(id).await
    }

    pub async fn artifacts_for_run(&self, run_id: Uuid) -> Result<Vec<Artifact>> {
        let sql = self.sql("SELECT * FROM ops.artifacts WHERE run_id = $1 ORDER BY created_at");
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, Artifact>(&sql).bind(run_id).fetch_all(p).await?),
        )
    }
}
