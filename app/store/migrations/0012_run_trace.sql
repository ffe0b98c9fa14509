-- What links a run to the delivery that started it, for logs and traces: the delivery's
-- id (as the forge sent it) and the W3C trace context of the intake's span (`traceparent`,
-- written by the web process, never taken from a request), so that the worker's spans
-- continue the webhook's trace. Both are NULL for runs made otherwise (a retry, a label
-- check's run) and when tracing is off.
ALTER TABLE runs ADD COLUMN delivery_id text, ADD COLUMN trace_parent text;

-- 0010's functions with one more parameter each (the trace context); otherwise the same.
DROP FUNCTION agentops_accept_runs(
    bigint[], text[], text[], text[], text[], text[], text[], integer[], text[], text[],
    text[], text[], text[], bigint[], jsonb[]);
DROP FUNCTION agentops_accept_run(
    bigint, text, text, text, text, text, text, integer, text, text, text, text, text,
    bigint, jsonb);

CREATE FUNCTION agentops_accept_run(
    p_tenant_id bigint, p_proof text, p_forge text, p_delivery_id text, p_event text,
    p_repo text, p_target_kind text, p_target_number integer, p_command text, p_args text,
    p_requested_by text, p_trigger text, p_trigger_key text, p_comment_id bigint,
    p_context jsonb, p_trace_parent text,
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
                      requested_by, trigger, trigger_key, comment_id, context, delivery_id,
                      trace_parent)
        VALUES (p_tenant_id, p_forge, p_repo, p_target_kind, p_target_number, p_command,
                p_args, p_requested_by, p_trigger, p_trigger_key, p_comment_id, p_context,
                p_delivery_id, p_trace_parent)
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

CREATE FUNCTION agentops_accept_runs(
    p_tenant_ids bigint[], p_proofs text[], p_forges text[], p_delivery_ids text[],
    p_events text[], p_repos text[], p_target_kinds text[], p_target_numbers integer[],
    p_commands text[], p_args text[], p_requested_by text[], p_triggers text[],
    p_trigger_keys text[], p_comment_ids bigint[], p_contexts jsonb[], p_trace_parents text[]
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
            p_contexts[i], p_trace_parents[i]) a;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION agentops_accept_runs FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentops_accept_runs TO agentops_tenant;
