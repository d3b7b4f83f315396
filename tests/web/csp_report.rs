//! `POST /csp-report` (SPEC §7): browsers report what our CSP blocked; no
//! cookie, Origin or CSRF token needed, 204, at most 8 KiB, each violation
//! counted in `/metrics` and logged a few lines a minute at most.

use crate::support::{Client, Resp, TestServer};

const FRAME_BLOCKED: &str = r#"{"csp-report":{"document-uri":"http://folio.example/settings?tab=billing","referrer":"","violated-directive":"frame-src","effective-directive":"frame-src","original-policy":"default-src 'self'; report-uri /csp-report","disposition":"enforce","blocked-uri":"https://sandbox-buy.paddle.com/checkout?_ptxn=txn_secret","status-code":200,"script-sample":""}}"#;

const STYLE_BLOCKED: &str = r#"[{"type":"csp-violation","age":2,"url":"http://folio.example/portfolio","user_agent":"Mozilla/5.0","body":{"documentURL":"http://folio.example/portfolio","blockedURL":"inline","effectiveDirective":"style-src-attr","originalPolicy":"style-src 'self'","disposition":"enforce","statusCode":200,"sample":""}}]"#;

/// As a browser sends a report: no cookie, no Origin, no token.
fn report(app: &TestServer, content_type: &str, body: &str) -> Resp {
    Client::new(app.addr(), None).request(
        "POST",
        "/csp-report",
        &[("Content-Type", content_type)],
        body.as_bytes(),
    )
}

fn metric(app: &TestServer, line_start: &str) -> i64 {
    let metrics = app.client().get("/metrics").body;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn violation_lines(app: &TestServer) -> Vec<String> {
    app.log()
        .lines()
        .filter(|l| l.contains("event=csp.violation"))
        .map(str::to_string)
        .collect()
}

#[test]
fn both_report_shapes_are_taken_without_a_cookie_logged_and_counted() {
    let app = TestServer::new().spawn();
    let resp = report(&app, "application/csp-report", FRAME_BLOCKED);
    assert_eq!(resp.status, 204, "{}", resp.summary());
    let resp = report(&app, "application/reports+json", STYLE_BLOCKED);
    assert_eq!(resp.status, 204, "{}", resp.summary());
    assert_eq!(
        metric(&app, "app_csp_violations_total{directive=\"frame-src\"}"),
        1
    );
    assert_eq!(
        metric(
            &app,
            "app_csp_violations_total{directive=\"style-src-attr\"}"
        ),
        1
    );
    let lines = violation_lines(&app);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("directive=frame-src")
            && lines[0].contains("blocked=https://sandbox-buy.paddle.com")
            && lines[0].contains("page=/settings"),
        "{lines:?}"
    );
    assert!(
        !app.log().contains("txn_secret") && !app.log().contains("tab=billing"),
        "no query strings in the log"
    );
    assert!(lines[1].contains("directive=style-src-attr") && lines[1].contains("blocked=inline"));
}

#[test]
fn a_body_over_8_kib_is_refused_unread_and_one_at_the_limit_is_taken() {
    let app = TestServer::new().spawn();
    let at_limit = format!(
        "{FRAME_BLOCKED}{}",
        " ".repeat(8 * 1024 - FRAME_BLOCKED.len())
    );
    assert_eq!(at_limit.len(), 8 * 1024);
    assert_eq!(
        report(&app, "application/csp-report", &at_limit).status,
        204
    );
    let over = format!("{at_limit} ");
    let resp = report(&app, "application/csp-report", &over);
    assert_eq!(resp.status, 413, "{}", resp.summary());
    assert_eq!(
        metric(&app, "app_csp_violations_total{directive=\"frame-src\"}"),
        1
    );
    // Not a report at all.
    assert_eq!(report(&app, "text/plain", FRAME_BLOCKED).status, 415);
    assert_eq!(
        report(&app, "application/csp-report", "not json").status,
        400
    );
    assert_eq!(app.client().get("/csp-report").status, 405);
}

#[test]
fn a_flood_of_reports_logs_a_few_lines_a_minute_and_counts_every_one() {
    let app = TestServer::new().spawn();
    const SENT: i64 = 12;
    for _ in 0..SENT {
        assert_eq!(
            report(&app, "application/csp-report", FRAME_BLOCKED).status,
            204
        );
    }
    let logged = violation_lines(&app).len() as i64;
    let unlogged = metric(&app, "app_csp_violations_unlogged_total");
    // Five lines a minute; the flood may straddle one minute's end.
    assert!(logged <= 10, "{logged} lines logged:\n{}", app.log());
    assert!(logged >= 5, "{logged}");
    assert_eq!(
        logged + unlogged,
        SENT,
        "every violation is logged or counted as unlogged"
    );
    assert_eq!(
        metric(&app, "app_csp_violations_total{directive=\"frame-src\"}"),
        SENT
    );
    assert!(app.client().get("/healthz").status == 200);
}
