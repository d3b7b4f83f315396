-- Hardening (issue 10): each sign-in code belongs to the pending cookie that
-- asked for it, and code limits count per mailbox rather than per spelling.

-- The pending cookie's nonce; only that browser can spend or burn the code.
-- Codes from before this migration have none and can no longer be used.
ALTER TABLE login_codes ADD COLUMN nonce TEXT;
-- The email with `+tags` (and Gmail's dots) removed: the key the code limits
-- count by. The account itself keeps the email as typed.
ALTER TABLE login_codes ADD COLUMN mailbox TEXT;
UPDATE login_codes SET mailbox = email;
CREATE INDEX login_codes_mailbox_created ON login_codes (mailbox, created_at);
CREATE INDEX login_codes_email_nonce ON login_codes (email, nonce);
