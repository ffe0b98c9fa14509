-- Tenants, deliveries, runs and their steps. Row-level security on every tenant-owned table.

DO $$
BEGIN
    CREATE ROLE agentops_tenant NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT agentops_tenant TO %I', current_user);
EXCEPTION WHEN duplicate_object OR invalid_grant_operation THEN
    NULL;
END
$$;

-- A tenant: a GitHub App installation, or a GitLab instance + project.
CREATE TABLE tenants (
    id            bigserial PRIMARY KEY,
    forge         text NOT NULL CHECK (forge IN ('github', 'gitlab')),
    external_key  text NOT NULL,
    account       text NOT NULL DEFAULT '',
    suspended_at  timestamptz,
    removed_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (forge, external_key)
);

CREATE TABLE runs (
    id              bigserial PRIMARY KEY,
    tenant_id       bigint NOT NULL REFERENCES tenants (id),
    forge           text NOT NULL,
    repo            text NOT NULL,
    target_kind     text NOT NULL CHECK (target_kind IN ('issue', 'pull_request')),
    target_number   integer NOT NULL,
    command         text NOT NULL,
    args            text NOT NULL DEFAULT '',
    requested_by    text NOT NULL,
    trigger         text NOT NULL,            -- comment | label | check_run | retry
    trigger_key     text NOT NULL UNIQUE,     -- one run per command occurrence
    comment_id      bigint,
    context         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    cancel_requested boolean NOT NULL DEFAULT false,
    retry_of        bigint REFERENCES runs (id),
    attempts        integer NOT NULL DEFAULT 0,
    check_ref       jsonb,
    result          jsonb NOT NULL DEFAULT '{}'::jsonb,
    error           text,
    enqueued_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE INDEX runs_target_idx ON runs (tenant_id, repo, target_kind, target_number, id DESC);
CREATE INDEX runs_queued_idx ON runs (created_at) WHERE status = 'queued';

CREATE TABLE deliveries (
    id           bigserial PRIMARY KEY,
    tenant_id    bigint NOT NULL REFERENCES tenants (id),
    forge        text NOT NULL,
    delivery_id  text NOT NULL,
    event        text NOT NULL,
    run_id       bigint REFERENCES runs (id),
    received_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (forge, delivery_id)
);

CREATE TABLE run_steps (
    id           bigserial PRIMARY KEY,
    tenant_id    bigint NOT NULL REFERENCES tenants (id),
    run_id       bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name         text NOT NULL,
    position     integer NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    detail       jsonb NOT NULL DEFAULT '{}'::jsonb,
    error        text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    UNIQUE (run_id, name)
);

-- Row-level security: a tenant transaction sets app.tenant_id and switches role.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['runs', 'deliveries', 'run_steps'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING '
            '(tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::bigint) '
            'WITH CHECK (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::bigint)',
            t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO agentops_tenant', t);
    END LOOP;
END
$$;
GRANT SELECT ON tenants TO agentops_tenant;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO agentops_tenant;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO agentops_tenant;
