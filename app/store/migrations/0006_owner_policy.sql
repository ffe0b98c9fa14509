-- The service's own role (the one that applies the migrations and owns the tables) reads
-- and writes every tenant's rows in `admin()` work: the intake's lookups, the re-enqueue
-- sweep, the admin API. FORCE ROW LEVEL SECURITY holds the owner to the policies too, so
-- without this policy only a superuser (or a BYPASSRLS role) saw anything there: a
-- dedicated non-superuser role saw no runs to re-enqueue and no reservations to release.
-- Tenant transactions switch to agentops_tenant, to which this policy does not apply.
-- A table that gets row-level security later needs the same policy.
DO $$
DECLARE t text;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relforcerowsecurity
    LOOP
        EXECUTE format(
            'CREATE POLICY service_owner ON %I TO %I USING (true) WITH CHECK (true)',
            t, current_user);
    END LOOP;
END
$$;
