//! One factory for where a process keeps its evidence, so every process (`odooops apply`,
//! `run`, `serve`, `backup`, …) uses the same store and artifact store for the same SSOT:
//!
//! - the database: `--database-url` (or `ODOOOPS_DATABASE_URL`), else the URL in the secret
//!   `Project.spec.store.databaseUrlSecret` names (a named secret that is not set is an
//!   error, never a silent fall-back to SQLite), else the embedded SQLite file;
//! - the artifacts: `ODOOOPS_ARTIFACT_URL` (a directory or `s3://bucket[/prefix]` with the
//!   usual `AWS_*` variables), else `Project.spec.artifacts` (a local directory or an
//!   S3-compatible bucket, credentials by registry key), else `DATA_DIR/artifacts`;
//! - several replicas (`--replicas N` / `ODOOOPS_REPLICAS`) need a shared store: SQLite is
//!   refused there (each replica would lead its own file).

use super::{ArtifactStore, Result, Store, StoreError};
use crate::provider::SecretSource;
use crate::ssot::{Ssot, Storage, StorageType};
use object_store::aws::AmazonS3Builder;
use std::path::Path;
use std::sync::Arc;

/// Where the evidence goes, resolved from the command line and the SSOT.
#[derive(Debug, Clone)]
pub struct Placement {
    /// A PostgreSQL (or `sqlite:`) URL; none: the embedded SQLite file.
    pub database_url: Option<String>,
    /// The SSOT's artifact storage; none: `DATA_DIR/artifacts`.
    pub artifacts: Option<ArtifactStore>,
    /// Where the database URL came from, for messages.
    pub source: String,
}

fn invalid(msg: String) -> StoreError {
    StoreError::Invalid(msg)
}

/// The artifact store a `Storage` names.
pub fn artifact_store(storage: &Storage, secrets: &dyn SecretSource) -> Result<ArtifactStore> {
    match storage.kind {
        StorageType::Local => {
            let path = storage
                .path
                .as_deref()
                .ok_or_else(|| invalid("a local artifact storage needs `path`".into()))?;
            Ok(ArtifactStore::local(path))
        }
        StorageType::S3 => {
            let bucket = storage
                .bucket
                .as_deref()
                .ok_or_else(|| invalid("an s3 artifact storage needs `bucket`".into()))?;
            let secret = |key: &Option<String>, what: &str| -> Result<Option<String>> {
                match key {
                    None => Ok(None),
                    Some(k) => secrets
                        .get(k)
                        .map(|v| Some(v.expose().to_string()))
                        .ok_or_else(|| {
                            invalid(format!(
                                "secret `{k}` ({what} of bucket `{bucket}`) is not set in the environment"
                            ))
                        }),
                }
            };
            let mut b = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(storage.region.as_deref().unwrap_or("us-east-1"));
            if let Some(endpoint) = &storage.endpoint {
                b = b
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"))
                    // S3-compatible services (Spaces, Supabase Storage, MinIO) take
                    // path-style requests.
                    .with_virtual_hosted_style_request(false);
            }
            if let Some(k) = secret(&storage.access_key_id_secret, "access key id")? {
                b = b.with_access_key_id(k);
            }
            if let Some(k) = secret(&storage.secret_access_key_secret, "secret access key")? {
                b = b.with_secret_access_key(k);
            }
            let prefix = storage.prefix.as_deref().unwrap_or("").trim_matches('/');
            let url = if prefix.is_empty() {
                format!("s3://{bucket}")
            } else {
                format!("s3://{bucket}/{prefix}")
            };
            Ok(ArtifactStore::object(Arc::new(b.build()?), prefix, &url))
        }
    }
}

/// Resolve where the evidence goes. `flag` is `--database-url`; `replicas` how many
/// processes of this kind run against the store.
pub fn placement(
    ssot: Option<&Ssot>,
    flag: Option<&str>,
    artifact_flag: Option<&str>,
    secrets: &dyn SecretSource,
    replicas: u32,
) -> Result<Placement> {
    let mut named: Vec<(&str, &str)> = Vec::new();
    let mut storages: Vec<(&str, &Storage)> = Vec::new();
    for p in ssot.into_iter().flat_map(|s| s.projects()) {
        if let Some(s) = &p.spec.store {
            named.push((p.metadata.name.as_str(), s.database_url_secret.as_str()));
        }
        if let Some(a) = &p.spec.artifacts {
            storages.push((p.metadata.name.as_str(), a));
        }
    }
    if let Some(((p1, k1), (p2, k2))) = named
        .iter()
        .zip(named.iter().skip(1))
        .find(|((_, a), (_, b))| a != b)
    {
        return Err(invalid(format!(
            "projects `{p1}` and `{p2}` name different stores ({k1}, {k2}): one OdooOps store serves every project of an SSOT"
        )));
    }
    if let Some(((p1, _), (p2, _))) = storages
        .iter()
        .zip(storages.iter().skip(1))
        .find(|((_, a), (_, b))| a != b)
    {
        return Err(invalid(format!(
            "projects `{p1}` and `{p2}` name different artifact storages: one artifact store serves every project of an SSOT"
        )));
    }
    let (database_url, source) = match (flag, named.first()) {
        (Some(url), _) => (Some(url.to_string()), "--database-url".to_string()),
        (None, Some((project, key))) => match secrets.get(key) {
            Some(v) => (
                Some(v.expose().to_string()),
                format!("Project `{project}` spec.store ({key})"),
            ),
            None => {
                return Err(invalid(format!(
                    "Project `{project}` keeps its evidence in the store secret `{key}` names, and `{key}` is not set in the environment: set it (a PostgreSQL URL), or pass --database-url"
                )))
            }
        },
        (None, None) => (None, "the embedded default".to_string()),
    };
    let sqlite = database_url
        .as_deref()
        .is_none_or(|u| u.starts_with("sqlite:"));
    if replicas > 1 && sqlite {
        return Err(invalid(format!(
            "{replicas} replicas are configured (--replicas / ODOOOPS_REPLICAS) but the store is an SQLite file ({source}): each replica would lead its own copy. Set Project.spec.store.databaseUrlSecret to a PostgreSQL URL shared by every replica"
        )));
    }
    let artifacts = match (artifact_flag, storages.first()) {
        (Some(url), _) => Some(ArtifactStore::from_url(url)?),
        (None, Some((_, s))) => Some(artifact_store(s, secrets)?),
        (None, None) => None,
    };
    Ok(Placement {
        database_url,
        artifacts,
        source,
    })
}

impl Store {
    /// Open the store a [`Placement`] names.
    pub async fn open_placed(p: &Placement, data_dir: &Path) -> Result<Store> {
        let store = Store::open(p.database_url.as_deref(), data_dir).await?;
        Ok(match &p.artifacts {
            Some(a) => store.with_artifacts(a.clone()),
            None => store,
        })
    }

    /// Open the store for `ssot` as every process does (secrets and
    /// `ODOOOPS_ARTIFACT_URL` from the environment).
    pub async fn open_for(
        ssot: Option<&Ssot>,
        flag: Option<&str>,
        data_dir: &Path,
        replicas: u32,
    ) -> Result<Store> {
        let artifact_flag = std::env::var("ODOOOPS_ARTIFACT_URL").ok();
        let p = placement(
            ssot,
            flag,
            artifact_flag.as_deref(),
            &crate::provider::EnvSecrets,
            replicas,
        )?;
        Store::open_placed(&p, data_dir).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::StaticSecrets;
    use crate::ssot::{self, Limits};

    fn with_project(extra: &str) -> Ssot {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        for f in std::fs::read_dir(&src).expect("quickstart").flatten() {
            let mut text = std::fs::read_to_string(f.path()).expect("read");
            if f.file_name() == "project.yaml" {
                text = text.replacen(
                    "  defaultRegion: fra1\n",
                    &format!("  defaultRegion: fra1\n{extra}"),
                    1,
                );
                text.push_str("    - name: ODOOOPS_STORE_URL\n      source: env\n      requiredBy: [controller]\n");
            }
            std::fs::write(dir.path().join(f.file_name()), text).expect("write");
        }
        let report = ssot::load(dir.path(), &Limits::default());
        assert!(report.is_valid(), "{:#?}", report.diagnostics);
        report.into_ssot().expect("valid")
    }

    #[test]
    fn the_ssot_store_is_honoured_and_a_missing_secret_is_an_error() {
        let s = with_project("  store:\n    databaseUrlSecret: ODOOOPS_STORE_URL\n");
        let secrets =
            StaticSecrets::default().with("ODOOOPS_STORE_URL", "postgres://u@db.example/ops");
        let p = placement(Some(&s), None, None, &secrets, 2).expect("placement");
        assert_eq!(
            p.database_url.as_deref(),
            Some("postgres://u@db.example/ops")
        );
        // The command line wins.
        let p = placement(Some(&s), Some("sqlite:/tmp/x.db"), None, &secrets, 1).expect("flag");
        assert_eq!(p.database_url.as_deref(), Some("sqlite:/tmp/x.db"));
        // Named but not set: never a silent SQLite.
        let err = placement(Some(&s), None, None, &StaticSecrets::default(), 1).expect_err("unset");
        assert!(err.to_string().contains("ODOOOPS_STORE_URL"), "{err}");
    }

    #[test]
    fn sqlite_is_refused_for_several_replicas() {
        let s = with_project("");
        let err = placement(Some(&s), None, None, &StaticSecrets::default(), 2)
            .expect_err("two sqlite leaders");
        assert!(err.to_string().contains("2 replicas"), "{err}");
        assert!(placement(Some(&s), None, None, &StaticSecrets::default(), 1).is_ok());
    }

    #[test]
    fn an_s3_storage_needs_its_credential_secrets() {
        let storage = Storage {
            kind: StorageType::S3,
            bucket: Some("ops".into()),
            endpoint: Some("http://127.0.0.1:9".into()),
            access_key_id_secret: Some("ODOOOPS_S3_KEY".into()),
            secret_access_key_secret: Some("ODOOOPS_S3_SECRET".into()),
            prefix: Some("evidence".into()),
            ..Storage::default()
        };
        let err = artifact_store(&storage, &StaticSecrets::default()).expect_err("missing");
        assert!(err.to_string().contains("ODOOOPS_S3_KEY"), "{err}");
        let s = artifact_store(
            &storage,
            &StaticSecrets::default()
                .with("ODOOOPS_S3_KEY", "test-key")
                .with("ODOOOPS_S3_SECRET", "test-secret"),
        )
        .expect("store");
        assert_eq!(s.describe(), "s3://ops/evidence");
    }
}
