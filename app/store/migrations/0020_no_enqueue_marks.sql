-- Which jobs are in the queue is Redis's to say: the sweep (jobs/workflows.py) reads every
-- queued run and pending label check and enqueues those whose job Redis does not hold.
-- The database's mark of each enqueue cost a row update (and, on a full page, an entry in
-- each of the run's indexes) per accepted delivery, and spared the sweep only a check that
-- Redis makes anyway.
ALTER TABLE runs DROP COLUMN enqueued_at;
ALTER TABLE label_checks DROP COLUMN enqueued_at;
