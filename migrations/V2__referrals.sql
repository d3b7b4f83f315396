-- Referral codes and who invited whom. Existing users get a code lazily.

ALTER TABLE users ADD COLUMN referral_code TEXT;
ALTER TABLE users ADD COLUMN referred_by_user_id INTEGER REFERENCES users (id);
CREATE UNIQUE INDEX users_referral_code ON users (referral_code);

CREATE TABLE referrals (
    id               INTEGER PRIMARY KEY,
    referrer_user_id INTEGER NOT NULL REFERENCES users (id),
    referred_user_id INTEGER NOT NULL UNIQUE REFERENCES users (id),
    created_at       TEXT NOT NULL,
    converted_at     TEXT,
    credited_at      TEXT
);
-- A referrer's rewards still running are a range of this index.
CREATE INDEX referrals_referrer_credited ON referrals (referrer_user_id, credited_at);

-- Pending and converted counts are kept per referrer by these triggers, so
-- the settings page reads two integers instead of counting every referral.
CREATE TABLE referral_counts (
    user_id   INTEGER PRIMARY KEY REFERENCES users (id),
    pending   INTEGER NOT NULL DEFAULT 0,
    converted INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER referrals_count_insert AFTER INSERT ON referrals
BEGIN
    INSERT INTO referral_counts (user_id, pending, converted)
    VALUES (NEW.referrer_user_id,
            CASE WHEN NEW.converted_at IS NULL THEN 1 ELSE 0 END,
            CASE WHEN NEW.converted_at IS NULL THEN 0 ELSE 1 END)
    ON CONFLICT (user_id) DO UPDATE SET
        pending = pending + excluded.pending,
        converted = converted + excluded.converted;
END;

CREATE TRIGGER referrals_count_convert AFTER UPDATE OF converted_at ON referrals
WHEN (OLD.converted_at IS NULL) <> (NEW.converted_at IS NULL)
BEGIN
    UPDATE referral_counts SET
        pending = pending + CASE WHEN NEW.converted_at IS NULL THEN 1 ELSE -1 END,
        converted = converted + CASE WHEN NEW.converted_at IS NULL THEN -1 ELSE 1 END
    WHERE user_id = NEW.referrer_user_id;
END;

CREATE TRIGGER referrals_count_delete AFTER DELETE ON referrals
BEGIN
    UPDATE referral_counts SET
        pending = pending - CASE WHEN OLD.converted_at IS NULL THEN 1 ELSE 0 END,
        converted = converted - CASE WHEN OLD.converted_at IS NULL THEN 0 ELSE 1 END
    WHERE user_id = OLD.referrer_user_id;
END;
