-- The id of the repository a GitHub run was filed on, as its webhook gave it (the run's
-- `context.repo_id`), as a column the runs list compares (app/store/readers.py): a
-- repository's name passes to another when it is renamed or deleted, so a person's list
-- matches runs to the repositories they read by id where both are known. Computed from
-- the context, so the intake's insert is unchanged; NULL for a run without one (GitLab's,
-- whose tenant is the project, and GitHub runs filed before ids were kept).
ALTER TABLE runs ADD COLUMN repo_id bigint GENERATED ALWAYS AS (
    CASE WHEN context->>'repo_id' ~ '^[0-9]{1,18}$' THEN (context->>'repo_id')::bigint END
) STORED;
