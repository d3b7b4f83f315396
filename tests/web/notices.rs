//! The emails people expect (SPEC §9): invite converted, credit ending and
//! payment past due arrive through the mail queue once per subject, and a
//! restart does not send them again.

use std::time::Duration;

use super::leaving::sign_in_invited;
use crate::support::{sign_in, user_id, Mail, TestServer};

/// Longer than the notices job's interval, so a pass has surely run.
const SETTLE: Duration = Duration::from_secs(3);

/// Plain text and HTML, the product's name, and a footer saying why.
fn assert_well_formed(mail: &Mail, link: &str) {
    let text = mail.text();
    let html = mail
        .html()
        .unwrap_or_else(|| panic!("no HTML part: {}", mail.data));
    for part in [&text, &html] {
        assert!(part.contains("Folio"), "product name: {part}");
        assert!(part.contains("because"), "footer says why: {part}");
        assert!(part.contains(link), "{link} in: {part}");
    }
}

fn restart_and_settle(app: &mut TestServer) {
    app.restart();
    std::thread::sleep(SETTLE);
}

#[test]
fn credit_ending_is_mailed_once_with_the_date_and_an_upgrade_link() {
    let mut app = TestServer::new().spawn();
    let email = "credited@example.com";
    sign_in(&app, &app.client(), email);
    let out = app.cli(&["grant-credit", "--email", email, "--days", "2"]);
    assert!(out.status.success());
    let mail = app.next_mail(email);
    let subject = mail.header("subject").unwrap_or_default();
    let until: String = app
        .db()
        .query_row(
            "SELECT credit_until FROM users WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap();
    assert!(subject.contains(&until[..10]), "{subject}");
    assert!(mail.text().contains(&until[..10]), "{}", mail.text());
    assert_well_formed(&mail, &format!("{}/settings#upgrade", app.base_url()));
    assert_eq!(
        app.query_i64("SELECT count(*) FROM emails_sent WHERE kind = 'credit_ending'"),
        1
    );

    assert_eq!(
        app.mail.count_to_after(email, SETTLE),
        2,
        "sign-in code and one notice"
    );
    restart_and_settle(&mut app);
    assert_eq!(
        app.mail.count_to(email),
        2,
        "a restart does not send it again"
    );

    // a long credit is not ending: no mail
    let other = "longcredit@example.com";
    sign_in(&app, &app.client(), other);
    assert!(app
        .cli(&["grant-credit", "--email", other, "--days", "30"])
        .status
        .success());
    assert_eq!(
        app.mail.count_to_after(other, SETTLE),
        1,
        "only the sign-in code"
    );
}

#[test]
fn invite_converted_tells_both_parties_once_and_whether_the_reward_is_applied() {
    let mut app = TestServer::new().spawn();
    let inviter = app.client();
    sign_in(&app, &inviter, "inviter@example.com");
    assert_eq!(inviter.get("/settings").status, 200);
    let code: String = app
        .db()
        .query_row(
            "SELECT referral_code FROM users WHERE email = 'inviter@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    sign_in_invited(&app, &code, "friend@example.org");
    let (a, b) = (
        user_id(&app, "inviter@example.com"),
        user_id(&app, "friend@example.org"),
    );

    // billing converts the referral: the friend's reward runs, the inviter's is banked
    app.db()
        .execute_batch(&format!(
            "UPDATE referrals SET converted_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
               WHERE referred_user_id = {b};
             INSERT INTO referral_rewards (referral_id, user_id, role, state, created_at)
               SELECT id, {a}, 'referrer', 'banked', 'x' FROM referrals WHERE referred_user_id = {b};
             INSERT INTO referral_rewards (referral_id, user_id, role, state, created_at)
               SELECT id, {b}, 'referred', 'running', 'x' FROM referrals WHERE referred_user_id = {b};"
        ))
        .unwrap();
    let to_inviter = app.next_mail("inviter@example.com");
    let text = to_inviter.text();
    assert!(text.contains("50% off for 3 months"), "{text}");
    assert!(text.contains("banked until you subscribe"), "{text}");
    assert!(
        !text.contains("friend@example.org"),
        "no one else's email: {text}"
    );
    assert_well_formed(&to_inviter, &format!("{}/settings", app.base_url()));
    let to_friend = app.next_mail("friend@example.org");
    assert!(
        to_friend.text().contains("50% off for 3 months"),
        "{}",
        to_friend.text()
    );
    assert!(!to_friend.text().contains("inviter@example.com"));

    restart_and_settle(&mut app);
    assert_eq!(
        app.mail.count_to("inviter@example.com"),
        2,
        "code and one notice"
    );
    assert_eq!(
        app.mail.count_to("friend@example.org"),
        2,
        "code and one notice"
    );
    assert_eq!(
        app.query_i64("SELECT count(*) FROM emails_sent WHERE kind = 'invite_converted'"),
        2
    );
}

#[test]
fn a_reward_already_running_is_called_applied() {
    let app = TestServer::new().spawn();
    let inviter = app.client();
    sign_in(&app, &inviter, "payer@example.com");
    assert_eq!(inviter.get("/settings").status, 200);
    let code: String = app
        .db()
        .query_row(
            "SELECT referral_code FROM users WHERE email = 'payer@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    sign_in_invited(&app, &code, "second@example.org");
    let b = user_id(&app, "second@example.org");
    app.db()
        .execute_batch(&format!(
            "UPDATE referrals SET converted_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
               WHERE referred_user_id = {b};
             INSERT INTO referral_rewards (referral_id, user_id, role, state, created_at)
               SELECT id, referrer_user_id, 'referrer', 'running', 'x' FROM referrals
               WHERE referred_user_id = {b};"
        ))
        .unwrap();
    let text = app.next_mail("payer@example.com").text();
    assert!(text.contains("is applied to your subscription"), "{text}");
}

#[test]
fn payment_past_due_is_mailed_once_per_period_with_a_manage_billing_link() {
    let mut app = TestServer::new().spawn();
    let email = "latepayer@example.com";
    sign_in(&app, &app.client(), email);
    let id = user_id(&app, email);
    app.db()
        .execute(
            "INSERT INTO subscriptions (id, user_id, customer_id, status, current_period_ends_at,
                 event_occurred_at, created_at, updated_at)
             VALUES ('sub_01late', ?1, 'ctm_01late', 'active', '2030-01-01T00:00:00Z', 'x', 'x', 'x')",
            [id],
        )
        .unwrap();
    assert_eq!(
        app.mail.count_to_after(email, SETTLE),
        1,
        "active: no notice"
    );
    app.db()
        .execute(
            "UPDATE subscriptions SET status = 'past_due' WHERE id = 'sub_01late'",
            [],
        )
        .unwrap();
    let mail = app.next_mail(email);
    assert_well_formed(&mail, &format!("{}/settings#billing", app.base_url()));
    assert!(mail.text().contains("Manage billing"), "{}", mail.text());

    restart_and_settle(&mut app);
    assert_eq!(
        app.mail.count_to(email),
        2,
        "code and one notice, after a restart too"
    );

    // past due again in a later period: that is a new subject
    app.db()
        .execute(
            "UPDATE subscriptions SET current_period_ends_at = '2030-02-01T00:00:00Z' WHERE id = 'sub_01late'",
            [],
        )
        .unwrap();
    app.next_mail(email);
    assert_eq!(app.mail.count_to_after(email, SETTLE), 3);
}
