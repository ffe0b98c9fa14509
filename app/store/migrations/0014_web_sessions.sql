-- Sign-in (app/signin): the sessions of people signed in with GitHub or GitLab, and the
-- read-only scope in which a person's runs list reads several tenants at once.

-- One row per signed-in browser. Not tenant data: a session belongs to a person, who may
-- reach many tenants (installations, projects) or none, and exists before any tenant is
-- known; only the web process, as the owner, reads or writes it (no tenant role grants).
-- The cookie carries the session id; the row is keyed by its digest, so that a copy of
-- the table opens no session. The person's forge tokens are encrypted by the service
-- (AGENTOPS_SESSION_SECRET) before they are stored: never in clear, never in the cookie.
CREATE TABLE web_sessions (
    id_digest       bytea PRIMARY KEY,
    forge           text NOT NULL,
    person_id       text NOT NULL,    -- the forge's numeric user id, as text
    login           text NOT NULL,
    token_sealed    bytea NOT NULL,   -- the access token, encrypted
    refresh_sealed  bytea,            -- the refresh token, encrypted (if the forge gave one)
    token_expires_at timestamptz,     -- when the forge said the access token expires
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX web_sessions_expires_idx ON web_sessions (expires_at);
CREATE INDEX web_sessions_person_idx ON web_sessions (forge, person_id);

-- Readers: a transaction that may SELECT the rows of a set of tenants (a person's
-- workspaces), never write them. As with one tenant (0008), the set is a setting any
-- session may change, so the policies admit it only with a proof keyed by the secret
-- only the owner can read. `app.reader_tenants` is the canonical text of the set
-- (ascending ids, comma-separated); `app.reader_proof` its proof.
DO $$
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION agentops_reader_tenant_ids() RETURNS bigint[]
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
        AS $body$
            SELECT CASE
                WHEN current_setting('app.reader_proof', true) = encode(sha256(convert_to(
                    k.key || encode(sha256(convert_to(
                        k.key || ':readers:' || current_setting('app.reader_tenants', true),
                        'UTF8')), 'hex'),
                    'UTF8')), 'hex')
                THEN string_to_array(current_setting('app.reader_tenants', true), ',')::bigint[]
                ELSE '{}'::bigint[]
            END
            FROM %I.agentops_scope_key k
        $body$
    $f$, current_schema());
END
$$;
REVOKE ALL ON FUNCTION agentops_reader_tenant_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentops_reader_tenant_ids() TO agentops_tenant;

-- A SELECT-only policy beside every table's tenant_isolation: permissive policies add up,
-- so a reader transaction sees the rows of its tenants; a policy FOR SELECT gives no
-- INSERT, UPDATE or DELETE, which still need tenant_isolation (one tenant, its proof).
-- A tenant table created after this migration needs the same policy (see 0006's note).
DO $$
DECLARE t text;
BEGIN
    FOR t IN
        SELECT tablename FROM pg_policies
        WHERE schemaname = current_schema() AND policyname = 'tenant_isolation'
          AND tablename <> 'tenants'
    LOOP
        EXECUTE format(
            'CREATE POLICY tenant_readers ON %I FOR SELECT '
            'USING (tenant_id = ANY (CAST((SELECT agentops_reader_tenant_ids()) AS bigint[])))', t);
    END LOOP;
END
$$;
CREATE POLICY tenant_readers ON tenants FOR SELECT
    USING (id = ANY (CAST((SELECT agentops_reader_tenant_ids()) AS bigint[])));
