//! Accounts as the tests need them: signing in the way a person does (by
//! the emailed code), a signed-in client (free or paid), the account's own
//! view of itself (`GET /api/me`), and its row id.

use serde_json::Value;

use super::{csrf_in, Client, Resp, TestServer};

/// A new client signed in as `email` (which creates the account, free tier).
pub fn signed_in(app: &TestServer, email: &str) -> Client {
    let client = app.client();
    sign_in(app, &client, email);
    client
}

/// A new client signed in as `email`, put on the paid tier by the CLI.
pub fn paid_user(app: &TestServer, email: &str) -> Client {
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
pub fn user_id(app: &TestServer, email: &str) -> i64 {
    app.db()
        .query_row("SELECT id FROM users WHERE email = ?1", [email], |r| {
            r.get(0)
        })
        .unwrap_or_else(|e| panic!("no user {email}: {e}"))
}

/// Signs `client` in as `email` the way a person does: GET /login, POST
/// /login, read the mail, GET /verify, POST /verify. Afterwards the client's
/// jar holds the session cookie.
pub fn sign_in(app: &TestServer, client: &Client, email: &str) {
    let form = client.get("/login");
    assert_eq!(form.status, 200, "GET /login: {}", form.summary());
    let sent = client.post_form(
        "/login",
        &[("email", email), ("csrf", &csrf_in(&form.body))],
    );
    assert!(
        sent.is_see_other_to("/verify"),
        "POST /login for {email}: {}",
        sent.summary()
    );
    enter_emailed_code(app, client, email);
}

/// The second half of signing in: GET /verify and POST the code mailed to
/// `email`, which must sign the client in. Returns the POST's answer.
pub fn enter_emailed_code(app: &TestServer, client: &Client, email: &str) -> Resp {
    let code = app.code_for(&email.trim().to_lowercase());
    let form = client.get("/verify");
    assert_eq!(form.status, 200, "GET /verify: {}", form.summary());
    let done = client.post_form(
        "/verify",
        &[("code", &code), ("csrf", &csrf_in(&form.body))],
    );
    assert!(
        done.is_see_other_to("/"),
        "POST /verify for {email}: {}",
        done.summary()
    );
    let session = app.cookie_name("session");
    assert!(
        client.cookie(&session).is_some(),
        "no {session} cookie after sign-in: {}",
        done.summary()
    );
    done
}
