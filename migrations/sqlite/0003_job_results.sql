-- Job results: what a worker produced (e.g. {"run_id": …} or {"backup_id": …}), shown on the
-- job page and linked to the run or backup. NULL until a worker completes the job with one.
ALTER TABLE ops_work_queue ADD COLUMN result TEXT;
