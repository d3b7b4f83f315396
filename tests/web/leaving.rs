//! Leaving cleanly (SPEC §9): the data export, and "Delete my account" on
//! the settings page, checked table by table.

use serde_json::Value;

use crate::support::{
    csrf_in, enter_emailed_code, input_value, sign_in, user_id, Client, TestServer,
};

/// Signs `email` in through `/login?ref=CODE`, the way an invited person does.
pub fn sign_in_invited(app: &TestServer, code: &str, email: &str) -> Client {
    let client = app.client();
    let form = client.get(&format!("/login?ref={code}"));
    let fields = [
        ("email", email.to_string()),
        ("csrf", csrf_in(&form.body)),
        (
            "ref",
            input_value(&form.body, "ref").expect("the invited form carries the code"),
        ),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(client
        .post_form("/login", &fields)
        .is_see_other_to("/verify"));
    enter_emailed_code(app, &client, email);
    client
}

/// The referral code the settings page gives `client`'s account.
fn code_of(app: &TestServer, client: &Client, email: &str) -> String {
    assert_eq!(client.get("/settings").status, 200);
    app.db()
        .query_row(
            "SELECT referral_code FROM users WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap()
}

fn add_holding(client: &Client, symbol: &str) {
    let page = client.get("/portfolio");
    let resp = client.post_form(
        "/portfolio/holdings",
        &[
            ("symbol", symbol),
            ("quantity", "3"),
            ("price", "100"),
            ("cost_basis", ""),
            ("csrf", &csrf_in(&page.body)),
        ],
    );
    assert!(resp.is_see_other_to("/portfolio"), "{}", resp.summary());
}

fn subscribe(app: &TestServer, user_id: i64, status: &str, cancel_at: Option<&str>) {
    app.db()
        .execute(
            "INSERT INTO subscriptions (id, user_id, customer_id, status, current_period_ends_at,
                 cancel_at, event_occurred_at, created_at, updated_at)
             VALUES ('sub_01leave', ?1, 'ctm_01leave', ?2, '2030-01-01T00:00:00Z', ?3,
                     '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            rusqlite::params![user_id, status, cancel_at],
        )
        .unwrap();
}

fn post_delete(client: &Client, confirm: &str) -> crate::support::Resp {
    let page = client.get("/settings");
    assert!(
        page.body.contains("action=\"/account/delete\""),
        "the settings page offers deletion: {}",
        page.body
    );
    client.post_form(
        "/account/delete",
        &[("confirm", confirm), ("csrf", &csrf_in(&page.body))],
    )
}

#[test]
fn export_is_a_download_of_my_data_without_anyone_elses_email() {
    let app = TestServer::new().spawn();
    let inviter = app.client();
    sign_in(&app, &inviter, "inviter@example.com");
    let code = code_of(&app, &inviter, "inviter@example.com");
    let friend = sign_in_invited(&app, &code, "friend@example.org");
    add_holding(&inviter, "VTI");
    assert!(app
        .cli(&[
            "grant-credit",
            "--email",
            "inviter@example.com",
            "--days",
            "5",
            "--note",
            "beta"
        ])
        .status
        .success());

    let resp = inviter.get("/account/export");
    assert_eq!(resp.status, 200, "{}", resp.summary());
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let disposition = resp.header("content-disposition").unwrap_or_default();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("filename=\""),
        "{disposition}"
    );
    assert!(!resp.body.contains("friend@example.org"), "{}", resp.body);
    let data: Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(data["email"], "inviter@example.com");
    assert_eq!(data["tier"], "free");
    assert!(data["credit_until"].is_string() && data["created_at"].is_string());
    assert_eq!(data["referral"]["code"], code.as_str());
    assert_eq!(data["referral"]["referred_by_code"], Value::Null);
    let invited = data["referral"]["invited"].as_array().unwrap();
    assert_eq!(invited.len(), 1);
    let keys: Vec<&String> = invited[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["converted_at", "created_at"], "dates only");
    assert_eq!(data["holdings"][0]["symbol"], "VTI");
    assert_eq!(data["billing"], Value::Null);
    assert_eq!(data["access_audit"][0]["action"], "grant_credit");
    assert_eq!(data["access_audit"][0]["note"], "beta");

    let theirs: Value = serde_json::from_str(&friend.get("/account/export").body).unwrap();
    assert_eq!(theirs["referral"]["referred_by_code"], code.as_str());
    assert!(
        !theirs.to_string().contains("inviter@example.com"),
        "{theirs}"
    );

    let nobody = app.client().get("/account/export");
    assert!(nobody.is_see_other_to("/login"), "{}", nobody.summary());
}

#[test]
fn deleting_my_account_removes_my_data_and_keeps_a_tombstone() {
    let app = TestServer::new().spawn();
    let inviter = app.client();
    sign_in(&app, &inviter, "inviter@example.com");
    let code = code_of(&app, &inviter, "inviter@example.com");
    let me = sign_in_invited(&app, &code, "leaver@example.com");
    let my_code = code_of(&app, &me, "leaver@example.com");
    sign_in_invited(&app, &my_code, "invitee@example.com");
    add_holding(&me, "VTI");
    add_holding(&me, "BND");
    let id = user_id(&app, "leaver@example.com");
    let other_device = app.client();
    {
        // a second session, as from a phone; codes sent long ago so no limit bites
        app.db()
            .execute(
                "UPDATE login_codes SET created_at = '2020-01-01T00:00:00Z'",
                [],
            )
            .unwrap();
        sign_in(&app, &other_device, "leaver@example.com");
    }
    assert!(app
        .cli(&[
            "grant-credit",
            "--email",
            "leaver@example.com",
            "--days",
            "9"
        ])
        .status
        .success());
    let count = |sql: &str| {
        app.db()
            .query_row(sql, [id], |r| r.get::<_, i64>(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    assert_eq!(count("SELECT count(*) FROM sessions WHERE user_id = ?1"), 2);

    // the word must be typed; without it nothing changes
    let wrong = post_delete(&me, "yes");
    assert_eq!(wrong.status, 400, "{}", wrong.summary());
    assert!(
        wrong.body.contains("type the word delete"),
        "{}",
        wrong.body
    );
    let no_csrf = me.post_form("/account/delete", &[("confirm", "delete")]);
    assert_eq!(no_csrf.status, 403);
    assert_eq!(count("SELECT count(*) FROM holdings WHERE user_id = ?1"), 2);
    assert_eq!(count("SELECT count(*) FROM sessions WHERE user_id = ?1"), 2);

    let done = post_delete(&me, "delete");
    assert!(
        done.is_see_other_to("/?account=deleted"),
        "{}",
        done.summary()
    );
    let landing = me.get("/?account=deleted");
    assert!(
        landing.body.contains("Your account has been deleted"),
        "{}",
        landing.body
    );
    assert!(me.get("/settings").is_see_other_to("/login"), "signed out");
    assert!(
        other_device.get("/settings").is_see_other_to("/login"),
        "every session ended"
    );

    // table by table
    assert_eq!(count("SELECT count(*) FROM sessions WHERE user_id = ?1"), 0);
    assert_eq!(count("SELECT count(*) FROM holdings WHERE user_id = ?1"), 0);
    assert_eq!(
        app.query_i64("SELECT count(*) FROM login_codes WHERE email = 'leaver@example.com'"),
        0
    );
    let (email, referral_code, tier, credit): (String, Option<String>, String, Option<String>) =
        app.db()
            .query_row(
                "SELECT email, referral_code, tier, credit_until FROM users WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
    assert_eq!(email, format!("deleted-{id}@invalid"));
    assert_eq!((referral_code, tier.as_str(), credit), (None, "free", None));
    assert_eq!(
        count(
            "SELECT count(*) FROM referrals WHERE referrer_user_id = ?1 OR referred_user_id = ?1"
        ),
        2,
        "referral history stays whole"
    );
    let actions: Vec<(String, String)> = app
        .db()
        .prepare("SELECT action, actor FROM access_audit WHERE user_id = ?1 ORDER BY id")
        .unwrap()
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(actions[0].0, "grant_credit");
    assert_eq!(actions[1], ("delete_user".to_string(), "self".to_string()));

    // the same email signs up again, as a new account
    let again = app.client();
    sign_in(&app, &again, "leaver@example.com");
    let new_id = user_id(&app, "leaver@example.com");
    assert_ne!(new_id, id);
    let fresh: Value = serde_json::from_str(&again.get("/account/export").body).unwrap();
    assert_eq!(fresh["holdings"].as_array().map(Vec::len), Some(0));
    assert_eq!(fresh["referral"]["referred_by_code"], Value::Null);
}

#[test]
fn a_subscription_that_still_bills_refuses_deletion_until_it_is_canceling() {
    let app = TestServer::new().spawn();
    let me = app.client();
    sign_in(&app, &me, "subscriber@example.com");
    let id = user_id(&app, "subscriber@example.com");
    subscribe(&app, id, "active", None);
    let export: Value = serde_json::from_str(&me.get("/account/export").body).unwrap();
    assert_eq!(export["billing"]["subscription_id"], "sub_01leave");
    assert_eq!(export["billing"]["status"], "active");

    let refused = post_delete(&me, "delete");
    assert_eq!(refused.status, 409, "{}", refused.summary());
    assert!(refused.body.contains("Manage billing"), "{}", refused.body);
    assert_eq!(
        app.query_i64("SELECT count(*) FROM users WHERE email = 'subscriber@example.com'"),
        1
    );
    assert_eq!(
        app.query_i64("SELECT count(*) FROM access_audit WHERE action = 'delete_user'"),
        0
    );
    assert!(me.get("/settings").status == 200, "still signed in");

    // canceled at the period end: it no longer bills, so deletion goes ahead
    app.db()
        .execute(
            "UPDATE subscriptions SET cancel_at = '2030-01-01T00:00:00Z' WHERE id = 'sub_01leave'",
            [],
        )
        .unwrap();
    let done = post_delete(&me, " Delete ");
    assert!(
        done.is_see_other_to("/?account=deleted"),
        "{}",
        done.summary()
    );
    assert_eq!(
        app.query_i64("SELECT count(*) FROM paddle_outbox"),
        0,
        "the web never cancels on anyone's behalf"
    );
}
