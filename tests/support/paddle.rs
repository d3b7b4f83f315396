//! A fake Paddle Billing API on a free port: it records every call, can be
//! told to fail the next N calls (all, or those to one path) with Paddle's
//! error body (`{"error":{"type","code","detail","documentation_url"},
//! "meta":{"request_id"}}`, the lock codes included) and a `Retry-After`,
//! to answer slowly, and knows the customers it is given. It serves the
//! billing flow's endpoints (PATCH/GET subscriptions, POST /discounts,
//! POST /transactions, portal sessions, cancel) in Paddle's documented
//! shapes; the catalog half (`paddle_catalog`: prices, discounts, event
//! types, subscription lists with `meta.pagination`) answers the reads. And
//! the other half of Paddle: webhook deliveries, signed as Paddle signs them.

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
    /// The `Paddle-Version` header, as Paddle asks every call to carry.
    pub paddle_version: Option<String>,
    pub at: Instant,
}

/// Calls to `method` `prefix…` answer `status` with Paddle's error `code`.
struct FailRule {
    method: Option<String>,
    prefix: String,
    remaining: u32,
    status: u16,
    code: String,
    retry_after: Option<u32>,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    rules: Vec<FailRule>,
    delay: Duration,
    customers: HashMap<String, String>,
    /// The discount each subscription carries after a PATCH.
    discounts: HashMap<String, Value>,
    discounts_created: u32,
    transactions_created: u32,
    /// Prices, discounts, subscription lists: what the operator's verbs,
    /// serve's check and the discount's creation read.
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
                        authorization: header_of(&request, "Authorization"),
                        paddle_version: header_of(&request, "Paddle-Version"),
                        at: Instant::now(),
                    };
                    let (status, reply, delay, retry_after) = answer(&st, call);
                    thread::sleep(delay);
                    let header =
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                    let mut response = tiny_http::Response::from_string(reply.to_string())
                        .with_status_code(status)
                        .with_header(header);
                    if let Some(secs) = retry_after {
                        response = response.with_header(
                            tiny_http::Header::from_bytes("Retry-After", secs.to_string()).unwrap(),
                        );
                    }
                    let _ = request.respond(response);
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

    /// The next `n` billing-flow calls (not the catalog's) answer `status`.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.fail_calls(None, "/", n, status, "fake_failure", None);
    }

    /// The next `n` calls to `method` `prefix…` answer `status` with
    /// Paddle's error `code` (e.g. 409 `subscription_locked_renewal`) and,
    /// if given, `Retry-After`.
    pub fn fail_calls(
        &self,
        method: Option<&str>,
        prefix: &str,
        n: u32,
        status: u16,
        code: &str,
        retry_after: Option<u32>,
    ) {
        self.lock().rules.push(FailRule {
            method: method.map(str::to_string),
            prefix: prefix.into(),
            remaining: n,
            status,
            code: code.into(),
            retry_after,
        });
    }

    /// Paddle's own state moves on: the subscription's discount ran out.
    pub fn end_discount(&self, subscription_id: &str) {
        self.lock().discounts.remove(subscription_id);
    }

    /// `GET /prices/{id}` answers an active price with this
    /// `billing_cycle` (a catalog with no prices set knows every price as
    /// monthly).
    pub fn set_price_cycle(&self, price_id: &str, interval: &str, frequency: u64) {
        self.lock().catalog.prices.insert(
            price_id.into(),
            super::paddle_catalog::price(price_id, Some((interval, frequency))),
        );
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

fn header_of(request: &tiny_http::Request, name: &str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_string())
}

/// Paddle's error body.
pub fn paddle_error(code: &str) -> Value {
    let kind = if code == "fake_failure" {
        "api_error"
    } else {
        "request_error"
    };
    json!({
        "error": {
            "type": kind,
            "code": code,
            "detail": format!("fake Paddle says {code}"),
            "documentation_url": format!("https://developer.paddle.com/v1/errors/shared/{code}"),
        },
        "meta": {"request_id": "00000000-0000-4000-8000-000000000000"},
    })
}

type Answer = (u16, Value, Duration, Option<u32>);

fn answer(state: &Mutex<State>, call: Call) -> Answer {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    // The operator's reads (and serve's check at start) are the catalog's,
    // recorded and failed apart from the calls the billing flow makes.
    let State {
        catalog, customers, ..
    } = &mut *s;
    if let Some((status, reply)) = catalog.answer(&call, customers) {
        return (status, reply, s.delay, None);
    }
    s.calls.push(call.clone());
    let delay = s.delay;
    let path = call
        .path
        .split_once('?')
        .map_or(call.path.as_str(), |(p, _)| p);
    if let Some(rule) = s.rules.iter_mut().find(|r| {
        r.remaining > 0
            && r.method.as_deref().is_none_or(|m| m == call.method)
            && path.starts_with(&r.prefix)
    }) {
        rule.remaining -= 1;
        return (
            rule.status,
            paddle_error(&rule.code),
            delay,
            rule.retry_after,
        );
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let not_found = (404, paddle_error("entity_not_found"), delay, None);
    let meta = json!({"request_id": "00000000-0000-4000-8000-000000000001"});
    let (status, reply) = match (call.method.as_str(), parts.as_slice()) {
        ("GET", ["customers", id]) => match s.customers.get(*id) {
            Some(email) => (
                200,
                json!({"data": {"id": id, "email": email, "status": "active"}, "meta": meta}),
            ),
            None => return not_found,
        },
        ("GET", ["subscriptions", id]) => {
            let discount = s.discounts.get(*id).cloned().unwrap_or(Value::Null);
            (
                200,
                json!({"data": {"id": id, "status": "active", "discount": discount}, "meta": meta}),
            )
        }
        ("PATCH", ["subscriptions", id]) => {
            let discount = match call.body.get("discount") {
                Some(Value::Null) => Value::Null,
                _ => json!({
                    "id": call.body.pointer("/discount/id").cloned().unwrap_or(Value::Null),
                    "starts_at": "2026-12-26T09:30:12.123456Z",
                    "ends_at": DISCOUNT_ENDS_AT,
                    "type": "percentage",
                }),
            };
            s.discounts.insert(id.to_string(), discount.clone());
            (
                200,
                json!({"data": {"id": id, "status": "active", "discount": discount}, "meta": meta}),
            )
        }
        ("POST", ["discounts"]) => {
            s.discounts_created += 1;
            let id = format!("dsc_fake{:06}", s.discounts_created);
            let mut data = call.body.clone();
            data["id"] = id.into();
            data["status"] = "active".into();
            (201, json!({"data": data, "meta": meta}))
        }
        ("POST", ["transactions"]) => {
            s.transactions_created += 1;
            let id = format!("txn_fake{:06}", s.transactions_created);
            (
                201,
                json!({"data": {"id": id, "status": "ready", "origin": "api",
                    "items": call.body["items"], "custom_data": call.body["custom_data"],
                    "discount_id": call.body.get("discount_id").cloned().unwrap_or(Value::Null),
                    "customer_id": call.body.get("customer_id").cloned().unwrap_or(Value::Null),
                    "checkout": {"url": format!("https://localhost/pay?_ptxn={id}")}},
                    "meta": meta}),
            )
        }
        ("POST", ["subscriptions", id, "cancel"]) => (
            200,
            json!({"data": {"id": id, "status": "canceled"}, "meta": meta}),
        ),
        ("POST", ["customers", id, "portal-sessions"]) => (
            201,
            json!({"data": {"id": "cpls_fake", "customer_id": id, "urls": {
                "general": {"overview": "https://customer-portal.paddle.com/cpl_fake"},
                "subscriptions": []}}, "meta": meta}),
        ),
        _ => return not_found,
    };
    (status, reply, delay, None)
}
