-- Ledger rows name their resource (`env/kind/name`), so a new fault of the same resource is
-- a new generation of its key, and carry the fencing token of the apply that claimed them.
ALTER TABLE ops.actions ADD COLUMN resource_key text;
ALTER TABLE ops.actions ADD COLUMN fence bigint;
CREATE INDEX actions_resource_idx ON ops.actions (resource_key, status);

-- Named leases with a fencing token that grows with every acquisition: a ledger write is
-- accepted only with the current token, so a deposed holder cannot act.
CREATE TABLE ops.leases (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    token       bigint NOT NULL,
    acquired_at timestamptz NOT NULL
);

-- The recorded inventory: cloud objects OdooOps created (or adopted after its own interrupted
-- create). Objects without ownership tags (DNS records, databases and users in a cluster)
-- are ours only when listed here.
CREATE TABLE ops.managed_objects (
    resource_key text PRIMARY KEY,
    kind         text NOT NULL,
    environment  text NOT NULL,
    name         text NOT NULL,
    provider_id  text NOT NULL,
    action_id    uuid,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX managed_objects_kind_idx ON ops.managed_objects (kind);
