-- A token renewal's lease (app/signin/service.py): the request that renews a person's
-- forge token marks the session's row until this time, and commits. The forge's answer
-- can take seconds; the row lock held until then kept one owner connection per renewal
-- for as long. Other requests of the same session wait for the new token (refresh tokens
-- work once); a renewal whose web process died is taken over once its lease ends.
ALTER TABLE web_sessions ADD COLUMN renewing_until timestamptz;
