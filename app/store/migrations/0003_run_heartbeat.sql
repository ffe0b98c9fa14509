-- A worker running a run touches heartbeat_at; a run whose heartbeat stops (the worker
-- was killed) is handed to another worker by the sweep.
ALTER TABLE runs ADD COLUMN heartbeat_at timestamptz;
CREATE INDEX runs_running_idx ON runs (heartbeat_at) WHERE status = 'running';
