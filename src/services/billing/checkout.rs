//! The checkout (SPEC §7), opened on a transaction the server made, so no
//! browser chooses its own price, discount or account: whether a person may
//! start one, the settings the page carries (`{"environment","token",
//! "invited"}` in `<script type="application/json" id="paddle-checkout">`),
//! and the `POST /transactions` made for `POST /billing/checkout` on the
//! `paddle` pool (never a request worker).

use rusqlite::Connection;
use serde::Serialize;

use super::outbox::create_discount;
use super::paddle_api::{NewTransaction, PaddleApi};
use super::{custom_data, referral_discount_id};
use crate::config::PaddleConfig;
use crate::crypto::Keys;
use crate::db::{
    self,
    billing::SubscriptionStatus,
    billing_reads, meta,
    users::{Tier, User},
};
use crate::error::Result;
use crate::log;

/// Where Paddle.js v2 is served from (never self-hosted, Paddle asks); the
/// page's Content-Security-Policy lets in this origin only.
pub const PADDLE_JS: &str = "https://cdn.paddle.com/paddle/v2/paddle.js";

/// A checkout this person may open.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkout {
    pub settings: CheckoutSettings,
    /// The email Paddle.js pre-fills (`customer.email`).
    pub email: String,
}

/// Exactly `{"environment","token","invited"}`, plus `transactionId` on
/// the page `POST /billing/checkout` answers a plain form with.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSettings {
    pub environment: &'static str,
    pub token: String,
    /// Invited by a friend and not yet converted: the transaction carries
    /// the referral discount (50% off the first 3 months).
    pub invited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// The checkout `user` may open, or `None`: billing is not configured, or
/// they have access by tier already, or a subscription that is not
/// canceled (a paused one is resumed from Manage billing, not bought again).
pub fn offer(
    conn: &Connection,
    paddle: Option<&PaddleConfig>,
    user: &User,
) -> Result<Option<Checkout>> {
    if paddle.is_none() || user.tier == Tier::Paid {
        return Ok(None);
    }
    let status = billing_reads::most_relevant_subscription(conn, user.id)?.map(|s| s.status);
    offer_given(conn, paddle, user, status)
}

/// As [`offer`], for a caller that has already read the status of the
/// user's most relevant subscription (the settings page, through `/api/me`'s
/// billing summary).
pub fn offer_given(
    conn: &Connection,
    paddle: Option<&PaddleConfig>,
    user: &User,
    subscription_status: Option<SubscriptionStatus>,
) -> Result<Option<Checkout>> {
    let Some(paddle) = paddle else {
        return Ok(None);
    };
    if user.tier == Tier::Paid || !may_subscribe(subscription_status) {
        return Ok(None);
    }
    Ok(Some(Checkout {
        settings: CheckoutSettings {
            environment: paddle.env.as_str(),
            token: paddle.client_token.clone(),
            invited: billing_reads::invited_and_unconverted(conn, user.id)?,
            transaction_id: None,
        },
        email: user.email.clone(),
    }))
}

impl Checkout {
    /// The settings as JSON safe inside a `<script>` element: `<`, `>` and
    /// `&` are written as `\u003c`, `\u003e`, `\u0026`, so no value can
    /// close the element or open a comment.
    pub fn json_for_script(&self) -> String {
        serde_json::to_string(&self.settings)
            .unwrap_or_default()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    }
}

/// Whether someone with this subscription status may buy another.
pub fn may_subscribe(status: Option<SubscriptionStatus>) -> bool {
    status.is_none_or(|s| s == SubscriptionStatus::Canceled)
}

/// What the request worker reads for a checkout transaction, before the
/// `paddle` pool makes it.
#[derive(Clone, Debug, PartialEq)]
pub struct TransactionRequest {
    pub user_id: i64,
    pub sig: String,
    pub invited: bool,
    /// The reward discount when the person is invited and it exists already.
    pub discount_id: Option<String>,
    /// The person's Paddle customer, when they had a subscription before.
    pub customer_id: Option<String>,
}

/// The transaction `user` may open a checkout on, or `None` when they may
/// not subscribe (see [`offer`]).
pub fn transaction_request(
    conn: &Connection,
    paddle: &PaddleConfig,
    keys: &Keys,
    user: &User,
) -> Result<Option<TransactionRequest>> {
    let latest = billing_reads::most_relevant_subscription(conn, user.id)?;
    if user.tier == Tier::Paid || !may_subscribe(latest.as_ref().map(|s| s.status)) {
        return Ok(None);
    }
    let invited = billing_reads::invited_and_unconverted(conn, user.id)?;
    Ok(Some(TransactionRequest {
        user_id: user.id,
        sig: custom_data::sign(keys, user.id),
        invited,
        discount_id: if invited {
            referral_discount_id(conn, paddle)?
        } else {
            None
        },
        customer_id: latest.map(|s| s.customer_id),
    }))
}

/// Makes the checkout's transaction (`POST /transactions`), creating the
/// reward discount first for an invitee if it does not exist yet. Waits on
/// Paddle: run it on the `paddle` pool only. The error is for the log.
pub fn create_transaction(
    conn: &Connection,
    paddle: &PaddleConfig,
    request: &TransactionRequest,
) -> Result<String, String> {
    let api = PaddleApi::new(paddle);
    let discount_id = match (&request.discount_id, request.invited) {
        (Some(id), _) => Some(id.clone()),
        (None, true) => {
            let created = create_discount(&api, paddle).map_err(|e| format!("discount: {e}"))?;
            let kept = db::write(conn, |tx| {
                meta::get_or_insert(tx, billing_reads::REFERRAL_DISCOUNT_META_KEY, &created)
            })
            .map_err(|e| format!("keeping the discount: {e}"))?;
            log::event("billing.discount_created", &[("discount_id", &kept)]);
            Some(kept)
        }
        (None, false) => None,
    };
    api.create_transaction(&NewTransaction {
        price_id: &paddle.price_id,
        user_id: request.user_id,
        sig: &request.sig,
        discount_id: discount_id.as_deref(),
        customer_id: request.customer_id.as_deref(),
    })
    .map_err(|e| format!("transaction: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::config::paddle::PaddleEnv;
    use crate::db::{referrals, test_db, users};
    use serde_json::{json, Value};

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn paddle(discount: Option<&str>) -> PaddleConfig {
        PaddleConfig {
            webhook_secrets: vec!["whsec".into()],
            api_key: "key".into(),
            client_token: "test_tok".into(),
            price_id: "pri_1".into(),
            price_ids: vec!["pri_1".into()],
            env: PaddleEnv::Sandbox,
            api_url: "http://127.0.0.1:9".into(),
            referral_discount_id: discount.map(String::from),
        }
    }

    #[test]
    fn settings_have_exactly_the_spec_shape_and_no_price_discount_or_account() {
        let conn = test_db();
        let ann = users::create(&conn, "ann<x>@b.co", NOW).unwrap();
        let c = offer(&conn, Some(&paddle(Some("dsc_1"))), &ann)
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(&c.json_for_script()).unwrap();
        assert_eq!(
            v,
            json!({"environment": "sandbox", "token": "test_tok", "invited": false})
        );
        assert!(offer(&conn, None, &ann).unwrap().is_none());
    }

    #[test]
    fn an_invited_unconverted_user_is_told_and_their_transaction_carries_the_discount() {
        let conn = test_db();
        let keys = Keys::derive(&[7u8; 32]);
        let ann = users::create(&conn, "ann@b.co", NOW).unwrap();
        let bob = users::create(&conn, "bob@b.co", NOW).unwrap();
        referrals::insert(&conn, ann.id, bob.id, NOW).unwrap();
        let p = paddle(Some("dsc_cfg"));
        assert!(
            offer(&conn, Some(&p), &bob)
                .unwrap()
                .unwrap()
                .settings
                .invited
        );
        let request = transaction_request(&conn, &p, &keys, &bob)
            .unwrap()
            .unwrap();
        assert_eq!(request.discount_id.as_deref(), Some("dsc_cfg"));
        assert_eq!(request.sig, custom_data::sign(&keys, bob.id));
        let theirs = transaction_request(&conn, &p, &keys, &ann)
            .unwrap()
            .unwrap();
        assert_eq!(theirs.discount_id, None, "the referrer was not invited");
        let not_yet = transaction_request(&conn, &paddle(None), &keys, &bob)
            .unwrap()
            .unwrap();
        assert!(
            not_yet.invited && not_yet.discount_id.is_none(),
            "created on the pool"
        );
        conn.execute("UPDATE referrals SET converted_at = ?1", [NOW])
            .unwrap();
        assert!(
            !offer(&conn, Some(&p), &bob)
                .unwrap()
                .unwrap()
                .settings
                .invited
        );
        let after = transaction_request(&conn, &p, &keys, &bob)
            .unwrap()
            .unwrap();
        assert_eq!(after.discount_id, None, "converted");
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
                offer(&conn, Some(&p), &ann).unwrap().is_some(),
                offered,
                "{status}"
            );
            let request = transaction_request(&conn, &p, &keys, &ann).unwrap();
            assert_eq!(request.is_some(), offered, "{status}");
            if let Some(r) = request {
                assert_eq!(
                    r.customer_id.as_deref(),
                    Some("ctm_1"),
                    "the known customer"
                );
            }
            let status = SubscriptionStatus::parse(status);
            assert_eq!(may_subscribe(status), offered, "{status:?}");
        }
        let mut paid = ann.clone();
        paid.tier = Tier::Paid;
        conn.execute("DELETE FROM subscriptions", []).unwrap();
        assert!(offer(&conn, Some(&p), &paid).unwrap().is_none());
        assert!(transaction_request(&conn, &p, &keys, &paid)
            .unwrap()
            .is_none());
    }
}
