//! Complimentary paid access that the operator grants over SSH, and tier
//! changes. Every change is one transaction together with its audit row.

use rusqlite::Connection;

use crate::clock::{Timestamp, DAY};
use crate::db::{self, audit, users, users::Tier, users::User};
use crate::error::{Error, Result};
use crate::services::auth;

pub const MAX_GRANT_DAYS: i64 = 3650;

/// How much to grant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Grant {
    /// From the later of now and the current expiry.
    Days(i64),
    /// Through the end of this UTC day (the day's first second).
    Until(Timestamp),
}

/// Who made a change: `$SUDO_USER`, else `$USER`, and where from.
#[derive(Clone, Debug, PartialEq)]
pub struct Actor {
    pub name: String,
    pub client: Option<String>,
    pub note: Option<String>,
}

impl Actor {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>, note: Option<String>) -> Actor {
        Actor {
            name: env("SUDO_USER")
                .or_else(|| env("USER"))
                .unwrap_or_else(|| "unknown".into()),
            // "client_ip client_port server_ip server_port"
            client: env("SSH_CONNECTION")
                .and_then(|c| c.split_whitespace().next().map(str::to_string)),
            note,
        }
    }

    /// Paddle, acting through the webhook event `event_id` (the audit note).
    pub fn paddle(event_id: &str) -> Actor {
        Actor {
            name: "paddle".into(),
            client: None,
            note: Some(event_id.to_string()),
        }
    }

    /// The `access_audit` row saying this actor did `action` to `user_id`.
    pub fn audit_entry(
        &self,
        at: Timestamp,
        user_id: i64,
        action: &str,
        old_value: Option<String>,
        new_value: Option<String>,
    ) -> audit::Entry {
        audit::Entry {
            at,
            user_id,
            action: action.to_string(),
            old_value,
            new_value,
            actor: self.name.clone(),
            client: self.client.clone(),
            note: self.note.clone(),
        }
    }
}

/// What a change did.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub user: User,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl Change {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// The new expiry a grant gives, never earlier than the current one.
pub fn extended(current: Option<Timestamp>, grant: Grant, now: Timestamp) -> Timestamp {
    let current = current.unwrap_or(now);
    match grant {
        Grant::Days(days) => current.max(now).plus(days * DAY),
        Grant::Until(day) => current.max(day.plus(DAY - 1)),
    }
}

/// Checks a grant before anything is written.
pub fn check_grant(grant: Grant, now: Timestamp) -> Result<()> {
    match grant {
        Grant::Days(days) if !(1..=MAX_GRANT_DAYS).contains(&days) => Err(Error::Usage(format!(
            "a grant runs from 1 to {MAX_GRANT_DAYS} days, not {days}"
        ))),
        Grant::Until(day) if day.plus(DAY) <= now => Err(Error::Usage(format!(
            "{} is in the past; give a date from today on",
            day.date_string()
        ))),
        _ => Ok(()),
    }
}

pub fn grant_credit(
    conn: &Connection,
    email: &str,
    grant: Grant,
    actor: &Actor,
    now: Timestamp,
) -> Result<Change> {
    check_grant(grant, now)?;
    change(conn, email, |tx, user| {
        let until = extended(user.credit_until, grant, now);
        users::set_credit_until(tx, user.id, Some(until))?;
        let (before, after) = (
            user.credit_until.map(|t| t.to_string()),
            Some(until.to_string()),
        );
        let entry = actor.audit_entry(now, user.id, "grant_credit", before.clone(), after.clone());
        audit::append(tx, &entry)?;
        Ok((before, after))
    })
}

/// Ends a running credit now. A credit that already ended stays as it was.
pub fn revoke_credit(
    conn: &Connection,
    email: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<Change> {
    change(conn, email, |tx, user| {
        let after = user.credit_until.map(|until| until.min(now));
        users::set_credit_until(tx, user.id, after)?;
        let (before, after) = (
            user.credit_until.map(|t| t.to_string()),
            after.map(|t| t.to_string()),
        );
        let entry = actor.audit_entry(now, user.id, "revoke_credit", before.clone(), after.clone());
        audit::append(tx, &entry)?;
        Ok((before, after))
    })
}

pub fn set_tier(
    conn: &Connection,
    email: &str,
    tier: Tier,
    actor: &Actor,
    now: Timestamp,
) -> Result<Change> {
    change(conn, email, |tx, user| {
        write_tier(tx, user, tier, actor, now)?;
        Ok((Some(user.tier.to_string()), Some(tier.to_string())))
    })
}

/// The one tier writer: sets `user`'s tier and appends its `set_tier` audit
/// row, in the caller's transaction (the operator's `set-tier`, and billing
/// when a subscription changes what the person has).
pub fn write_tier(
    conn: &Connection,
    user: &User,
    tier: Tier,
    actor: &Actor,
    now: Timestamp,
) -> Result<()> {
    users::set_tier(conn, user.id, tier)?;
    let entry = actor.audit_entry(
        now,
        user.id,
        "set_tier",
        Some(user.tier.to_string()),
        Some(tier.to_string()),
    );
    audit::append(conn, &entry)
}

/// Finds the user by their (normalised) email and applies `apply`, which
/// writes the change and its audit row, all in one `BEGIN IMMEDIATE`
/// transaction.
fn change(
    conn: &Connection,
    email: &str,
    apply: impl FnOnce(&rusqlite::Transaction<'_>, &User) -> Result<(Option<String>, Option<String>)>,
) -> Result<Change> {
    let email = auth::normalise_email(email)
        .map_err(|m| Error::Usage(format!("{email:?} is not an email address: {m}")))?;
    let email = email.as_str();
    db::write(conn, |tx| {
        let user = users::by_email(tx, email)?.ok_or_else(|| unknown_email(email))?;
        let (before, after) = apply(tx, &user)?;
        let user = users::by_id(tx, user.id)?.ok_or_else(|| unknown_email(email))?;
        Ok(Change {
            user,
            before,
            after,
        })
    })
}

pub fn unknown_email(email: &str) -> Error {
    Error::Usage(format!(
        "no account has the email {email}; check the spelling (accounts are created when someone first signs in)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_date;
    use crate::db::test_db;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn actor() -> Actor {
        Actor {
            name: "ops".into(),
            client: Some("203.0.113.9".into()),
            note: Some("support ticket 12".into()),
        }
    }

    fn setup() -> Connection {
        let conn = test_db();
        users::create(&conn, "a@b.co", NOW).unwrap();
        conn
    }

    #[test]
    fn days_twice_add_up() {
        let conn = setup();
        grant_credit(&conn, "a@b.co", Grant::Days(10), &actor(), NOW).unwrap();
        let c = grant_credit(&conn, "A@B.co ", Grant::Days(5), &actor(), NOW.plus(3600)).unwrap();
        assert_eq!(c.user.credit_until, Some(NOW.plus(15 * DAY)));
    }

    #[test]
    fn short_grant_on_a_long_one_adds_to_the_long_one() {
        let conn = setup();
        grant_credit(&conn, "a@b.co", Grant::Days(100), &actor(), NOW).unwrap();
        let c = grant_credit(&conn, "a@b.co", Grant::Days(1), &actor(), NOW).unwrap();
        assert_eq!(c.user.credit_until, Some(NOW.plus(101 * DAY)));
    }

    #[test]
    fn expired_credit_restarts_from_now() {
        assert_eq!(
            extended(Some(NOW.plus(-5 * DAY)), Grant::Days(2), NOW),
            NOW.plus(2 * DAY)
        );
        assert_eq!(extended(None, Grant::Days(2), NOW), NOW.plus(2 * DAY));
    }

    #[test]
    fn until_runs_through_the_end_of_the_day_and_never_shortens() {
        let conn = setup();
        let day = parse_date("2027-03-01").unwrap();
        let c = grant_credit(&conn, "a@b.co", Grant::Until(day), &actor(), NOW).unwrap();
        assert_eq!(c.after.as_deref(), Some("2027-03-01T23:59:59Z"));
        let earlier = parse_date("2027-02-01").unwrap();
        let c = grant_credit(&conn, "a@b.co", Grant::Until(earlier), &actor(), NOW).unwrap();
        assert!(!c.changed());
        assert_eq!(
            c.user.credit_until.map(|t| t.to_string()).as_deref(),
            Some("2027-03-01T23:59:59Z")
        );
    }

    #[test]
    fn bad_grants_write_nothing() {
        let conn = setup();
        for days in [0, -1, 3651] {
            assert!(grant_credit(&conn, "a@b.co", Grant::Days(days), &actor(), NOW).is_err());
        }
        let past = parse_date("2020-01-01").unwrap();
        assert!(grant_credit(&conn, "a@b.co", Grant::Until(past), &actor(), NOW).is_err());
        let err = grant_credit(&conn, "nobody@b.co", Grant::Days(1), &actor(), NOW).unwrap_err();
        assert!(err.to_string().contains("no account"));
        let user = users::by_email(&conn, "a@b.co").unwrap().unwrap();
        assert_eq!(user.credit_until, None);
        assert!(audit::for_user(&conn, user.id).unwrap().is_empty());
    }

    #[test]
    fn every_change_is_audited() {
        let conn = setup();
        grant_credit(&conn, "a@b.co", Grant::Days(3), &actor(), NOW).unwrap();
        revoke_credit(&conn, "a@b.co", &actor(), NOW.plus(60)).unwrap();
        set_tier(&conn, "a@b.co", Tier::Paid, &actor(), NOW.plus(120)).unwrap();
        let user = users::by_email(&conn, "a@b.co").unwrap().unwrap();
        assert_eq!(user.tier, Tier::Paid);
        assert_eq!(user.credit_until, Some(NOW.plus(60)), "revoked now");
        let log = audit::for_user(&conn, user.id).unwrap();
        let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["grant_credit", "revoke_credit", "set_tier"]);
        assert_eq!(log[0].old_value, None);
        assert_eq!(log[0].new_value, Some(NOW.plus(3 * DAY).to_string()));
        assert_eq!(log[2].old_value.as_deref(), Some("free"));
        assert_eq!(log[2].new_value.as_deref(), Some("paid"));
        assert!(log
            .iter()
            .all(|e| e.actor == "ops" && e.client.as_deref() == Some("203.0.113.9")));
        assert_eq!(log[0].note.as_deref(), Some("support ticket 12"));
        assert!(
            conn.execute("DELETE FROM access_audit", []).is_err(),
            "append-only"
        );
        assert!(
            conn.execute("UPDATE access_audit SET actor = 'x'", [])
                .is_err(),
            "append-only"
        );
    }

    #[test]
    fn actor_comes_from_sudo_then_user() {
        let env = |k: &str| match k {
            "SUDO_USER" => Some("alice".to_string()),
            "USER" => Some("root".to_string()),
            "SSH_CONNECTION" => Some("198.51.100.7 52022 10.0.0.5 22".to_string()),
            _ => None,
        };
        let a = Actor::from_env(&env, None);
        assert_eq!(
            (a.name.as_str(), a.client.as_deref()),
            ("alice", Some("198.51.100.7"))
        );
        let a = Actor::from_env(
            &|k| (k == "USER").then(|| "deploy".to_string()),
            Some("n".into()),
        );
        assert_eq!((a.name.as_str(), a.client), ("deploy", None));
    }
}
