-- Notifications waiting for their "resolved" follow-up are found by operation and status.
CREATE INDEX IF NOT EXISTS ops_actions_operation_idx ON ops_actions (operation, status);
