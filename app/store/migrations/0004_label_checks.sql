-- Labels the operator's map does not name, waiting for the worker to look them up in the
-- repository's .agentops.yml. A row lives only until that check: it then becomes a run
-- (deliveries.run_id points at it) or is dropped; the delivery row keeps deduplicating.

CREATE TABLE label_checks (
    id             bigserial PRIMARY KEY,
    tenant_id      bigint NOT NULL REFERENCES tenants (id),
    forge          text NOT NULL,
    delivery_id    text NOT NULL,
    repo           text NOT NULL,
    target_kind    text NOT NULL CHECK (target_kind IN ('issue', 'pull_request')),
    target_number  integer NOT NULL,
    labels         text[] NOT NULL,
    requested_by   text NOT NULL,
    trigger_key    text NOT NULL UNIQUE,      -- the key of the run it may start
    context        jsonb NOT NULL DEFAULT '{}'::jsonb,
    enqueued_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE label_checks ENABLE ROW LEVEL SECURITY;
ALTER TABLE label_checks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON label_checks
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::bigint)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::bigint);
GRANT SELECT, INSERT, UPDATE, DELETE ON label_checks TO agentops_tenant;
GRANT USAGE, SELECT ON SEQUENCE label_checks_id_seq TO agentops_tenant;
