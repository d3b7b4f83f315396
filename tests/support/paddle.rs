//! A fake Paddle Billing API on a free port: it records every call, can be
//! told to fail the next N calls, to answer slowly, and knows the customers
//! it is given. It serves the endpoints the app uses. And the other half of
//! Paddle: webhook deliveries, signed as Paddle signs them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::paddle_catalog::Catalog;
use super::{Client, Resp, TestServer};

/// One request the app made.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub authorization: Option<String>,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    fail_next: u32,
    fail_status: u16,
    delay: Duration,
    customers: HashMap<String, String>,
    /// The discount each subscription carries after a PATCH.
    discounts: HashMap<String, Value>,
    discounts_created: u32,
    /// Prices, discounts, subscription lists: the operator's verbs.
    catalog: Catalog,
}

pub struct FakePaddle {
    url: String,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
}

/// POSTs `body` to the webhook signed with `secret` as Paddle would sign it now.
pub fn deliver_signed(app: &TestServer, secret: &str, body: &str) -> Resp {
    let ts = app::clock::Timestamp::now().secs();
    let header = app::services::billing::signature::sign(secret, ts, body.as_bytes());
    post_webhook(app, body, Some(&header))
}

/// POSTs `body` to `/webhooks/paddle` with `signature` as `Paddle-Signature`.
pub fn post_webhook(app: &TestServer, body: &str, signature: Option<&str>) -> Resp {
    // Paddle is not a browser: no Origin, no cookie, no CSRF token.
    let client = Client::new(app.addr(), None);
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(s) = signature {
        headers.push(("Paddle-Signature", s));
    }
    client.request("POST", "/webhooks/paddle", &headers, body.as_bytes())
}

/// When a PATCHed discount ends, as the fake reports it.
pub const DISCOUNT_ENDS_AT: &str = "2027-03-26T09:30:12.123456Z";

impl FakePaddle {
    pub fn start() -> FakePaddle {
        let server =
            Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind the fake Paddle"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let (srv, st) = (server.clone(), state.clone());
        thread::spawn(move || {
            for mut request in srv.incoming_requests() {
                let st = st.clone();
                thread::spawn(move || {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let call = Call {
                        method: request.method().as_str().to_string(),
                        path: request.url().to_string(),
                        body: serde_json::from_str(&body).unwrap_or(Value::Null),
                        authorization: request
                            .headers()
                            .iter()
                            .find(|h| h.field.equiv("Authorization"))
                            .map(|h| h.value.as_str().to_string()),
                        at: Instant::now(),
                    };
                    let (status, reply, delay) = answer(&st, call);
                    thread::sleep(delay);
                    let header =
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                    let _ = request.respond(
                        tiny_http::Response::from_string(reply.to_string())
                            .with_status_code(status)
                            .with_header(header),
                    );
                });
            }
        });
        FakePaddle {
            url: format!("http://127.0.0.1:{port}"),
            state,
            server,
        }
    }

    /// The base URL, for `APP_PADDLE_API_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn add_customer(&self, id: &str, email: &str) {
        self.lock().customers.insert(id.into(), email.into());
    }

    /// The next `n` calls answer `status` (e.g. 500, 404).
    pub fn fail_next(&self, n: u32, status: u16) {
        let mut s = self.lock();
        s.fail_next = n;
        s.fail_status = status;
    }

    /// Every answer waits this long first.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// The catalog the operator's verbs read (`paddle_catalog`); its calls
    /// are recorded in it, not in `calls`.
    pub fn catalog<R>(&self, change: impl FnOnce(&mut Catalog) -> R) -> R {
        change(&mut self.lock().catalog)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Calls whose method is `method` and path starts with `prefix`.
    pub fn calls_to(&self, method: &str, prefix: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path.starts_with(prefix))
            .collect()
    }

    /// Waits (up to `timeout`) until at least `n` such calls were made.
    pub fn wait_for(&self, method: &str, prefix: &str, n: usize, timeout: Duration) -> Vec<Call> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls_to(method, prefix);
            if calls.len() >= n || Instant::now() >= deadline {
                return calls;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for FakePaddle {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn answer(state: &Mutex<State>, call: Call) -> (u16, Value, Duration) {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    // The operator's reads (and serve's check at start) are the catalog's,
    // recorded and failed apart from the calls the billing flow makes.
    let State {
        catalog, customers, ..
    } = &mut *s;
    if let Some((status, reply)) = catalog.answer(&call, customers) {
        return (status, reply, s.delay);
    }
    s.calls.push(call.clone());
    let delay = s.delay;
    if s.fail_next > 0 {
        s.fail_next -= 1;
        let status = s.fail_status;
        return (
            status,
            json!({"error": {"type": "api_error", "code": "fake_failure"}}),
            delay,
        );
    }
    let parts: Vec<&str> = call.path.trim_start_matches('/').split('/').collect();
    let not_found = (
        404,
        json!({"error": {"type": "request_error", "code": "entity_not_found"}}),
        delay,
    );
    let (status, reply) = match (call.method.as_str(), parts.as_slice()) {
        ("GET", ["customers", id]) => match s.customers.get(*id) {
            Some(email) => (
                200,
                json!({"data": {"id": id, "email": email, "status": "active"}}),
            ),
            None => return not_found,
        },
        ("GET", ["subscriptions", id]) => {
            let discount = s.discounts.get(*id).cloned().unwrap_or(Value::Null);
            (
                200,
                json!({"data": {"id": id, "status": "active", "discount": discount}}),
            )
        }
        ("PATCH", ["subscriptions", id]) => {
            let discount = json!({
                "id": call.body.pointer("/discount/id").cloned().unwrap_or(Value::Null),
                "starts_at": "2026-12-26T09:30:12.123456Z",
                "ends_at": DISCOUNT_ENDS_AT,
                "type": "percentage",
            });
            s.discounts.insert(id.to_string(), discount.clone());
            (
                200,
                json!({"data": {"id": id, "status": "active", "discount": discount}}),
            )
        }
        ("POST", ["discounts"]) => {
            s.discounts_created += 1;
            let id = format!("dsc_fake{:06}", s.discounts_created);
            (
                201,
                json!({"data": {"id": id, "status": "active", "type": "percentage", "amount": "50"}}),
            )
        }
        ("POST", ["subscriptions", id, "cancel"]) => {
            (200, json!({"data": {"id": id, "status": "canceled"}}))
        }
        ("POST", ["customers", id, "portal-sessions"]) => (
            201,
            json!({"data": {"id": "cpls_fake", "customer_id": id, "urls": {
                "general": {"overview": "https://customer-portal.paddle.com/cpl_fake"},
                "subscriptions": []}}}),
        ),
        _ => return not_found,
    };
    (status, reply, delay)
}
