//! One browser session of the WebDriver client: going to pages, finding
//! and working elements, running scripts, waiting, screenshots and
//! resizing. Dropping a `Browser` closes it.

use std::cell::Cell;
use std::path::Path;
use std::thread;
use std::time::Instant;

use base64::Engine;
use serde_json::{json, Value};

use super::{call, ELEMENT_KEY, MAX_SHOT_HEIGHT, POLL, WAIT};

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
    /// The session at `session` (`…/session/ID`) on the driver `agent` talks to.
    pub(super) fn new(agent: ureq::Agent, session: String, width: u32) -> Browser {
        Browser {
            agent,
            session,
            width: Cell::new(width),
        }
    }

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
