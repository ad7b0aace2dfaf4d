//! SSOT revisions (`ops.ssot_revisions`): each revision of each SSOT source the controller
//! loaded, valid or not, with its first diagnostics. The last valid one is the fallback when
//! the head of the source is invalid — after a restart too.

use super::{now, with_pool, Result, Store, Timestamp};
use serde::Serialize;
use serde_json::Value;

/// One loaded revision of one SSOT source.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct SsotRevision {
    /// `git:<url without userinfo>#<branch>:<path>` or `dir:<path>`.
    pub source: String,
    /// The git commit, or the `sha256:…` content hash when there is none.
    pub commit_sha: String,
    /// The `sha256:…` content hash of the YAML files as loaded.
    pub content_hash: String,
    pub valid: bool,
    pub error_count: i64,
    /// The first diagnostics (serialized `ssot::Diagnostic`s), `[]` when valid.
    pub diagnostics: Value,
    pub first_seen_at: Timestamp,
    /// The last time this revision was loaded.
    pub recorded_at: Timestamp,
}

/// A revision just loaded.
#[derive(Clone, Debug)]
pub struct NewSsotRevision {
    pub source: String,
    pub commit_sha: String,
    pub content_hash: String,
    pub valid: bool,
    pub error_count: i64,
    pub diagnostics: Value,
}

impl Store {
    /// Record (or refresh) a loaded revision: one row per (source, revision), its
    /// `recorded_at` moved to now at each load.
    pub async fn record_ssot_revision(&self, r: &NewSsotRevision) -> Result<SsotRevision> {
        let sql = self.sql(
            "INSERT INTO ops.ssot_revisions (source, commit_sha, content_hash, valid, error_count,
                diagnostics, first_seen_at, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (source, commit_sha) DO UPDATE SET content_hash = excluded.content_hash,
                valid = excluded.valid, error_count = excluded.error_count,
                diagnostics = excluded.diagnostics, recorded_at = excluded.recorded_at
             RETURNING *",
        );
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, SsotRevision>(&sql)
            .bind(&r.source)
            .bind(&r.commit_sha)
            .bind(&r.content_hash)
            .bind(r.valid)
            .bind(r.error_count)
            .bind(&r.diagnostics)
            .bind(now())
            .fetch_one(p)
            .await?),
        )
    }

    /// The most recently loaded valid revision of `source`.
    pub async fn last_valid_ssot_revision(&self, source: &str) -> Result<Option<SsotRevision>> {
        let sql = self.sql(
            "SELECT * FROM ops.ssot_revisions WHERE source = $1 AND valid
             ORDER BY recorded_at DESC, commit_sha DESC LIMIT 1",
        );
        Ok(
            with_pool!(self, p => sqlx::query_as::<_, SsotRevision>(&sql)
            .bind(source)
            .fetch_optional(p)
            .await?),
        )
    }

    /// The revisions of `source` (every source when `None`), most recently loaded first.
    pub async fn ssot_revisions(
        &self,
        source: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SsotRevision>> {
        Ok(match source {
            Some(s) => {
                let sql = self.sql(
                    "SELECT * FROM ops.ssot_revisions WHERE source = $1
                     ORDER BY recorded_at DESC, commit_sha DESC LIMIT $2",
                );
                with_pool!(self, p => sqlx::query_as::<_, SsotRevision>(&sql)
                    .bind(s)
                    .bind(limit)
                    .fetch_all(p)
                    .await?)
            }
            None => {
                let sql = self.sql(
                    "SELECT * FROM ops.ssot_revisions ORDER BY recorded_at DESC, commit_sha DESC LIMIT $1",
                );
                with_pool!(self, p => sqlx::query_as::<_, SsotRevision>(&sql)
                    .bind(limit)
                    .fetch_all(p)
                    .await?)
            }
        })
    }
}
