//! A small W3C WebDriver client for Debian's `chromedriver` and `chromium`:
//! just the commands the journey needs, spoken as JSON over `ureq`.
//!
//! `Driver` owns the chromedriver process (killed on drop); each `Browser` is
//! one session with its own `--user-data-dir`, so two of them are two people
//! with separate cookies (its commands are in `webdriver/session.rs`).
//! Nothing here ever downloads a browser.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::free_port;

mod session;

pub use session::Browser;

/// How long `Browser::wait_for` polls before it gives up.
pub const WAIT: Duration = Duration::from_secs(10);
/// Full-page screenshots stop here (CSS pixels).
const MAX_SHOT_HEIGHT: u32 = 6000;
const POLL: Duration = Duration::from_millis(50);
const DRIVER_START: Duration = Duration::from_secs(20);
/// The key W3C WebDriver gives an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const INSTALL_HINT: &str = "install them with: apt-get install -y chromium chromium-driver";

/// The chromium and chromedriver binaries: `$CHROMIUM` / `$CHROMEDRIVER` when
/// set, else Debian's paths. A missing one panics with the install command,
/// so the browser test fails (never skips) where they are absent.
pub struct Binaries {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

impl Binaries {
    pub fn find() -> Binaries {
        let pick = |var: &str, default: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(default))
        };
        let chromium = pick("CHROMIUM", "/usr/bin/chromium");
        let chromedriver = pick("CHROMEDRIVER", "/usr/bin/chromedriver");
        let missing: Vec<String> = [&chromium, &chromedriver]
            .into_iter()
            .filter(|p| !is_executable(p))
            .map(|p| p.display().to_string())
            .collect();
        assert!(
            missing.is_empty(),
            "the browser test needs Chromium and chromedriver, and {} is missing: {INSTALL_HINT} \
             (or point $CHROMIUM and $CHROMEDRIVER at them)",
            missing.join(" and ")
        );
        Binaries {
            chromium,
            chromedriver,
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A chromedriver process on a free port. Dropping it kills the process.
pub struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
    agent: ureq::Agent,
}

impl Driver {
    pub fn start(bins: &Binaries) -> Driver {
        let port = free_port();
        let mut child = Command::new(&bins.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("start {}: {e}; {INSTALL_HINT}", bins.chromedriver.display())
            });
        // Keep draining its output so a chatty driver never blocks on a full
        // pipe; cargo's harness shows these lines only when the test fails.
        if let Some(out) = child.stdout.take() {
            drain(out);
        }
        if let Some(err) = child.stderr.take() {
            drain(err);
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium: bins.chromium.clone(),
            agent,
        };
        driver.wait_until_ready();
        driver
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + DRIVER_START;
        loop {
            let ready = call(&self.agent, "GET", &format!("{}/status", self.url), None)
                .ok()
                .and_then(|v| v["ready"].as_bool())
                .unwrap_or(false);
            if ready {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited ({status}) before it was ready; {INSTALL_HINT}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not report ready within {DRIVER_START:?}"
            );
            thread::sleep(POLL);
        }
    }

    /// A new headless browser with a profile of its own in `profile_dir`.
    pub fn browser(&self, profile_dir: &Path, width: u32, height: u32) -> Browser {
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-proxy-server".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile_dir.display()),
        ];
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": self.chromium.display().to_string(),
                        "args": args,
                    },
                }
            }
        });
        let value = call(
            &self.agent,
            "POST",
            &format!("{}/session", self.url),
            Some(caps),
        )
        .unwrap_or_else(|e| panic!("start a Chromium session: {e}; {INSTALL_HINT}"));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {value}"))
            .to_string();
        Browser::new(
            self.agent.clone(),
            format!("{}/session/{id}", self.url),
            width,
        )
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver command: the response's `value`, or the driver's error.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, body) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.unwrap_or_else(|| json!({})).to_string()),
    };
    let mut response = response.map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?;
    let parsed: Value =
        serde_json::from_str(&text).map_err(|e| format!("{method} {url}: {e}: {text}"))?;
    let value = parsed.get("value").cloned().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        Ok(value)
    } else {
        Err(format!(
            "{status} {}: {}",
            value["error"].as_str().unwrap_or("?"),
            value["message"].as_str().unwrap_or(&text)
        ))
    }
}

fn drain(pipe: impl std::io::Read + Send + 'static) {
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            eprintln!("[chromedriver] {line}");
        }
    });
}
