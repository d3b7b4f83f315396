//! The checkout a page offers (SPEC §7): whether a person may start one,
//! and the settings Paddle.js opens it with, carried by the page as JSON in
//! `<script type="application/json" id="paddle-checkout">`.

use rusqlite::Connection;
use serde::Serialize;

use super::{custom_data, referral_discount_id, summary};
use crate::config::PaddleConfig;
use crate::crypto::Keys;
use crate::db::{
    billing_reads,
    users::{Tier, User},
};
use crate::error::Result;

/// Where Paddle.js v2 is served from (never self-hosted, Paddle asks); the
/// page's Content-Security-Policy lets in this origin only.
pub const PADDLE_JS: &str = "https://cdn.paddle.com/paddle/v2/paddle.js";

/// A checkout this person may open.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkout {
    pub settings: CheckoutSettings,
    /// Invited by a friend and not yet converted: the checkout carries the
    /// referral discount (50% off the first 3 months).
    pub invited_discount: bool,
}

/// Exactly `{"environment","token","items":[{"priceId","quantity":1}],
/// "customer":{"email"},"customData":{"user_id","sig"},"discountId"?}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSettings {
    pub environment: &'static str,
    pub token: String,
    pub items: Vec<Item>,
    pub customer: Customer,
    pub custom_data: CustomData,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub price_id: String,
    pub quantity: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Customer {
    pub email: String,
}

/// Paddle hands `custom_data` back in its webhooks as we wrote it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomData {
    pub user_id: String,
    pub sig: String,
}

/// The checkout `user` may open, or `None`: billing is not configured, or
/// they have access by tier already, or a subscription that is not
/// canceled (a paused one is resumed from Manage billing, not bought again).
pub fn offer(
    conn: &Connection,
    paddle: Option<&PaddleConfig>,
    keys: &Keys,
    user: &User,
) -> Result<Option<Checkout>> {
    if paddle.is_none() || user.tier == Tier::Paid {
        return Ok(None);
    }
    let status = billing_reads::most_relevant_subscription(conn, user.id)?.map(|s| s.status);
    offer_given(conn, paddle, keys, user, status.as_deref())
}

/// As [`offer`], for a caller that has already read the status of the
/// user's most relevant subscription (the settings page, through `/api/me`'s
/// billing summary).
pub fn offer_given(
    conn: &Connection,
    paddle: Option<&PaddleConfig>,
    keys: &Keys,
    user: &User,
    subscription_status: Option<&str>,
) -> Result<Option<Checkout>> {
    let Some(paddle) = paddle else {
        return Ok(None);
    };
    if user.tier == Tier::Paid || !may_subscribe(subscription_status) {
        return Ok(None);
    }
    let discount_id = if billing_reads::invited_and_unconverted(conn, user.id)? {
        referral_discount_id(conn, paddle)?
    } else {
        None
    };
    Ok(Some(Checkout {
        invited_discount: discount_id.is_some(),
        settings: CheckoutSettings {
            environment: paddle.env.as_str(),
            token: paddle.client_token.clone(),
            items: vec![Item {
                price_id: paddle.price_id.clone(),
                quantity: 1,
            }],
            customer: Customer {
                email: user.email.clone(),
            },
            custom_data: CustomData {
                user_id: user.id.to_string(),
                sig: custom_data::sign(keys, user.id),
            },
            discount_id,
        },
    }))
}

impl Checkout {
    /// The settings as JSON safe inside a `<script>` element: `<`, `>` and
    /// `&` are written as `\u003c`, `\u003e`, `\u0026`, so no value (an
    /// email, say) can close the element or open a comment.
    pub fn json_for_script(&self) -> String {
        serde_json::to_string(&self.settings)
            .unwrap_or_default()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    }
}

/// Whether someone with this subscription status may buy another.
pub fn may_subscribe(status: Option<&str>) -> bool {
    status.is_none_or(|s| !summary::is_live(s) && s != "paused")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::config::paddle::PaddleEnv;
    use crate::db::{meta, referrals, test_db, users};
    use serde_json::{json, Value};

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn paddle(discount: Option<&str>) -> PaddleConfig {
        PaddleConfig {
            webhook_secrets: vec!["whsec".into()],
            api_key: "key".into(),
            client_token: "test_tok".into(),
            price_id: "pri_1".into(),
            env: PaddleEnv::Sandbox,
            api_url: "http://127.0.0.1:9".into(),
            referral_discount_id: discount.map(String::from),
        }
    }

    #[test]
    fn settings_have_exactly_the_spec_shape() {
        let conn = test_db();
        let keys = Keys::derive(&[7u8; 32]);
        let ann = users::create(&conn, "ann<x>@b.co", NOW).unwrap();
        let c = offer(&conn, Some(&paddle(Some("dsc_1"))), &keys, &ann)
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(&c.json_for_script()).unwrap();
        assert_eq!(
            v,
            json!({
                "environment": "sandbox", "token": "test_tok",
                "items": [{"priceId": "pri_1", "quantity": 1}],
                "customer": {"email": "ann<x>@b.co"},
                "customData": {"user_id": ann.id.to_string(), "sig": custom_data::sign(&keys, ann.id)},
            }),
            "not invited: no discountId"
        );
        assert!(!c.json_for_script().contains('<'));
        assert_eq!(
            custom_data::verified_user_id(&keys, &v["customData"]),
            Some(ann.id)
        );
        assert!(offer(&conn, None, &keys, &ann).unwrap().is_none());
    }

    #[test]
    fn an_invited_unconverted_user_gets_the_discount_from_config_or_meta() {
        let conn = test_db();
        let keys = Keys::derive(&[7u8; 32]);
        let ann = users::create(&conn, "ann@b.co", NOW).unwrap();
        let bob = users::create(&conn, "bob@b.co", NOW).unwrap();
        referrals::insert(&conn, ann.id, bob.id, NOW).unwrap();
        let discount = |p: &PaddleConfig| {
            offer(&conn, Some(p), &keys, &bob)
                .unwrap()
                .unwrap()
                .settings
                .discount_id
        };
        assert_eq!(discount(&paddle(Some("dsc_cfg"))), Some("dsc_cfg".into()));
        assert_eq!(discount(&paddle(None)), None, "not created yet");
        meta::get_or_insert(&conn, billing_reads::REFERRAL_DISCOUNT_META_KEY, "dsc_db").unwrap();
        assert_eq!(discount(&paddle(None)), Some("dsc_db".into()));
        conn.execute("UPDATE referrals SET converted_at = ?1", [NOW])
            .unwrap();
        assert_eq!(discount(&paddle(Some("dsc_cfg"))), None, "converted");
    }

    #[test]
    fn subscribers_and_paid_tiers_get_no_checkout() {
        let conn = test_db();
        let keys = Keys::derive(&[7u8; 32]);
        let ann = users::create(&conn, "ann@b.co", NOW).unwrap();
        let p = paddle(None);
        for (status, offered) in [
            ("active", false),
            ("trialing", false),
            ("past_due", false),
            ("paused", false),
            ("canceled", true),
        ] {
            conn.execute(
                "INSERT OR REPLACE INTO subscriptions (id, user_id, customer_id, status, event_occurred_at, created_at, updated_at)
                 VALUES ('sub_1', ?1, 'ctm_1', ?2, ?3, ?3, ?3)",
                rusqlite::params![ann.id, status, NOW],
            )
            .unwrap();
            assert_eq!(
                offer(&conn, Some(&p), &keys, &ann).unwrap().is_some(),
                offered,
                "{status}"
            );
            assert_eq!(may_subscribe(Some(status)), offered, "{status}");
        }
        let mut paid = ann.clone();
        paid.tier = Tier::Paid;
        conn.execute("DELETE FROM subscriptions", []).unwrap();
        assert!(offer(&conn, Some(&p), &keys, &paid).unwrap().is_none());
    }
}
