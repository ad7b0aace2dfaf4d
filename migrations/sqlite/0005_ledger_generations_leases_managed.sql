-- Ledger rows name their resource (`env/kind/name`), so a new fault of the same resource is
-- a new generation of its key, and carry the fencing token of the apply that claimed them.
ALTER TABLE ops_actions ADD COLUMN resource_key text;
ALTER TABLE ops_actions ADD COLUMN fence INTEGER;
CREATE INDEX ops_actions_resource_idx ON ops_actions (resource_key, status);

-- Named leases with a fencing token that grows with every acquisition.
CREATE TABLE ops_leases (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    token       INTEGER NOT NULL,
    acquired_at TEXT NOT NULL
);

-- The recorded inventory: cloud objects OdooOps created (or adopted after its own
-- interrupted create).
CREATE TABLE ops_managed_objects (
    resource_key text PRIMARY KEY,
    kind         text NOT NULL,
    environment  text NOT NULL,
    name         text NOT NULL,
    provider_id  text NOT NULL,
    action_id    BLOB,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX ops_managed_objects_kind_idx ON ops_managed_objects (kind);
