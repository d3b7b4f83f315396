//! Leaving cleanly (SPEC §9): a person's data as JSON, and deleting an
//! account, from the settings page or by the operator, with one function.

use rusqlite::{Connection, Transaction};
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::Timestamp;
use crate::db::{self, audit, holdings, leaving, referrals, users, users::User};
use crate::error::{Error, Result};
use crate::services::auth;
use crate::services::billing::summary;
use crate::services::credit::{self, Actor};
use crate::services::portfolio::Holding;

/// The actor the audit names when people delete their own account.
pub const SELF: &str = "self";

/// What a deletion did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Deletion {
    pub user_id: i64,
    /// The email the account had; it is free to sign up again.
    pub email: String,
    pub tombstone: String,
    /// Subscriptions whose cancel was queued for Paddle (`--force`).
    pub cancel_queued: Vec<String>,
}

/// Who asks, and whether a subscription that still bills may be canceled.
pub enum Asker<'a> {
    /// The person, signed in: never cancels for them.
    Own,
    /// The operator over SSH; `force` queues the cancel.
    Operator { force: bool, actor: &'a Actor },
}

/// Deletes the signed-in person's account.
pub fn delete_own(conn: &Connection, user_id: i64, now: Timestamp) -> Result<Deletion> {
    db::write(conn, |tx| {
        let user = users::by_id(tx, user_id)?.ok_or(Error::Unauthorized)?;
        delete(tx, &user, Asker::Own, now)
    })
}

/// `app delete-user --email E [--force]`.
pub fn delete_by_email(
    conn: &Connection,
    email: &str,
    force: bool,
    actor: &Actor,
    now: Timestamp,
) -> Result<Deletion> {
    let email = auth::normalise_email(email)
        .map_err(|m| Error::Usage(format!("--email {email:?}: {m}")))?;
    db::write(conn, |tx| {
        let user = users::by_email(tx, &email)?.ok_or_else(|| credit::unknown_email(&email))?;
        delete(tx, &user, Asker::Operator { force, actor }, now)
    })
}

/// Ends every session, deletes codes, sessions and holdings, tombstones the
/// row and appends the audit, in the caller's one transaction. A
/// subscription that still bills (active, trialing or past due, no cancel
/// scheduled) refuses, unless the operator forces it, which queues its
/// cancel in the outbox in this same transaction.
fn delete(tx: &Transaction<'_>, user: &User, asker: Asker, now: Timestamp) -> Result<Deletion> {
    if user.is_deleted() {
        return Err(Error::Usage(format!("{} is already deleted", user.email)));
    }
    let billing = leaving::billing_subscriptions(tx, user.id)?;
    let (force, actor) = match asker {
        Asker::Own => (false, None),
        Asker::Operator { force, actor } => (force, Some(actor)),
    };
    if let Some(sub) = billing.first() {
        if !force {
            return Err(Error::Usage(match actor {
                None => "Your subscription is still active. Cancel it first with Manage billing \
                         on this page; once it shows as canceling you can delete your account."
                    .to_string(),
                Some(_) => format!(
                    "{} has an active subscription ({}); cancel it first, or run again with \
                     --force to have Paddle cancel it",
                    user.email, sub.id
                ),
            }));
        }
    }
    let mut cancel_queued = Vec::new();
    for sub in &billing {
        leaving::queue_cancel(tx, &sub.id, now)?;
        cancel_queued.push(sub.id.clone());
    }
    leaving::erase(tx, user.id, &user.email)?;
    let tombstone = users::tombstone_email(user.id);
    scrub_billing_events(tx, user, &tombstone)?;
    let new_value = match cancel_queued.as_slice() {
        [] => "deleted".to_string(),
        subs => format!("deleted; cancel queued for {}", subs.join(", ")),
    };
    // People deleting their own account are `self`, from no SSH client.
    let own = Actor {
        name: SELF.to_string(),
        client: None,
        note: None,
    };
    let by = actor.unwrap_or(&own);
    audit::append(
        tx,
        &by.audit_entry(now, user.id, "delete_user", None, Some(new_value)),
    )?;
    Ok(Deletion {
        user_id: user.id,
        email: user.email.clone(),
        tombstone,
        cancel_queued,
    })
}

/// Takes the person's email out of the raw bodies of stored Paddle events:
/// wherever it appears (in any ASCII case), and, in the events of the
/// account's own subscriptions and customers, every `email` field (the
/// address they paid with may differ). Event ids, types and times stay, so
/// a replay is still recognised; what the events did stays too.
fn scrub_billing_events(tx: &Transaction<'_>, user: &User, tombstone: &str) -> Result<usize> {
    let email = user.email.to_ascii_lowercase();
    let ids = leaving::paddle_ids(tx, user.id)?;
    let mut scrubbed = 0;
    for (row, body) in leaving::billing_events_naming(tx, &email, &ids)? {
        let owned = ids.iter().any(|id| body.contains(id.as_str()));
        let clean = match serde_json::from_str::<Value>(&body) {
            Ok(mut v) => {
                scrub_value(&mut v, &email, tombstone, owned, false);
                v.to_string()
            }
            Err(_) => replace_ignoring_ascii_case(&body, &email, tombstone),
        };
        if clean != body {
            leaving::set_billing_event_body(tx, row, &clean)?;
            scrubbed += 1;
        }
    }
    Ok(scrubbed)
}

/// Scrubs `v` in place; `email_field` says `v` sits under an `email` key.
fn scrub_value(v: &mut Value, email: &str, tombstone: &str, owned: bool, email_field: bool) {
    match v {
        Value::String(s) if owned && email_field && !s.is_empty() => *s = tombstone.to_string(),
        Value::String(s) => *s = replace_ignoring_ascii_case(s, email, tombstone),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| scrub_value(item, email, tombstone, owned, email_field)),
        Value::Object(map) => map
            .iter_mut()
            .for_each(|(key, item)| scrub_value(item, email, tombstone, owned, key == "email")),
        _ => {}
    }
}

/// Every occurrence of `needle` (lowercase) in `text`, in any ASCII case.
fn replace_ignoring_ascii_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return text.to_string();
    }
    // ASCII lowercasing keeps byte offsets, so positions carry over.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in lower.match_indices(needle) {
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = at + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

/// `GET /account/export`: everything the app keeps about `user`. The people
/// they invited appear as dates only, never as emails.
pub fn export(conn: &Connection, user: &User) -> Result<Value> {
    // Read, never assigned here: a GET writes nothing (SPEC §11).
    let code = referrals::code_of(conn, user.id)?;
    let invited: Vec<Value> = leaving::invited(conn, user.id)?
        .into_iter()
        .map(|(created_at, converted_at)| {
            json!({ "created_at": created_at.to_string(),
                    "converted_at": converted_at.map(|t| t.to_string()) })
        })
        .collect();
    let holdings: Vec<Holding> = holdings::list(conn, user.id)?;
    // The same object as `billing` in GET /api/me.
    let billing = summary::billing(conn, user.id)?;
    let audit: Vec<Value> = audit::for_user(conn, user.id)?
        .into_iter()
        .map(|e| {
            json!({ "at": e.at.to_string(), "action": e.action, "old_value": e.old_value,
                    "new_value": e.new_value, "note": e.note })
        })
        .collect();
    Ok(json!({
        "email": user.email,
        "created_at": user.created_at.to_string(),
        "tier": user.tier,
        "credit_until": user.credit_until.map(|t| t.to_string()),
        "referral": {
            "code": code,
            "referred_by_code": leaving::referred_by_code(conn, user.id)?,
            "invited": invited,
        },
        "holdings": holdings,
        "billing": billing,
        "access_audit": audit,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_db;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn actor() -> Actor {
        Actor {
            name: "ops".into(),
            client: None,
            note: Some("asked by mail".into()),
        }
    }

    fn subscribe(conn: &Connection, user_id: i64, status: &str, cancel_at: Option<&str>) {
        conn.execute(
            "INSERT INTO subscriptions (id, user_id, customer_id, status, cancel_at,
                 event_occurred_at, created_at, updated_at)
             VALUES ('sub_1', ?1, 'ctm_1', ?2, ?3, 'x', 'x', 'x')",
            rusqlite::params![user_id, status, cancel_at],
        )
        .unwrap();
    }

    #[test]
    fn a_billing_subscription_refuses_unless_forced() {
        let conn = test_db();
        let user = users::create(&conn, "a@b.co", NOW).unwrap();
        subscribe(&conn, user.id, "past_due", None);
        assert!(delete_own(&conn, user.id, NOW).is_err());
        assert!(delete_by_email(&conn, "a@b.co", false, &actor(), NOW).is_err());
        assert_eq!(
            users::by_id(&conn, user.id).unwrap().unwrap().email,
            "a@b.co"
        );
        let done = delete_by_email(&conn, "a@b.co", true, &actor(), NOW).unwrap();
        assert_eq!(done.cancel_queued, ["sub_1"]);
        let log = audit::for_user(&conn, user.id).unwrap();
        assert_eq!(
            (log[0].action.as_str(), log[0].actor.as_str()),
            ("delete_user", "ops")
        );
    }

    #[test]
    fn deletion_scrubs_the_email_from_stored_events_and_keeps_their_ids() {
        let conn = test_db();
        let user = users::create(&conn, "ann@b.co", NOW).unwrap();
        let other = users::create(&conn, "bob@b.co", NOW).unwrap();
        subscribe(&conn, user.id, "canceled", None);
        let event = |id: &str, data: Value| {
            json!({"event_id": id, "event_type": "customer.updated",
                   "occurred_at": "2026-11-26T09:30:12.123456Z", "data": data})
            .to_string()
        };
        let bodies = [
            (
                "evt_1",
                event("evt_1", json!({"id": "ctm_1", "email": "Ann.Paid@Else.co"})),
            ),
            (
                "evt_2",
                event("evt_2", json!({"note": "from ANN@b.co", "id": "ctm_9"})),
            ),
            (
                "evt_3",
                event("evt_3", json!({"id": "ctm_2", "email": "bob@b.co"})),
            ),
        ];
        for (id, body) in &bodies {
            crate::db::billing::insert_event(&conn, id, "customer.updated", "t", NOW, body)
                .unwrap();
        }
        delete_own(&conn, user.id, NOW).unwrap();
        let body = |id: &str| -> String {
            conn.query_row(
                "SELECT body FROM billing_events WHERE event_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
        };
        let tombstone = format!("deleted-{}@invalid", user.id);
        assert!(
            body("evt_1").contains(&tombstone),
            "the customer's own email field"
        );
        assert!(!body("evt_1").to_lowercase().contains("ann.paid"));
        assert!(
            body("evt_2").contains(&format!("from {tombstone}")),
            "{}",
            body("evt_2")
        );
        assert_eq!(
            body("evt_3"),
            bodies[2].1,
            "another person's event is untouched"
        );
        let _ = other;
        let kept: i64 = conn
            .query_row(
                "SELECT count(*) FROM billing_events WHERE event_type = 'customer.updated'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 3);
        assert!(
            !crate::db::billing::insert_event(&conn, "evt_1", "customer.updated", "t", NOW, "{}")
                .unwrap(),
            "a replay is still recognised"
        );
    }

    #[test]
    fn a_canceling_subscription_does_not_refuse() {
        let conn = test_db();
        let user = users::create(&conn, "a@b.co", NOW).unwrap();
        subscribe(&conn, user.id, "active", Some("2027-01-01T00:00:00Z"));
        let done = delete_own(&conn, user.id, NOW).unwrap();
        assert!(done.cancel_queued.is_empty());
        let row = users::by_id(&conn, user.id).unwrap().unwrap();
        assert_eq!(row.email, format!("deleted-{}@invalid", user.id));
        assert_eq!(audit::for_user(&conn, user.id).unwrap()[0].actor, SELF);
    }
}
