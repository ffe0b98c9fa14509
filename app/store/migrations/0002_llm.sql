-- Every LLM call attempt of a run: usage and cost, and the normalised request and
-- response (secrets already redacted) for `agentops replay`. Row-level security as in 0001.

CREATE TABLE llm_calls (
    id                  bigserial PRIMARY KEY,
    tenant_id           bigint NOT NULL REFERENCES tenants (id),
    run_id              bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    call_id             uuid NOT NULL,            -- one router call; its attempts share it
    attempt             integer NOT NULL,         -- 1, 2, ... across retries and fallbacks
    role                text NOT NULL,
    provider            text NOT NULL,
    model               text NOT NULL,            -- the model id, provider:model
    outcome             text NOT NULL,            -- ok | rate_limited | overloaded | timeout | ...
    detail              text NOT NULL DEFAULT '',
    input_tokens        integer NOT NULL DEFAULT 0,
    output_tokens       integer NOT NULL DEFAULT 0,
    cached_tokens       integer NOT NULL DEFAULT 0,
    cache_write_tokens  integer NOT NULL DEFAULT 0,
    cost_usd            numeric(14, 6) NOT NULL DEFAULT 0,
    latency_ms          integer NOT NULL DEFAULT 0,
    fingerprint         text NOT NULL,            -- sha256 of the normalised request
    request             jsonb NOT NULL,
    response            jsonb,                    -- only when outcome = 'ok'
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_calls_run_idx ON llm_calls (run_id, id);
CREATE INDEX llm_calls_tenant_month_idx ON llm_calls (tenant_id, created_at);

ALTER TABLE llm_calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_calls FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_calls
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::bigint)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::bigint);
-- usage is a ledger: tenants add to it and read it, never rewrite it
GRANT SELECT, INSERT ON llm_calls TO agentops_tenant;
GRANT USAGE, SELECT ON SEQUENCE llm_calls_id_seq TO agentops_tenant;
