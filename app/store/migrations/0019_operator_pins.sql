-- Operators (AGENTOPS_OPERATOR_LOGINS) pinned to the forge's account: a login may be renamed
-- and then registered by anyone, the account's numeric id never changes. An entry without
-- `#ID` gets the id of the first sign-in with its login (trust on first use); a later
-- account with that login signs in as an ordinary person. An id in the entry overrides
-- this row (and replaces it when that account signs in).
-- Not tenant data: only the web process, as the owner, reads or writes it.
CREATE TABLE operator_pins (
    forge      text NOT NULL,
    login      text NOT NULL CHECK (login = lower(login)),  -- logins ignore case
    person_id  text NOT NULL,                                -- the forge's user id, as text
    pinned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (forge, login)
);
REVOKE ALL ON operator_pins FROM PUBLIC;
REVOKE ALL ON operator_pins FROM agentops_tenant;
