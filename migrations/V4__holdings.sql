-- Each user's holdings; the symbol is the key within a portfolio.

CREATE TABLE holdings (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    symbol     TEXT NOT NULL,
    quantity   REAL NOT NULL,
    price      REAL NOT NULL,
    cost_basis REAL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, symbol)
) WITHOUT ROWID;
