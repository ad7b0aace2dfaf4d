-- Backup manifests in full, and bounded jobs (duration, outcome, auto-disable). See spec/store.md.

ALTER TABLE ops.backups ADD COLUMN run_id uuid REFERENCES ops.runs(id) ON DELETE SET NULL;
ALTER TABLE ops.backups ADD COLUMN filestore_sha256 text;
ALTER TABLE ops.backups ADD COLUMN filestore_size_bytes bigint;
ALTER TABLE ops.backups ADD COLUMN manifest_sha256 text;
ALTER TABLE ops.backups ADD COLUMN manifest jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE ops.backups ADD COLUMN started_at timestamptz;
CREATE INDEX backups_filestore_sha_idx ON ops.backups (filestore_sha256);
CREATE INDEX backups_manifest_sha_idx ON ops.backups (manifest_sha256);

-- One row per execution of a bounded job (backup, restore, clone, gate, sync).
CREATE TABLE ops.job_runs (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL,          -- backup | restore | clone | gate | sync
    environment     text NOT NULL,
    run_id          uuid REFERENCES ops.runs(id) ON DELETE SET NULL,
    timeout_ms      bigint NOT NULL,
    outcome         text NOT NULL,          -- running | ok | failed | timeout | cancelled | refused
    error           text,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    duration_ms     bigint,
    consecutive_timeouts integer NOT NULL DEFAULT 0
);
CREATE INDEX job_runs_kind_env_idx ON ops.job_runs (kind, environment, started_at DESC);

-- The state of a job (kind + environment): consecutive timeouts and whether it is disabled.
CREATE TABLE ops.job_states (
    kind            text NOT NULL,
    environment     text NOT NULL,
    consecutive_timeouts integer NOT NULL DEFAULT 0,
    disabled        boolean NOT NULL DEFAULT false,
    disabled_reason text,
    disabled_at     timestamptz,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (kind, environment)
);
