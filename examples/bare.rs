//! The baseline the load benchmark compares against: a bare tiny_http +
//! rusqlite + maud page with the same worker pool and one indexed query.
//!
//!     cargo run --release --example bare &          # or: bare 127.0.0.1:PORT
//!     cargo run --release --example load -- --url http://127.0.0.1:18098/
//!
//! `load --compare-bare` starts it on a free port by itself.
use std::sync::Arc;

fn main() {
    let dir = std::env::temp_dir().join(format!("app-bare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bare.db");
    let setup = rusqlite::Connection::open(&path).expect("open");
    setup
        .execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
             INSERT OR IGNORE INTO users (id, email) VALUES (1, 'bench@example.com');",
        )
        .expect("schema");
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18098".into());
    let server = Arc::new(tiny_http::Server::http(&addr).expect("listen"));
    println!("bare baseline on http://{addr}/");
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (server, path) = (server.clone(), path.clone());
            std::thread::spawn(move || {
                let conn = rusqlite::Connection::open(&path).expect("open");
                while let Ok(request) = server.recv() {
                    let email: String = conn
                        .prepare_cached("SELECT email FROM users WHERE id = ?1")
                        .and_then(|mut s| s.query_row([1], |r| r.get(0)))
                        .unwrap_or_default();
                    let page = maud::html! { (maud::DOCTYPE) html { body { h1 { "Settings" } p { (email) } } } };
                    let header = tiny_http::Header::from_bytes("Content-Type", "text/html; charset=utf-8").expect("header");
                    let _ = request.respond(tiny_http::Response::from_string(page.into_string()).with_header(header));
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
}
