//! `revoke-credit` and `set-tier` (SPEC §1, §5), and what the account then
//! sees in `/api/me` and on `/settings`.

use super::*;

#[test]
fn revoke_ends_a_running_credit_now() {
    let app = TestServer::new().spawn();
    let olga = account(&app, "olga@example.com");
    succeeded(
        &run(
            &app,
            &[
                "grant-credit",
                "--email",
                "olga@example.com",
                "--days",
                "30",
            ],
        ),
        "grant",
    );
    assert_eq!(api_me(&olga)["paid"]["active"], true);
    let out = run(
        &app,
        &["revoke-credit", "--email", "olga@example.com", "--json"],
    );
    let report = json_out(&out, "revoke --json");
    assert_eq!(report["action"], "revoke_credit");
    assert_eq!(report["changed"], true);
    assert_eq!(report["paid"]["active"], false);
    let until = credit_until_secs(&app, "olga@example.com").expect("revoke keeps the (ended) date");
    assert_near(until, now_secs(), 60, "revoked credit ends now");
    let me = api_me(&olga);
    assert_eq!(me["paid"]["active"], false, "{me}");
    assert!(
        me["paid"]["source"].is_null() && me["paid"]["expires_at"].is_null(),
        "{me}"
    );
    assert_eq!(badge(&olga), "free");
    assert!(has_upgrade_hint(&olga));
    // Revoking again is no error and no change.
    succeeded(
        &run(&app, &["revoke-credit", "--email", "olga@example.com"]),
        "second revoke",
    );
}

#[test]
fn set_tier_paid_and_free_show_in_api_me_and_settings() {
    let app = TestServer::new().spawn();
    let pia = account(&app, "pia@example.com");
    assert!(has_upgrade_hint(&pia));
    let out = run(
        &app,
        &[
            "set-tier",
            "--email",
            "pia@example.com",
            "--tier",
            "paid",
            "--json",
        ],
    );
    let report = json_out(&out, "set-tier paid --json");
    assert_eq!(
        (
            report["action"].as_str(),
            report["before"].as_str(),
            report["after"].as_str()
        ),
        (Some("set_tier"), Some("free"), Some("paid"))
    );
    let me = api_me(&pia);
    assert_eq!(me["tier"], "paid");
    assert_eq!(
        me["paid"],
        serde_json::json!({"active": true, "source": "tier", "expires_at": null, "days_remaining": null})
    );
    assert_eq!(badge(&pia), "paid");
    assert!(!has_upgrade_hint(&pia), "upgrade hint for a paid user");

    succeeded(
        &run(
            &app,
            &["set-tier", "--email", "pia@example.com", "--tier", "free"],
        ),
        "set-tier free",
    );
    let me = api_me(&pia);
    assert_eq!(me["tier"], "free");
    assert_eq!(
        me["paid"],
        serde_json::json!({"active": false, "source": null, "expires_at": null, "days_remaining": null})
    );
    assert_eq!(badge(&pia), "free");
    assert!(has_upgrade_hint(&pia));
}
