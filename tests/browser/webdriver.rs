//! A small W3C WebDriver client for Debian's `chromedriver` and `chromium`:
//! just the commands the journey needs, spoken as JSON over `ureq`.
//!
//! `Driver` owns the chromedriver process (killed on drop); each `Browser` is
//! one session with its own `--user-data-dir`, so two of them are two people
//! with separate cookies. Nothing here ever downloads a browser.

use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::support::free_port;

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
        Browser {
            agent: self.agent.clone(),
            session: format!("{}/session/{id}", self.url),
            width: Cell::new(width),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session. Dropping it closes the browser.
pub struct Browser {
    agent: ureq::Agent,
    session: String,
    width: Cell<u32>,
}

/// A reference to an element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        call(
            &self.agent,
            method,
            &format!("{}{path}", self.session),
            body,
        )
    }

    fn must(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.cmd(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    pub fn goto(&self, url: &str) {
        self.must("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.must("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The path of the current URL (`/portfolio`), without query.
    pub fn path(&self) -> String {
        let url = self.url();
        let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
        let rest = &url[after_scheme..];
        let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
        path.split(['?', '#']).next().unwrap_or("/").to_string()
    }

    /// The first element matching `css`, if there is one now.
    pub fn try_find(&self, css: &str) -> Option<Element> {
        let value = self
            .cmd(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .ok()?;
        value[ELEMENT_KEY]
            .as_str()
            .map(|id| Element(id.to_string()))
    }

    /// The first element matching `css`, waiting for it to appear.
    pub fn find(&self, css: &str) -> Element {
        self.wait_for(&format!("an element matching `{css}`"), || {
            self.try_find(css)
        })
    }

    pub fn click(&self, el: &Element) {
        self.must("POST", &format!("/element/{}/click", el.0), Some(json!({})));
    }

    /// Clears the field and types `text` into it.
    pub fn type_into(&self, el: &Element, text: &str) {
        self.must("POST", &format!("/element/{}/clear", el.0), Some(json!({})));
        self.must(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        );
    }

    /// The rendered text of an element ("" when it is gone).
    pub fn text(&self, el: &Element) -> String {
        self.cmd("GET", &format!("/element/{}/text", el.0), None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The rendered text of the first element matching `css`, if any.
    pub fn try_text(&self, css: &str) -> Option<String> {
        self.try_find(css).map(|el| self.text(&el))
    }

    /// A DOM property (`value`, `hidden`, …) of an element.
    pub fn property(&self, el: &Element, name: &str) -> Value {
        self.must("GET", &format!("/element/{}/property/{name}", el.0), None)
    }

    pub fn is_displayed(&self, el: &Element) -> bool {
        self.cmd("GET", &format!("/element/{}/displayed", el.0), None)
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.must(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Runs an async script: it must call `arguments[arguments.length - 1]`
    /// with its result.
    pub fn execute_async(&self, script: &str) -> Result<Value, String> {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Grants a permission (`clipboard-read`, …) to the current origin.
    /// Chromedriver supports this; other drivers may not.
    pub fn grant_permission(&self, name: &str) -> Result<(), String> {
        self.cmd(
            "POST",
            "/permissions",
            Some(json!({ "descriptor": { "name": name }, "state": "granted" })),
        )
        .map(|_| ())
    }

    /// Polls `check` until it returns `Some`, for up to `WAIT`. On timeout it
    /// panics with `what` it waited for, the URL and the page's text.
    pub fn wait_for<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = check() {
                return found;
            }
            if Instant::now() >= deadline {
                let url = self.cmd("GET", "/url", None).unwrap_or_default();
                let body = self.try_text("body").unwrap_or_default();
                panic!("waited {WAIT:?} for {what}; at {url}, the page reads:\n{body}");
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until the current path is `path` and the page has finished loading.
    pub fn wait_for_path(&self, path: &str) {
        self.wait_for(&format!("the browser to be at {path}"), || {
            let loaded = self
                .cmd(
                    "POST",
                    "/execute/sync",
                    Some(json!({
                        "script": "return document.readyState", "args": []
                    })),
                )
                .ok()
                .is_some_and(|v| v == "complete");
            (loaded && self.path() == path).then_some(())
        });
    }

    /// Saves a PNG of the whole page (not just the viewport) to `file`: the
    /// window grows to the page's height for the shot, then shrinks back.
    pub fn screenshot(&self, file: &Path) {
        let (page, viewport) = self.heights();
        let window = self.must("GET", "/window/rect", None)["height"]
            .as_u64()
            .unwrap_or(u64::from(viewport));
        // Even headless, the window is taller than the viewport it shows.
        let frame = window.saturating_sub(u64::from(viewport));
        let want = page.min(MAX_SHOT_HEIGHT);
        let grow = want > viewport;
        if grow {
            self.set_size(self.width.get(), (u64::from(want) + frame) as u32);
            self.wait_for("the window to fit the page", || {
                (self.heights().1 >= want).then_some(())
            });
        }
        let png = self.must("GET", "/screenshot", None);
        if grow {
            self.set_size(self.width.get(), window as u32);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        std::fs::write(file, bytes).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    }

    /// The page's full height and the viewport's, in CSS pixels.
    fn heights(&self) -> (u32, u32) {
        let both = self.execute(
            "return [Math.ceil(document.documentElement.scrollHeight), window.innerHeight]",
            vec![],
        );
        let at = |i: usize| both[i].as_u64().unwrap_or(0) as u32;
        (at(0), at(1))
    }

    /// Resizes the window (to look at a page on a phone-sized screen, say).
    pub fn resize(&self, width: u32, height: u32) {
        self.width.set(width);
        self.set_size(width, height);
    }

    fn set_size(&self, width: u32, height: u32) {
        // Headless windows may not take a size at once; ignore a refusal.
        let _ = self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.cmd("DELETE", "", None);
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
