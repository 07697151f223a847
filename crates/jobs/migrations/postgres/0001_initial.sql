-- callbook-jobs schema, Postgres dialect. Ids are UUIDs, instants timestamptz, JSON documents jsonb, money integer minor units.

CREATE TABLE tenants (
    id             UUID PRIMARY KEY,
    name           TEXT NOT NULL,
    timezone       TEXT NOT NULL,
    business_hours JSONB NOT NULL,
    settings       JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    tenant_id     UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    login         TEXT NOT NULL,
    login_key     TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, login_key)
);

CREATE TABLE phone_lines (
    id                  UUID PRIMARY KEY,
    tenant_id           UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider            TEXT NOT NULL,
    number              TEXT NOT NULL,
    provider_account_id TEXT NOT NULL,
    provider_number_id  TEXT,
    credentials         BYTEA,
    webhook_mode        TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (provider, number)
);
CREATE INDEX phone_lines_tenant ON phone_lines (tenant_id);

CREATE TABLE customers (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    phones       JSONB NOT NULL,
    address      JSONB NOT NULL,
    address_key  TEXT NOT NULL,
    search_text  TEXT NOT NULL,
    merged_into  UUID REFERENCES customers(id),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX customers_tenant_name ON customers (tenant_id, name);
CREATE INDEX customers_address ON customers (tenant_id, address_key);
CREATE INDEX customers_merged_into ON customers (merged_into);

CREATE TABLE customer_phones (
    tenant_id   UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id UUID NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    phone       TEXT NOT NULL,
    PRIMARY KEY (customer_id, phone)
);
CREATE INDEX customer_phones_lookup ON customer_phones (tenant_id, phone);

CREATE TABLE calls (
    id                 UUID PRIMARY KEY,
    tenant_id          UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    phone_line_id      UUID REFERENCES phone_lines(id),
    provider           TEXT NOT NULL,
    provider_call_id   TEXT NOT NULL,
    from_number        TEXT,
    to_number          TEXT,
    started_at         TIMESTAMPTZ NOT NULL,
    ended_at           TIMESTAMPTZ,
    provider_status    TEXT NOT NULL,
    recording_id       TEXT,
    recording_duration BIGINT,
    recording_key      TEXT,
    customer_id        UUID REFERENCES customers(id),
    state              TEXT NOT NULL,
    step               TEXT,
    checkpoint         JSONB,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    TIMESTAMPTZ,
    lease_owner        TEXT,
    lease_until        TIMESTAMPTZ,
    last_error         TEXT,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, provider, provider_call_id)
);
-- Claiming scans only unfinished calls, in due order.
CREATE INDEX calls_due ON calls ((COALESCE(next_attempt_at, created_at)), id) WHERE state IN ('queued', 'processing');
CREATE INDEX calls_tenant_started ON calls (tenant_id, started_at);
CREATE INDEX calls_customer ON calls (customer_id);

CREATE TABLE transcripts (
    call_id    UUID PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    tenant_id  UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    document   JSONB NOT NULL,
    language   TEXT,
    confidence DOUBLE PRECISION,
    provider   TEXT NOT NULL,
    model      TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE extractions (
    call_id           UUID PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    tenant_id         UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    document          JSONB NOT NULL,
    call_kind         TEXT NOT NULL,
    appointment_count INTEGER NOT NULL,
    confidence        DOUBLE PRECISION,
    extractor         TEXT NOT NULL,
    model             TEXT,
    created_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE jobs (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id     UUID REFERENCES customers(id),
    source_call_id  UUID REFERENCES calls(id),
    source_index    INTEGER,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    address         JSONB NOT NULL,
    scheduled_start TIMESTAMPTZ,
    scheduled_end   TIMESTAMPTZ,
    timezone        TEXT,
    recurrence      TEXT,
    price_minor     BIGINT,
    currency        TEXT,
    urgency         TEXT NOT NULL,
    notes           TEXT,
    stage           TEXT NOT NULL,
    position        BIGINT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, source_call_id, source_index)
);
CREATE INDEX jobs_board ON jobs (tenant_id, stage, position, id);
CREATE INDEX jobs_schedule ON jobs (tenant_id, scheduled_start);
CREATE INDEX jobs_customer ON jobs (customer_id);

CREATE TABLE corrections (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    call_id      UUID NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    job_id       UUID REFERENCES jobs(id),
    field        TEXT NOT NULL,
    before_value JSONB NOT NULL,
    after_value  JSONB NOT NULL,
    user_id      UUID REFERENCES users(id),
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX corrections_call ON corrections (call_id);

CREATE TABLE merge_suggestions (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id  UUID NOT NULL REFERENCES customers(id),
    candidate_id UUID NOT NULL REFERENCES customers(id),
    score        DOUBLE PRECISION NOT NULL,
    reason       JSONB NOT NULL,
    status       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX merge_suggestions_tenant ON merge_suggestions (tenant_id, status);

CREATE TABLE customer_merges (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    survivor_id UUID NOT NULL REFERENCES customers(id),
    merged_id   UUID NOT NULL REFERENCES customers(id),
    actor       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    undone_at   TIMESTAMPTZ
);

CREATE TABLE stage_history (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    job_id     UUID NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    from_stage TEXT,
    to_stage   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX stage_history_job ON stage_history (job_id, seq);

CREATE TABLE job_notes (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    job_id     UUID NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    actor      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX job_notes_job ON job_notes (job_id);

CREATE TABLE job_photos (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    job_id       UUID NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    blob_key     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    caption      TEXT,
    actor        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX job_photos_job ON job_photos (job_id);

CREATE TABLE webhook_keys (
    tenant_id  UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE audit_log (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    details   JSONB NOT NULL,
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, at);

CREATE TABLE usage_counters (
    tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    metric    TEXT NOT NULL,
    period    TEXT NOT NULL,
    total     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, metric, period)
);

CREATE TABLE notifications (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id    UUID REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    payload    JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    read_at    TIMESTAMPTZ
);
CREATE INDEX notifications_tenant ON notifications (tenant_id, created_at);
