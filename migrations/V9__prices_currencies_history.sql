-- Prices, currencies and history (SPEC §10). Amounts become exact decimal
-- text (see src/money.rs), each holding gets its own currency (an existing
-- holding takes its account's base currency, USD) and says where its price
-- came from; FX reference rates, the quote provider's last answers and a
-- daily total per account get tables of their own.

ALTER TABLE users ADD COLUMN base_currency TEXT NOT NULL DEFAULT 'USD'
    CHECK (length(base_currency) = 3 AND base_currency GLOB '[A-Z][A-Z][A-Z]');

-- Rebuilt rather than altered: the amounts move from REAL to decimal text.
-- printf('%.8f') keeps every digit a REAL held, to the 8 places kept.
CREATE TABLE holdings_v9 (
    user_id      INTEGER NOT NULL REFERENCES users (id),
    symbol       TEXT NOT NULL,
    quantity     TEXT NOT NULL,
    price        TEXT NOT NULL,
    cost_basis   TEXT,
    currency     TEXT NOT NULL
                 CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    -- 'typed' (the person's own price) or the quote provider's name.
    price_source TEXT NOT NULL DEFAULT 'typed'
                 CHECK (price_source IN ('typed', 'stooq', 'alphavantage')),
    -- When the provider's price was current; null for a typed price.
    price_at     TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, symbol)
) WITHOUT ROWID;

INSERT INTO holdings_v9 (user_id, symbol, quantity, price, cost_basis, currency,
                         price_source, price_at, updated_at)
SELECT h.user_id, h.symbol,
       printf('%.8f', h.quantity), printf('%.8f', h.price),
       CASE WHEN h.cost_basis IS NULL THEN NULL ELSE printf('%.8f', h.cost_basis) END,
       u.base_currency, 'typed', NULL, h.updated_at
FROM holdings h JOIN users u ON u.id = h.user_id;

DROP TABLE holdings;
ALTER TABLE holdings_v9 RENAME TO holdings;

-- The quote job looks for quoted holdings by symbol.
CREATE INDEX holdings_quoted ON holdings (symbol) WHERE price_source <> 'typed';

-- The ECB's latest daily reference rates: units of `currency` per euro.
CREATE TABLE fx_rates (
    currency   TEXT PRIMARY KEY,
    per_euro   TEXT NOT NULL,
    -- The ECB's reference day (`<Cube time="…">`).
    day        TEXT NOT NULL,
    fetched_at TEXT NOT NULL
) WITHOUT ROWID;

-- One row per quoted symbol: the last good price and when it was current,
-- and when to ask again (backoff after a failure).
CREATE TABLE quotes (
    symbol        TEXT PRIMARY KEY,
    source        TEXT,
    price         TEXT,
    price_at      TEXT,
    fetched_at    TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    next_try_at   TEXT NOT NULL
) WITHOUT ROWID;

-- Each account's total in its base currency, once a day.
CREATE TABLE portfolio_history (
    user_id  INTEGER NOT NULL REFERENCES users (id),
    day      TEXT NOT NULL,
    value    TEXT NOT NULL,
    currency TEXT NOT NULL,
    PRIMARY KEY (user_id, day)
) WITHOUT ROWID;
