-- Tenant work logs in as agentops_tenant on a connection of its own (app/store/db.py),
-- instead of the owner switching with SET LOCAL ROLE: a session authorised as a role that
-- is no member of the owner cannot RESET ROLE or SET ROLE back to it. The role only logs
-- in; its password, if the server asks for one, is the operator's (see
-- AGENTOPS_TENANT_DATABASE_URL). Roles are cluster-wide and another database's migration
-- may alter the same role at the same moment: only a role that cannot log in yet is
-- altered, and a concurrent update is tried again.
DO $$
DECLARE
    tries integer := 0;
BEGIN
    LOOP
        EXIT WHEN (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'agentops_tenant');
        BEGIN
            ALTER ROLE agentops_tenant LOGIN;
            EXIT;
        EXCEPTION WHEN internal_error OR serialization_failure THEN
            -- "tuple concurrently updated": another session altered the role
            tries := tries + 1;
            IF tries > 50 THEN
                RAISE;
            END IF;
            PERFORM pg_sleep(0.1);
        END;
    END LOOP;
END
$$;

-- The tenant login must not be able to become the owner, nor bypass the policies.
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_roles WHERE rolname = 'agentops_tenant'
        AND (rolsuper OR rolbypassrls OR rolcreaterole
             OR pg_has_role('agentops_tenant', current_user, 'MEMBER'))
    ) THEN
        RAISE EXCEPTION 'agentops_tenant is a superuser, may bypass row-level security or '
            'create roles, or is a member of %: tenant work could leave its tenant; '
            'revoke that from agentops_tenant and migrate again', current_user;
    END IF;
END
$$;

-- PUBLIC may connect and use the schema by default; say it for a database where an
-- operator revoked that (the owner may lack the right to grant it: then it is theirs).
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO agentops_tenant', current_database());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO agentops_tenant', current_schema());
EXCEPTION WHEN insufficient_privilege THEN
    NULL;
END
$$;

-- app.tenant_id alone is a setting any session may change (set_config), so tenant work
-- could name another tenant. The policies admit a tenant only when the transaction also
-- carries the proof for it: a hash keyed by a secret that only the owner can read (the
-- service computes the proof; tenant work sees its own proof and no way to make another).
CREATE TABLE agentops_scope_key (
    key         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON agentops_scope_key FROM PUBLIC;
INSERT INTO agentops_scope_key (key)
    VALUES (replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

-- The tenant this transaction may see: app.tenant_id when app.tenant_proof is right for
-- it, else NULL (no row). SECURITY DEFINER: it reads the key the caller cannot. Its
-- search_path and the schema-qualified key table keep a caller's own objects (a temporary
-- table of the same name) out of it.
DO $$
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION agentops_tenant_id() RETURNS bigint
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
        AS $body$
            SELECT CASE
                WHEN current_setting('app.tenant_proof', true) = encode(sha256(convert_to(
                    k.key || encode(sha256(convert_to(
                        k.key || ':' || current_setting('app.tenant_id', true), 'UTF8')),
                        'hex'),
                    'UTF8')), 'hex')
                THEN nullif(current_setting('app.tenant_id', true), '')::bigint
            END
            FROM %I.agentops_scope_key k
        $body$
    $f$, current_schema());
END
$$;
REVOKE ALL ON FUNCTION agentops_tenant_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentops_tenant_id() TO agentops_tenant;

DO $$
DECLARE t text;
BEGIN
    FOR t IN
        SELECT tablename FROM pg_policies
        WHERE schemaname = current_schema() AND policyname = 'tenant_isolation'
    LOOP
        EXECUTE format(
            'ALTER POLICY tenant_isolation ON %I '
            'USING (tenant_id = (SELECT agentops_tenant_id())) '
            'WITH CHECK (tenant_id = (SELECT agentops_tenant_id()))', t);
    END LOOP;
END
$$;

-- A tenant sees only its own row of `tenants`; the owner (as in 0006) every row.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants FOR SELECT
    USING (id = (SELECT agentops_tenant_id()));
DO $$
BEGIN
    EXECUTE format(
        'CREATE POLICY service_owner ON tenants TO %I USING (true) WITH CHECK (true)',
        current_user);
END
$$;
