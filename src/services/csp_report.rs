//! What browsers report when our Content-Security-Policy blocked something
//! (SPEC §7): both shapes read (`report-uri`'s `application/csp-report`
//! and the Reporting API's `application/reports+json`), each violation
//! reduced to what is safe to log, and a budget of a few log lines a minute
//! so a page in a loop cannot flood the log (the rest are counted).

use std::sync::Mutex;

use serde_json::Value;

use crate::clock::Timestamp;
use crate::error::{Error, Result};

/// A report body's largest size.
pub const BODY_LIMIT: usize = 8 * 1024;
/// Log lines a minute; violations past it are only counted.
pub const LINES_PER_MINUTE: u32 = 5;
/// Violations read from one report (the Reporting API batches them).
const MAX_PER_REPORT: usize = 20;

/// The directives a label may name; anything else is `other`, so the
/// metric's label set stays small whatever a client sends.
const DIRECTIVES: [&str; 20] = [
    "default-src",
    "script-src",
    "script-src-elem",
    "script-src-attr",
    "style-src",
    "style-src-elem",
    "style-src-attr",
    "img-src",
    "font-src",
    "connect-src",
    "frame-src",
    "child-src",
    "worker-src",
    "media-src",
    "manifest-src",
    "object-src",
    "form-action",
    "frame-ancestors",
    "base-uri",
    "prefetch-src",
];

/// One blocked thing, as it is logged: never a query string or a fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub directive: &'static str,
    /// The blocked resource's origin, or a keyword (`inline`, `eval`).
    pub blocked: String,
    /// The path of the page it happened on.
    pub page: String,
}

/// The violations in a report body of `content_type`; a body that is
/// neither shape is a 400, another content type a 415.
pub fn violations(content_type: Option<&str>, body: &[u8]) -> Result<Vec<Violation>> {
    if body.len() > BODY_LIMIT {
        return Err(Error::PayloadTooLarge);
    }
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        media.as_str(),
        "application/csp-report" | "application/reports+json" | "application/json"
    ) {
        return Err(Error::UnsupportedMediaType);
    }
    let bad = || Error::BadRequest("The body is not a CSP violation report.".into());
    let v: Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let found: Vec<Violation> = match &v {
        // report-uri: {"csp-report": {"effective-directive", "blocked-uri", "document-uri", …}}
        Value::Object(o) if o.contains_key("csp-report") => {
            let r = &o["csp-report"];
            let directive = r
                .get("effective-directive")
                .or_else(|| r.get("violated-directive"));
            vec![violation(
                directive,
                r.get("blocked-uri"),
                r.get("document-uri"),
            )]
        }
        // Reporting API: [{"type": "csp-violation", "body": {"effectiveDirective", "blockedURL", "documentURL"}}]
        Value::Array(reports) => reports
            .iter()
            .filter(|r| r.get("type").and_then(Value::as_str) == Some("csp-violation"))
            .take(MAX_PER_REPORT)
            .map(|r| {
                let b = &r["body"];
                violation(
                    b.get("effectiveDirective"),
                    b.get("blockedURL"),
                    b.get("documentURL").or_else(|| r.get("url")),
                )
            })
            .collect(),
        _ => return Err(bad()),
    };
    Ok(found)
}

fn violation(
    directive: Option<&Value>,
    blocked: Option<&Value>,
    page: Option<&Value>,
) -> Violation {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").trim().to_string();
    Violation {
        directive: directive_label(&text(directive)),
        blocked: blocked_label(&text(blocked)),
        page: path_of(&text(page)),
    }
}

/// `script-src-elem 'self'` or `script-src` → `script-src-elem`; unknown → `other`.
pub fn directive_label(directive: &str) -> &'static str {
    let name = directive
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    DIRECTIVES
        .iter()
        .find(|d| **d == name)
        .copied()
        .unwrap_or("other")
}

/// A keyword (`inline`, `eval`, `data`) as it is, a URL as its origin.
fn blocked_label(blocked: &str) -> String {
    let keyword = blocked
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-');
    let label = if keyword {
        blocked.to_string()
    } else {
        match blocked.split_once("://") {
            Some((scheme, rest)) => {
                let host = rest.split(['/', '?', '#']).next().unwrap_or("");
                format!("{scheme}://{host}")
            }
            None => blocked
                .split([':', '?', '#'])
                .next()
                .unwrap_or("")
                .to_string(),
        }
    };
    clean(&label, 100)
}

/// `https://site/settings?x=1#y` → `/settings`.
fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    clean(path.split(['?', '#']).next().unwrap_or("/"), 100)
}

/// Printable ASCII only, at most `max` characters: it goes into a log line.
fn clean(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect()
}

/// How many violation lines may still be logged this minute.
#[derive(Default)]
pub struct LogBudget {
    state: Mutex<Budget>,
}

#[derive(Default)]
struct Budget {
    minute: i64,
    logged: u32,
    /// Violations not logged since the last line that was.
    suppressed: u64,
}

/// Whether to log a violation now, and how many went unlogged before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Log { suppressed_before: u64 },
    Count,
}

impl LogBudget {
    pub fn take(&self, now: Timestamp) -> Verdict {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let minute = now.secs().div_euclid(60);
        if minute != b.minute {
            b.minute = minute;
            b.logged = 0;
        }
        if b.logged < LINES_PER_MINUTE {
            b.logged += 1;
            let suppressed_before = std::mem::take(&mut b.suppressed);
            Verdict::Log { suppressed_before }
        } else {
            b.suppressed += 1;
            Verdict::Count
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_report_uris_shape() {
        let body = br#"{"csp-report":{"document-uri":"https://folio.example/settings?tab=1#x",
            "referrer":"","violated-directive":"frame-src","effective-directive":"frame-src",
            "original-policy":"default-src 'self'","disposition":"enforce",
            "blocked-uri":"https://sandbox-buy.paddle.com/checkout/custom?token=secret","status-code":200}}"#;
        let v = violations(Some("application/csp-report"), body).unwrap();
        assert_eq!(
            v,
            [Violation {
                directive: "frame-src",
                blocked: "https://sandbox-buy.paddle.com".into(),
                page: "/settings".into(),
            }]
        );
    }

    #[test]
    fn reads_the_reporting_apis_shape_and_skips_other_reports() {
        let body = br#"[{"type":"csp-violation","age":10,"url":"https://folio.example/portfolio",
            "user_agent":"x","body":{"documentURL":"https://folio.example/portfolio",
            "blockedURL":"inline","effectiveDirective":"style-src-attr","originalPolicy":"",
            "disposition":"enforce","statusCode":200}},
            {"type":"deprecation","body":{}}]"#;
        let v = violations(Some("application/reports+json"), body).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].directive, "style-src-attr");
        assert_eq!(v[0].blocked, "inline");
        assert_eq!(v[0].page, "/portfolio");
    }

    #[test]
    fn strange_input_is_refused_or_labelled_other() {
        assert_eq!(
            violations(Some("text/plain"), b"{}").unwrap_err().status(),
            415
        );
        assert_eq!(
            violations(Some("application/csp-report"), b"nope")
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            violations(Some("application/csp-report"), &[b' '; BODY_LIMIT + 1])
                .unwrap_err()
                .status(),
            413
        );
        assert_eq!(directive_label("evil\"} 1\nx"), "other");
        assert_eq!(directive_label("script-src 'self'"), "script-src");
    }

    #[test]
    fn a_few_lines_a_minute_then_only_counts() {
        let budget = LogBudget::default();
        // The start of a minute.
        let t = Timestamp(1_800_000_000);
        assert_eq!(t.secs() % 60, 0);
        for _ in 0..LINES_PER_MINUTE {
            assert_eq!(
                budget.take(t),
                Verdict::Log {
                    suppressed_before: 0
                }
            );
        }
        assert_eq!(budget.take(t.plus(59)), Verdict::Count);
        assert_eq!(budget.take(t.plus(59)), Verdict::Count);
        assert_eq!(
            budget.take(t.plus(60)),
            Verdict::Log {
                suppressed_before: 2
            }
        );
        assert_eq!(
            budget.take(t.plus(61)),
            Verdict::Log {
                suppressed_before: 0
            }
        );
    }
}
