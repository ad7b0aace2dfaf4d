-- Backup manifests in full, and bounded jobs (duration, outcome, auto-disable). See spec/store.md.

ALTER TABLE ops_backups ADD COLUMN run_id BLOB REFERENCES ops_runs(id) ON DELETE SET NULL;
ALTER TABLE ops_backups ADD COLUMN filestore_sha256 text;
ALTER TABLE ops_backups ADD COLUMN filestore_size_bytes INTEGER;
ALTER TABLE ops_backups ADD COLUMN manifest_sha256 text;
ALTER TABLE ops_backups ADD COLUMN manifest TEXT NOT NULL DEFAULT '{}';
ALTER TABLE ops_backups ADD COLUMN started_at TEXT;
CREATE INDEX ops_backups_filestore_sha_idx ON ops_backups (filestore_sha256);
CREATE INDEX ops_backups_manifest_sha_idx ON ops_backups (manifest_sha256);

-- One row per execution of a bounded job (backup, restore, clone, gate, sync).
CREATE TABLE ops_job_runs (
    id              BLOB PRIMARY KEY,
    kind            text NOT NULL,          -- backup | restore | clone | gate | sync
    environment     text NOT NULL,
    run_id          BLOB REFERENCES ops_runs(id) ON DELETE SET NULL,
    timeout_ms      INTEGER NOT NULL,
    outcome         text NOT NULL,          -- running | ok | failed | timeout | cancelled | refused
    error           text,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    duration_ms     INTEGER,
    consecutive_timeouts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ops_job_runs_kind_env_idx ON ops_job_runs (kind, environment, started_at DESC);

-- The state of a job (kind + environment): consecutive timeouts and whether it is disabled.
CREATE TABLE ops_job_states (
    kind            text NOT NULL,
    environment     text NOT NULL,
    consecutive_timeouts INTEGER NOT NULL DEFAULT 0,
    disabled        INTEGER NOT NULL DEFAULT 0,
    disabled_reason text,
    disabled_at     TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (kind, environment)
);
