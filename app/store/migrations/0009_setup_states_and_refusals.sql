-- The GitHub App manifest flow: one row per set-up page served while no App is
-- configured. Only digests are kept: the `state` sent to GitHub and the visitor cookie it
-- is bound to. A state is used once (`used_at`). Not tenant data: no tenant role grants.
CREATE TABLE setup_states (
    state_digest    bytea PRIMARY KEY,
    visitor_digest  bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    used_at         timestamptz
);
CREATE INDEX setup_states_created_idx ON setup_states (created_at);

-- Runs refused because the person has no write access, counted per person and
-- repository so that what is posted back to them (the 👀 and the refusal comment) stops
-- at a limit, whichever worker runs the run.
CREATE TABLE refusal_notices (
    run_id     bigint PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    tenant_id  bigint NOT NULL REFERENCES tenants (id),
    repo       text NOT NULL,
    person     text NOT NULL,  -- lower case: logins are case-insensitive
    at         timestamptz NOT NULL
);
CREATE INDEX refusal_notices_person_idx ON refusal_notices (tenant_id, repo, person, at);

ALTER TABLE refusal_notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE refusal_notices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON refusal_notices
    USING (tenant_id = (SELECT agentops_tenant_id()))
    WITH CHECK (tenant_id = (SELECT agentops_tenant_id()));
-- the owner's own policy, as 0006 gives every table with forced row-level security
DO $$
BEGIN
    EXECUTE format(
        'CREATE POLICY service_owner ON refusal_notices TO %I USING (true) WITH CHECK (true)',
        current_user);
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON refusal_notices TO agentops_tenant;
