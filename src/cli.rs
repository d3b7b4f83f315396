//! The command line: argh types and dispatch, nothing else. The work lives
//! in `services` (shared with the web), `db` and `app` (what `serve` runs).

use std::path::PathBuf;

use argh::FromArgs;

use crate::clock::Timestamp;
use crate::config::{self, Config, Flags};
use crate::db;
use crate::error::Result;

mod billing;
mod holdings;
mod rewards;
mod stats;
mod verbs;

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
    Stats(StatsArgs),
    DeleteUser(DeleteUserArgs),
    BillingCheck(BillingCheckArgs),
    BillingSync(BillingSyncArgs),
    BillingRetry(BillingRetryArgs),
    ImportHoldings(ImportHoldingsArgs),
}

/// Run the web server until SIGTERM or SIGINT.
#[derive(FromArgs)]
#[argh(
    subcommand,
    name = "serve",
    help_triggers("-h", "--help"),
    note = "Environment (a flag beats its variable; README.md has the details):
  APP_DB              the SQLite file (default ./app.db)
  APP_ADDR            listen address (default 127.0.0.1:8080)
  APP_BASE_URL        public URL; https:// makes cookies Secure
  APP_SECRET          cookie-signing key, 32+ bytes (default: generated into <db>.key, mode 0600)
  APP_SMTP_URL        smtp://host:25, smtp://user:pass@host:587?tls=required or
                      smtps://user:pass@host:465 (unset: emails go to the log)
  APP_MAIL_FROM       sender address (default no-reply@<host of the base URL>)
  APP_ADMIN_TOKEN     bearer token, 32+ bytes, that passes the paid gate and reads /metrics
  APP_LLM_URL         OpenAI-compatible API base ending in /v1 (unset: built-in analyst)
  APP_LLM_MODEL       model name (default gpt-4o-mini)
  APP_LLM_API_KEY     API key for APP_LLM_URL
  APP_LLM_CONCURRENCY analyses that may wait on the LLM at once, 1-64 (default 4)
  APP_TRUSTED_PROXY   reverse proxy address(es), comma-separated, for X-Forwarded-For
  APP_PADDLE_*        billing with Paddle: API_KEY, WEBHOOK_SECRET, CLIENT_TOKEN,
                      PRICE_ID (all four or none), ENV, API_URL, REFERRAL_DISCOUNT_ID
  APP_QUOTES          off (typed prices, default), stooq, or alphavantage
  APP_QUOTES_API_KEY  Alpha Vantage's key; APP_QUOTES_URL another provider base
  APP_FX_URL          the ECB daily rates XML (default the ECB's eurofxref-daily.xml)"
)]
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
    /// why, for the audit log; shown to the person in their data export
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
    /// why, for the audit log; shown to the person in their data export
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
    /// why, for the audit log; shown to the person in their data export
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

/// Queue an account's failed referral-reward calls to Paddle again.
#[derive(FromArgs)]
#[argh(
    subcommand,
    name = "billing-retry",
    help_triggers("-h", "--help"),
    note = "Only calls that finally failed are queued again (their rewards show
as waiting); the running server's billing worker makes them. Fix what
Paddle refused first: the log line event=billing.outbox_failed says why."
)]
pub struct BillingRetryArgs {
    /// the account's email
    #[argh(option)]
    pub email: String,
    /// print one JSON object
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

/// The operator's funnel: sign-ups, conversions, who pays, rewards, analyses.
#[derive(FromArgs)]
#[argh(subcommand, name = "stats", help_triggers("-h", "--help"))]
pub struct StatsArgs {
    /// first UTC day counted, YYYY-MM-DD (default: 30 days ago)
    #[argh(option)]
    pub since: Option<String>,
    /// print one JSON object instead of a table
    #[argh(switch)]
    pub json: bool,
}

/// Delete an account: codes, sessions and holdings go, a tombstone stays.
#[derive(FromArgs)]
#[argh(subcommand, name = "delete-user", help_triggers("-h", "--help"))]
pub struct DeleteUserArgs {
    /// the account's email
    #[argh(option)]
    pub email: String,
    /// why, for the audit log; shown to the person in their data export
    #[argh(option)]
    pub note: Option<String>,
    /// also have Paddle cancel a subscription that still bills
    #[argh(switch)]
    pub force: bool,
    /// print one JSON object instead of a sentence
    #[argh(switch)]
    pub json: bool,
}

/// Check the Paddle setup: keys, prices and the referral discount.
#[derive(FromArgs)]
#[argh(
    subcommand,
    name = "billing-check",
    help_triggers("-h", "--help"),
    note = "Reads the APP_PADDLE_* variables as serve does and calls Paddle from this process.
One line per check; exit 1 if any fails."
)]
pub struct BillingCheckArgs {
    /// print one JSON object instead of lines
    #[argh(switch)]
    pub json: bool,
}

/// Read subscriptions from Paddle and repair what lost webhooks left behind.
#[derive(FromArgs)]
#[argh(
    subcommand,
    name = "billing-sync",
    help_triggers("-h", "--help"),
    note = "Reads every linked customer's subscriptions (or one account's) from the Paddle API
and applies each as a webhook would, with its updated_at as the event time: a newer
stored state wins. Calls Paddle from this process, never the server."
)]
pub struct BillingSyncArgs {
    /// only this account's subscriptions
    #[argh(option)]
    pub email: Option<String>,
    /// print one JSON object instead of lines
    #[argh(switch)]
    pub json: bool,
}

/// Import holdings from a CSV file into an account: all rows or none.
#[derive(FromArgs)]
#[argh(
    subcommand,
    name = "import-holdings",
    help_triggers("-h", "--help"),
    note = "The file's first line is symbol,quantity,price,cost_basis,currency; cost_basis
and currency may be empty (the account's base currency). Numbers take a decimal
point or a comma (quote a comma: \"190,50\"). A symbol already held is replaced.
If any row is wrong, nothing is imported and every bad row is named by line."
)]
pub struct ImportHoldingsArgs {
    /// the account's email
    #[argh(option)]
    pub email: String,
    /// the CSV file, at most 64 KiB
    #[argh(option)]
    pub csv: PathBuf,
    /// print one JSON object instead of a sentence
    #[argh(switch)]
    pub json: bool,
}

pub fn run(cli: Cli) -> Result<()> {
    let env = config::process_env;
    let db_path = config::db_path(cli.db, &env);
    // Only `serve` and `migrate` create the file (SPEC §1).
    let open = || db::open_existing_and_migrate(&db_path);
    let now = Timestamp::now();
    match cli.command {
        Command::Serve(args) => {
            let flags = Flags {
                addr: args.addr,
                base_url: args.base_url,
                workers: args.workers,
            };
            crate::serve::run(Config::from_process_env(flags)?, &db_path)
        }
        Command::Migrate(_) => {
            db::open_and_migrate(&db_path)?;
            println!("database {} is up to date", db_path.display());
            Ok(())
        }
        Command::GrantCredit(args) => verbs::grant_credit(&open()?, args, &env, now),
        Command::RevokeCredit(args) => verbs::revoke_credit(&open()?, args, &env, now),
        Command::SetTier(args) => verbs::set_tier(&open()?, args, &env, now),
        Command::ShowStatus(args) => verbs::show_status(&open()?, args, &env, now),
        Command::Backup(args) => verbs::backup(&open()?, args),
        Command::Stats(args) => stats::stats(&open()?, args, now),
        Command::DeleteUser(args) => verbs::delete_user(&open()?, args, &env, now),
        Command::BillingCheck(args) => billing::billing_check(&open()?, args, &env),
        Command::BillingSync(args) => billing::billing_sync(&open()?, &db_path, args, &env, now),
        Command::BillingRetry(args) => rewards::billing_retry(&open()?, args, now),
        Command::ImportHoldings(args) => holdings::import_holdings(&open()?, args, now),
    }
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
        assert!(matches!(
            parse(&["billing-check", "--json"]).unwrap().command,
            Command::BillingCheck(BillingCheckArgs { json: true })
        ));
        let Command::BillingSync(sync) = parse(&["billing-sync", "--email", "a@b.co"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!((sync.email.as_deref(), sync.json), (Some("a@b.co"), false));
        let Command::BillingRetry(retry) = parse(&["billing-retry", "--email", "a@b.co", "--json"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!((retry.email.as_str(), retry.json), ("a@b.co", true));
        assert!(
            parse(&["grant-credit", "--days", "3"]).is_err(),
            "email is required"
        );
        assert!(parse(&["frobnicate"]).is_err());
    }
}
