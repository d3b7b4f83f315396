//! The command line: argh types and dispatch, nothing else. The work lives
//! in `services` (shared with the web) and `web::server`.

use std::path::PathBuf;

use argh::FromArgs;

use crate::config::{self, Config, Flags};
use crate::db;
use crate::error::Result;
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

pub fn run(cli: Cli) -> Result<()> {
    let db_path = config::db_path(cli.db, &|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
    match cli.command {
        Command::Serve(args) => {
            let flags = Flags { addr: args.addr, base_url: args.base_url, workers: args.workers };
            server::serve(Config::from_process_env(flags)?, &db_path)
        }
        Command::Migrate(_) => {
            db::open_and_migrate(&db_path)?;
            println!("database {} is up to date", db_path.display());
            Ok(())
        }
    }
}
