//! axe-core in the page: every rule axe runs by default (WCAG 2 A/AA and
//! its best practices), asserted at 0 violations, each one printed with
//! the elements it found when there are any.
//!
//! axe-core is never committed: `.ci/run` fetches the pinned release from
//! the npm registry into `target/axe/` before the browser tier. `$AXE_JS`
//! names another copy of `axe.min.js`. Without one the test fails.

use serde_json::Value;

use super::webdriver::Browser;

/// Where `.ci/run` unpacks `npm pack axe-core@…`.
const FETCHED: &str = "target/axe/package/axe.min.js";

/// `axe.min.js`, from `$AXE_JS` or where `.ci/run` put it.
fn source() -> String {
    let path = match std::env::var_os("AXE_JS") {
        Some(path) => std::path::PathBuf::from(path),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FETCHED),
    };
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is needed at {} ({e}): run .ci/run, or `npm pack axe-core@4.14.1` \
             and point $AXE_JS at the tarball's package/axe.min.js",
            path.display()
        )
    })
}

/// Runs axe on the page as it is now and fails on any violation.
pub fn no_violations(browser: &Browser, what: &str) {
    let injected = browser.execute(&format!("{}\n;return typeof window.axe;", source()), vec![]);
    assert_eq!(injected, "object", "{what}: axe-core did not load");
    let answer = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] }).then(
               (r) => done({ ok: r.violations.map((v) => ({
                 id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.map((n) => n.target.join(' ') + ' — ' + n.failureSummary),
               })), passes: r.passes.length }),
               (e) => done({ err: String(e) }));",
        )
        .unwrap_or_else(|e| panic!("{what}: axe.run: {e}"));
    if let Some(err) = answer["err"].as_str() {
        panic!("{what}: axe.run failed: {err}");
    }
    let violations = answer["ok"].as_array().cloned().unwrap_or_default();
    assert!(
        answer["passes"].as_u64().is_some_and(|n| n > 0),
        "{what}: axe checked nothing: {answer}"
    );
    if !violations.is_empty() {
        let report: Vec<String> = violations.iter().map(describe).collect();
        panic!(
            "{what}: {} axe violation(s):\n{}",
            violations.len(),
            report.join("\n")
        );
    }
    eprintln!(
        "axe: {what}: 0 violations ({} rules passed)",
        answer["passes"]
    );
}

fn describe(v: &Value) -> String {
    let nodes: Vec<String> = v["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| format!("    {}", n.as_str().unwrap_or_default().replace('\n', " ")))
        .collect();
    format!(
        "  {} ({}): {}\n{}",
        v["id"].as_str().unwrap_or_default(),
        v["impact"].as_str().unwrap_or("?"),
        v["help"].as_str().unwrap_or_default(),
        nodes.join("\n")
    )
}
