-- The forge's id of the repository a run was filed on, as its webhook gave it (the run's
-- `context`: GitHub's `repo_id`, GitLab's `project_id`), as a column that queries compare
-- (app/store/runs.py, app/store/readers.py): a repository's name passes to another when
-- it is renamed or deleted, so "the runs of this repository" are matched by id where both
-- sides know it. Computed from the context, so the intake's insert is unchanged; NULL for
-- runs filed before ids were kept.
ALTER TABLE runs ADD COLUMN repo_id bigint GENERATED ALWAYS AS (
    CASE
        WHEN context->>'repo_id' ~ '^[0-9]{1,18}$' THEN (context->>'repo_id')::bigint
        WHEN context->>'project_id' ~ '^[0-9]{1,18}$' THEN (context->>'project_id')::bigint
    END
) STORED;
-- a command's runs on one issue (status, cancel, retry), by the repository's id
CREATE INDEX runs_target_repo_id_idx ON runs (tenant_id, repo_id, target_kind, target_number, id DESC)
    WHERE repo_id IS NOT NULL;
