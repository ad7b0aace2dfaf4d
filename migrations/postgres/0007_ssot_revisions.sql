-- Every SSOT revision the controller has loaded, one row per (source, revision): the git
-- commit (or, in directory mode without git, the `sha256:` content hash), whether it was
-- valid, and its first diagnostics. The last valid revision of a source is what the
-- controller falls back to when the head is invalid, across restarts.
CREATE TABLE ops.ssot_revisions (
    source        text NOT NULL,        -- `git:<url without userinfo>#<branch>:<path>` or `dir:<path>`
    commit_sha    text NOT NULL,
    content_hash  text NOT NULL,
    valid         boolean NOT NULL,
    error_count   bigint NOT NULL DEFAULT 0,
    diagnostics   jsonb NOT NULL DEFAULT '[]'::jsonb,
    first_seen_at timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL,  -- the last time this revision was loaded
    PRIMARY KEY (source, commit_sha)
);
CREATE INDEX ssot_revisions_valid_idx ON ops.ssot_revisions (source, valid, recorded_at DESC);
