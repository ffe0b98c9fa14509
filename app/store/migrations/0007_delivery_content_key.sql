-- What a delivery asked for, keyed by the event's content rather than by the forge's
-- delivery id: the run's trigger key (a comment's or note's id; a label event's issue,
-- label and time; a check run button's check run and action). A signed body sent again
-- under a new X-GitHub-Delivery (or Idempotency-Key) has the same content key, so it is
-- refused as a duplicate and starts nothing. Older rows have none (NULLs never collide).

ALTER TABLE deliveries ADD COLUMN content_key text;
CREATE UNIQUE INDEX deliveries_content_key_idx ON deliveries (forge, content_key);
