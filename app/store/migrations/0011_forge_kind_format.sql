-- A forge's kind was checked against a list written into 0001 ('github', 'gitlab'): every
-- new forge would have needed a migration to edit that list. The database now checks the
-- kind's shape only; which kinds exist is the forge registry's (app/forges/registry.py),
-- and the intake refuses a kind the registry does not know before anything is stored.
ALTER TABLE tenants DROP CONSTRAINT IF EXISTS tenants_forge_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_forge_kind_format
    CHECK (forge ~ '^[a-z][a-z0-9-]{0,31}$');
