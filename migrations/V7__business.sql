-- Running it as a business (SPEC §9): the emails sent at most once per
-- subject, a count of analyses, what the operator's funnel reads (and the
-- indexes that keep it fast), and `delete_user` in the audit.

-- One row per notice sent; the unique key is the claim, so a restart, a
-- replayed webhook or a second server on the file never sends it twice.
CREATE TABLE emails_sent (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL
                CHECK (kind IN ('invite_converted', 'credit_ending', 'payment_past_due')),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    -- invite_converted: the referral id; credit_ending: the credit_until
    -- value; payment_past_due: `<subscription id> <current period end>`.
    subject_key TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    UNIQUE (kind, user_id, subject_key)
);

-- Analyses run per UTC day and analyst: a counter, not a log.
CREATE TABLE analysis_counts (
    day      TEXT NOT NULL,
    provider TEXT NOT NULL CHECK (provider IN ('llm', 'builtin')),
    count    INTEGER NOT NULL,
    PRIMARY KEY (day, provider)
) WITHOUT ROWID;

-- When the account first had an `active` subscription (an organic sign-up's
-- conversion). Kept by triggers on `subscriptions`, so billing's code need
-- not know about it; subscriptions already active are backfilled.
ALTER TABLE users ADD COLUMN first_paid_at TEXT;

UPDATE users SET first_paid_at = (
    SELECT min(s.updated_at) FROM subscriptions s
    WHERE s.user_id = users.id AND s.status = 'active'
)
WHERE id IN (SELECT user_id FROM subscriptions WHERE status = 'active');

CREATE TRIGGER subscriptions_first_paid_insert AFTER INSERT ON subscriptions
WHEN NEW.status = 'active' AND NEW.user_id IS NOT NULL
BEGIN
    UPDATE users SET first_paid_at = NEW.updated_at
    WHERE id = NEW.user_id AND first_paid_at IS NULL;
END;

CREATE TRIGGER subscriptions_first_paid_update AFTER UPDATE OF status, user_id ON subscriptions
WHEN NEW.status = 'active' AND NEW.user_id IS NOT NULL
BEGIN
    UPDATE users SET first_paid_at = NEW.updated_at
    WHERE id = NEW.user_id AND first_paid_at IS NULL;
END;

-- What `app stats` and the notices job read, each a range of one index.
CREATE INDEX users_created ON users (created_at, referred_by_user_id, first_paid_at);
CREATE INDEX users_tier_credit ON users (tier, credit_until);
CREATE INDEX referrals_converted ON referrals (converted_at);
CREATE INDEX referrals_created ON referrals (created_at, referrer_user_id, converted_at);
CREATE INDEX subscriptions_status ON subscriptions (status, user_id);
CREATE INDEX referral_rewards_state ON referral_rewards (state);
-- The all-time top referrers, read from the counters V2 keeps, in order.
CREATE INDEX referral_counts_top ON referral_counts (converted DESC, pending + converted DESC);

-- `access_audit` gains the action `delete_user`. A CHECK constraint cannot
-- be altered, so the table is rebuilt: every row is copied with its id, and
-- the index and both append-only triggers are made again. (DROP TABLE fires
-- no row triggers, so the old table's own guard does not stop it.)
CREATE TABLE access_audit_v7 (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    user_id   INTEGER NOT NULL REFERENCES users (id),
    action    TEXT NOT NULL
              CHECK (action IN ('grant_credit', 'revoke_credit', 'set_tier', 'delete_user')),
    old_value TEXT,
    new_value TEXT,
    actor     TEXT NOT NULL,
    client    TEXT,
    note      TEXT
);

INSERT INTO access_audit_v7 (id, at, user_id, action, old_value, new_value, actor, client, note)
SELECT id, at, user_id, action, old_value, new_value, actor, client, note FROM access_audit;

DROP TABLE access_audit;
ALTER TABLE access_audit_v7 RENAME TO access_audit;
CREATE INDEX access_audit_user ON access_audit (user_id, at);

CREATE TRIGGER access_audit_no_update BEFORE UPDATE ON access_audit
BEGIN
    SELECT RAISE(ABORT, 'access_audit is append-only');
END;

CREATE TRIGGER access_audit_no_delete BEFORE DELETE ON access_audit
BEGIN
    SELECT RAISE(ABORT, 'access_audit is append-only');
END;
