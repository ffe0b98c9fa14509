-- `/mcp` finds the newest run on a repository by its name in any case (app/store/readers.py
-- `latest_run_all_tenants`, for `start_run` and the code map): without this index every
-- such call read the whole `runs` table, and a name AgentOps never saw read it to the end.
CREATE INDEX runs_repo_lower_idx ON runs (lower(repo), id DESC);
