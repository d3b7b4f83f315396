//! `POST /api/analyze` with a slow LLM: the analyses wait on a bounded pool
//! of their own (`APP_LLM_CONCURRENCY`), never on the request workers, so
//! the rest of the site keeps answering; a full pool is a 503 with
//! `Retry-After`, one caller gets a few analyses a minute (429), and SIGTERM
//! lets the waiting analyses finish (SPEC §2, §4; issue 10 item 4).

use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::llm::FakeLlm;
use crate::support::{paid_user, Client, Resp, TestServer};

const ADMIN_TOKEN: &str = "admin-token-for-pool-tests-0123456789";

/// The app with the fake LLM and `APP_LLM_CONCURRENCY=concurrency`.
fn spawn_app(llm: &FakeLlm, concurrency: usize) -> TestServer {
    let url = llm.base_url();
    TestServer::new()
        .env("APP_LLM_URL", &url)
        .env("APP_LLM_CONCURRENCY", concurrency.to_string())
        .env("APP_ADMIN_TOKEN", ADMIN_TOKEN)
        .spawn()
}

fn holdings() -> Value {
    json!({ "holdings": [
        { "symbol": "MSFT", "quantity": 10, "price": 400 },
        { "symbol": "CASH", "quantity": 1000, "price": 1 }
    ]})
}

/// POST /api/analyze with posted holdings; `None` when no answer came back.
fn analyze(client: &Client, headers: &[(&str, &str)]) -> Option<Resp> {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    let body = holdings().to_string();
    client
        .try_request("POST", "/api/analyze", &all, body.as_bytes())
        .ok()
}

/// Starts `clients.len()` analyses at once, each on its own thread; their
/// answers arrive on the channel in the order they come back.
fn start_analyses(clients: Vec<Client>) -> Receiver<Option<Resp>> {
    let (tx, rx) = mpsc::channel();
    for client in clients {
        let tx = tx.clone();
        thread::spawn(move || {
            let _ = tx.send(analyze(&client, &[]));
        });
    }
    rx
}

fn next_answer(rx: &Receiver<Option<Resp>>, within: Duration) -> Resp {
    rx.recv_timeout(within)
        .expect("an analysis answered in time")
        .expect("an analysis got an answer, not a dropped connection")
}

fn assert_llm_answer(resp: &Resp) {
    assert_eq!(resp.status, 200, "{}", resp.summary());
    let body: Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(body["provider"], "llm", "{}", resp.body);
}

#[test]
fn while_twelve_analyses_wait_on_a_slow_model_pages_still_answer_and_a_full_pool_is_503() {
    let llm = FakeLlm::answering_after("Slow but sure.", Duration::from_secs(3));
    // Two threads: at most two running and four waiting.
    let app = spawn_app(&llm, 2);
    let ann = paid_user(&app, "ann@example.com");
    let bob = paid_user(&app, "bob@example.com");
    let clients = (0..12)
        .map(|i| if i % 2 == 0 { ann.clone() } else { bob.clone() })
        .collect();
    let answers = start_analyses(clients);

    // Six find the pool full and hear so at once.
    for _ in 0..6 {
        let resp = next_answer(&answers, Duration::from_secs(2));
        assert_eq!(resp.status, 503, "{}", resp.summary());
        let retry: u64 = resp
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("503 without Retry-After: {}", resp.summary()));
        assert!(retry >= 1, "{}", resp.summary());
        let body: Value = serde_json::from_str(&resp.body).unwrap();
        assert_eq!(body["error"], "unavailable", "{}", resp.body);
    }

    // The other six wait on the model; meanwhile the site answers.
    let health = app.client().get("/healthz");
    assert_eq!(health.status, 200, "{}", health.summary());
    let settings = ann.get("/settings");
    assert_eq!(settings.status, 200, "{}", settings.summary());
    assert!(settings.body.contains("ann@example.com"));
    assert_eq!(
        llm.answered(),
        0,
        "the pages must have answered while every analysis still waited"
    );
    assert!(
        answers.try_recv().is_err(),
        "no analysis may have come back before the pages did"
    );
    assert!(
        llm.requests().len() <= 2,
        "at most APP_LLM_CONCURRENCY calls at once: {} seen",
        llm.requests().len()
    );

    // The waiting analyses are the model's answers, two at a time.
    assert_llm_answer(&next_answer(&answers, Duration::from_secs(10)));
    assert_llm_answer(&next_answer(&answers, Duration::from_secs(10)));
}

#[test]
fn one_user_gets_six_analyses_a_minute_then_429() {
    let llm = FakeLlm::answering("Fine.");
    let app = spawn_app(&llm, 2);
    let ann = paid_user(&app, "ann@example.com");
    for n in 1..=6 {
        let resp = analyze(&ann, &[]).expect("an answer");
        assert_eq!(resp.status, 200, "analysis {n}: {}", resp.summary());
    }
    let limited = analyze(&ann, &[]).expect("an answer");
    assert_eq!(limited.status, 429, "{}", limited.summary());
    assert!(
        limited
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| (1..=60).contains(&s)),
        "{}",
        limited.summary()
    );
    let body: Value = serde_json::from_str(&limited.body).unwrap();
    assert_eq!(body["error"], "rate_limited", "{}", limited.body);
    assert_eq!(
        llm.requests().len(),
        6,
        "the refused one never reached the LLM"
    );

    // Another user, and the operator's token, have limits of their own.
    let bob = paid_user(&app, "bob@example.com");
    assert_eq!(analyze(&bob, &[]).expect("an answer").status, 200);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let admin = analyze(&app.client(), &[("Authorization", &bearer)]).expect("an answer");
    assert_eq!(admin.status, 200, "{}", admin.summary());
}

#[test]
fn sigterm_lets_running_and_queued_analyses_finish_before_exit() {
    let llm = FakeLlm::answering_after("Done in time.", Duration::from_secs(1));
    let mut app = spawn_app(&llm, 1);
    let ann = paid_user(&app, "ann@example.com");
    // One runs, one waits in the queue.
    let answers = start_analyses(vec![ann.clone(), ann]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app
        .client()
        .get("/metrics")
        .body
        .contains("app_llm_analyses_outstanding 2")
    {
        assert!(
            Instant::now() < deadline,
            "the two analyses never reached the pool"
        );
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(llm.answered(), 0, "SIGTERM comes while both still wait");
    let status = app.stop();
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        app.log()
    );
    for _ in 0..2 {
        assert_llm_answer(&next_answer(&answers, Duration::from_secs(1)));
    }
    assert_eq!(llm.answered(), 2);
}
