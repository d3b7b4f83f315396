//! Seeds a database with many users, referrals, subscriptions and rewards,
//! fast (one transaction, prepared statements), to measure `app stats` at
//! scale:
//!
//!     cargo run --release --example seed -- --db /tmp/big.db --users 1000000 --referrals 700000 --subscriptions 100000
//!     time target/release/app --db /tmp/big.db stats
//!
//! Sign-ups are spread over `--days` (default 365) up to now; referrers are
//! skewed so a few invite many; about 6% of referrals convert (with the two
//! rewards billing writes); subscriptions mix every status.

use std::path::PathBuf;
use std::time::Instant;

use argh::FromArgs;
use rusqlite::params;

use app::clock::{Timestamp, DAY};

/// Seed a database for `app stats` at scale.
#[derive(FromArgs)]
struct Args {
    /// the SQLite file to create (must not exist)
    #[argh(option)]
    db: PathBuf,
    /// how many users
    #[argh(option, default = "1_000_000")]
    users: i64,
    /// how many of them were invited (at most users - 1)
    #[argh(option, default = "700_000")]
    referrals: i64,
    /// how many subscriptions
    #[argh(option, default = "100_000")]
    subscriptions: i64,
    /// days the sign-ups are spread over
    #[argh(option, default = "365")]
    days: i64,
}

/// xorshift64*: deterministic, good enough to spread rows.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as i64 % n.max(1)
    }
}

/// A unique 8-character referral code for user `id`.
fn code(id: i64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut n = id;
    (0..8)
        .map(|_| {
            let c = ALPHABET[(n % 31) as usize] as char;
            n /= 31;
            c
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Args = argh::from_env();
    if args.db.exists() {
        return Err(format!("{} exists; seed a new file", args.db.display()).into());
    }
    let referrals = args.referrals.min(args.users - 1).max(0);
    let started = Instant::now();
    let mut conn = app::db::open_and_migrate(&args.db)?;
    let now = Timestamp::now();
    let first = now.plus(-args.days * DAY);
    let span = (args.days * DAY).max(1);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let tx = conn.transaction()?;
    {
        let mut user = tx.prepare(
            "INSERT INTO users (id, email, tier, created_at, referral_code, referred_by_user_id, credit_until)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut referral = tx.prepare(
            "INSERT INTO referrals (id, referrer_user_id, referred_user_id, created_at, converted_at, credited_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut reward = tx.prepare(
            "INSERT INTO referral_rewards (referral_id, user_id, role, state, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        // Users are created in id order, so created_at grows with the id.
        // Exactly `referrals` of them, spread evenly, were invited by an
        // earlier user (selection sampling).
        let mut invites_left = referrals;
        for id in 1..=args.users {
            let created = first.plus(span * (id - 1) / args.users.max(1));
            let tier = if rng.below(100) == 0 { "paid" } else { "free" };
            let credit = (rng.below(50) == 0).then(|| created.plus(rng.below(60) * DAY));
            let invited = id > 1 && rng.below(args.users - id + 1) < invites_left;
            invites_left -= i64::from(invited);
            let referrer = invited.then(|| {
                // skewed: half the invites come from the first 1% of users
                let pool = if rng.below(2) == 0 {
                    (id - 1) / 100
                } else {
                    id - 1
                };
                1 + rng.below(pool.max(1))
            });
            user.execute(params![
                id,
                format!("user{id}@example.com"),
                tier,
                created,
                code(id),
                referrer,
                credit
            ])?;
            if let Some(referrer) = referrer {
                let converted = (rng.below(16) == 0).then(|| created.plus(rng.below(20) * DAY));
                referral.execute(params![id, referrer, id, created, converted, converted])?;
                if let Some(at) = converted {
                    let (a, b) = if rng.below(3) == 0 {
                        ("banked", "running")
                    } else {
                        ("running", "ended")
                    };
                    reward.execute(params![id, referrer, "referrer", a, at])?;
                    reward.execute(params![id, id, "referred", b, at])?;
                }
            }
        }
        let mut subscription = tx.prepare(
            "INSERT OR IGNORE INTO subscriptions (id, user_id, customer_id, status, current_period_ends_at,
                 event_occurred_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)",
        )?;
        for n in 0..args.subscriptions {
            let user_id = 1 + rng.below(args.users);
            let status = match rng.below(20) {
                0..=13 => "active",
                14..=15 => "trialing",
                16 => "past_due",
                _ => "canceled",
            };
            let at = now.plus(-rng.below(span));
            subscription.execute(params![
                format!("sub_{n:08}"),
                user_id,
                format!("ctm_{n:08}"),
                status,
                at.plus(30 * DAY),
                at
            ])?;
        }
        let mut analyses =
            tx.prepare("INSERT INTO analysis_counts (day, provider, count) VALUES (?1, ?2, ?3)")?;
        for day in 0..args.days {
            let date = now.plus(-day * DAY).date_string();
            analyses.execute(params![date, "llm", rng.below(500)])?;
            analyses.execute(params![date, "builtin", rng.below(2000)])?;
        }
    }
    tx.commit()?;
    println!(
        "seeded {} with {} users, {referrals} referrals, {} subscriptions in {:.1} s",
        args.db.display(),
        args.users,
        args.subscriptions,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
