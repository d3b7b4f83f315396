//! The request log under load. While requests overlap their lines are
//! batched (src/log.rs), yet every request has exactly one line, a request
//! answered with nothing else in hand has its line (and every earlier one)
//! in the log before its answer arrives, and SIGTERM loses none.

use std::thread;

use crate::support::TestServer;

/// `threads` clients at once, each asking for `per_thread` paths no route
/// takes (so each line names its own path); every answer is a 404.
fn burst(app: &TestServer, name: &str, threads: usize, per_thread: usize) -> Vec<String> {
    let clients: Vec<_> = (0..threads)
        .map(|t| {
            let client = app.client();
            let name = name.to_string();
            thread::spawn(move || {
                (0..per_thread)
                    .map(|i| {
                        let path = format!("/{name}-{t}-{i}");
                        let resp = client.get(&path);
                        assert_eq!(resp.status, 404, "{path}: {}", resp.summary());
                        path
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect()
}

fn assert_one_line_each(log: &str, paths: &[String]) {
    for path in paths {
        let needle = format!("event=request method=GET path={path} ");
        assert_eq!(
            log.matches(&needle).count(),
            1,
            "{path} should have exactly one request line; log:\n{log}"
        );
    }
}

#[test]
fn a_lone_request_after_a_concurrent_burst_finds_every_line_already_written() {
    let app = TestServer::new().spawn();
    let paths = burst(&app, "burst", 8, 40);
    let lone = app.client().get("/after-the-burst");
    assert_eq!(lone.status, 404);
    let log = app.log();
    assert_one_line_each(&log, &paths);
    assert!(
        log.contains("path=/after-the-burst status=404"),
        "the lone request's line is written before its answer:\n{log}"
    );
}

#[test]
fn sigterm_right_after_a_concurrent_burst_loses_no_request_line() {
    let mut app = TestServer::new().spawn();
    let paths = burst(&app, "late", 8, 40);
    let status = app.stop();
    assert!(status.success(), "exit status {status:?}");
    let log = app.log();
    assert_one_line_each(&log, &paths);
    assert!(log.contains("event=server.stopped"), "{log}");
}
