-- 0014's reader scope as PL/pgSQL, for the same reason as 0010's `agentops_tenant_id()`:
-- a SECURITY DEFINER SQL function is never inlined and PostgreSQL plans it again on every
-- call, and every tenant policy's SELECT half calls it once per statement (permissive
-- policies add up), so each of the intake's inserts and updates paid a plan and two
-- digests. A transaction that claims no reader scope (every tenant's own work) now
-- returns at once, before the key is read or anything digested.
DO $$
BEGIN
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION agentops_reader_tenant_ids() RETURNS bigint[]
            LANGUAGE plpgsql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
        AS $body$
        DECLARE
            claimed text := current_setting('app.reader_tenants', true);
            key text;
        BEGIN
            IF claimed IS NULL OR claimed = '' THEN
                RETURN '{}'::bigint[];
            END IF;
            SELECT k.key INTO key FROM %I.agentops_scope_key k;
            IF current_setting('app.reader_proof', true) = encode(sha256(convert_to(
                key || encode(sha256(convert_to(key || ':readers:' || claimed, 'UTF8')), 'hex'),
                'UTF8')), 'hex')
            THEN
                RETURN string_to_array(claimed, ',')::bigint[];
            END IF;
            RETURN '{}'::bigint[];
        END
        $body$
    $f$, current_schema());
END
$$;
