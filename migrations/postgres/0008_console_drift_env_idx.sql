-- The console's drift charts per environment: the findings of one environment open at any
-- time in a range (open ones, and those resolved after its start) without a scan of all.
CREATE INDEX drift_env_resolved_idx ON ops.drift_findings (environment, resolved_at);
