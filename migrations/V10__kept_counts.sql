-- The totals `/metrics` exports, kept by triggers so a scrape reads a few
-- rows instead of counting whole tables (SPEC §9: under 20 ms at 1,000,000
-- users). Counted once here from what the file already holds.
--
-- `users` counts accounts, not the tombstones of deleted ones (email
-- `deleted-<id>@invalid`, the shape of TOMBSTONE in src/db/users.rs);
-- `paid_users` those on the paid tier; `referrals` every referral row. A
-- migration that rebuilds `users` or `referrals` must make these triggers
-- again. Credit grants are not kept here: the audit holds the operator's
-- actions, not a row per account, so a scrape counts them, and V11 rebuilds
-- `access_audit`, which would drop a trigger made on it here.
CREATE TABLE kept_counts (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO kept_counts (name, value) VALUES
    ('users', (SELECT count(*) FROM users WHERE email NOT GLOB 'deleted-[0-9]*@invalid')),
    ('paid_users', (SELECT count(*) FROM users WHERE tier = 'paid')),
    ('referrals', (SELECT count(*) FROM referrals));

CREATE TRIGGER kept_counts_user_insert AFTER INSERT ON users
BEGIN
    UPDATE kept_counts SET value = value + (NEW.email NOT GLOB 'deleted-[0-9]*@invalid')
    WHERE name = 'users';
    UPDATE kept_counts SET value = value + (NEW.tier = 'paid') WHERE name = 'paid_users';
END;

CREATE TRIGGER kept_counts_user_delete AFTER DELETE ON users
BEGIN
    UPDATE kept_counts SET value = value - (OLD.email NOT GLOB 'deleted-[0-9]*@invalid')
    WHERE name = 'users';
    UPDATE kept_counts SET value = value - (OLD.tier = 'paid') WHERE name = 'paid_users';
END;

-- A deletion turns the row into a tombstone (and the free tier) in place.
CREATE TRIGGER kept_counts_user_update AFTER UPDATE OF email, tier ON users
BEGIN
    UPDATE kept_counts
    SET value = value + (NEW.email NOT GLOB 'deleted-[0-9]*@invalid')
                      - (OLD.email NOT GLOB 'deleted-[0-9]*@invalid')
    WHERE name = 'users';
    UPDATE kept_counts SET value = value + (NEW.tier = 'paid') - (OLD.tier = 'paid')
    WHERE name = 'paid_users';
END;

CREATE TRIGGER kept_counts_referral_insert AFTER INSERT ON referrals
BEGIN
    UPDATE kept_counts SET value = value + 1 WHERE name = 'referrals';
END;

CREATE TRIGGER kept_counts_referral_delete AFTER DELETE ON referrals
BEGIN
    UPDATE kept_counts SET value = value - 1 WHERE name = 'referrals';
END;
