//! "Manage billing" (SPEC §7): `POST /billing/portal` asks Paddle's API (a
//! fake one here) for a customer-portal session and sends the subscriber
//! there, or says plainly that billing is unavailable.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{json, Value};

use super::checkout::{get_ok, signed_in, spawn_with_paddle};
use super::subscriber::subscribe;
use crate::support::{csrf_in, free_port};

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
    // The POSTs only: serve's billing check at start reads with GETs.
    let posts = || -> Vec<(String, String, String)> {
        let calls = calls.lock().unwrap();
        calls
            .iter()
            .filter(|c| c.0.starts_with("POST "))
            .cloned()
            .collect()
    };
    let calls_made = || posts().len();
    assert_eq!(calls_made(), 1);
    let (line, auth, body) = posts()[0].clone();
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
    let last = posts().last().cloned().unwrap();
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

/// A Paddle that takes every portal call and answers none until `release`
/// is sent: they stay in flight as long as the test wants. Only they are
/// counted; serve's billing check at start (GETs, on a thread of its own,
/// at a moment the test does not choose) is answered 503 at once.
fn held_paddle() -> (String, Arc<Mutex<usize>>, std::sync::mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let arrived = Arc::new(Mutex::new(0usize));
    let (release, released) = std::sync::mpsc::channel::<()>();
    let count = arrived.clone();
    thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        loop {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut method = [0u8; 4];
                let n = stream.peek(&mut method).unwrap_or(0);
                if method[..n].starts_with(b"GET") {
                    let _ = stream.write_all(
                        b"HTTP/1.1 503 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                } else {
                    *count.lock().unwrap() += 1;
                    held.push(stream);
                }
            }
            if released.try_recv().is_ok() {
                for mut stream in held.drain(..) {
                    let _ = stream.write_all(
                        b"HTTP/1.1 503 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
            thread::sleep(std::time::Duration::from_millis(10));
        }
    });
    (url, arrived, release)
}

#[test]
fn a_slow_paddle_never_holds_the_request_workers() {
    let (api, arrived, release) = held_paddle();
    let app = spawn_with_paddle(&[("APP_PADDLE_API_URL", &api)]);
    let (ann, ann_id) = signed_in(&app, "ann@example.com");
    subscribe(&app, ann_id, "sub_01a", "active", None);
    let csrf = csrf_in(&get_ok(&ann, "/settings").body);
    let ann = Arc::new(ann);

    // More Manage billing clicks than the server has workers (4).
    let clicks: Vec<_> = (0..5)
        .map(|_| {
            let (ann, csrf) = (ann.clone(), csrf.clone());
            thread::spawn(move || ann.post_form("/billing/portal", &[("csrf", &csrf)]).status)
        })
        .collect();
    while *arrived.lock().unwrap() < 2 {
        thread::sleep(std::time::Duration::from_millis(10));
    }
    // Paddle holds the calls; the site still answers.
    assert_eq!(get_ok(&ann, "/settings").status, 200);
    assert_eq!(app.client().get("/healthz").status, 200);
    assert_eq!(
        *arrived.lock().unwrap(),
        2,
        "the pool makes two calls at a time"
    );

    // Paddle answers 503 to each held call; every click gets the clear page.
    while clicks.iter().any(|c| !c.is_finished()) {
        let _ = release.send(());
        thread::sleep(std::time::Duration::from_millis(20));
    }
    for click in clicks {
        assert_eq!(click.join().unwrap(), 503);
    }
}
