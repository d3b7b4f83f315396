//! Test support: the real `app serve` on a free port with a temporary
//! database and an SMTP sink, and a browser-like client to talk to it.

pub mod account;
pub mod headers;
pub mod http;
pub mod json;
pub mod llm;
pub mod mail;
pub mod market;
pub mod paddle;
pub mod paddle_catalog;
pub mod page;
pub mod smtp;

use std::ffi::{OsStr, OsString};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use account::{api_me, enter_emailed_code, paid_user, sign_in, signed_in, user_id};
pub use headers::assert_security_headers;
pub use http::{cookie_attrs, cookie_pair, form_encode, parse_response, raw, Client, Resp};
pub use json::{json_error, json_error_message, json_of};
pub use mail::{code_in, Mail};
pub use page::{csrf_in, html_unescape, input_value, link, text_of, try_csrf_in};
pub use smtp::MailSink;

const BIN: &str = env!("CARGO_BIN_EXE_app");
const START_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// An upper bound on waiting for a mail that should come (it usually takes
/// milliseconds; under load 5 s was once too short). Nothing waits this long
/// to prove that a mail did *not* come: that is `MailSink::count_to_after`.
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);
const PORT_ATTEMPTS: usize = 5;

/// Why a start did not come up.
#[derive(Debug, PartialEq)]
enum Started {
    PortTaken,
}

/// How to start a server:
/// `TestServer::new().https().env("APP_ADMIN_TOKEN", t).spawn()`.
#[must_use = "nothing starts until `spawn`"]
pub struct Start {
    base_url: BaseUrl,
    env: Vec<(OsString, OsString)>,
}

enum BaseUrl {
    Http,
    Https,
    Fixed(String),
}

impl Start {
    /// `--base-url https://127.0.0.1:PORT`. The server still speaks plain
    /// HTTP on the port; only its cookies and Origin check change.
    pub fn https(self) -> Start {
        Start {
            base_url: BaseUrl::Https,
            ..self
        }
    }

    /// This `--base-url`, whatever the port.
    pub fn base_url(self, url: &str) -> Start {
        Start {
            base_url: BaseUrl::Fixed(url.to_string()),
            ..self
        }
    }

    /// One more variable in the server's environment (kept for restarts).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Start {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Start {
        vars.into_iter().fold(self, |start, (k, v)| start.env(k, v))
    }

    /// `app --db <tmp>/app.db serve --addr 127.0.0.1:PORT --base-url … --workers 4`
    /// with the variables given, once `/healthz` answers.
    pub fn spawn(self) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("app-test-")
            .tempdir()
            .expect("make a temp dir");
        let mut server = TestServer {
            dir,
            addr: String::new(),
            base_url: String::new(),
            env: self.env,
            mail: MailSink::start(),
            cursor: Default::default(),
            child: None,
        };
        // A free port can be taken by someone else (another test's server or
        // client) between our probe and the server's bind: then try another.
        for _ in 0..PORT_ATTEMPTS {
            server.addr = format!("127.0.0.1:{}", free_port());
            server.base_url = match &self.base_url {
                BaseUrl::Http => format!("http://{}", server.addr),
                BaseUrl::Https => format!("https://{}", server.addr),
                BaseUrl::Fixed(url) => url.clone(),
            };
            if server.try_start() != Err(Started::PortTaken) {
                return server;
            }
        }
        panic!(
            "no free port after {PORT_ATTEMPTS} attempts; log:\n{}",
            server.log()
        );
    }
}

/// A running server with its own database, port and mail sink. Dropping it
/// kills the server (SIGKILL) and removes the directory.
pub struct TestServer {
    dir: tempfile::TempDir,
    addr: String,
    base_url: String,
    /// What `Start::env` added, for every start of this server.
    env: Vec<(OsString, OsString)>,
    /// Every mail the server sent.
    pub mail: MailSink,
    cursor: smtp::MailCursor,
    child: Option<Child>,
}

impl TestServer {
    /// Plain HTTP on a free port, no extra variables; see [`Start`].
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Start {
        Start {
            base_url: BaseUrl::Http,
            env: Vec::new(),
        }
    }

    fn start(&mut self) {
        if self.try_start().is_err() {
            panic!(
                "the server could not listen on {}; log:\n{}",
                self.addr,
                self.log()
            );
        }
    }

    fn try_start(&mut self) -> Result<(), Started> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open server.log");
        let mut cmd = self.command();
        cmd.args([
            "serve",
            "--addr",
            &self.addr,
            "--base-url",
            &self.base_url,
            "--workers",
            "4",
        ])
        .envs(self.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
        self.child = Some(cmd.spawn().unwrap_or_else(|e| panic!("start {BIN}: {e}")));
        self.wait_until_healthy()
    }

    /// The binary with `--db <db>`, a clean `APP_*` environment and the sink
    /// as `APP_SMTP_URL`.
    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("APP_") {
                cmd.env_remove(key);
            }
        }
        // No test asks the real ECB: unless a test points it at a fake, the
        // rates come from a port where nothing listens.
        cmd.env("APP_SMTP_URL", self.mail.url())
            .env("APP_FX_URL", "http://127.0.0.1:9/eurofxref-daily.xml")
            .stdin(Stdio::null())
            .arg("--db")
            .arg(self.db_path());
        cmd
    }

    fn wait_until_healthy(&mut self) -> Result<(), Started> {
        let deadline = Instant::now() + START_TIMEOUT;
        let probe = Client::new(&self.addr, None);
        loop {
            if let Ok(resp) = probe.try_request("GET", "/healthz", &[], b"") {
                if resp.status == 200 {
                    return Ok(());
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                if self.log().contains("Address already in use") {
                    return Err(Started::PortTaken);
                }
                panic!(
                    "the server exited ({status}) before /healthz answered 200; log:\n{}",
                    self.log()
                );
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!(
                    "/healthz did not answer 200 within {START_TIMEOUT:?}; log:\n{}",
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// "127.0.0.1:PORT"
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The `--base-url` the server was given.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The scheme and authority of the base URL, as a browser sends `Origin`.
    pub fn origin(&self) -> String {
        origin_of(&self.base_url)
    }

    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// `session` → `__Host-session` when the base URL is https.
    pub fn cookie_name(&self, name: &str) -> String {
        if self.is_https() {
            format!("__Host-{name}")
        } else {
            name.to_string()
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("app.db")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// A new client with an empty cookie jar whose form posts send
    /// `Origin: <origin of the base URL>`.
    pub fn client(&self) -> Client {
        Client::new(&self.addr, Some(&self.origin()))
    }

    /// A connection to the database file (the server may be running).
    pub fn db(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.db_path()).expect("open the test database");
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn
    }

    /// The one integer `sql` selects, e.g. `SELECT count(*) FROM users`.
    pub fn query_i64(&self, sql: &str) -> i64 {
        self.db()
            .query_row(sql, [], |row| row.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs `app --db <db> ARGS` with the server's environment.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with(args, |_| {})
    }

    /// Like `cli`, with a last word on the command (env vars, say).
    pub fn cli_with(&self, args: &[&str], configure: impl FnOnce(&mut Command)) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        configure(&mut cmd);
        cmd.output()
            .unwrap_or_else(|e| panic!("run {BIN} {args:?}: {e}"))
    }

    /// The next mail to `email` not handed out yet (waiting up to `MAIL_TIMEOUT`).
    pub fn next_mail(&self, email: &str) -> Mail {
        self.cursor.next(&self.mail, email, MAIL_TIMEOUT)
    }

    /// The sign-in code in the next mail to `email` not handed out yet.
    pub fn code_for(&self, email: &str) -> String {
        code_in(&self.next_mail(email))
    }

    /// SIGKILL, and wait for the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and wait up to 10 s for the exit status. Panics (after a
    /// SIGKILL) if the server does not exit in time.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is not running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        assert!(
            sent.as_ref().is_ok_and(|s| s.success()),
            "kill -TERM failed: {sent:?}"
        );
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not exit within {STOP_TIMEOUT:?} of SIGTERM; log:\n{}",
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (if running) and starts it again on the same port,
    /// database, mail sink and variables.
    pub fn restart(&mut self) {
        self.kill();
        self.start();
    }

    /// Like `restart`, with `vars` set in the server's environment from now
    /// on (each replaces a variable of the same name).
    pub fn restart_with<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        &mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) {
        for (k, v) in vars {
            let (k, v) = (k.as_ref().to_owned(), v.as_ref().to_owned());
            self.env.retain(|(old, _)| *old != k);
            self.env.push((k, v));
        }
        self.restart();
    }

    /// The process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

/// `https://host:port/path` → `https://host:port`.
pub fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(slash) => url[..after_scheme + slash].to_string(),
        None => url.to_string(),
    }
}
