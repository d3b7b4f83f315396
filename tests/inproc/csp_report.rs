//! `POST /csp-report` through the router: a browser sends it on its own, so
//! no Origin, cookie or CSRF token is asked for; errors answer as JSON.

use super::*;

const REPORT: &str = r#"{"csp-report":{"document-uri":"http://127.0.0.1/settings","effective-directive":"img-src","blocked-uri":"https://cdn.example/x.png"}}"#;

fn report(body: &str, content_type: &str) -> Req {
    let mut req = request("POST", "/csp-report").with_header("content-type", content_type);
    req.body = body.as_bytes().to_vec();
    req
}

#[test]
fn a_report_needs_no_token_whatever_origin_it_comes_with() {
    let app = app();
    for req in [
        report(REPORT, "application/csp-report"),
        report(REPORT, "application/csp-report").with_header("origin", "null"),
        report(REPORT, "application/csp-report")
            .with_header("origin", "https://elsewhere.example")
            .with_header("sec-fetch-site", "cross-site"),
    ] {
        let resp = send(&app, req);
        assert_eq!(resp.status, 204, "{}", resp.summary());
        assert!(resp.body.is_empty());
    }
    // Every other POST still wants its token.
    let form = send(&app, request("POST", "/logout").with_form(&[]));
    assert_eq!(form.status, 403, "{}", form.summary());
}

#[test]
fn what_is_not_a_report_is_refused_as_json() {
    let app = app();
    let resp = send(&app, report(REPORT, "text/plain"));
    assert_eq!(resp.status, 415, "{}", resp.summary());
    assert!(resp.body.contains("\"error\""), "{}", resp.body);
    let resp = send(&app, report("[1,2", "application/reports+json"));
    assert_eq!(resp.status, 400, "{}", resp.summary());
    assert!(resp.body.contains("\"error\""), "{}", resp.body);
}
