//! `access-audit`: parse the command line, run, and turn the outcome into an exit code.

use access_audit::cli::Cli;
use access_audit::text::visible;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse_args();
    init_logging(cli.verbose, cli.quiet);
    if let Err(e) = access_audit::signals::listen() {
        eprintln!(
            "access-audit: warning: cannot watch for signals ({e}): an interrupted run leaves its staging folder"
        );
    }
    let verbose = cli.verbose;
    match access_audit::app::run(cli) {
        Ok(code) => exit(code),
        Err(e) => {
            // Messages can quote outside text (a file's contents, a path): no raw control character
            // may reach the terminal.
            if verbose {
                eprintln!("access-audit: error: {}\n{}", visible(&format!("{e:#}")), visible(&format!("{e:?}")));
            } else {
                eprintln!("access-audit: error: {}", visible(&format!("{e:#}")));
            }
            exit(e.exit_code())
        }
    }
}

fn exit(code: access_audit::exit::ExitCode) -> std::process::ExitCode {
    std::process::ExitCode::from(code.code() as u8)
}

/// Progress on stderr. Only this crate's events: the HTTP stack's own debug output stays off,
/// whatever RUST_LOG says, so that no header can reach a log.
fn init_logging(verbose: bool, quiet: bool) {
    let level = if quiet {
        "access_audit=error"
    } else if verbose {
        "access_audit=debug"
    } else {
        "access_audit=info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // Through the progress bars, when they are drawn, so that no line lands inside one.
        .with_writer(|| access_audit::snapshot::progress::LogWriter)
        .init();
}
