-- Notifications waiting for their "resolved" follow-up are found by operation and status.
CREATE INDEX IF NOT EXISTS actions_operation_idx ON ops.actions (operation, status);
