//! A fake of the market data the app reads, on one free port: the ECB's
//! `eurofxref-daily.xml`, Stooq's quote CSV (`/q/l/?s=…&f=sd2t2ohlcv&h&e=csv`)
//! and Alpha Vantage's `GLOBAL_QUOTE` JSON (`/query?function=GLOBAL_QUOTE…`),
//! each in the exact format the real service answers (the fixtures below are
//! the shapes public projects record from the real endpoints). A test sets
//! what each symbol answers, or makes a service fail, and reads what was asked.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A real daily file's shape (2026-07-09), with EUR-based rates.
pub const ECB_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<gesmes:Envelope xmlns:gesmes=\"http://www.gesmes.org/xml/2002-08-01\" xmlns=\"http://www.ecb.int/vocabulary/2002-08-01/eurofxref\">
\t<gesmes:subject>Reference rates</gesmes:subject>
\t<gesmes:Sender>
\t\t<gesmes:name>European Central Bank</gesmes:name>
\t</gesmes:Sender>
\t<Cube>
\t\t<Cube time='2026-07-09'>
\t\t\t<Cube currency='USD' rate='1.1435'/>
\t\t\t<Cube currency='JPY' rate='185.72'/>
\t\t\t<Cube currency='CZK' rate='24.254'/>
\t\t\t<Cube currency='GBP' rate='0.85363'/>
\t\t\t<Cube currency='CHF' rate='0.9227'/>
\t\t</Cube>
\t</Cube>
</gesmes:Envelope>";

/// Stooq's answer for a symbol it knows, as its CSV endpoint writes it.
pub fn stooq_row(stooq_symbol: &str, date: &str, time: &str, close: &str) -> String {
    format!(
        "Symbol,Date,Time,Open,High,Low,Close,Volume\r\n{},{date},{time},{close},{close},{close},{close},41234567\r\n",
        stooq_symbol.to_ascii_uppercase()
    )
}

/// Stooq's answer for a symbol it does not know.
pub fn stooq_unknown(stooq_symbol: &str) -> String {
    format!(
        "Symbol,Date,Time,Open,High,Low,Close,Volume\r\n{},N/D,N/D,N/D,N/D,N/D,N/D,N/D\r\n",
        stooq_symbol.to_ascii_uppercase()
    )
}

/// Alpha Vantage's `GLOBAL_QUOTE` answer.
pub fn alphavantage_quote(symbol: &str, price: &str, day: &str) -> String {
    format!(
        r#"{{
    "Global Quote": {{
        "01. symbol": "{symbol}",
        "02. open": "{price}",
        "03. high": "{price}",
        "04. low": "{price}",
        "05. price": "{price}",
        "06. volume": "3766484",
        "07. latest trading day": "{day}",
        "08. previous close": "{price}",
        "09. change": "0.0000",
        "10. change percent": "0.0000%"
    }}
}}"#
    )
}

/// What Alpha Vantage answers (with 200) over its rate limit.
pub const ALPHAVANTAGE_NOTE: &str = r#"{
    "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency."
}"#;
/// And for a key it does not accept.
pub const ALPHAVANTAGE_BAD_KEY: &str = r#"{
    "Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
}"#;

/// One canned answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Answer {
    pub fn ok(content_type: &'static str, body: &str) -> Answer {
        Answer {
            status: 200,
            content_type,
            body: body.to_string(),
        }
    }

    pub fn failing() -> Answer {
        Answer {
            status: 503,
            content_type: "text/html",
            body: "<html><body>Service unavailable</body></html>".into(),
        }
    }
}

#[derive(Default)]
struct State {
    ecb: Option<Answer>,
    /// Keyed by the `s=` (Stooq) or `symbol=` (Alpha Vantage) value.
    quotes: HashMap<String, Answer>,
    /// Answers every quote request when set (a provider that is down).
    all_quotes: Option<Answer>,
    seen: Vec<String>,
}

pub struct FakeMarket {
    addr: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeMarket {
    pub fn start() -> FakeMarket {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake market");
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State {
            ecb: Some(Answer::ok("text/xml", ECB_XML)),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let state = state.clone();
                        thread::spawn(move || serve(stream, &state));
                    }
                }
            })
        };
        FakeMarket {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `APP_FX_URL`.
    pub fn fx_url(&self) -> String {
        format!("http://{}/stats/eurofxref/eurofxref-daily.xml", self.addr)
    }

    /// `APP_QUOTES_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What a quote request for `key` (Stooq's `aapl.us`, Alpha Vantage's `IBM`) answers.
    pub fn set_quote(&self, key: &str, answer: Answer) {
        self.state
            .lock()
            .unwrap()
            .quotes
            .insert(key.to_string(), answer);
    }

    /// Every quote request answers this from now on (`None`: per symbol again).
    pub fn set_all_quotes(&self, answer: Option<Answer>) {
        self.state.lock().unwrap().all_quotes = answer;
    }

    /// Every request line's target so far.
    pub fn seen(&self) -> Vec<String> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Waits (up to `timeout`) until `pred` holds over what was asked.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[String]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if pred(&self.seen()) {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        pred(&self.seen())
    }
}

impl Drop for FakeMarket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    while !bytes.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&bytes).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let answer = {
        let mut s = state.lock().unwrap();
        s.seen.push(target.clone());
        answer_for(&s, &target)
    };
    let head = format!(
        "HTTP/1.1 {} Fake\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        answer.status,
        answer.content_type,
        answer.body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(answer.body.as_bytes());
}

fn answer_for(s: &State, target: &str) -> Answer {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let not_found = Answer {
        status: 404,
        content_type: "text/plain",
        body: "not found".into(),
    };
    match path {
        "/stats/eurofxref/eurofxref-daily.xml" => s.ecb.clone().unwrap_or(not_found),
        // Stooq insists on its format parameters.
        "/q/l/" if query.contains("f=sd2t2ohlcv") && query.contains("e=csv") => {
            let key = param("s").unwrap_or_default();
            s.all_quotes
                .clone()
                .or_else(|| s.quotes.get(&key).cloned())
                .unwrap_or_else(|| Answer::ok("text/csv", &stooq_unknown(&key)))
        }
        "/query" if param("function").as_deref() == Some("GLOBAL_QUOTE") => {
            let key = param("symbol").unwrap_or_default();
            if param("apikey").unwrap_or_default().is_empty() {
                return Answer::ok("application/json", ALPHAVANTAGE_BAD_KEY);
            }
            s.all_quotes
                .clone()
                .or_else(|| s.quotes.get(&key).cloned())
                .unwrap_or_else(|| Answer::ok("application/json", r#"{"Global Quote": {}}"#))
        }
        _ => not_found,
    }
}
