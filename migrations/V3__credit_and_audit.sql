-- Complimentary paid access granted by the operator, and an append-only
-- record of every grant, revoke and tier change.

ALTER TABLE users ADD COLUMN credit_until TEXT;

CREATE TABLE access_audit (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    user_id   INTEGER NOT NULL REFERENCES users (id),
    action    TEXT NOT NULL CHECK (action IN ('grant_credit', 'revoke_credit', 'set_tier')),
    old_value TEXT,
    new_value TEXT,
    actor     TEXT NOT NULL,
    client    TEXT,
    note      TEXT
);
CREATE INDEX access_audit_user ON access_audit (user_id, at);

CREATE TRIGGER access_audit_no_update BEFORE UPDATE ON access_audit
BEGIN
    SELECT RAISE(ABORT, 'access_audit is append-only');
END;

CREATE TRIGGER access_audit_no_delete BEFORE DELETE ON access_audit
BEGIN
    SELECT RAISE(ABORT, 'access_audit is append-only');
END;
