//! Wrong tries, burnt codes, single use, and the rate limits.

use super::*;

#[test]
fn wrong_code_says_tries_left() {
    let app = TestServer::new().spawn();
    let (client, code) = pending_client(&app, "gina@example.com");
    let wrong = other_code(&code);
    for (attempt, left) in [
        (1, "4 tries left"),
        (2, "3 tries left"),
        (3, "2 tries left"),
        (4, "1 try left"),
    ] {
        let resp = submit_code(&client, &wrong);
        assert_eq!(resp.status, 400, "wrong try {attempt}: {}", resp.summary());
        assert!(
            resp.body.contains(left),
            "wrong try {attempt} should say {left:?}: {}",
            resp.body
        );
        assert!(
            input_value(&resp.body, "code").is_some(),
            "wrong try {attempt}: no form back"
        );
        assert!(resp.set_cookie("session").is_none());
    }
}

#[test]
fn fifth_wrong_try_burns_the_code() {
    let app = TestServer::new().spawn();
    let (client, code) = pending_client(&app, "hank@example.com");
    for attempt in 1..=5 {
        let resp = submit_code(&client, &other_code(&code));
        assert_eq!(resp.status, 400, "wrong try {attempt}: {}", resp.summary());
    }
    let late = submit_code(&client, &code);
    assert_eq!(
        late.status,
        400,
        "the right code still works after 5 wrong tries: {}",
        late.summary()
    );
    assert!(late.set_cookie("session").is_none(), "{}", late.summary());
    assert_eq!(client.cookie("session"), None);
    assert!(users(&app).is_empty());
}

/// A new code may be asked for 5 times an hour, and a test cannot wait
/// twenty hours for twenty codes: between codes it moves the email's codes
/// an hour into the past in the database (the app's own `login_codes`
/// table, times stored as RFC 3339 `Z` text per SPEC §3), as if time had
/// passed. Twenty codes burnt by five wrong tries each stay inside the day.
#[test]
fn a_hundred_wrong_tries_a_day_then_429() {
    let app = TestServer::new().spawn();
    let email = "ivy@example.com";
    let client = app.client();
    for round in 1..=20 {
        let sent = request_code(&client, email);
        assert!(
            sent.is_see_other_to("/verify"),
            "code {round}: {}",
            sent.summary()
        );
        let code = app.code_for(email);
        for attempt in 1..=5 {
            let resp = submit_code(&client, &other_code(&code));
            assert_eq!(
                resp.status,
                400,
                "code {round}, wrong try {attempt}: {}",
                resp.summary()
            );
        }
        age_login_codes(&app, email, 3601);
    }
    // A hundred wrong tries so far: even a fresh code, rightly typed, is refused.
    let sent = request_code(&client, email);
    assert!(
        sent.is_see_other_to("/verify"),
        "code 21: {}",
        sent.summary()
    );
    let code = app.code_for(email);
    let capped = submit_code(&client, &code);
    assert_eq!(
        capped.status,
        429,
        "after 100 wrong tries today: {}",
        capped.summary()
    );
    assert!(capped.set_cookie("session").is_none());
    assert_security_headers(&capped, "429 on /verify");
    assert!(users(&app).is_empty());
}

/// Moves every login code of `email` `secs` seconds into the past.
fn age_login_codes(app: &TestServer, email: &str, secs: i64) {
    let shift = format!("-{secs} seconds");
    let moved = app
        .db()
        .execute(
            "UPDATE login_codes SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', created_at, ?2) WHERE email = ?1",
            rusqlite::params![email, shift],
        )
        .expect("age the login codes");
    assert!(moved > 0, "no login codes for {email} to age");
}

#[test]
fn entries_that_are_not_six_digits_never_match_and_use_no_try() {
    let app = TestServer::new().spawn();
    let (client, code) = pending_client(&app, "jack@example.com");
    let full_width: String = code
        .chars()
        .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap())
        .collect();
    let near_misses = [
        code[..5].to_string(),
        format!("{code}0"),
        "abcdef".to_string(),
        full_width,
    ];
    for (i, attempt) in near_misses.iter().enumerate() {
        let resp = submit_code(&client, attempt);
        assert_eq!(
            resp.status,
            400,
            "code {attempt:?} (the real one is {code}): {}",
            resp.summary()
        );
        assert!(
            resp.set_cookie("session").is_none(),
            "code {attempt:?} signed in"
        );
        assert!(
            resp.body.contains("six digits") && !resp.body.contains("left"),
            "entry {i} must be refused without using a try: {}",
            resp.body
        );
    }
    let wrong = submit_code(&client, &other_code(&code));
    assert!(
        wrong.body.contains("4 tries left"),
        "near misses used tries: {}",
        wrong.body
    );
    let done = submit_code(&client, &code);
    assert!(done.is_see_other_to("/"), "{}", done.summary());
}

#[test]
fn one_code_makes_one_session_even_when_sent_twice_at_once() {
    let app = TestServer::new().spawn();
    for round in 0..3 {
        let email = format!("race{round}@example.com");
        let (client, code) = pending_client(&app, &email);
        let csrf = verify_csrf(&client);
        let barrier = Arc::new(Barrier::new(4));
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let (twin, code, csrf, barrier) =
                    (client.clone(), code.clone(), csrf.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    twin.post_form("/verify", &[("code", &code), ("csrf", &csrf)])
                })
            })
            .collect();
        let answers: Vec<Resp> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let sessions = answers
            .iter()
            .filter(|r| r.is_see_other_to("/") && r.set_cookie("session").is_some())
            .count();
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        assert_eq!(sessions, 1, "round {round}: {statuses:?}");
        assert!(
            statuses.iter().all(|s| *s < 500),
            "round {round}: {statuses:?}"
        );
    }
}

// ------------------------------------------------------------ rate limits

#[test]
fn second_code_request_within_a_minute_is_429() {
    let app = TestServer::new().spawn();
    let (client, _) = pending_client(&app, "kim@example.com");
    let again = request_code(&client, "kim@example.com");
    assert_eq!(again.status, 429, "{}", again.summary());
    retry_after(&again);
    assert_security_headers(&again, "429 on /login");
    let elsewhere = request_code(&app.client(), "kim@example.com");
    assert_eq!(
        elsewhere.status,
        429,
        "the limit is per email, not per cookie: {}",
        elsewhere.summary()
    );
    assert_eq!(
        app.mail.count_to_after("kim@example.com", SETTLE),
        1,
        "a second code was mailed"
    );
}

#[test]
fn thirty_first_code_request_from_one_address_is_429() {
    let app = TestServer::new().spawn();
    let client = app.client();
    for i in 1..=30 {
        let resp = request_code(&client, &format!("user{i}@example.com"));
        assert!(
            resp.is_see_other_to("/verify"),
            "request {i}: {}",
            resp.summary()
        );
    }
    let over = request_code(&client, "user31@example.com");
    assert_eq!(over.status, 429, "{}", over.summary());
    retry_after(&over);
    app.mail
        .wait_for("user30@example.com", Duration::from_secs(5));
    assert_eq!(app.mail.count_to_after("user31@example.com", SETTLE), 0);
    assert_eq!(app.mail.all().len(), 30);
}

// ------------------------------------------------------------------- CSRF
