-- Every SSOT revision the controller has loaded (see the PostgreSQL migration).
CREATE TABLE ops_ssot_revisions (
    source        text NOT NULL,
    commit_sha    text NOT NULL,
    content_hash  text NOT NULL,
    valid         boolean NOT NULL,
    error_count   INTEGER NOT NULL DEFAULT 0,
    diagnostics   TEXT NOT NULL DEFAULT '[]',
    first_seen_at TEXT NOT NULL,
    recorded_at   TEXT NOT NULL,
    PRIMARY KEY (source, commit_sha)
);
CREATE INDEX ops_ssot_revisions_valid_idx ON ops_ssot_revisions (source, valid, recorded_at DESC);
