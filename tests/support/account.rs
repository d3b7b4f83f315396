//! Accounts as the tests need them: a signed-in client (free or paid), the
//! account's own view of itself (`GET /api/me`), and its row id.

use serde_json::Value;

use super::{sign_in, Client, TestApp};

/// A new client signed in as `email` (which creates the account, free tier).
pub fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    sign_in(app, &client, email);
    client
}

/// A new client signed in as `email`, put on the paid tier by the CLI.
pub fn paid_user(app: &TestApp, email: &str) -> Client {
    let client = signed_in(app, email);
    let out = app.cli(&["set-tier", "--email", email, "--tier", "paid"]);
    assert!(
        out.status.success(),
        "set-tier --tier paid for {email}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    client
}

/// GET /api/me signed in; must be 200 JSON.
pub fn api_me(client: &Client) -> Value {
    let resp = client.get("/api/me");
    assert_eq!(resp.status, 200, "GET /api/me: {}", resp.summary());
    serde_json::from_str(&resp.body)
        .unwrap_or_else(|e| panic!("/api/me is not JSON ({e}): {}", resp.body))
}

/// The `users.id` of `email`, read from the database file.
pub fn user_id(app: &TestApp, email: &str) -> i64 {
    app.db()
        .query_row("SELECT id FROM users WHERE email = ?1", [email], |r| {
            r.get(0)
        })
        .unwrap_or_else(|e| panic!("no user {email}: {e}"))
}
