-- Job results: what a worker produced (e.g. {"run_id": …} or {"backup_id": …}), shown on the
-- job page and linked to the run or backup. NULL until a worker completes the job with one.
ALTER TABLE ops.work_queue ADD COLUMN result jsonb;

-- The console's drift page counts open findings per (environment, field path) and lists each
-- environment's last run: both read an index instead of the table.
CREATE INDEX drift_open_field_idx ON ops.drift_findings (environment, field_path) WHERE resolved_at IS NULL;
CREATE INDEX runs_env_started_idx ON ops.runs (environment, started_at DESC);
-- The drift page's newest open findings across every environment.
CREATE INDEX drift_open_seen_idx ON ops.drift_findings (last_seen DESC) WHERE resolved_at IS NULL;
