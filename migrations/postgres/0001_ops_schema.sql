-- OdooOps evidence store, PostgreSQL flavour. See spec/store.md.
CREATE SCHEMA IF NOT EXISTS ops;

CREATE TABLE ops.runs (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL,          -- reconcile | plan | apply | gate | backup | sync
    trigger         text NOT NULL,          -- cli | watch | resync | webhook | schedule | console
    ssot_revision   text NOT NULL,
    actor           text NOT NULL,
    environment     text,
    correlation_id  text NOT NULL,
    status          text NOT NULL,          -- running | succeeded | failed | cancelled
    summary         jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz
);
CREATE INDEX runs_started_idx ON ops.runs (started_at DESC);
CREATE INDEX runs_kind_started_idx ON ops.runs (kind, started_at DESC);
CREATE INDEX runs_correlation_idx ON ops.runs (correlation_id);

CREATE TABLE ops.artifacts (
    sha256          text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    media_type      text NOT NULL,
    size_bytes      bigint NOT NULL,
    storage_uri     text NOT NULL,
    run_id          uuid REFERENCES ops.runs(id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX artifacts_run_idx ON ops.artifacts (run_id);
CREATE INDEX artifacts_created_idx ON ops.artifacts (created_at);

CREATE TABLE ops.plans (
    id              uuid PRIMARY KEY,
    run_id          uuid NOT NULL REFERENCES ops.runs(id) ON DELETE CASCADE,
    ssot_revision   text NOT NULL,
    live_fingerprint text NOT NULL,
    plan            jsonb NOT NULL,
    rendered        text NOT NULL,
    status          text NOT NULL,          -- planned | applied | superseded | stale
    artifact_sha256 text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX plans_run_idx ON ops.plans (run_id);
CREATE INDEX plans_created_idx ON ops.plans (created_at DESC);

CREATE TABLE ops.diffs (
    id              bigserial PRIMARY KEY,
    run_id          uuid NOT NULL REFERENCES ops.runs(id) ON DELETE CASCADE,
    environment     text,
    resource_kind   text NOT NULL,
    resource_name   text NOT NULL,
    before          jsonb,
    after           jsonb,
    changes         jsonb NOT NULL DEFAULT '[]'::jsonb,
    unified         text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);
CREATE INDEX diffs_run_idx ON ops.diffs (run_id);
CREATE INDEX diffs_resource_idx ON ops.diffs (resource_kind, resource_name, created_at DESC);

CREATE TABLE ops.actions (
    id              uuid PRIMARY KEY,
    dedupe_key      text NOT NULL UNIQUE,
    plan_id         uuid REFERENCES ops.plans(id) ON DELETE SET NULL,
    run_id          uuid REFERENCES ops.runs(id) ON DELETE SET NULL,
    resource_kind   text NOT NULL,
    resource_name   text NOT NULL,
    operation       text NOT NULL,          -- create | update | delete | ...
    status          text NOT NULL,          -- pending | in_flight | succeeded | failed | adopted
    attempts        integer NOT NULL DEFAULT 0,
    provider_request_id text,
    request_summary jsonb,
    response_summary jsonb,
    error           text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX actions_plan_idx ON ops.actions (plan_id);
CREATE INDEX actions_status_idx ON ops.actions (status, updated_at);

CREATE TABLE ops.run_events (
    id              bigserial PRIMARY KEY,
    ts              timestamptz NOT NULL,
    level           text NOT NULL,          -- trace | debug | info | warn | error
    service         text NOT NULL,
    environment     text,
    correlation_id  text,
    run_id          uuid,
    message         text NOT NULL,
    fields          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX run_events_ts_idx ON ops.run_events (ts DESC, id DESC);
CREATE INDEX run_events_env_ts_idx ON ops.run_events (environment, ts DESC, id DESC);
CREATE INDEX run_events_corr_idx ON ops.run_events (correlation_id, ts DESC);

CREATE TABLE ops.drift_findings (
    id              uuid PRIMARY KEY,
    environment     text NOT NULL,
    resource_kind   text NOT NULL,
    resource_name   text NOT NULL,
    field_path      text NOT NULL,
    desired         jsonb,
    observed        jsonb,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    resolved_at     timestamptz,
    resolved_by     text,
    last_run_id     uuid
);
-- at most one open finding per resource field
CREATE UNIQUE INDEX drift_open_uq ON ops.drift_findings (environment, resource_kind, resource_name, field_path)
    WHERE resolved_at IS NULL;
CREATE INDEX drift_open_env_idx ON ops.drift_findings (environment, last_seen DESC) WHERE resolved_at IS NULL;
CREATE INDEX drift_resolved_idx ON ops.drift_findings (resolved_at) WHERE resolved_at IS NOT NULL;

CREATE TABLE ops.gate_runs (
    id              uuid PRIMARY KEY,
    run_id          uuid REFERENCES ops.runs(id) ON DELETE CASCADE,
    environment     text NOT NULL,
    status          text NOT NULL,          -- running | pass | fail | warn
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz
);
CREATE INDEX gate_runs_env_idx ON ops.gate_runs (environment, started_at DESC);

CREATE TABLE ops.gate_results (
    id              bigserial PRIMARY KEY,
    gate_run_id     uuid NOT NULL REFERENCES ops.gate_runs(id) ON DELETE CASCADE,
    gate            text NOT NULL,
    environment     text NOT NULL,
    outcome         text NOT NULL,          -- pass | fail | warn
    measured        jsonb,
    threshold       jsonb,
    evidence_sha256 text,
    message         text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);
CREATE INDEX gate_results_run_idx ON ops.gate_results (gate_run_id);
CREATE INDEX gate_results_gate_env_idx ON ops.gate_results (gate, environment, created_at DESC);

CREATE TABLE ops.backup_jobs (
    id              uuid PRIMARY KEY,
    run_id          uuid REFERENCES ops.runs(id) ON DELETE SET NULL,
    environment     text NOT NULL,
    kind            text NOT NULL,          -- database | filestore | full
    status          text NOT NULL,          -- running | succeeded | failed
    error           text,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz
);
CREATE INDEX backup_jobs_env_idx ON ops.backup_jobs (environment, started_at DESC);

CREATE TABLE ops.backups (
    id              uuid PRIMARY KEY,
    job_id          uuid REFERENCES ops.backup_jobs(id) ON DELETE SET NULL,
    environment     text NOT NULL,
    kind            text NOT NULL,
    size_bytes      bigint NOT NULL,
    sha256          text NOT NULL,
    location        text NOT NULL,
    retention_class text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz
);
CREATE INDEX backups_env_idx ON ops.backups (environment, created_at DESC);
CREATE INDEX backups_sha_idx ON ops.backups (sha256);

CREATE TABLE ops.secret_sync_runs (
    id              uuid PRIMARY KEY,
    run_id          uuid REFERENCES ops.runs(id) ON DELETE SET NULL,
    target          text NOT NULL,
    environment     text,
    pushed_keys     jsonb NOT NULL DEFAULT '[]'::jsonb,
    skipped_keys    jsonb NOT NULL DEFAULT '[]'::jsonb,
    outcome         text NOT NULL,
    message         text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);
CREATE INDEX secret_sync_target_idx ON ops.secret_sync_runs (target, created_at DESC);

CREATE TABLE ops.inventory (
    id              bigserial PRIMARY KEY,
    ingest_id       uuid NOT NULL,
    run_id          uuid REFERENCES ops.runs(id) ON DELETE SET NULL,
    provider        text NOT NULL,
    object_type     text NOT NULL,
    object_id       text NOT NULL,
    name            text,
    environment     text,
    owned           boolean NOT NULL DEFAULT false,
    attributes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    observed_at     timestamptz NOT NULL
);
CREATE INDEX inventory_ingest_idx ON ops.inventory (ingest_id);
CREATE INDEX inventory_object_idx ON ops.inventory (provider, object_type, object_id, observed_at DESC);

CREATE TABLE ops.webhook_deliveries (
    delivery_id     text PRIMARY KEY,
    source          text NOT NULL,
    received_at     timestamptz NOT NULL,
    signature_ok    boolean NOT NULL,
    processed       boolean NOT NULL DEFAULT false,
    processed_at    timestamptz,
    payload_sha256  text
);
CREATE INDEX webhook_received_idx ON ops.webhook_deliveries (received_at DESC);

CREATE TABLE ops.work_queue (
    id              uuid PRIMARY KEY,
    queue           text NOT NULL,
    dedupe_key      text NOT NULL UNIQUE,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          text NOT NULL,          -- queued | claimed | done | failed
    attempts        integer NOT NULL DEFAULT 0,
    run_after       timestamptz NOT NULL,
    claimed_by      text,
    lease_expires_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX work_queue_ready_idx ON ops.work_queue (queue, run_after) WHERE status = 'queued';
CREATE INDEX work_queue_lease_idx ON ops.work_queue (lease_expires_at) WHERE status = 'claimed';
