-- The live log of a run (issue 15 §1): what each step did, as it happened, for the run
-- page. One row per event, numbered 1, 2, 3, … per run without gaps (`seq`), so that a
-- viewer who resumes from the last number it saw misses nothing and sees nothing twice.
-- Tenant data: row-level security as every tenant table (0001, 0006, 0008, 0014).
CREATE TABLE run_events (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         integer NOT NULL CHECK (seq > 0),
    kind        text NOT NULL,
    step        text,                 -- the step it happened in, if any
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,  -- redacted and size-capped by the service
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, seq)
);

ALTER TABLE run_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE run_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON run_events
    USING (tenant_id = (SELECT agentops_tenant_id()))
    WITH CHECK (tenant_id = (SELECT agentops_tenant_id()));
CREATE POLICY tenant_readers ON run_events FOR SELECT
    USING (tenant_id = ANY (CAST((SELECT agentops_reader_tenant_ids()) AS bigint[])));
DO $$
BEGIN
    EXECUTE format(
        'CREATE POLICY service_owner ON run_events TO %I USING (true) WITH CHECK (true)',
        current_user);
END
$$;
-- events are appended, never changed: no UPDATE or DELETE for tenant work
GRANT SELECT, INSERT ON run_events TO agentops_tenant;

-- Append one event to a run of the transaction's tenant, and say so to the web processes
-- (NOTIFY `agentops_run_events`, payload `<run id>:<seq>`, delivered at commit). The next
-- number is taken under a per-run transaction lock, so two writers never take the same
-- one, and a rolled-back append leaves no gap (the next append takes its number).
-- SECURITY INVOKER: row-level security applies; a run the tenant cannot see is refused
-- (the foreign key alone would accept another tenant's run id).
CREATE FUNCTION agentops_append_run_event(
    p_run_id bigint, p_kind text, p_step text, p_payload jsonb,
    OUT seq integer, OUT created_at timestamptz
)
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
    the_tenant bigint;
BEGIN
    SELECT r.tenant_id INTO the_tenant FROM runs r WHERE r.id = p_run_id;
    IF the_tenant IS NULL THEN
        RAISE EXCEPTION 'no run %', p_run_id USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('agentops.run_events', p_run_id));
    INSERT INTO run_events AS e (tenant_id, run_id, seq, kind, step, payload)
        SELECT the_tenant, p_run_id, coalesce(max(x.seq), 0) + 1, p_kind, p_step, p_payload
        FROM run_events x WHERE x.run_id = p_run_id
        RETURNING e.seq, e.created_at INTO seq, created_at;
    PERFORM pg_notify('agentops_run_events', p_run_id::text || ':' || seq::text);
END
$$;
REVOKE ALL ON FUNCTION agentops_append_run_event FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentops_append_run_event TO agentops_tenant;
