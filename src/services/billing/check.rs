//! `app billing-check` (SPEC §7): is the Paddle setup right before the
//! first customer? The keys fit the environment and work, every price is
//! active and recurring on a cycle we can reward, and the referral discount
//! is active, worth half of three months, and not typed in at checkout.
//! `serve` runs the same checks once at start on a thread of its own.

use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;

use super::paddle_api::PaddleApi;
use super::referral_discount_id;
use super::reward_terms::{reward_terms, BillingCycle};
use crate::config::paddle::{PaddleConfig, PaddleEnv};
use crate::db;
use crate::error::Result;
use crate::log;

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// What was checked (`api key`, `price pri_…`, `discount value`, …).
    pub name: String,
    pub ok: bool,
    /// What was found, or what to fix. Never a key or token.
    pub detail: String,
}

fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: true,
        detail: detail.into(),
    }
}

fn fail(name: impl Into<String>, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: false,
        detail: detail.into(),
    }
}

/// A price's billing cycle when the reward can be expressed in it
/// ([`reward_terms`]); `Err` says why it is refused (one time, or billed by
/// the day or week).
pub fn rewardable_cycle(price: &Value) -> std::result::Result<BillingCycle, String> {
    if price.get("billing_cycle").is_none_or(Value::is_null) {
        return Err("is a one-time price, not recurring".into());
    }
    let cycle = BillingCycle::of_price(price).ok_or("has no usable billing frequency")?;
    reward_terms(cycle).map_err(|e| e.to_string())?;
    Ok(cycle)
}

/// Months per period of a cycle [`rewardable_cycle`] accepted.
fn months_of(cycle: BillingCycle) -> u32 {
    cycle.months().unwrap_or(1)
}

/// Every check, in order. Each API call that fails is a failed line; the
/// `Err` is only for the database.
pub fn run(conn: &Connection, paddle: &PaddleConfig, api: &PaddleApi) -> Result<Vec<Check>> {
    let mut checks = vec![api_key_prefix(paddle), client_token_prefix(paddle)];
    let key_works = match api.get("/event-types") {
        Ok(_) => pass(
            "api key accepted",
            format!("Paddle accepts it at {}", paddle.api_url),
        ),
        Err(e) => fail(
            "api key accepted",
            format!(
                "{e}; check APP_PADDLE_API_KEY and APP_PADDLE_ENV, and that {} answers from here",
                paddle.api_url
            ),
        ),
    };
    let reachable = key_works.ok;
    checks.push(key_works);
    let ids = &paddle.price_ids;
    if ids.is_empty() {
        checks.push(fail("prices", "APP_PADDLE_PRICE_ID lists no price id"));
    }
    let mut sold = None;
    let mut products = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let (check, found) = price(api, id, reachable);
        if let Some(found) = found {
            if n == 0 {
                sold = found.cycle;
            }
            products.push((id.clone(), found.product_id));
        }
        checks.push(check);
    }
    let discount = referral_discount_id(conn, paddle)?;
    checks.extend(discount_checks(
        api,
        discount.as_deref(),
        sold,
        &products,
        reachable,
    ));
    Ok(checks)
}

fn api_key_prefix(paddle: &PaddleConfig) -> Check {
    let (want, other, env) = match paddle.env {
        PaddleEnv::Sandbox => ("pdl_sdbx_", "pdl_live_", "sandbox"),
        PaddleEnv::Live => ("pdl_live_", "pdl_sdbx_", "live"),
    };
    let key = &paddle.api_key;
    if key.starts_with(want) {
        pass(
            "api key prefix",
            format!("{want}… fits APP_PADDLE_ENV={env}"),
        )
    } else if key.starts_with(other) {
        fail(
            "api key prefix",
            format!("APP_PADDLE_API_KEY is a {other}… key but APP_PADDLE_ENV={env} wants {want}…"),
        )
    } else {
        fail(
            "api key prefix",
            format!("APP_PADDLE_API_KEY does not start with {want}; create an API key in the {env} dashboard"),
        )
    }
}

fn client_token_prefix(paddle: &PaddleConfig) -> Check {
    let (want, env) = match paddle.env {
        PaddleEnv::Sandbox => ("test_", "sandbox"),
        PaddleEnv::Live => ("live_", "live"),
    };
    if paddle.client_token.starts_with(want) {
        pass(
            "client token prefix",
            format!("{want}… fits APP_PADDLE_ENV={env}"),
        )
    } else {
        fail(
            "client token prefix",
            format!("APP_PADDLE_CLIENT_TOKEN does not start with {want}, as a {env} client-side token does"),
        )
    }
}

/// What the discount checks need of a price Paddle has.
struct Found {
    /// Its cycle, when it is one we can reward.
    cycle: Option<BillingCycle>,
    product_id: Option<String>,
}

/// `GET /prices/{id}`: exists, active, recurring monthly or yearly.
fn price(api: &PaddleApi, id: &str, reachable: bool) -> (Check, Option<Found>) {
    let name = format!("price {id}");
    if !reachable {
        return (fail(name, "not checked: the API key does not work"), None);
    }
    if !is_paddle_id(id, "pri_") {
        return (fail(name, "is not a Paddle price id (pri_…)"), None);
    }
    let price = match api.get(&format!("/prices/{id}")) {
        Ok(reply) => reply.get("data").cloned().unwrap_or(Value::Null),
        Err(e) => {
            return (
                fail(name, format!("{e}; is it a price of this environment?")),
                None,
            )
        }
    };
    let product_id = price
        .get("product_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let status = price.get("status").and_then(Value::as_str).unwrap_or("");
    if status != "active" {
        let found = Found {
            cycle: None,
            product_id,
        };
        return (
            fail(name, format!("is {status:?}, not active")),
            Some(found),
        );
    }
    match rewardable_cycle(&price) {
        Ok(cycle) => (
            pass(
                name,
                format!("active, billed every {} month(s)", months_of(cycle)),
            ),
            Some(Found {
                cycle: Some(cycle),
                product_id,
            }),
        ),
        Err(why) => (
            fail(name, why),
            Some(Found {
                cycle: None,
                product_id,
            }),
        ),
    }
}

/// The discount: active, worth half of three months of the sold price,
/// applicable to every price (`restrict_to` empty, or naming each price or
/// its product), and not enabled for checkout.
fn discount_checks(
    api: &PaddleApi,
    id: Option<&str>,
    sold: Option<BillingCycle>,
    prices: &[(String, Option<String>)],
    reachable: bool,
) -> Vec<Check> {
    let Some(id) = id else {
        return vec![pass(
            "discount",
            "none configured or kept yet: serve creates it at its first start with billing on",
        )];
    };
    let name = format!("discount {id}");
    if !reachable {
        return vec![fail(name, "not checked: the API key does not work")];
    }
    if !is_paddle_id(id, "dsc_") {
        return vec![fail(name, "is not a Paddle discount id (dsc_…)")];
    }
    let d = match api.get(&format!("/discounts/{id}")) {
        Ok(reply) => reply.get("data").cloned().unwrap_or(Value::Null),
        Err(e) => {
            return vec![fail(
                name,
                format!("{e}; check APP_PADDLE_REFERRAL_DISCOUNT_ID"),
            )]
        }
    };
    let status = d.get("status").and_then(Value::as_str).unwrap_or("");
    let active = match status {
        "active" => pass(&name, "active"),
        other => fail(&name, format!("is {other:?}, not active")),
    };
    let checkout = match d.get("enabled_for_checkout").and_then(Value::as_bool) {
        Some(false) => pass("discount not at checkout", "enabled_for_checkout is false"),
        _ => fail(
            "discount not at checkout",
            "enabled_for_checkout is true: any customer could type its code in; turn it off",
        ),
    };
    vec![
        active,
        discount_value(&d, sold),
        discount_applies(&d, prices),
        checkout,
    ]
}

fn discount_value(d: &Value, sold: Option<BillingCycle>) -> Check {
    const NAME: &str = "discount value";
    let Some(want) = sold.and_then(|cycle| reward_terms(cycle).ok()) else {
        return fail(
            NAME,
            "not checked: the price sold (the first of APP_PADDLE_PRICE_ID) failed its check",
        );
    };
    let months = sold.map_or(1, months_of);
    let kind = d.get("type").and_then(Value::as_str).unwrap_or("");
    let amount = d.get("amount").and_then(Value::as_str).unwrap_or("");
    let recur = d.get("recur").and_then(Value::as_bool).unwrap_or(false);
    let intervals = d.get("maximum_recurring_intervals").and_then(Value::as_u64);
    let found = format!(
        "{kind} {amount} for {} interval(s)",
        intervals.map_or("unlimited".to_string(), |n| n.to_string())
    );
    let right = kind == "percentage"
        && hundredths(amount) == hundredths(&want.amount)
        && recur
        && intervals == Some(u64::from(want.maximum_recurring_intervals));
    let wanted = format!(
        "percentage {} for {} interval(s), recurring",
        want.amount, want.maximum_recurring_intervals
    );
    if right {
        pass(
            NAME,
            format!("{wanted}: half of three months of a {months}-month price"),
        )
    } else {
        fail(
            NAME,
            format!(
                "is {found}{}; a {months}-month price wants {wanted}",
                if recur { "" } else { ", not recurring" }
            ),
        )
    }
}

fn discount_applies(d: &Value, prices: &[(String, Option<String>)]) -> Check {
    const NAME: &str = "discount applies";
    let restricted: Vec<&str> = d
        .get("restrict_to")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if restricted.is_empty() {
        return pass(NAME, "not restricted: it applies to every price");
    }
    let left_out: Vec<&str> = prices
        .iter()
        .filter(|(price, product)| {
            !restricted.contains(&price.as_str())
                && !product.as_deref().is_some_and(|p| restricted.contains(&p))
        })
        .map(|(price, _)| price.as_str())
        .collect();
    match left_out.as_slice() {
        [] => pass(NAME, "restrict_to covers every price sold"),
        missing => fail(
            NAME,
            format!(
                "restrict_to leaves out {}: Paddle would refuse to put it on their subscriptions",
                missing.join(", ")
            ),
        ),
    }
}

/// `"12.5"`, `"12.50"` → 1250; anything else → none.
fn hundredths(amount: &str) -> Option<i64> {
    let value: f64 = amount.trim().parse().ok()?;
    value.is_finite().then(|| (value * 100.0).round() as i64)
}

/// Ids go into paths: only Paddle's own shape (`pri_01h…`) is sent.
fn is_paddle_id(id: &str, prefix: &str) -> bool {
    id.starts_with(prefix)
        && id.len() <= 100
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `serve`'s check at start: on its own thread and connection, never a
/// request worker; each failure is logged, nothing refuses to start.
pub fn spawn_at_start(db_path: &Path, paddle: Option<&PaddleConfig>) -> Result<()> {
    let Some(paddle) = paddle.cloned() else {
        return Ok(());
    };
    let db_path = db_path.to_path_buf();
    std::thread::Builder::new()
        .name("billing-check".into())
        .spawn(move || {
            let checks =
                db::open(&db_path).and_then(|conn| run(&conn, &paddle, &PaddleApi::new(&paddle)));
            match checks {
                Ok(checks) => log_outcome(&checks),
                Err(e) => log::event("billing.check_error", &[("error", &e)]),
            }
        })?;
    Ok(())
}

fn log_outcome(checks: &[Check]) {
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
    for c in &failed {
        log::event(
            "billing.check_failed",
            &[("check", &c.name), ("detail", &c.detail)],
        );
    }
    log::event(
        "billing.checked",
        &[
            ("checks", &checks.len()),
            ("failed", &failed.len()),
            ("hint", &"run app billing-check for the full report"),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cycles_we_reward_and_the_refused_ones() {
        let price = |cycle: Value| json!({"billing_cycle": cycle});
        let months = |cycle: Value| rewardable_cycle(&price(cycle)).map(months_of);
        assert_eq!(months(json!({"interval": "month", "frequency": 1})), Ok(1));
        assert_eq!(months(json!({"interval": "month", "frequency": 3})), Ok(3));
        assert_eq!(months(json!({"interval": "year", "frequency": 1})), Ok(12));
        for (refused, says) in [
            (json!({"interval": "week", "frequency": 1}), "week"),
            (json!({"interval": "day", "frequency": 30}), "day"),
            (json!({"interval": "month", "frequency": 0}), "frequency"),
            (json!(null), "one-time"),
        ] {
            let why = months(refused.clone()).unwrap_err();
            assert!(why.contains(says), "{refused}: {why}");
        }
    }

    #[test]
    fn amounts_compare_to_the_cent() {
        assert_eq!(hundredths("12.5"), hundredths("12.50"));
        assert_eq!(hundredths("50"), Some(5000));
        assert_eq!(hundredths("fifty"), None);
    }
}
