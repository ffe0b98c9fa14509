-- The tenant check of every row-level security policy, in PL/pgSQL: the same test as in
-- 0008, but a SQL function that is not inlined is planned again on every call, and the
-- policies call it once per statement (a third of the intake's database time went there).
DO $$
BEGIN
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION agentops_tenant_id() RETURNS bigint
            LANGUAGE plpgsql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
        AS $body$
        DECLARE
            claimed text := current_setting('app.tenant_id', true);
            key text;
        BEGIN
            SELECT k.key INTO key FROM %I.agentops_scope_key k;
            IF current_setting('app.tenant_proof', true) = encode(sha256(convert_to(
                key || encode(sha256(convert_to(key || ':' || claimed, 'UTF8')), 'hex'),
                'UTF8')), 'hex')
            THEN
                RETURN nullif(claimed, '')::bigint;
            END IF;
            RETURN NULL;
        END
        $body$
    $f$, current_schema());
END
$$;

-- The intake's one round trip: a delivery and the run it asks for, stored in one
-- statement (its own transaction) on a tenant connection. SECURITY INVOKER: it runs as
-- agentops_tenant under row-level security, scoped by the same transaction-local
-- app.tenant_id / app.tenant_proof that `Database.tenant()` sets, so it can store and see
-- only the named tenant's rows, and a wrong proof stores nothing (the policies refuse).
-- Answers (run id, created, reason) as `app/store/runs.py` did in several statements:
-- run id 0 when the earlier delivery or run is another tenant's. Like every query of
-- tenant work, it names tables by the tenant login's search_path.
CREATE FUNCTION agentops_accept_run(
    p_tenant_id bigint, p_proof text, p_forge text, p_delivery_id text, p_event text,
    p_repo text, p_target_kind text, p_target_number integer, p_command text, p_args text,
    p_requested_by text, p_trigger text, p_trigger_key text, p_comment_id bigint,
    p_context jsonb,
    OUT run_id bigint, OUT created boolean, OUT reason text
)
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
    delivery bigint;
    the_run bigint;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant_id::text, true),
            set_config('app.tenant_proof', p_proof, true);
    created := false;
    reason := 'duplicate command';
    INSERT INTO deliveries (tenant_id, forge, delivery_id, event, content_key)
        VALUES (p_tenant_id, p_forge, p_delivery_id, p_event, p_trigger_key)
        ON CONFLICT DO NOTHING RETURNING id INTO delivery;
    IF delivery IS NULL THEN
        SELECT d.run_id INTO the_run FROM deliveries d
            WHERE d.forge = p_forge AND d.delivery_id = p_delivery_id;
        IF FOUND THEN
            reason := 'duplicate delivery';
        ELSE  -- the same command under a new delivery id (maybe another tenant's: 0)
            SELECT d.run_id INTO the_run FROM deliveries d
                WHERE d.forge = p_forge AND d.content_key = p_trigger_key;
        END IF;
        run_id := coalesce(the_run, 0);
        RETURN;
    END IF;
    INSERT INTO runs (tenant_id, forge, repo, target_kind, target_number, command, args,
                      requested_by, trigger, trigger_key, comment_id, context)
        VALUES (p_tenant_id, p_forge, p_repo, p_target_kind, p_target_number, p_command,
                p_args, p_requested_by, p_trigger, p_trigger_key, p_comment_id, p_context)
        ON CONFLICT (trigger_key) DO NOTHING RETURNING id INTO the_run;
    IF the_run IS NOT NULL THEN
        created := true;
        reason := 'accepted';
    ELSE
        SELECT r.id INTO the_run FROM runs r WHERE r.trigger_key = p_trigger_key;
        IF the_run IS NULL THEN  -- another tenant's run, which this tenant cannot see
            run_id := 0;
            RETURN;
        END IF;
    END IF;
    UPDATE deliveries SET run_id = the_run WHERE id = delivery;
    run_id := the_run;
END
$$;
REVOKE ALL ON FUNCTION agentops_accept_run FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentops_accept_run TO agentops_tenant;

-- Many deliveries in one statement, in order: each scoped to its own tenant and proven
-- as above (a wrong proof fails the whole statement, and the caller stores the others
-- one by one). The intake's batches: a burst costs one round trip and one commit per
-- batch instead of per delivery.
CREATE FUNCTION agentops_accept_runs(
    p_tenant_ids bigint[], p_proofs text[], p_forges text[], p_delivery_ids text[],
    p_events text[], p_repos text[], p_target_kinds text[], p_target_numbers integer[],
    p_commands text[], p_args text[], p_requested_by text[], p_triggers text[],
    p_trigger_keys text[], p_comment_ids bigint[], p_contexts jsonb[]
)
    RETURNS TABLE (run_id bigint, created boolean, reason text)
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_tenant_ids, 1), 0) LOOP
        RETURN QUERY SELECT a.run_id, a.created, a.reason FROM agentops_accept_run(
            p_tenant_ids[i], p_proofs[i], p_forges[i], p_delivery_ids[i], p_events[i],
            p_repos[i], p_target_kinds[i], p_target_numbers[i], p_commands[i], p_args[i],
            p_requested_by[i], p_triggers[i], p_trigger_keys[i], p_comment_ids[i],
            p_contexts[i]) a;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION agentops_accept_runs FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentops_accept_runs TO agentops_tenant;
