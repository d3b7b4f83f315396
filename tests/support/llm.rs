//! A fake OpenAI-compatible chat-completions API on a free port, speaking
//! just enough HTTP/1.1: one request per connection, each on its own thread,
//! answered with a canned reply after an optional delay (a slow model), or
//! never (a hung one). It records what it was sent.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::{json, Value};

/// One request the fake API received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the app sent a body that is not JSON ({e}): {}", self.body))
    }
}

/// How the fake API answers.
#[derive(Clone)]
pub enum Reply {
    /// This status and body, as `application/json`.
    Answer(u16, String),
    /// Reads the request and never answers (until the fake is dropped).
    Hang,
}

/// The fake's state, shared with its connection threads.
struct Shared {
    reply: Reply,
    delay: Duration,
    seen: Mutex<Vec<Seen>>,
    answered: AtomicUsize,
    stop: AtomicBool,
}

pub struct FakeLlm {
    addr: String,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl FakeLlm {
    pub fn start(reply: Reply) -> FakeLlm {
        FakeLlm::start_delayed(reply, Duration::ZERO)
    }

    /// Like `start`, answering each request `delay` after it arrived: a
    /// slow model. Requests wait side by side, as on a real API.
    pub fn start_delayed(reply: Reply, delay: Duration) -> FakeLlm {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake LLM");
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            reply,
            delay,
            seen: Mutex::new(Vec::new()),
            answered: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let thread = {
            let shared = shared.clone();
            thread::spawn(move || accept(listener, shared))
        };
        FakeLlm {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// A reply the way OpenAI writes one, with `content` as the message.
    pub fn answering(content: &str) -> FakeLlm {
        FakeLlm::answering_after(content, Duration::ZERO)
    }

    /// Like `answering`, `delay` after each request arrived.
    pub fn answering_after(content: &str, delay: Duration) -> FakeLlm {
        let body = json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "fake-model",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        });
        FakeLlm::start_delayed(Reply::Answer(200, body.to_string()), delay)
    }

    /// `http://127.0.0.1:PORT/v1`, as `APP_LLM_URL` takes it.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// How many requests have been answered so far.
    pub fn answered(&self) -> usize {
        self.shared.answered.load(Ordering::SeqCst)
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(&self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let shared = shared.clone();
        thread::spawn(move || serve(stream, &shared));
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if let Some(request) = read_request(&mut stream) {
        shared.seen.lock().unwrap().push(request);
    }
    match &shared.reply {
        Reply::Answer(status, body) => {
            thread::sleep(shared.delay);
            let head = format!(
                "HTTP/1.1 {status} Canned\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
            let _ = stream.flush();
            shared.answered.fetch_add(1, Ordering::SeqCst);
        }
        // Hold the connection open, unanswered, until the fake stops.
        Reply::Hang => {
            while !shared.stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Reads a request head and its `Content-Length` body.
fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split_whitespace();
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    Some(Seen {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
