-- Rewards by state, kept by triggers beside V10's totals, so a `/metrics`
-- scrape reads seven rows instead of counting `referral_rewards` (SPEC §9:
-- a scrape under 20 ms at 1,000,000 users). One row per state the table's
-- CHECK allows, named `rewards:<state>`, counted once here from what the
-- file already holds. A migration that rebuilds `referral_rewards` must
-- make these triggers again.
INSERT INTO kept_counts (name, value)
SELECT 'rewards:' || s.state,
       (SELECT count(*) FROM referral_rewards r WHERE r.state = s.state)
FROM (SELECT 'banked' AS state UNION ALL SELECT 'applying' UNION ALL SELECT 'waiting'
      UNION ALL SELECT 'running' UNION ALL SELECT 'ended' UNION ALL SELECT 'failed'
      UNION ALL SELECT 'revoked') AS s;

CREATE TRIGGER kept_counts_reward_insert AFTER INSERT ON referral_rewards
BEGIN
    UPDATE kept_counts SET value = value + 1 WHERE name = 'rewards:' || NEW.state;
END;

CREATE TRIGGER kept_counts_reward_delete AFTER DELETE ON referral_rewards
BEGIN
    UPDATE kept_counts SET value = value - 1 WHERE name = 'rewards:' || OLD.state;
END;

CREATE TRIGGER kept_counts_reward_update AFTER UPDATE OF state ON referral_rewards
WHEN NEW.state IS NOT OLD.state
BEGIN
    UPDATE kept_counts SET value = value - 1 WHERE name = 'rewards:' || OLD.state;
    UPDATE kept_counts SET value = value + 1 WHERE name = 'rewards:' || NEW.state;
END;
