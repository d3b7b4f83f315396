//! The security headers every answer carries (SPEC §8).

use super::Resp;

/// CSP with `default-src`, `frame-ancestors 'none'`, no inline script and
/// `report-uri /csp-report`;
/// `nosniff`; `Referrer-Policy: same-origin`.
pub fn assert_security_headers(resp: &Resp, what: &str) {
    let csp = resp
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy: {}", resp.summary()));
    let directives: Vec<(String, String)> = csp
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let (name, value) = d.split_once(char::is_whitespace).unwrap_or((d, ""));
            (name.to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    let directive = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert!(
        directive("default-src").is_some(),
        "{what}: CSP without default-src: {csp}"
    );
    assert_eq!(
        directive("frame-ancestors"),
        Some("'none'"),
        "{what}: CSP frame-ancestors: {csp}"
    );
    let script = directive("script-src")
        .or(directive("default-src"))
        .unwrap();
    assert!(
        !script.contains("'unsafe-inline'"),
        "{what}: CSP allows inline script: {csp}"
    );
    assert_eq!(
        directive("report-uri"),
        Some("/csp-report"),
        "{what}: CSP reports nowhere: {csp}"
    );
    let nosniff = resp.header("x-content-type-options");
    assert!(
        nosniff.is_some_and(|v| v.eq_ignore_ascii_case("nosniff")),
        "{what}: X-Content-Type-Options {nosniff:?}"
    );
    let referrer = resp.header("referrer-policy");
    assert!(
        referrer.is_some_and(|v| v.eq_ignore_ascii_case("same-origin")),
        "{what}: Referrer-Policy {referrer:?}"
    );
}
