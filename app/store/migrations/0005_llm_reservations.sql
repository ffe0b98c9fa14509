-- Budget reservations: before a model call its estimated cost is held here, in a
-- transaction serialised per tenant, so that concurrent calls of one tenant cannot all
-- pass the budget check on the same spending. After the call the row is replaced by the
-- real cost in `llm_calls` (or removed when the call failed). A row a killed worker
-- leaves behind stops counting at `expires_at` (the job timeout), or when the re-enqueue
-- sweep hands its run to another worker. Row-level security as in 0001.

CREATE TABLE llm_reservations (
    id            uuid PRIMARY KEY,
    tenant_id     bigint NOT NULL REFERENCES tenants (id),
    run_id        bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    estimate_usd  numeric(14, 6) NOT NULL CHECK (estimate_usd >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX llm_reservations_tenant_idx ON llm_reservations (tenant_id, expires_at);
CREATE INDEX llm_reservations_run_idx ON llm_reservations (run_id);

ALTER TABLE llm_reservations ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_reservations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_reservations
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::bigint)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::bigint);
GRANT SELECT, INSERT, DELETE ON llm_reservations TO agentops_tenant;
