//! The LLM analyst (SPEC §2, issue 5) against the small OpenAI-compatible
//! server in `support::llm`: what the app sends, and its fallbacks to the
//! built-in analyst when the model fails, answers junk or never answers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::llm::{FakeLlm, Reply};
use crate::support::parse_response;

use super::*;

const LLM_KEY: &str = "sk-test-key-5f3c2a";
const LLM_MODEL: &str = "test-model-7b";

impl FakeLlm {
    /// The app, configured to use this fake (and to take the admin token).
    fn spawn_app(&self) -> TestServer {
        let url = self.base_url();
        TestServer::new()
            .env("APP_LLM_URL", &url)
            .env("APP_LLM_MODEL", LLM_MODEL)
            .env("APP_LLM_API_KEY", LLM_KEY)
            .env("APP_ADMIN_TOKEN", ADMIN_TOKEN)
            .spawn()
    }
}

/// The app answered with the built-in analyst and said why.
fn assert_fell_back(resp: &Resp, what: &str) {
    let body = analysis(resp);
    assert_eq!(body["provider"], "builtin", "{what}: {}", resp.body);
    assert!(
        body["note"].as_str().is_some_and(|n| !n.trim().is_empty()),
        "{what}: a fallback without a note: {}",
        resp.body
    );
    assert_sample_metrics(&body);
}

/// POST /api/analyze over a connection of our own that waits up to `wait`
/// for the answer (the shared client gives up after 10 s).
fn slow_analyze_as_admin(app: &TestServer, holdings: &Value, wait: Duration) -> Resp {
    let body = json!({ "holdings": holdings }).to_string();
    let request = format!(
        "POST /api/analyze HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\n\r\n{body}",
        addr = app.addr(),
        len = body.len()
    );
    let mut stream = TcpStream::connect(app.addr()).expect("connect to the app");
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    if let Err(e) = stream.read_to_end(&mut answer) {
        assert!(
            !answer.is_empty(),
            "no answer from the app within {wait:?} ({e}); log:\n{}",
            app.log()
        );
    }
    parse_response(&answer)
        .unwrap_or_else(|| panic!("unparseable answer: {:?}", String::from_utf8_lossy(&answer)))
}

#[test]
fn llm_commentary_comes_from_the_configured_model() {
    let llm = FakeLlm::answering("Half of this portfolio sits in MSFT, which is a lot.");
    let app = llm.spawn_app();
    let client = paid_user(&app, "llm@example.com");
    save_portfolio(&client, &sample_holdings());

    let body = analysis(&analyze(&client, None));
    assert_eq!(body["provider"], "llm", "{body}");
    assert_eq!(
        body["commentary"], "Half of this portfolio sits in MSFT, which is a lot.",
        "{body}"
    );
    assert!(
        body.get("note").is_none_or(Value::is_null),
        "a note on success: {body}"
    );
    assert_sample_metrics(&body);

    let requests = llm.requests();
    assert_eq!(
        requests.len(),
        1,
        "the app should call the API once: {requests:?}"
    );
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {LLM_KEY}").as_str()),
        "{request:?}"
    );
    assert!(
        request
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{request:?}"
    );
    let sent = request.json();
    assert_eq!(sent["model"], LLM_MODEL, "{sent}");
    let messages = sent["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages: {sent}"));
    assert_eq!(messages.len(), 2, "{sent}");
    assert_eq!(messages[0]["role"], "system", "{sent}");
    assert!(
        messages[0]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{sent}"
    );
    assert_eq!(messages[1]["role"], "user", "{sent}");
    let user = messages[1]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("the user message is not text: {sent}"));
    for symbol in ["AAPL", "MSFT", "CASH"] {
        assert!(user.contains(symbol), "the prompt lacks {symbol}: {user}");
    }
    assert!(
        user.contains("4000"),
        "the prompt lacks the total value 4000: {user}"
    );
    assert!(
        sent.get("stream").is_none_or(|s| s == false),
        "the app asked for a stream it does not read: {sent}"
    );

    let log = app.log();
    assert!(
        !log.contains(LLM_KEY),
        "the LLM API key is in the log:\n{log}"
    );
}

#[test]
fn llm_without_an_api_key_sends_no_authorization() {
    let llm = FakeLlm::answering("Fine.");
    let url = llm.base_url();
    let app = TestServer::new()
        .env("APP_LLM_URL", &url)
        .env("APP_LLM_MODEL", LLM_MODEL)
        .env("APP_ADMIN_TOKEN", ADMIN_TOKEN)
        .spawn();
    let body = analysis(&analyze_as_admin(&app.client(), &sample_holdings()));
    assert_eq!(body["provider"], "llm", "{body}");
    let requests = llm.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].header("authorization"),
        None,
        "{:?}",
        requests[0]
    );
}

#[test]
fn llm_server_error_falls_back_to_the_builtin_analyst_with_a_note() {
    let llm = FakeLlm::start(Reply::Answer(
        500,
        json!({"error": {"message": "overloaded", "type": "server_error"}}).to_string(),
    ));
    let app = llm.spawn_app();
    let resp = analyze_as_admin(&app.client(), &sample_holdings());
    assert_fell_back(&resp, "HTTP 500");
    assert_eq!(llm.requests().len(), 1, "the app did not call the API");
    assert!(
        !resp.body.contains("overloaded"),
        "the API's error leaked: {}",
        resp.body
    );
}

#[test]
fn llm_junk_reply_falls_back_to_the_builtin_analyst() {
    let llm = FakeLlm::start(Reply::Answer(200, "<html>definitely not JSON".to_string()));
    let app = llm.spawn_app();
    assert_fell_back(
        &analyze_as_admin(&app.client(), &sample_holdings()),
        "junk body",
    );
    assert_eq!(llm.requests().len(), 1, "the app did not call the API");
}

#[test]
fn llm_reply_without_content_falls_back_to_the_builtin_analyst() {
    for reply in [
        json!({}),
        json!({"choices": []}),
        json!({"choices": [{"index": 0, "message": {"role": "assistant"}}]}),
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": ""}}]}),
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": 42}}]}),
    ] {
        let llm = FakeLlm::start(Reply::Answer(200, reply.to_string()));
        let app = llm.spawn_app();
        let resp = analyze_as_admin(&app.client(), &sample_holdings());
        assert_fell_back(&resp, &format!("reply {reply}"));
    }
}

#[test]
fn unreachable_llm_falls_back_to_the_builtin_analyst() {
    let port = crate::support::free_port();
    let app = TestServer::new()
        .env("APP_LLM_URL", format!("http://127.0.0.1:{port}/v1"))
        .env("APP_LLM_MODEL", LLM_MODEL)
        .env("APP_ADMIN_TOKEN", ADMIN_TOKEN)
        .spawn();
    assert_fell_back(
        &analyze_as_admin(&app.client(), &sample_holdings()),
        "connection refused",
    );
}

#[test]
fn llm_that_never_answers_falls_back_within_25_seconds() {
    let llm = FakeLlm::start(Reply::Hang);
    let app = llm.spawn_app();
    let started = Instant::now();
    let resp = slow_analyze_as_admin(&app, &sample_holdings(), Duration::from_secs(40));
    let took = started.elapsed();
    assert_fell_back(&resp, "no answer");
    assert!(
        took <= Duration::from_secs(25),
        "the app waited {took:?} for a silent LLM"
    );
    assert_eq!(llm.requests().len(), 1, "the app did not call the API");
    // The server is still serving after the long wait.
    assert_eq!(app.client().get("/healthz").status, 200);
}
