-- callbook-jobs schema, SQLite dialect. Ids are 16-byte UUID blobs, instants RFC 3339 UTC text (sortable),
-- JSON documents text, money integer minor units.

CREATE TABLE tenants (
    id             BLOB PRIMARY KEY,
    name           TEXT NOT NULL,
    timezone       TEXT NOT NULL,
    business_hours TEXT NOT NULL,
    settings       TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    login         TEXT NOT NULL,
    login_key     TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT,
    created_at    TEXT NOT NULL,
    UNIQUE (tenant_id, login_key)
);

CREATE TABLE phone_lines (
    id                  BLOB PRIMARY KEY,
    tenant_id           BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider            TEXT NOT NULL,
    number              TEXT NOT NULL,
    provider_account_id TEXT NOT NULL,
    provider_number_id  TEXT,
    credentials         BLOB,
    webhook_mode        TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    UNIQUE (provider, number)
);
CREATE INDEX phone_lines_tenant ON phone_lines (tenant_id);

CREATE TABLE customers (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    phones       TEXT NOT NULL,
    address      TEXT NOT NULL,
    address_key  TEXT NOT NULL,
    search_text  TEXT NOT NULL,
    merged_into  BLOB REFERENCES customers(id),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX customers_tenant_name ON customers (tenant_id, name);
CREATE INDEX customers_address ON customers (tenant_id, address_key);
CREATE INDEX customers_merged_into ON customers (merged_into);

CREATE TABLE customer_phones (
    tenant_id   BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id BLOB NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    phone       TEXT NOT NULL,
    PRIMARY KEY (customer_id, phone)
);
CREATE INDEX customer_phones_lookup ON customer_phones (tenant_id, phone);

CREATE TABLE calls (
    id                 BLOB PRIMARY KEY,
    tenant_id          BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    phone_line_id      BLOB REFERENCES phone_lines(id),
    provider           TEXT NOT NULL,
    provider_call_id   TEXT NOT NULL,
    from_number        TEXT,
    to_number          TEXT,
    started_at         TEXT NOT NULL,
    ended_at           TEXT,
    provider_status    TEXT NOT NULL,
    recording_id       TEXT,
    recording_duration INTEGER,
    recording_key      TEXT,
    customer_id        BLOB REFERENCES customers(id),
    state              TEXT NOT NULL,
    step               TEXT,
    checkpoint         TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    TEXT,
    lease_owner        TEXT,
    lease_until        TEXT,
    last_error         TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (tenant_id, provider, provider_call_id)
);
-- Claiming scans only unfinished calls, in due order.
CREATE INDEX calls_due ON calls ((COALESCE(next_attempt_at, created_at)), id) WHERE state IN ('queued', 'processing');
CREATE INDEX calls_tenant_started ON calls (tenant_id, started_at);
CREATE INDEX calls_customer ON calls (customer_id);

CREATE TABLE transcripts (
    call_id    BLOB PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    tenant_id  BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    document   TEXT NOT NULL,
    language   TEXT,
    confidence REAL,
    provider   TEXT NOT NULL,
    model      TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE extractions (
    call_id           BLOB PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    tenant_id         BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    document          TEXT NOT NULL,
    call_kind         TEXT NOT NULL,
    appointment_count INTEGER NOT NULL,
    confidence        REAL,
    extractor         TEXT NOT NULL,
    model             TEXT,
    created_at        TEXT NOT NULL
);

CREATE TABLE jobs (
    id              BLOB PRIMARY KEY,
    tenant_id       BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id     BLOB REFERENCES customers(id),
    source_call_id  BLOB REFERENCES calls(id),
    source_index    INTEGER,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    address         TEXT NOT NULL,
    scheduled_start TEXT,
    scheduled_end   TEXT,
    timezone        TEXT,
    recurrence      TEXT,
    price_minor     INTEGER,
    currency        TEXT,
    urgency         TEXT NOT NULL,
    notes           TEXT,
    stage           TEXT NOT NULL,
    position        INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (tenant_id, source_call_id, source_index)
);
CREATE INDEX jobs_board ON jobs (tenant_id, stage, position, id);
CREATE INDEX jobs_schedule ON jobs (tenant_id, scheduled_start);
CREATE INDEX jobs_customer ON jobs (customer_id);

CREATE TABLE corrections (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    call_id      BLOB NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    job_id       BLOB REFERENCES jobs(id),
    field        TEXT NOT NULL,
    before_value TEXT NOT NULL,
    after_value  TEXT NOT NULL,
    user_id      BLOB REFERENCES users(id),
    created_at   TEXT NOT NULL
);
CREATE INDEX corrections_call ON corrections (call_id);

CREATE TABLE merge_suggestions (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id  BLOB NOT NULL REFERENCES customers(id),
    candidate_id BLOB NOT NULL REFERENCES customers(id),
    score        REAL NOT NULL,
    reason       TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX merge_suggestions_tenant ON merge_suggestions (tenant_id, status);

CREATE TABLE customer_merges (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    survivor_id BLOB NOT NULL REFERENCES customers(id),
    merged_id   BLOB NOT NULL REFERENCES customers(id),
    actor       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    undone_at   TEXT
);

CREATE TABLE stage_history (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    job_id     BLOB NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    from_stage TEXT,
    to_stage   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX stage_history_job ON stage_history (job_id, seq);

CREATE TABLE job_notes (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    job_id     BLOB NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    actor      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX job_notes_job ON job_notes (job_id);

CREATE TABLE job_photos (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    job_id       BLOB NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    blob_key     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    caption      TEXT,
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX job_photos_job ON job_photos (job_id);

CREATE TABLE webhook_keys (
    tenant_id  BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    details   TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, at);

CREATE TABLE usage_counters (
    tenant_id BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    metric    TEXT NOT NULL,
    period    TEXT NOT NULL,
    total     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, metric, period)
);

CREATE TABLE notifications (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id    BLOB REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at    TEXT
);
CREATE INDEX notifications_tenant ON notifications (tenant_id, created_at);
