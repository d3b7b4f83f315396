-- Hardening (issue 17.4): a stranger cannot keep a person from signing in.
-- The per-mailbox code limits (one a minute, five an hour) count per mailbox
-- and client address; a mailbox-wide ceiling counts every code.

-- A keyed tag of the client address that asked for the code (an IPv4
-- address or an IPv6 /64, HMAC'd with a key derived from the app secret, so
-- the file and its backups hold no addresses). Codes from before this
-- migration have none: they count only toward the mailbox-wide ceiling.
ALTER TABLE login_codes ADD COLUMN client TEXT;
CREATE INDEX login_codes_mailbox_client_created ON login_codes (mailbox, client, created_at);
