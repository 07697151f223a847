-- Issue 8: login sessions and API tokens (found by the SHA-256 of their secret, never the secret itself), and
-- the indexes that account changes, GDPR erasure and retention look rows up by.

CREATE TABLE sessions (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    user_agent   TEXT
);
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_tenant ON sessions (tenant_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id      BLOB REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    token_hash   BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE UNIQUE INDEX api_tokens_token_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, created_at);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Cross-tenant login look-up and the admin's tenant list.
CREATE INDEX users_login_key ON users (login_key);
CREATE INDEX tenants_created ON tenants (created_at, id);
-- Export pages and erasure: customers in creation order, unlinked calls from a customer's numbers, the rows
-- that name an erased customer, job or call.
CREATE INDEX customers_tenant_created ON customers (tenant_id, created_at, id);
CREATE INDEX calls_tenant_from ON calls (tenant_id, from_number);
CREATE INDEX calls_phone_line ON calls (phone_line_id);
CREATE INDEX jobs_source_call ON jobs (source_call_id);
CREATE INDEX corrections_job ON corrections (job_id);
CREATE INDEX corrections_user ON corrections (user_id);
CREATE INDEX merge_suggestions_customer ON merge_suggestions (customer_id);
CREATE INDEX merge_suggestions_candidate ON merge_suggestions (candidate_id);
CREATE INDEX customer_merges_survivor ON customer_merges (survivor_id);
CREATE INDEX customer_merges_merged ON customer_merges (merged_id);
CREATE INDEX notifications_user ON notifications (user_id);
-- Retention (calls that started before a cutoff) uses calls_tenant_started from 0001.
