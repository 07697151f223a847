-- Idempotent usage metering: one row per (tenant, key) that was billed, so a restarted worker never counts the
-- same usage twice (ActivityStore::record_usage).
CREATE TABLE usage_events (
    tenant_id  UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    period     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- Calls by state and age: the reconciliation pass (CallStore::stale_calls) and the per-state counts of
-- WorkQueue::queue_stats (an index-only scan instead of reading the table).
CREATE INDEX calls_state ON calls (state, updated_at, id);
