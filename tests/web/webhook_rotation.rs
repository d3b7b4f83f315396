//! Rotating the webhook secret without downtime (SPEC §7):
//! `APP_PADDLE_WEBHOOK_SECRET=old,new` takes a delivery signed with either.

use crate::support::paddle::{deliver_signed, FakePaddle};
use crate::support::paddle_catalog::{event_of, subscription};
use crate::support::TestServer;

const OLD: &str = "pdl_ntf_01old_abcdefghijklmnopqrstuvwxyz012345";
const NEW: &str = "pdl_ntf_01new_abcdefghijklmnopqrstuvwxyz012345";

fn spawn(paddle: &FakePaddle, secrets: &str) -> TestServer {
    let (url, secrets) = (paddle.url().to_string(), secrets.to_string());
    TestServer::new()
        .env("APP_PADDLE_WEBHOOK_SECRET", &secrets)
        .env("APP_PADDLE_API_KEY", "pdl_sdbx_rotation")
        .env("APP_PADDLE_CLIENT_TOKEN", "test_rotation")
        .env("APP_PADDLE_PRICE_ID", "pri_01jf2z9y8x7w6v5u4t3s2r1q0p")
        .env("APP_PADDLE_REFERRAL_DISCOUNT_ID", "dsc_01rotation")
        .env("APP_PADDLE_API_URL", &url)
        .spawn()
}

fn event(n: u32) -> String {
    let sub = subscription(
        &format!("sub_01rot{n}"),
        &format!("ctm_01rot{n}"),
        "active",
        "2026-11-26T09:30:12.123456Z",
        serde_json::Value::Null,
    );
    event_of(
        &sub,
        &format!("evt_01rot{n}"),
        "created",
        "2026-11-26T09:30:12.123456Z",
    )
}

#[test]
fn while_rotating_a_delivery_signed_with_either_secret_is_taken() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle, &format!("{OLD},{NEW}"));
    assert_eq!(deliver_signed(&app, OLD, &event(1)).status, 200);
    assert_eq!(deliver_signed(&app, NEW, &event(2)).status, 200);
    let stranger = deliver_signed(&app, "pdl_ntf_01someone_else", &event(3));
    assert_eq!(stranger.status, 401, "{}", stranger.summary());
    assert_eq!(app.query_i64("SELECT count(*) FROM billing_events"), 2);
    assert!(
        !app.log().contains(OLD) && !app.log().contains(NEW),
        "secrets never logged"
    );
}

#[test]
fn once_rotated_the_old_secret_no_longer_verifies() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle, NEW);
    assert_eq!(deliver_signed(&app, OLD, &event(1)).status, 401);
    assert_eq!(deliver_signed(&app, NEW, &event(2)).status, 200);
}

#[test]
fn an_empty_secret_in_the_list_is_refused_in_one_line() {
    let paddle = FakePaddle::start();
    let app = spawn(&paddle, NEW);
    // `billing-check` reads the same variables and says the same line.
    let out = app.cli_with(&["billing-check"], |cmd| {
        cmd.env("APP_PADDLE_WEBHOOK_SECRET", format!("{OLD},,{NEW}"))
            .env("APP_PADDLE_API_KEY", "pdl_sdbx_rotation")
            .env("APP_PADDLE_CLIENT_TOKEN", "test_rotation")
            .env("APP_PADDLE_PRICE_ID", "pri_01x");
    });
    crate::cli::assert_one_line_error(&out, "a,,b");
    assert!(String::from_utf8_lossy(&out.stderr).contains("APP_PADDLE_WEBHOOK_SECRET"));
}
