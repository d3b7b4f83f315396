-- Referral rewards that hold up with real money (SPEC §7): reversals,
-- what a subscription has scheduled, the converting transaction, rewards
-- that wait on Paddle's locks or finally failed, and the mailbox a
-- referral was made for (as a keyed hash, never the address).

-- A full refund or a chargeback of the converting transaction reverses a
-- conversion; `converted_at` stays (a referral converts once, ever).
ALTER TABLE referrals ADD COLUMN reversed_at TEXT;
-- The subscription whose first `active` converted the referral: its first
-- transaction is the one a refund reverses, its customer converts once.
ALTER TABLE referrals ADD COLUMN converted_subscription_id TEXT;
-- HMAC of the invitee's normalised mailbox under a key derived from the
-- secret (never stored here): a mailbox is referred at most once, even
-- after its account is deleted and the address is gone from `users`.
ALTER TABLE referrals ADD COLUMN mailbox_hash TEXT;
CREATE INDEX referrals_mailbox_hash ON referrals (mailbox_hash);
CREATE INDEX referrals_converted_subscription ON referrals (converted_subscription_id);
-- `/metrics` counts reversed referrals: a few rows of a partial index.
CREATE INDEX referrals_reversed ON referrals (reversed_at) WHERE reversed_at IS NOT NULL;

-- A reversed referral counts neither as converted nor as pending.
CREATE TRIGGER referrals_count_reverse AFTER UPDATE OF reversed_at ON referrals
WHEN OLD.reversed_at IS NULL AND NEW.reversed_at IS NOT NULL AND NEW.converted_at IS NOT NULL
BEGIN
    UPDATE referral_counts SET converted = converted - 1
    WHERE user_id = NEW.referrer_user_id;
END;

-- Paddle's `next_billed_at` (no reward PATCH within an hour of it),
-- a scheduled pause (`scheduled_change.effective_at` when its action is
-- `pause`), the first transaction (from `transaction_id` of the created
-- event, or the first completed transaction), and whether the subscription
-- came in through `subscription.imported` (access, never a conversion).
ALTER TABLE subscriptions ADD COLUMN next_billed_at TEXT;
ALTER TABLE subscriptions ADD COLUMN pause_at TEXT;
ALTER TABLE subscriptions ADD COLUMN first_transaction_id TEXT;
ALTER TABLE subscriptions ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
CREATE INDEX subscriptions_first_transaction ON subscriptions (first_transaction_id);

-- When Paddle first answered this call with a lock (a wait, retried no
-- sooner than 30 minutes later, for up to 7 days from here).
ALTER TABLE paddle_outbox ADD COLUMN locked_since TEXT;

-- Rewards gain `waiting` (its call waits on a Paddle lock or the renewal
-- window), `failed` (the call finally failed: `app billing-retry` re-queues
-- it) and `revoked` (the referral was reversed). A CHECK cannot be altered:
-- the table is rebuilt with every row and id, and its indexes.
CREATE TABLE referral_rewards_v11 (
    id              INTEGER PRIMARY KEY,
    referral_id     INTEGER NOT NULL REFERENCES referrals (id),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    role            TEXT NOT NULL CHECK (role IN ('referrer', 'referred')),
    state           TEXT NOT NULL CHECK (state IN
                        ('banked', 'applying', 'waiting', 'running', 'ended', 'failed', 'revoked')),
    subscription_id TEXT REFERENCES subscriptions (id),
    created_at      TEXT NOT NULL,
    applied_at      TEXT,
    ends_at         TEXT,
    UNIQUE (referral_id, role)
);
INSERT INTO referral_rewards_v11 (id, referral_id, user_id, role, state, subscription_id,
                                 created_at, applied_at, ends_at)
SELECT id, referral_id, user_id, role, state, subscription_id, created_at, applied_at, ends_at
FROM referral_rewards;
DROP TABLE referral_rewards;
ALTER TABLE referral_rewards_v11 RENAME TO referral_rewards;
CREATE INDEX referral_rewards_user ON referral_rewards (user_id, state);
CREATE INDEX referral_rewards_state ON referral_rewards (state);

-- `access_audit` gains `reverse_referral`: rebuilt as V7 did, every row
-- kept with its id, the index and both append-only triggers made again.
CREATE TABLE access_audit_v11 (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    user_id   INTEGER NOT NULL REFERENCES users (id),
    action    TEXT NOT NULL
              CHECK (action IN ('grant_credit', 'revoke_credit', 'set_tier', 'delete_user',
                                'reverse_referral')),
    old_value TEXT,
    new_value TEXT,
    actor     TEXT NOT NULL,
    client    TEXT,
    note      TEXT
);
INSERT INTO access_audit_v11 (id, at, user_id, action, old_value, new_value, actor, client, note)
SELECT id, at, user_id, action, old_value, new_value, actor, client, note FROM access_audit;
DROP TABLE access_audit;
ALTER TABLE access_audit_v11 RENAME TO access_audit;
CREATE INDEX access_audit_user ON access_audit (user_id, at);

CREATE TRIGGER access_audit_no_update BEFORE UPDATE ON access_audit
BEGIN
    SELECT RAISE(ABORT, 'access_audit is append-only');
END;

CREATE TRIGGER access_audit_no_delete BEFORE DELETE ON access_audit
BEGIN
    SELECT RAISE(ABORT, 'access_audit is append-only');
END;
