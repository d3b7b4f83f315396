-- Paddle Billing (SPEC §7): every webhook event once, the subscriptions it
-- describes, the two-sided referral rewards, and the outbox of Paddle API
-- calls still owed. `users.tier` stays the one column the paid gate reads.

-- Each event is stored once, in the same transaction as its effects; the
-- unique event_id is what makes a replay change nothing.
CREATE TABLE billing_events (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    event_type  TEXT NOT NULL,
    -- Paddle's own timestamp, kept as Paddle wrote it (microseconds).
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    -- What the event did: ok (applied), stale, unmatched, ignored.
    outcome     TEXT NOT NULL,
    body        TEXT NOT NULL
);

-- One row per Paddle subscription (`sub_…`), as the newest event left it.
CREATE TABLE subscriptions (
    id                     TEXT PRIMARY KEY,
    -- Null while the subscription is not yet matched to an account.
    user_id                INTEGER REFERENCES users (id),
    customer_id            TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN
                               ('active', 'trialing', 'past_due', 'paused', 'canceled')),
    price_id               TEXT,
    current_period_ends_at TEXT,
    -- scheduled_change.effective_at when its action is `cancel`.
    cancel_at              TEXT,
    discount_id            TEXT,
    discount_ends_at       TEXT,
    -- The occurred_at of the event this row was last set from: an older
    -- event for the same subscription changes nothing.
    event_occurred_at      TEXT NOT NULL,
    -- The event_id of that event (the audit note of what it changed).
    last_event_id          TEXT,
    -- 1 once any event has shown it `active` (paid, not trialing), even one
    -- too old to set the row: a referral converts however events arrive.
    was_active             INTEGER NOT NULL DEFAULT 0,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE INDEX subscriptions_user ON subscriptions (user_id);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id);

-- The two rewards a conversion earns, one per party.
CREATE TABLE referral_rewards (
    id              INTEGER PRIMARY KEY,
    referral_id     INTEGER NOT NULL REFERENCES referrals (id),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    role            TEXT NOT NULL CHECK (role IN ('referrer', 'referred')),
    -- banked: waiting for a subscription (or for the one running before it);
    -- applying: the PATCH is in the outbox; running: Paddle accepted it;
    -- ended: its three months are over.
    state           TEXT NOT NULL CHECK (state IN ('banked', 'applying', 'running', 'ended')),
    subscription_id TEXT REFERENCES subscriptions (id),
    created_at      TEXT NOT NULL,
    applied_at      TEXT,
    ends_at         TEXT,
    UNIQUE (referral_id, role)
);
CREATE INDEX referral_rewards_user ON referral_rewards (user_id, state);

-- Paddle API calls owed, written in the transaction that decided them and
-- performed by a background worker. A row is claimed by one update that
-- only one thread (of any process on this file) can win.
CREATE TABLE paddle_outbox (
    id              INTEGER PRIMARY KEY,
    -- create_discount | lookup_customer | apply_discount | cancel_subscription
    kind            TEXT NOT NULL,
    -- The call's arguments as JSON (ids only; never a secret).
    payload         TEXT NOT NULL,
    -- At most one live row per purpose (e.g. `reward:17`), so a replay or a
    -- second process never queues the same call twice.
    dedupe_key      TEXT UNIQUE,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    -- Set while a worker holds the row; a claim older than a few minutes is
    -- taken as abandoned (the process died mid-call).
    claimed_until   TEXT,
    done_at         TEXT,
    -- Set when Paddle refused the call (a 4xx other than 401/403/429): it
    -- is not retried blindly; an operator looks (logs, /metrics).
    failed_at       TEXT,
    last_error      TEXT
);
CREATE INDEX paddle_outbox_due ON paddle_outbox (done_at, next_attempt_at);
