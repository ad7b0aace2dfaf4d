-- OdooOps evidence store, SQLite flavour (tables prefixed ops_; uuid as 16-byte BLOB, timestamps as RFC 3339 TEXT, JSON as TEXT). See spec/store.md.


CREATE TABLE ops_runs (
    id              BLOB PRIMARY KEY,
    kind            text NOT NULL,          -- reconcile | plan | apply | gate | backup | sync
    trigger         text NOT NULL,          -- cli | watch | resync | webhook | schedule | console
    ssot_revision   text NOT NULL,
    actor           text NOT NULL,
    environment     text,
    correlation_id  text NOT NULL,
    status          text NOT NULL,          -- running | succeeded | failed | cancelled
    summary         TEXT NOT NULL DEFAULT '{}',
    started_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX ops_runs_started_idx ON ops_runs (started_at DESC);
CREATE INDEX ops_runs_kind_started_idx ON ops_runs (kind, started_at DESC);
CREATE INDEX ops_runs_correlation_idx ON ops_runs (correlation_id);

CREATE TABLE ops_artifacts (
    sha256          text PRIMARY KEY CHECK (length(sha256) = 64),
    media_type      text NOT NULL,
    size_bytes      INTEGER NOT NULL,
    storage_uri     text NOT NULL,
    run_id          BLOB REFERENCES ops_runs(id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX ops_artifacts_run_idx ON ops_artifacts (run_id);
CREATE INDEX ops_artifacts_created_idx ON ops_artifacts (created_at);

CREATE TABLE ops_plans (
    id              BLOB PRIMARY KEY,
    run_id          BLOB NOT NULL REFERENCES ops_runs(id) ON DELETE CASCADE,
    ssot_revision   text NOT NULL,
    live_fingerprint text NOT NULL,
    plan            TEXT NOT NULL,
    rendered        text NOT NULL,
    status          text NOT NULL,          -- planned | applied | superseded | stale
    artifact_sha256 text,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX ops_plans_run_idx ON ops_plans (run_id);
CREATE INDEX ops_plans_created_idx ON ops_plans (created_at DESC);

CREATE TABLE ops_diffs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          BLOB NOT NULL REFERENCES ops_runs(id) ON DELETE CASCADE,
    environment     text,
    resource_kind   text NOT NULL,
    resource_name   text NOT NULL,
    before          TEXT,
    after           TEXT,
    changes         TEXT NOT NULL DEFAULT '[]',
    unified         text NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
);
CREATE INDEX ops_diffs_run_idx ON ops_diffs (run_id);
CREATE INDEX ops_diffs_resource_idx ON ops_diffs (resource_kind, resource_name, created_at DESC);

CREATE TABLE ops_actions (
    id              BLOB PRIMARY KEY,
    dedupe_key      text NOT NULL UNIQUE,
    plan_id         BLOB REFERENCES ops_plans(id) ON DELETE SET NULL,
    run_id          BLOB REFERENCES ops_runs(id) ON DELETE SET NULL,
    resource_kind   text NOT NULL,
    resource_name   text NOT NULL,
    operation       text NOT NULL,          -- create | update | delete | ...
    status          text NOT NULL,          -- pending | in_flight | succeeded | failed | adopted
    attempts        integer NOT NULL DEFAULT 0,
    provider_request_id text,
    request_summary TEXT,
    response_summary TEXT,
    error           text,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX ops_actions_plan_idx ON ops_actions (plan_id);
CREATE INDEX ops_actions_status_idx ON ops_actions (status, updated_at);

CREATE TABLE ops_run_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ts              TEXT NOT NULL,
    level           text NOT NULL,          -- trace | debug | info | warn | error
    service         text NOT NULL,
    environment     text,
    correlation_id  text,
    run_id          BLOB,
    message         text NOT NULL,
    fields          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX ops_run_events_ts_idx ON ops_run_events (ts DESC, id DESC);
CREATE INDEX ops_run_events_env_ts_idx ON ops_run_events (environment, ts DESC, id DESC);
CREATE INDEX ops_run_events_corr_idx ON ops_run_events (correlation_id, ts DESC);

CREATE TABLE ops_drift_findings (
    id              BLOB PRIMARY KEY,
    environment     text NOT NULL,
    resource_kind   text NOT NULL,
    resource_name   text NOT NULL,
    field_path      text NOT NULL,
    desired         TEXT,
    observed        TEXT,
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    resolved_at     TEXT,
    resolved_by     text,
    last_run_id     BLOB
);
-- at most one open finding per resource field
CREATE UNIQUE INDEX ops_drift_open_uq ON ops_drift_findings (environment, resource_kind, resource_name, field_path)
    WHERE resolved_at IS NULL;
CREATE INDEX ops_drift_open_env_idx ON ops_drift_findings (environment, last_seen DESC) WHERE resolved_at IS NULL;
CREATE INDEX ops_drift_resolved_idx ON ops_drift_findings (resolved_at) WHERE resolved_at IS NOT NULL;

CREATE TABLE ops_gate_runs (
    id              BLOB PRIMARY KEY,
    run_id          BLOB REFERENCES ops_runs(id) ON DELETE CASCADE,
    environment     text NOT NULL,
    status          text NOT NULL,          -- running | pass | fail | warn
    started_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX ops_gate_runs_env_idx ON ops_gate_runs (environment, started_at DESC);

CREATE TABLE ops_gate_results (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    gate_run_id     BLOB NOT NULL REFERENCES ops_gate_runs(id) ON DELETE CASCADE,
    gate            text NOT NULL,
    environment     text NOT NULL,
    outcome         text NOT NULL,          -- pass | fail | warn
    measured        TEXT,
    threshold       TEXT,
    evidence_sha256 text,
    message         text NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
);
CREATE INDEX ops_gate_results_run_idx ON ops_gate_results (gate_run_id);
CREATE INDEX ops_gate_results_gate_env_idx ON ops_gate_results (gate, environment, created_at DESC);

CREATE TABLE ops_backup_jobs (
    id              BLOB PRIMARY KEY,
    run_id          BLOB REFERENCES ops_runs(id) ON DELETE SET NULL,
    environment     text NOT NULL,
    kind            text NOT NULL,          -- database | filestore | full
    status          text NOT NULL,          -- running | succeeded | failed
    error           text,
    started_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX ops_backup_jobs_env_idx ON ops_backup_jobs (environment, started_at DESC);

CREATE TABLE ops_backups (
    id              BLOB PRIMARY KEY,
    job_id          BLOB REFERENCES ops_backup_jobs(id) ON DELETE SET NULL,
    environment     text NOT NULL,
    kind            text NOT NULL,
    size_bytes      INTEGER NOT NULL,
    sha256          text NOT NULL,
    location        text NOT NULL,
    retention_class text NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT
);
CREATE INDEX ops_backups_env_idx ON ops_backups (environment, created_at DESC);
CREATE INDEX ops_backups_sha_idx ON ops_backups (sha256);

CREATE TABLE ops_secret_sync_runs (
    id              BLOB PRIMARY KEY,
    run_id          BLOB REFERENCES ops_runs(id) ON DELETE SET NULL,
    target          text NOT NULL,
    environment     text,
    pushed_keys     TEXT NOT NULL DEFAULT '[]',
    skipped_keys    TEXT NOT NULL DEFAULT '[]',
    outcome         text NOT NULL,
    message         text NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
);
CREATE INDEX ops_secret_sync_target_idx ON ops_secret_sync_runs (target, created_at DESC);

CREATE TABLE ops_inventory (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ingest_id       BLOB NOT NULL,
    run_id          BLOB REFERENCES ops_runs(id) ON DELETE SET NULL,
    provider        text NOT NULL,
    object_type     text NOT NULL,
    object_id       text NOT NULL,
    name            text,
    environment     text,
    owned           INTEGER NOT NULL DEFAULT false,
    attributes      TEXT NOT NULL DEFAULT '{}',
    observed_at     TEXT NOT NULL
);
CREATE INDEX ops_inventory_ingest_idx ON ops_inventory (ingest_id);
CREATE INDEX ops_inventory_object_idx ON ops_inventory (provider, object_type, object_id, observed_at DESC);

CREATE TABLE ops_webhook_deliveries (
    delivery_id     text PRIMARY KEY,
    source          text NOT NULL,
    received_at     TEXT NOT NULL,
    signature_ok    INTEGER NOT NULL,
    processed       INTEGER NOT NULL DEFAULT false,
    processed_at    TEXT,
    payload_sha256  text
);
CREATE INDEX ops_webhook_received_idx ON ops_webhook_deliveries (received_at DESC);

CREATE TABLE ops_work_queue (
    id              BLOB PRIMARY KEY,
    queue           text NOT NULL,
    dedupe_key      text NOT NULL UNIQUE,
    payload         TEXT NOT NULL DEFAULT '{}',
    status          text NOT NULL,          -- queued | claimed | done | failed
    attempts        integer NOT NULL DEFAULT 0,
    run_after       TEXT NOT NULL,
    claimed_by      text,
    lease_expires_at TEXT,
    last_error      text,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX ops_work_queue_ready_idx ON ops_work_queue (queue, run_after) WHERE status = 'queued';
CREATE INDEX ops_work_queue_lease_idx ON ops_work_queue (lease_expires_at) WHERE status = 'claimed';
