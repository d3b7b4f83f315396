//! The command line: argh types and dispatch, nothing else. The work lives
//! in `services` (shared with the web), `db` and `web::server`.

use std::path::PathBuf;

use argh::FromArgs;
use serde_json::json;

use crate::clock::{self, Timestamp};
use crate::config::{self, Config, Flags};
use crate::db::{self, users};
use crate::error::{Error, Result};
use crate::services::credit::{self, Actor, Change, Grant};
use crate::services::{access, account};
use crate::web::server;

/// A self-hosted portfolio app: one binary, one SQLite file.
#[derive(FromArgs)]
#[argh(help_triggers("-h", "--help"))]
pub struct Cli {
    /// the SQLite file (default: $APP_DB, else ./app.db)
    #[argh(option)]
    pub db: Option<PathBuf>,

    #[argh(subcommand)]
    pub command: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
pub enum Command {
    Serve(ServeArgs),
    Migrate(MigrateArgs),
    GrantCredit(GrantCreditArgs),
    RevokeCredit(RevokeCreditArgs),
    SetTier(SetTierArgs),
    ShowStatus(ShowStatusArgs),
    Backup(BackupArgs),
}

/// Run the web server until SIGTERM or SIGINT.
#[derive(FromArgs)]
#[argh(subcommand, name = "serve", help_triggers("-h", "--help"))]
pub struct ServeArgs {
    /// listen address HOST:PORT (default: $APP_ADDR, else 127.0.0.1:8080)
    #[argh(option)]
    pub addr: Option<String>,
    /// public URL for links and emails (default: $APP_BASE_URL, else http://ADDR)
    #[argh(option)]
    pub base_url: Option<String>,
    /// worker threads (default: 8)
    #[argh(option)]
    pub workers: Option<usize>,
}

/// Apply pending database migrations and exit.
#[derive(FromArgs)]
#[argh(subcommand, name = "migrate", help_triggers("-h", "--help"))]
pub struct MigrateArgs {}

/// Grant complimentary paid access; never shortens an existing grant.
#[derive(FromArgs)]
#[argh(subcommand, name = "grant-credit", help_triggers("-h", "--help"))]
pub struct GrantCreditArgs {
    /// the account's email
    #[argh(option)]
    pub email: String,
    /// days to add, 1 to 3650, counted from the later of now and the current expiry
    #[argh(option)]
    pub days: Option<String>,
    /// grant access through the end of this UTC day (YYYY-MM-DD)
    #[argh(option)]
    pub until: Option<String>,
    /// why, for the audit log
    #[argh(option)]
    pub note: Option<String>,
    /// print one JSON object instead of a sentence
    #[argh(switch)]
    pub json: bool,
}

/// End a running credit now.
#[derive(FromArgs)]
#[argh(subcommand, name = "revoke-credit", help_triggers("-h", "--help"))]
pub struct RevokeCreditArgs {
    /// the account's email
    #[argh(option)]
    pub email: String,
    /// why, for the audit log
    #[argh(option)]
    pub note: Option<String>,
    /// print one JSON object instead of a sentence
    #[argh(switch)]
    pub json: bool,
}

/// Put an account on the free or paid tier.
#[derive(FromArgs)]
#[argh(subcommand, name = "set-tier", help_triggers("-h", "--help"))]
pub struct SetTierArgs {
    /// the account's email
    #[argh(option)]
    pub email: String,
    /// free or paid
    #[argh(option)]
    pub tier: String,
    /// why, for the audit log
    #[argh(option)]
    pub note: Option<String>,
    /// print one JSON object instead of a sentence
    #[argh(switch)]
    pub json: bool,
}

/// Show an account: tier, paid access, referral code and stats.
#[derive(FromArgs)]
#[argh(subcommand, name = "show-status", help_triggers("-h", "--help"))]
pub struct ShowStatusArgs {
    /// the account's email
    #[argh(option)]
    pub email: String,
    /// print the same JSON object as GET /api/me
    #[argh(switch)]
    pub json: bool,
}

/// Copy the database, consistently, while the server runs.
#[derive(FromArgs)]
#[argh(subcommand, name = "backup", help_triggers("-h", "--help"))]
pub struct BackupArgs {
    /// where to write the copy; an existing file is never overwritten
    #[argh(option)]
    pub to: PathBuf,
}

pub fn run(cli: Cli) -> Result<()> {
    let env = config::process_env;
    let db_path = config::db_path(cli.db, &env);
    if let Command::Serve(args) = cli.command {
        let flags = Flags {
            addr: args.addr,
            base_url: args.base_url,
            workers: args.workers,
        };
        return server::serve(Config::from_process_env(flags)?, &db_path);
    }
    let conn = db::open_and_migrate(&db_path)?;
    let now = Timestamp::now();
    match cli.command {
        Command::Serve(_) => Ok(()),
        Command::Migrate(_) => {
            println!("database {} is up to date", db_path.display());
            Ok(())
        }
        Command::GrantCredit(args) => {
            let grant = parse_grant(args.days.as_deref(), args.until.as_deref())?;
            let actor = Actor::from_env(&env, args.note);
            let change = credit::grant_credit(&conn, &args.email, grant, &actor, now)?;
            report(&change, "grant_credit", args.json, now, |c| {
                let status = access::user_paid_status(&c.user, now);
                let days = status.days_remaining.unwrap_or(0);
                let until = c
                    .user
                    .credit_until
                    .map(|t| t.date_string())
                    .unwrap_or_default();
                if c.changed() {
                    format!(
                        "credit for {} now runs to {until}, {}",
                        c.user.email,
                        plural_days(days)
                    )
                } else {
                    format!(
                        "credit for {} already runs to {until}, {}; nothing changed",
                        c.user.email,
                        plural_days(days)
                    )
                }
            })
        }
        Command::RevokeCredit(args) => {
            let actor = Actor::from_env(&env, args.note);
            let change = credit::revoke_credit(&conn, &args.email, &actor, now)?;
            report(&change, "revoke_credit", args.json, now, |c| {
                if c.changed() {
                    format!(
                        "credit for {} revoked; access now: {}",
                        c.user.email,
                        access::badge(&access::user_paid_status(&c.user, now))
                    )
                } else {
                    format!("{} had no running credit; nothing changed", c.user.email)
                }
            })
        }
        Command::SetTier(args) => {
            let actor = Actor::from_env(&env, args.note);
            let change = credit::set_tier(&conn, &args.email, &args.tier, &actor, now)?;
            report(&change, "set_tier", args.json, now, |c| {
                let was = c.before.as_deref().unwrap_or("free");
                if c.changed() {
                    format!(
                        "{} is now on the {} tier (was {was})",
                        c.user.email, c.user.tier
                    )
                } else {
                    format!(
                        "{} is already on the {} tier; nothing changed",
                        c.user.email, c.user.tier
                    )
                }
            })
        }
        Command::ShowStatus(args) => {
            let email = credit::find_email(&args.email)?;
            let user =
                users::by_email(&conn, &email)?.ok_or_else(|| credit::unknown_email(&email))?;
            let me = account::me(&conn, &user, &config::base_url_from_env(&env)?, now)?;
            if args.json {
                println!("{}", serde_json::to_string(&me).unwrap_or_default());
            } else {
                println!("{}", me.email);
                println!("  tier:          {}", me.tier);
                println!("  access:        {}", access::badge(&me.paid));
                println!("  referral code: {}", me.referral.code);
                println!("  invite link:   {}", me.referral.invite_url);
                println!(
                    "  referrals:     {} pending, {} converted, {} active credits",
                    me.referral.pending, me.referral.converted, me.referral.active_credits
                );
            }
            Ok(())
        }
        Command::Backup(args) => {
            let report = db::backup::backup(&conn, &args.to)?;
            println!(
                "backup written to {} ({} bytes), integrity check ok",
                report.path.display(),
                report.bytes
            );
            for (table, rows) in report.rows {
                println!("  {table}: {rows} rows");
            }
            Ok(())
        }
    }
}

/// `--days N` or `--until YYYY-MM-DD`, exactly one of them.
pub fn parse_grant(days: Option<&str>, until: Option<&str>) -> Result<Grant> {
    match (days, until) {
        (Some(days), None) => days.trim().parse::<i64>().map(Grant::Days).map_err(|_| {
            Error::Usage(format!(
                "--days takes a whole number from 1 to {}, not {days:?}",
                credit::MAX_GRANT_DAYS
            ))
        }),
        (None, Some(until)) => clock::parse_date(until.trim())
            .map(Grant::Until)
            .ok_or_else(|| {
                Error::Usage(format!("--until takes a date as YYYY-MM-DD, not {until:?}"))
            }),
        (Some(_), Some(_)) => Err(Error::Usage(
            "give either --days or --until, not both".into(),
        )),
        (None, None) => Err(Error::Usage(
            "say how long: --days N or --until YYYY-MM-DD".into(),
        )),
    }
}

fn plural_days(days: i64) -> String {
    if days == 1 {
        "1 day".into()
    } else {
        format!("{days} days")
    }
}

fn report(
    change: &Change,
    action: &str,
    json: bool,
    now: Timestamp,
    sentence: impl Fn(&Change) -> String,
) -> Result<()> {
    if json {
        let value = json!({
            "email": change.user.email,
            "action": action,
            "changed": change.changed(),
            "before": change.before,
            "after": change.after,
            "tier": change.user.tier,
            "paid": access::user_paid_status(&change.user, now),
        });
        println!("{value}");
    } else {
        println!("{}", sentence(change));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> std::result::Result<Cli, String> {
        Cli::from_args(&["app"], args).map_err(|e| e.output)
    }

    #[test]
    fn parses_every_verb() {
        assert!(matches!(
            parse(&["serve", "--addr", "0.0.0.0:1", "--workers", "2"])
                .unwrap()
                .command,
            Command::Serve(_)
        ));
        assert!(matches!(
            parse(&["--db", "x.db", "migrate"]).unwrap().command,
            Command::Migrate(_)
        ));
        let Command::GrantCredit(g) = parse(&[
            "grant-credit",
            "--email",
            "a@b.co",
            "--days",
            "30",
            "--note",
            "hi",
            "--json",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert_eq!(
            (
                g.email.as_str(),
                g.days.as_deref(),
                g.note.as_deref(),
                g.json
            ),
            ("a@b.co", Some("30"), Some("hi"), true)
        );
        assert!(matches!(
            parse(&["revoke-credit", "--email", "a@b.co"])
                .unwrap()
                .command,
            Command::RevokeCredit(_)
        ));
        assert!(matches!(
            parse(&["set-tier", "--email", "a@b.co", "--tier", "paid"])
                .unwrap()
                .command,
            Command::SetTier(_)
        ));
        assert!(matches!(
            parse(&["show-status", "--email", "a@b.co", "--json"])
                .unwrap()
                .command,
            Command::ShowStatus(_)
        ));
        assert!(matches!(
            parse(&["backup", "--to", "/tmp/x.db"]).unwrap().command,
            Command::Backup(_)
        ));
        assert!(
            parse(&["grant-credit", "--days", "3"]).is_err(),
            "email is required"
        );
        assert!(parse(&["frobnicate"]).is_err());
    }

    #[test]
    fn grant_arguments() {
        assert_eq!(parse_grant(Some("30"), None).unwrap(), Grant::Days(30));
        assert_eq!(
            parse_grant(None, Some("2027-01-05")).unwrap(),
            Grant::Until(clock::parse_date("2027-01-05").unwrap())
        );
        for (days, until) in [
            (Some("ten"), None),
            (Some("1.5"), None),
            (Some(""), None),
            (None, Some("05/01/2027")),
            (None, Some("2027-02-30")),
            (Some("3"), Some("2027-01-05")),
            (None, None),
        ] {
            assert!(parse_grant(days, until).is_err(), "{days:?} {until:?}");
        }
        // range is checked by the service, before anything is written
        assert_eq!(parse_grant(Some("-1"), None).unwrap(), Grant::Days(-1));
    }
}
