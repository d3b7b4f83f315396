//! The emails people expect (SPEC §9): invite converted, credit ending,
//! payment past due. One background job reads the tables billing and the
//! operator write, at start and every few seconds; each notice is claimed by
//! inserting its `emails_sent` row before it is queued, so a restart, a
//! replayed webhook or a second server on the same file never sends it twice.

use std::time::Duration;

use rusqlite::Connection;

use crate::clock::{Timestamp, DAY};
use crate::db::{self, notices, users};
use crate::error::Result;
use crate::log;
use crate::services::mail::texts::{
    credit_ending, invited_converted, payment_past_due, referrer_converted,
};
use crate::services::mail::Email;

/// How often the job looks (`serve` runs [`run_once`] this often on its own
/// thread); every query is a small index range.
pub const INTERVAL: Duration = Duration::from_secs(2);
/// A credit this close to its end gets its one reminder.
pub const CREDIT_WARNING: i64 = 3 * DAY;
/// Conversions older than this are not announced (an upgraded database does
/// not mail its whole history).
const CONVERSION_LOOKBACK: i64 = 2 * DAY;

/// One pass: finds every notice owed at `now`, claims it and queues it.
/// Returns how many were queued.
pub fn run_once(
    conn: &Connection,
    base_url: &str,
    now: Timestamp,
    send: &dyn Fn(Email),
) -> Result<usize> {
    let mut owed = Vec::new();
    for c in notices::conversions_since(conn, now.plus(-CONVERSION_LOOKBACK))? {
        let key = c.referral_id.to_string();
        owed.push((
            c.referred_id,
            key.clone(),
            invited_converted(&c.referred_email, base_url),
        ));
        owed.push((c.referrer_id, key, referrer_converted(&c, base_url)));
    }
    let owed: Vec<_> = owed
        .into_iter()
        .map(|(user, key, email)| ("invite_converted", user, key, email))
        .chain(
            notices::credits_ending(conn, now, now.plus(CREDIT_WARNING))?
                .into_iter()
                .map(|(user, to, until)| {
                    let email = credit_ending(&to, &until, base_url);
                    ("credit_ending", user, until, email)
                }),
        )
        .chain(notices::past_due(conn)?.into_iter().map(|p| {
            let key = format!(
                "{} {}",
                p.subscription_id,
                p.current_period_ends_at.as_deref().unwrap_or("-")
            );
            (
                "payment_past_due",
                p.user_id,
                key,
                payment_past_due(&p.email, base_url),
            )
        }))
        .collect();
    let mut queued = 0;
    for (kind, user_id, key, email) in owed {
        if users::is_tombstone(&email.to) || notices::sent(conn, kind, user_id, &key)? {
            continue;
        }
        if db::write(conn, |tx| notices::claim(tx, kind, user_id, &key, now))? {
            log::event("notice.queued", &[("kind", &kind), ("user_id", &user_id)]);
            send(email);
            queued += 1;
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_db;
    use std::cell::RefCell;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn a_credit_ending_is_mailed_once() {
        let conn = test_db();
        let user = users::create(&conn, "a@b.co", NOW).unwrap();
        users::set_credit_until(&conn, user.id, Some(NOW.plus(2 * DAY))).unwrap();
        let sent = RefCell::new(Vec::new());
        let send = |e: Email| sent.borrow_mut().push(e);
        assert_eq!(run_once(&conn, "http://x", NOW, &send).unwrap(), 1);
        assert_eq!(run_once(&conn, "http://x", NOW.plus(60), &send).unwrap(), 0);
        let mail = sent.borrow()[0].clone();
        assert!(
            mail.text.contains("http://x/settings#upgrade"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains(&NOW.plus(2 * DAY).date_string()));
        // a new grant is a new credit, with its own reminder when it nears its end
        users::set_credit_until(&conn, user.id, Some(NOW.plus(9 * DAY))).unwrap();
        assert_eq!(run_once(&conn, "http://x", NOW, &send).unwrap(), 0);
        assert_eq!(
            run_once(&conn, "http://x", NOW.plus(7 * DAY), &send).unwrap(),
            1
        );
    }
}
