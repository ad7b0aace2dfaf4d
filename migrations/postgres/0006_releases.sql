-- One row per deploy of Odoo to an environment: what was delivered (code commit, Odoo
-- revision, digests of the rendered config, the requirements and the secret values — never
-- the values), what it did to the database (modules installed and updated, the pre-update
-- backup), each step with its duration and outcome, the update log artifact, and how it
-- ended (healthy, failed, rolled_back, superseded).
CREATE TABLE ops.releases (
    id                  uuid PRIMARY KEY,
    environment         text NOT NULL,
    run_id              uuid REFERENCES ops.runs(id) ON DELETE SET NULL,
    commit_sha          text NOT NULL,
    odoo_revision       text NOT NULL,
    config_digest       text NOT NULL,
    requirements_digest text,
    secrets_digest      text,
    modules_installed   jsonb NOT NULL DEFAULT '[]'::jsonb,
    modules_updated     jsonb NOT NULL DEFAULT '[]'::jsonb,
    status              text NOT NULL,      -- deploying | healthy | failed | rolled_back | superseded
    trigger             text NOT NULL,
    actor               text NOT NULL,
    previous_release_id uuid,
    backup_id           uuid,
    steps               jsonb NOT NULL DEFAULT '[]'::jsonb,
    log_sha256          text,
    url                 text,
    error               text,
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz
);
CREATE INDEX releases_env_idx ON ops.releases (environment, started_at DESC);
CREATE INDEX releases_run_idx ON ops.releases (run_id);
