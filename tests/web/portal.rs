//! "Manage billing" (SPEC §7): `POST /billing/portal` asks Paddle's API (a
//! fake one here) for a customer-portal session and sends the subscriber
//! there, or says plainly that billing is unavailable.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::checkout::{get_ok, signed_in, spawn_with_paddle};
use super::subscriber::subscribe;
use crate::support::{csrf_in, free_port, Client};

/// What the fake Paddle API was asked: (request line, authorization, body).
type Calls = Arc<Mutex<Vec<(String, String, String)>>>;

/// A tiny stand-in for Paddle's API that answers every request with
/// `status` and `body`, and records what it was asked.
fn fake_paddle(status: u16, body: &'static str) -> (String, Calls) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let (mut line, mut auth, mut length) = (String::new(), String::new(), 0usize);
            reader.read_line(&mut line).unwrap_or(0);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap_or(("", ""));
                match name.to_ascii_lowercase().as_str() {
                    "authorization" => auth = value.trim().to_string(),
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
            let mut body_in = vec![0; length];
            let _ = reader.read_exact(&mut body_in);
            seen.lock().unwrap().push((
                line.trim().to_string(),
                auth,
                String::from_utf8_lossy(&body_in).into_owned(),
            ));
            let reply = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = reader.get_mut().write_all(reply.as_bytes());
        }
    });
    (url, calls)
}

const PORTAL_REPLY: &str = r#"{"data":{"id":"cpls_01","customer_id":"ctm_01ann","urls":{"general":{"overview":"https://customer-portal.paddle.com/cpl_01?action=overview&token=pga_abc"},"subscriptions":[]},"created_at":"2026-11-26T10:00:00Z"},"meta":{"request_id":"r1"}}"#;

#[test]
fn manage_billing_sends_the_subscriber_to_the_portal_paddle_made() {
    let (api, calls) = fake_paddle(201, PORTAL_REPLY);
    let app = spawn_with_paddle(&[("APP_PADDLE_API_URL", &api)]);
    let (ann, ann_id) = signed_in(&app, "ann@example.com");
    subscribe(&app, ann_id, "sub_01a", "active", None);
    let csrf = csrf_in(&get_ok(&ann, "/settings").body);

    let resp = ann.post_form("/billing/portal", &[("csrf", &csrf)]);
    assert_eq!(resp.status, 303, "{}", resp.summary());
    assert_eq!(
        resp.location(),
        Some("https://customer-portal.paddle.com/cpl_01?action=overview&token=pga_abc")
    );
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    // The portal calls (the background worker may ask Paddle other things).
    let portal_calls = || {
        let calls = calls.lock().unwrap();
        let portal = calls.iter().filter(|c| c.0.contains("/portal-sessions"));
        portal.cloned().collect::<Vec<_>>()
    };
    let calls_made = || portal_calls().len();
    assert_eq!(calls_made(), 1);
    let (line, auth, body) = portal_calls()[0].clone();
    assert_eq!(line, "POST /customers/ctm_01ann/portal-sessions HTTP/1.1");
    assert_eq!(auth, "Bearer pdl_apikey_test");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"subscription_ids": ["sub_01a"]})
    );
    assert!(
        !app.log().contains("pdl_apikey_test"),
        "the API key reached the log"
    );

    let forged = ann.post_form("/billing/portal", &[("csrf", "forged")]);
    assert_eq!(forged.status, 403, "{}", forged.summary());
    assert_eq!(calls_made(), 1, "a forged form asks Paddle nothing");

    // A canceled subscription: the portal (invoices) without it.
    subscribe(&app, ann_id, "sub_01a", "canceled", None);
    let resp = ann.post_form("/billing/portal", &[("csrf", &csrf)]);
    assert_eq!(resp.status, 303, "{}", resp.summary());
    let last = portal_calls().last().cloned().unwrap();
    assert_eq!(serde_json::from_str::<Value>(&last.2).unwrap(), json!({}));
}

#[test]
fn manage_billing_says_when_paddle_is_unavailable() {
    let (api, _calls) = fake_paddle(500, r#"{"error":{"code":"internal_error"}}"#);
    let closed = format!("http://127.0.0.1:{}", free_port());
    for base in [api, closed] {
        let app = spawn_with_paddle(&[("APP_PADDLE_API_URL", &base)]);
        let (ann, ann_id) = signed_in(&app, "ann@example.com");
        let csrf = csrf_in(&get_ok(&ann, "/settings").body);
        let none = ann.post_form("/billing/portal", &[("csrf", &csrf)]);
        assert_eq!(none.status, 400, "no subscription yet: {}", none.summary());
        assert!(
            none.body.contains("no subscription on this account"),
            "{}",
            none.body
        );

        subscribe(&app, ann_id, "sub_01a", "active", None);
        let resp = ann.post_form("/billing/portal", &[("csrf", &csrf)]);
        assert_eq!(resp.status, 503, "{base}: {}", resp.summary());
        assert_eq!(resp.header("retry-after"), Some("60"));
        assert!(
            resp.body
                .contains("Billing is unavailable right now, try again in a minute"),
            "{}",
            resp.body
        );
        assert!(!resp.body.contains("internal_error") && !resp.body.contains("127.0.0.1"));
    }
}

/// Held calls wait until the flag is set.
type Gate = (Mutex<bool>, Condvar);

/// A Paddle that holds every portal-session request unanswered until
/// released (then answers each, and any later one, 503); other requests
/// (the background worker's) are answered 503 at once. The count is of
/// portal requests that arrived.
fn held_paddle() -> (String, Arc<Mutex<usize>>, Arc<Gate>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let arrived = Arc::new(Mutex::new(0usize));
    let released = Arc::new((Mutex::new(false), Condvar::new()));
    let (count, gate) = (arrived.clone(), released.clone());
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (count, gate) = (count.clone(), gate.clone());
            thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                reader.read_line(&mut line).unwrap_or(0);
                if line.contains("/portal-sessions") {
                    *count.lock().unwrap() += 1;
                    let (open, wake) = &*gate;
                    let mut open = open.lock().unwrap();
                    while !*open {
                        open = wake.wait(open).unwrap();
                    }
                }
                let _ = reader
                    .get_mut()
                    .write_all(b"HTTP/1.1 503 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            });
        }
    });
    (url, arrived, released)
}

fn release(gate: &Gate) {
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
}

#[test]
fn a_slow_paddle_never_holds_the_request_workers() {
    let (api, arrived, gate) = held_paddle();
    let app = spawn_with_paddle(&[("APP_PADDLE_API_URL", &api)]);
    // Ten subscribers: more Manage billing clicks than the server has
    // workers (4), and more than the paddle pool takes (2 running, 8 in all).
    let people: Vec<(Arc<Client>, String)> = (0..10)
        .map(|i| {
            let (client, id) = signed_in(&app, &format!("sub{i}@example.com"));
            subscribe(&app, id, &format!("sub_01p{i}"), "active", None);
            let csrf = csrf_in(&get_ok(&client, "/settings").body);
            (Arc::new(client), csrf)
        })
        .collect();
    let click = |(client, csrf): &(Arc<Client>, String)| {
        let (client, csrf) = (client.clone(), csrf.clone());
        thread::spawn(move || {
            let resp = client.post_form("/billing/portal", &[("csrf", &csrf)]);
            (resp.status, resp.header("retry-after").map(str::to_string))
        })
    };
    let wait_until = |done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
    };
    // Ann's click reaches Paddle first; then everyone else's.
    let mut clicks = vec![click(&people[0])];
    wait_until(&|| *arrived.lock().unwrap() == 1);
    clicks.extend(people[1..].iter().map(click));
    wait_until(&|| {
        *arrived.lock().unwrap() >= 2 && clicks.iter().filter(|c| c.is_finished()).count() >= 2
    });
    // Paddle holds the calls; the site still answers.
    let (ann, _) = &people[0];
    assert_eq!(get_ok(ann, "/settings").status, 200);
    assert_eq!(app.client().get("/healthz").status, 200);
    assert_eq!(
        *arrived.lock().unwrap(),
        2,
        "the pool makes two calls at a time"
    );
    // One person can't queue a second call behind their first: 429.
    let again = ann.post_form("/billing/portal", &[("csrf", &people[0].1)]);
    assert_eq!(again.status, 429, "{}", again.summary());
    assert!(again.header("retry-after").is_some(), "{}", again.summary());
    assert_eq!(
        *arrived.lock().unwrap(),
        2,
        "the refused click asked Paddle nothing"
    );

    // Paddle answers 503 to each call: every click gets a clear 503, the
    // two the full pool turned away at once, the rest once Paddle said no.
    release(&gate);
    let answers: Vec<_> = clicks.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(
        answers.iter().all(|(status, _)| *status == 503),
        "{answers:?}"
    );
    let full = answers
        .iter()
        .filter(|(_, retry)| retry.as_deref() == Some("10"))
        .count();
    assert_eq!(full, 2, "the pool holds eight: {answers:?}");
    assert_eq!(
        *arrived.lock().unwrap(),
        8,
        "each queued call was made once"
    );
}

#[test]
fn one_person_gets_a_few_portal_links_a_minute() {
    let (api, calls) = fake_paddle(201, PORTAL_REPLY);
    let app = spawn_with_paddle(&[("APP_PADDLE_API_URL", &api)]);
    let (ann, ann_id) = signed_in(&app, "ann@example.com");
    subscribe(&app, ann_id, "sub_01a", "active", None);
    let csrf = csrf_in(&get_ok(&ann, "/settings").body);
    for click in 1..=5 {
        let resp = ann.post_form("/billing/portal", &[("csrf", &csrf)]);
        assert_eq!(resp.status, 303, "click {click}: {}", resp.summary());
    }
    let sixth = ann.post_form("/billing/portal", &[("csrf", &csrf)]);
    assert_eq!(sixth.status, 429, "{}", sixth.summary());
    let wait: i64 = sixth.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let portal = calls.lock().unwrap();
    let made = portal
        .iter()
        .filter(|c| c.0.contains("/portal-sessions"))
        .count();
    assert_eq!(made, 5, "the sixth asked Paddle nothing");
    // Someone else is not held up by Ann's clicks.
    drop(portal);
    let (bob, bob_id) = signed_in(&app, "bob@example.com");
    subscribe(&app, bob_id, "sub_01b", "active", None);
    let csrf = csrf_in(&get_ok(&bob, "/settings").body);
    assert_eq!(
        bob.post_form("/billing/portal", &[("csrf", &csrf)]).status,
        303
    );
}
