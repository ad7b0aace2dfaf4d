-- One row per deploy of Odoo to an environment (see the PostgreSQL migration).
CREATE TABLE ops_releases (
    id                  BLOB PRIMARY KEY,
    environment         text NOT NULL,
    run_id              BLOB REFERENCES ops_runs(id) ON DELETE SET NULL,
    commit_sha          text NOT NULL,
    odoo_revision       text NOT NULL,
    config_digest       text NOT NULL,
    requirements_digest text,
    secrets_digest      text,
    modules_installed   TEXT NOT NULL DEFAULT '[]',
    modules_updated     TEXT NOT NULL DEFAULT '[]',
    status              text NOT NULL,
    trigger             text NOT NULL,
    actor               text NOT NULL,
    previous_release_id BLOB,
    backup_id           BLOB,
    steps               TEXT NOT NULL DEFAULT '[]',
    log_sha256          text,
    url                 text,
    error               text,
    started_at          TEXT NOT NULL,
    finished_at         TEXT
);
CREATE INDEX ops_releases_env_idx ON ops_releases (environment, started_at DESC);
CREATE INDEX ops_releases_run_idx ON ops_releases (run_id);
