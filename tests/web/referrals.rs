//! Referral codes, invite links, the settings page and `GET /api/me`
//! (SPEC §4 "GET /settings", "GET /api/me", §6 Referrals), driven through the
//! real server, with the database read (and, where billing would, written)
//! directly.

use std::time::{Duration, Instant};

use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use crate::support::{
    api_me, csrf_in, enter_emailed_code, html_unescape, input_value, sign_in, text_of, user_id,
    Client, Resp, TestApp,
};

/// How long to wait before concluding that a mail was not sent.
const SETTLE: Duration = Duration::from_millis(500);

const ALPHABET: &str = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

// ------------------------------------------------------------------ helpers

/// GET /settings signed in; must be 200.
fn settings(client: &Client) -> Resp {
    let page = client.get("/settings");
    assert_eq!(page.status, 200, "GET /settings: {}", page.summary());
    page
}

/// The referral code chip of the settings page.
fn code_on_page(html: &str) -> String {
    text_of(html, r#"data-testid="referral-code""#)
}

/// A stat of the settings page (`Pending`, `Converted`, `Active credits`).
fn stat(html: &str, label: &str) -> i64 {
    let text = text_of(html, &format!(r#"data-stat="{label}""#));
    text.parse()
        .unwrap_or_else(|_| panic!("stat {label} is not a number: {text:?}"))
}

/// The `value` of `<input … id="invite-link" …>`.
fn invite_link_on_page(html: &str) -> String {
    let at = html
        .find(r#"id="invite-link""#)
        .unwrap_or_else(|| panic!("no #invite-link in the page:\n{html}"));
    let start = html[..at]
        .rfind("<input")
        .expect("#invite-link is an input");
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    let value_at = tag
        .find("value=\"")
        .unwrap_or_else(|| panic!("#invite-link has no value: {tag}"))
        + "value=\"".len();
    let value_end = value_at + tag[value_at..].find('"').unwrap();
    html_unescape(&tag[value_at..value_end])
}

fn referred_by(app: &TestApp, email: &str) -> Option<i64> {
    app.db()
        .query_row(
            "SELECT referred_by_user_id FROM users WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no user {email}: {e}"))
}

fn stored_code(app: &TestApp, email: &str) -> Option<String> {
    app.db()
        .query_row(
            "SELECT referral_code FROM users WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no user {email}: {e}"))
}

/// `(referrer_user_id, referred_user_id)` of every referral row.
fn referral_rows(app: &TestApp) -> Vec<(i64, i64)> {
    let db = app.db();
    let mut stmt = db
        .prepare("SELECT referrer_user_id, referred_user_id FROM referrals ORDER BY id")
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

/// A signed-in client for `email`, and the code its settings page shows.
fn signed_in_with_code(app: &TestApp, email: &str) -> (Client, String) {
    let client = app.client();
    sign_in(app, &client, email);
    let code = code_on_page(&settings(&client).body);
    (client, code)
}

/// The way a person arrives by an invite: GET `login_path` (e.g.
/// `/login?ref=CODE`), then POST the form as it is (email, csrf and the
/// hidden `ref` if the page has one), read the mail, verify.
fn sign_in_from(app: &TestApp, client: &Client, login_path: &str, email: &str) -> Resp {
    codes_sent_long_ago(app, email);
    let form = client.get(login_path);
    assert_eq!(form.status, 200, "GET {login_path}: {}", form.summary());
    let csrf = csrf_in(&form.body);
    let mut fields = vec![("email", email.to_string()), ("csrf", csrf)];
    if let Some(code) = input_value(&form.body, "ref") {
        fields.push(("ref", code));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sent = client.post_form("/login", &fields);
    assert!(
        sent.is_see_other_to("/verify"),
        "POST /login for {email}: {}",
        sent.summary()
    );
    enter_emailed_code(app, client, email)
}

/// Moves every code already sent two hours back, as if the earlier sign-ins
/// happened a while ago: a second sign-in to the same mailbox (`+tags` and
/// Gmail dots count as one) within the minute would be rate limited (429),
/// which is not what these tests are about.
fn codes_sent_long_ago(app: &TestApp, _email: &str) {
    app.db()
        .execute(
            "UPDATE login_codes SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 hours')",
            [],
        )
        .unwrap();
}

/// `/login?ref=CODE` for an invite link `http://…/login?ref=CODE`.
fn path_of(invite_link: &str) -> String {
    let after_scheme = invite_link.find("://").map(|i| i + 3).unwrap_or(0);
    let slash = after_scheme
        + invite_link[after_scheme..]
            .find('/')
            .expect("a path in the invite link");
    invite_link[slash..].to_string()
}

/// A well-formed code that nobody owns.
fn unowned_code(app: &TestApp, near: &str) -> String {
    let shifted: String = near
        .chars()
        .map(|c| {
            let i = ALPHABET.find(c).unwrap_or(0);
            ALPHABET.as_bytes()[(i + 1) % ALPHABET.len()] as char
        })
        .collect();
    let owner: Option<i64> = app
        .db()
        .query_row(
            "SELECT id FROM users WHERE referral_code = ?1",
            [&shifted],
            |r| r.get(0),
        )
        .optional()
        .unwrap();
    assert_eq!(owner, None, "{shifted} happens to be taken");
    shifted
}

fn assert_invited(page: &Resp, code: &str, what: &str) {
    assert_eq!(page.status, 200, "{what}: {}", page.summary());
    assert!(
        page.body.contains("You were invited"),
        "{what}: no invited banner:\n{}",
        page.body
    );
    assert_eq!(
        input_value(&page.body, "ref").as_deref(),
        Some(code),
        "{what}: hidden ref input"
    );
}

fn assert_not_invited(page: &Resp, what: &str) {
    assert_eq!(page.status, 200, "{what}: {}", page.summary());
    assert!(
        !page.body.contains("You were invited"),
        "{what}: invited banner for a code nobody owns:\n{}",
        page.body
    );
    assert_eq!(
        input_value(&page.body, "ref"),
        None,
        "{what}: a ref input for a code nobody owns"
    );
}

/// RFC 3339 (`…Z`, whole seconds) for now plus an SQLite date modifier.
fn sqlite_time(app: &TestApp, modifier: &str) -> String {
    app.db()
        .query_row(
            "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?1)",
            [modifier],
            |r| r.get(0),
        )
        .unwrap()
}

// ------------------------------------------------------------ the banner

#[test]
fn invite_link_shows_the_invited_banner_and_carries_the_code() {
    let app = TestApp::spawn();
    let (_alice, code) = signed_in_with_code(&app, "alice@example.com");
    assert_eq!(code.len(), 8, "code {code:?}");
    assert!(
        code.chars().all(|c| ALPHABET.contains(c)),
        "code {code:?} outside the alphabet"
    );

    let lower = code.to_lowercase();
    let dashed = format!("{}-{}", &code[..4], &code[4..]);
    let spaced = format!("%20{}%20{}%20", &lower[..4], &lower[4..]);
    let mixed = format!("{}-{}", &lower[..2], &code[2..]);
    for raw in [code.clone(), lower, dashed, spaced, mixed] {
        let visitor = app.client();
        let page = visitor.get(&format!("/login?ref={raw}"));
        assert_invited(&page, &code, &format!("ref={raw}"));
    }
}

#[test]
fn junk_or_unknown_codes_show_no_banner() {
    let app = TestApp::spawn();
    let (_alice, code) = signed_in_with_code(&app, "alice@example.com");
    let unknown = unowned_code(&app, &code);
    let too_long = "A".repeat(1000);
    let refs = [
        String::new(),
        "junk".to_string(),
        code[..7].to_string(),
        format!("{code}X"),
        unknown.clone(),
        unknown.to_lowercase(),
        too_long,
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string(),
        "%FF%FE".to_string(),
    ];
    for raw in &refs {
        let page = app.client().get(&format!("/login?ref={raw}"));
        assert_not_invited(&page, &format!("ref={raw:.40}"));
    }
    assert_not_invited(&app.client().get("/login"), "no ref at all");
}

#[test]
fn ref_longer_than_64_bytes_is_400_without_mail() {
    let app = TestApp::spawn();
    let client = app.client();
    let csrf = csrf_in(&client.get("/login").body);
    let long_ref = "ABCDEFGH".repeat(8) + "J";
    let resp = client.post_form(
        "/login",
        &[
            ("email", "ben@example.com"),
            ("ref", &long_ref),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(
        resp.status,
        400,
        "a {}-byte ref: {}",
        long_ref.len(),
        resp.summary()
    );
    assert_eq!(
        app.mail.count_to_after("ben@example.com", SETTLE),
        0,
        "mailed despite a long ref"
    );
}

// ---------------------------------------------------------- the invite flow

#[test]
fn invited_friend_becomes_a_pending_referral() {
    let app = TestApp::spawn();
    let (alice, code) = signed_in_with_code(&app, "alice@example.com");
    let page = settings(&alice);
    assert!(
        page.body.contains("alice@example.com"),
        "settings without the email:\n{}",
        page.body
    );
    let link = invite_link_on_page(&page.body);
    assert_eq!(link, format!("{}/login?ref={code}", app.base_url()));
    assert!(
        page.body.contains(r#"data-copy="invite-link""#),
        "no Copy button:\n{}",
        page.body
    );
    assert_eq!(stat(&page.body, "Pending"), 0);

    let bob = app.client();
    let landing = bob.get(&path_of(&link));
    assert_invited(&landing, &code, "Bob opening Alice's link");
    sign_in_from(&app, &bob, &path_of(&link), "bob@example.com");

    let (alice_id, bob_id) = (
        user_id(&app, "alice@example.com"),
        user_id(&app, "bob@example.com"),
    );
    assert_eq!(referral_rows(&app), vec![(alice_id, bob_id)]);
    assert_eq!(referred_by(&app, "bob@example.com"), Some(alice_id));
    assert_eq!(referred_by(&app, "alice@example.com"), None);
    let (converted, credited): (Option<String>, Option<String>) = app
        .db()
        .query_row("SELECT converted_at, credited_at FROM referrals", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (converted, credited),
        (None, None),
        "billing fills these, not sign-in"
    );

    let page = settings(&alice);
    assert_eq!(stat(&page.body, "Pending"), 1);
    assert_eq!(stat(&page.body, "Converted"), 0);
    assert_eq!(stat(&page.body, "Active credits"), 0);
    let me = api_me(&alice);
    assert_eq!(me["referral"]["pending"], 1);
    assert_eq!(me["referral"]["converted"], 0);
    // Bob invited nobody.
    assert_eq!(api_me(&bob)["referral"]["pending"], 0);
}

#[test]
fn existing_user_following_an_invite_is_not_referred() {
    let app = TestApp::spawn();
    let (_alice, code) = signed_in_with_code(&app, "alice@example.com");
    let bob = app.client();
    sign_in(&app, &bob, "bob@example.com");

    let again = app.client();
    sign_in_from(
        &app,
        &again,
        &format!("/login?ref={code}"),
        "bob@example.com",
    );
    assert_eq!(referral_rows(&app), vec![]);
    assert_eq!(referred_by(&app, "bob@example.com"), None);
    assert_eq!(
        app.query_i64("SELECT count(*) FROM users WHERE email = 'bob@example.com'"),
        1
    );
}

#[test]
fn self_referral_is_ignored_even_through_an_alias() {
    let app = TestApp::spawn();
    let (_alice, code) = signed_in_with_code(&app, "alice@gmail.com");
    let link = format!("/login?ref={code}");

    // Alice following her own link.
    sign_in_from(&app, &app.client(), &link, "alice@gmail.com");
    // The same mailbox under another spelling is a new account, but not a referral.
    sign_in_from(&app, &app.client(), &link, "a.lice+x@googlemail.com");
    sign_in_from(&app, &app.client(), &link, "Alice+promo@gmail.com");

    assert_eq!(
        app.query_i64("SELECT count(*) FROM users"),
        3,
        "alice and her two alias accounts"
    );
    assert_eq!(referral_rows(&app), vec![]);
    assert_eq!(referred_by(&app, "alice@gmail.com"), None);
    assert_eq!(referred_by(&app, "a.lice+x@googlemail.com"), None);
}

#[test]
fn a_user_is_referred_only_once() {
    let app = TestApp::spawn();
    let (_alice, alice_code) = signed_in_with_code(&app, "alice@example.com");
    let (_carol, carol_code) = signed_in_with_code(&app, "carol@example.com");
    sign_in_from(
        &app,
        &app.client(),
        &format!("/login?ref={alice_code}"),
        "bob@example.com",
    );
    sign_in_from(
        &app,
        &app.client(),
        &format!("/login?ref={carol_code}"),
        "bob@example.com",
    );

    let (alice_id, bob_id) = (
        user_id(&app, "alice@example.com"),
        user_id(&app, "bob@example.com"),
    );
    assert_eq!(referral_rows(&app), vec![(alice_id, bob_id)]);
    assert_eq!(referred_by(&app, "bob@example.com"), Some(alice_id));
}

#[test]
fn unknown_code_is_ignored_silently() {
    let app = TestApp::spawn();
    let (_alice, code) = signed_in_with_code(&app, "alice@example.com");
    let unknown = unowned_code(&app, &code);
    // A form that carries a code nobody owns (a stale or forged link).
    let client = app.client();
    let csrf = csrf_in(&client.get("/login").body);
    let sent = client.post_form(
        "/login",
        &[
            ("email", "dan@example.com"),
            ("ref", &unknown),
            ("csrf", &csrf),
        ],
    );
    assert!(sent.is_see_other_to("/verify"), "{}", sent.summary());
    enter_emailed_code(&app, &client, "dan@example.com");
    // And one through the link itself, with junk.
    sign_in_from(
        &app,
        &app.client(),
        "/login?ref=not-a-code",
        "erin@example.com",
    );

    assert_eq!(
        app.query_i64("SELECT count(*) FROM users"),
        3,
        "accounts still created"
    );
    assert_eq!(referral_rows(&app), vec![]);
    assert_eq!(referred_by(&app, "dan@example.com"), None);
    assert_eq!(referred_by(&app, "erin@example.com"), None);
}

// ------------------------------------------------------------------- codes

#[test]
fn referral_code_is_assigned_on_first_visit_and_stays() {
    let app = TestApp::spawn();
    let alice = app.client();
    sign_in(&app, &alice, "alice@example.com");
    assert_eq!(
        stored_code(&app, "alice@example.com"),
        None,
        "a code before any visit"
    );

    let first = code_on_page(&settings(&alice).body);
    assert_eq!(
        stored_code(&app, "alice@example.com").as_deref(),
        Some(first.as_str())
    );
    for _ in 0..3 {
        assert_eq!(code_on_page(&settings(&alice).body), first);
        assert_eq!(api_me(&alice)["referral"]["code"], first.as_str());
    }

    // First visit through the API this time.
    let bob = app.client();
    sign_in(&app, &bob, "bob@example.com");
    assert_eq!(stored_code(&app, "bob@example.com"), None);
    let from_api = api_me(&bob)["referral"]["code"]
        .as_str()
        .expect("a code string")
        .to_string();
    assert_eq!(
        stored_code(&app, "bob@example.com").as_deref(),
        Some(from_api.as_str())
    );
    assert_eq!(code_on_page(&settings(&bob).body), from_api);
    assert_ne!(from_api, first, "two users, one code");
    for code in [&first, &from_api] {
        assert_eq!(code.len(), 8);
        assert!(code.chars().all(|c| ALPHABET.contains(c)), "{code}");
    }
}

#[test]
fn api_me_has_the_documented_shape() {
    let app = TestApp::spawn();
    let client = app.client();
    sign_in(&app, &client, "fay@example.com");
    let resp = client.get("/api/me");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let content_type = resp.header("content-type").unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "Content-Type {content_type:?}"
    );
    let me: Value = serde_json::from_str(&resp.body).unwrap();

    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&me), ["billing", "email", "paid", "referral", "tier"]);
    assert!(me["billing"].is_null(), "no subscription: {me}");
    assert_eq!(
        keys(&me["paid"]),
        ["active", "days_remaining", "expires_at", "source"]
    );
    assert_eq!(
        keys(&me["referral"]),
        [
            "active_credits",
            "code",
            "converted",
            "invite_url",
            "pending",
            "rewards"
        ]
    );
    assert_eq!(me["referral"]["rewards"], serde_json::json!([]));

    assert_eq!(me["email"], "fay@example.com");
    assert_eq!(me["tier"], "free");
    assert_eq!(me["paid"]["active"], false);
    assert!(me["paid"]["source"].is_null(), "{me}");
    assert!(me["paid"]["expires_at"].is_null(), "{me}");
    assert!(me["paid"]["days_remaining"].is_null(), "{me}");
    let referral = &me["referral"];
    let code = referral["code"].as_str().expect("code is a string");
    assert_eq!(
        referral["invite_url"],
        format!("{}/login?ref={code}", app.base_url()).as_str()
    );
    for key in ["pending", "converted", "active_credits"] {
        assert!(referral[key].is_i64(), "{key} is not an integer: {me}");
        assert_eq!(referral[key], 0);
    }
}

// ------------------------------------------------------------------- stats

#[test]
fn stats_count_conversions_and_running_credits() {
    let app = TestApp::spawn();
    let (alice, code) = signed_in_with_code(&app, "alice@example.com");
    let bob = app.client();
    sign_in_from(&app, &bob, &format!("/login?ref={code}"), "bob@example.com");
    let carol = app.client();
    sign_in_from(
        &app,
        &carol,
        &format!("/login?ref={code}"),
        "carol@example.com",
    );
    let bob_id = user_id(&app, "bob@example.com");

    let counts = |client: &Client| {
        let page = settings(client).body;
        let me = api_me(client);
        let on_page = (
            stat(&page, "Pending"),
            stat(&page, "Converted"),
            stat(&page, "Active credits"),
        );
        let in_api = (
            me["referral"]["pending"].as_i64().unwrap(),
            me["referral"]["converted"].as_i64().unwrap(),
            me["referral"]["active_credits"].as_i64().unwrap(),
        );
        assert_eq!(on_page, in_api, "/settings and /api/me disagree");
        on_page
    };
    assert_eq!(counts(&alice), (2, 0, 0));

    // What billing does when Bob first pays: converted, and a reward each,
    // Alice's banked (she has no subscription) and Bob's running.
    let yesterday = sqlite_time(&app, "-1 day");
    let set = "UPDATE referrals SET converted_at = ?1 WHERE referred_user_id = ?2";
    assert_eq!(
        app.db().execute(set, params![yesterday, bob_id]).unwrap(),
        1
    );
    let alice_id = user_id(&app, "alice@example.com");
    let in_3_months = sqlite_time(&app, "+3 months");
    let reward =
        "INSERT INTO referral_rewards (referral_id, user_id, role, state, created_at, ends_at)
                  SELECT id, ?2, ?3, ?4, ?5, ?6 FROM referrals WHERE referred_user_id = ?1";
    for (user, role, state, ends) in [
        (alice_id, "referrer", "banked", None),
        (bob_id, "referred", "running", Some(&in_3_months)),
    ] {
        let args = params![bob_id, user, role, state, yesterday, ends];
        assert_eq!(app.db().execute(reward, args).unwrap(), 1);
    }
    assert_eq!(
        counts(&alice),
        (1, 1, 1),
        "Alice: pending, converted, active credits"
    );
    assert_eq!(counts(&bob), (0, 0, 1), "Bob's own reward counts for him");
    assert_eq!(counts(&carol), (0, 0, 0));

    // A reward whose three months have run, or that ended, counts no more.
    let long_ago = sqlite_time(&app, "-1 day");
    let set = "UPDATE referral_rewards SET ends_at = ?1 WHERE user_id = ?2";
    assert_eq!(app.db().execute(set, params![long_ago, bob_id]).unwrap(), 1);
    let set = "UPDATE referral_rewards SET state = 'ended' WHERE user_id = ?1";
    assert_eq!(app.db().execute(set, params![alice_id]).unwrap(), 1);
    assert_eq!(counts(&alice), (1, 1, 0));
    assert_eq!(counts(&bob), (0, 0, 0));

    // Billing undoing a conversion keeps the counters right too.
    let unset = "UPDATE referrals SET converted_at = NULL WHERE referred_user_id = ?1";
    app.db().execute(unset, [bob_id]).unwrap();
    assert_eq!(counts(&alice), (2, 0, 0));
}

/// 100,000 referrals for one user: the stats cost what they cost for a user
/// with none, because every statement is an index search, never a scan.
#[test]
fn stats_stay_cheap_with_100k_referrals() {
    const SEEDED: i64 = 100_000;
    let app = TestApp::spawn();
    let big = app.client();
    sign_in(&app, &big, "big@example.com");
    let small = app.client();
    sign_in(&app, &small, "small@example.com");
    let (big_id, small_id) = (
        user_id(&app, "big@example.com"),
        user_id(&app, "small@example.com"),
    );

    let started = Instant::now();
    let mut db = app.db();
    let tx = db
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO users (email, tier, created_at, referred_by_user_id)
         SELECT 'seed' || i || '@example.com', 'free', '2025-01-01T00:00:00Z', ?2 FROM n",
        params![SEEDED, big_id],
    )
    .unwrap();
    let inserted = tx
        .execute(
            "INSERT INTO referrals (referrer_user_id, referred_user_id, created_at)
             SELECT ?1, id, created_at FROM users WHERE referred_by_user_id = ?1",
            [big_id],
        )
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(inserted as i64, SEEDED);
    eprintln!("seeded {SEEDED} referrals in {:?}", started.elapsed());

    // The statements of src/db/referrals.rs, as the app runs them.
    let since = sqlite_time(&app, "+0 seconds"); // now, for `ends_at > ?2`
    let statements = [
        "SELECT pending, converted FROM referral_counts WHERE user_id = ?1",
        "SELECT count(*) FROM referral_rewards WHERE user_id = ?1
           AND (state = 'banked'
                OR (state IN ('applying', 'running') AND (ends_at IS NULL OR ends_at > ?2)))",
    ];
    let db = app.db();
    for sql in statements {
        let takes_since = sql.contains("?2");
        let plan: Vec<String> = {
            let mut stmt = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = if takes_since {
                stmt.query_map(params![big_id, since], |r| r.get::<_, String>(3))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            } else {
                stmt.query_map(params![big_id], |r| r.get::<_, String>(3))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            };
            rows
        };
        assert!(!plan.is_empty(), "{sql}: no query plan");
        for step in &plan {
            assert!(!step.starts_with("SCAN"), "{sql}: a table scan: {plan:?}");
        }
        assert!(
            plan.iter().any(|s| s.starts_with("SEARCH")
                && (s.contains("USING INDEX")
                    || s.contains("USING COVERING INDEX")
                    || s.contains("USING INTEGER PRIMARY KEY"))),
            "{sql}: not an index search: {plan:?}"
        );

        // Runs the statement to the end (the counters may have no row for a
        // user) and counts the virtual machine's steps.
        let steps = |user: i64| {
            let mut stmt = db.prepare(sql).unwrap();
            {
                let mut rows = if takes_since {
                    stmt.query(params![user, since])
                } else {
                    stmt.query(params![user])
                }
                .unwrap();
                while rows.next().unwrap().is_some() {}
            }
            stmt.get_status(rusqlite::StatementStatus::VmStep)
        };
        let (for_big, for_small) = (steps(big_id), steps(small_id));
        assert!(
            for_big <= 2 * for_small + 20,
            "{sql}: {for_big} VM steps for 100k referrals vs {for_small} for none: {plan:?}"
        );
    }

    let page = settings(&big);
    assert_eq!(stat(&page.body, "Pending"), SEEDED);
    assert_eq!(stat(&page.body, "Converted"), 0);
    assert_eq!(stat(&page.body, "Active credits"), 0);
    assert_eq!(api_me(&big)["referral"]["pending"], SEEDED);
    assert_eq!(stat(&settings(&small).body, "Pending"), 0);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

// ------------------------------------------------------- signed out, links

#[test]
fn settings_signed_out_redirects_to_login() {
    let app = TestApp::spawn();
    let resp = app.client().get("/settings");
    assert!(resp.is_see_other_to("/login"), "{}", resp.summary());
}

#[test]
fn api_me_signed_out_is_401_json() {
    let app = TestApp::spawn();
    let resp = app.client().get("/api/me");
    assert_eq!(resp.status, 401, "{}", resp.summary());
    let content_type = resp.header("content-type").unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "Content-Type {content_type:?}"
    );
    let body: Value = serde_json::from_str(&resp.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", resp.body));
    assert_eq!(body["error"], "unauthorized", "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
}

#[test]
fn settings_shows_plan_and_upgrade_hint_for_a_free_user() {
    let app = TestApp::spawn();
    let client = app.client();
    sign_in(&app, &client, "gus@example.com");
    let page = settings(&client);
    assert_eq!(text_of(&page.body, r#"data-testid="tier-badge""#), "free");
    assert!(
        page.body.contains("upgrade-hint"),
        "no upgrade hint for a free user:\n{}",
        page.body
    );
    assert!(
        page.body.contains(r#"href="/settings""#),
        "no Settings link in the top bar:\n{}",
        page.body
    );
    let cache = page.header("cache-control").unwrap_or("");
    assert!(
        cache.contains("no-store"),
        "Cache-Control {cache:?} on a personal page"
    );
}

#[test]
fn invite_link_uses_the_base_url() {
    let app = TestApp::spawn_custom(|_| "https://invest.example.test".to_string(), |_| {});
    let client = app.client();
    sign_in(&app, &client, "hal@example.com");
    let page = settings(&client);
    let code = code_on_page(&page.body);
    let want = format!("https://invest.example.test/login?ref={code}");
    assert_eq!(
        invite_link_on_page(&page.body),
        want,
        "the link on /settings"
    );
    assert_eq!(
        api_me(&client)["referral"]["invite_url"],
        want.as_str(),
        "/api/me invite_url"
    );
}
