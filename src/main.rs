//! The `app` executable: parse the command line, run it, map an error to exit code 1.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: app::Cli = argh::from_env();
    match app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
