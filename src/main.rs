//! `access-audit`: parse the command line, run, and turn the outcome into an exit code (and, with
//! `--json`, into one JSON object on stdout).

use access_audit::cli::Cli;
use access_audit::envelope;
use access_audit::exit::ExitCode;
use access_audit::text::visible;

fn main() -> std::process::ExitCode {
    let cli = parse();
    if cli.json {
        envelope::enable();
    }
    init_logging(cli.verbose, cli.quiet);
    if let Err(e) = access_audit::signals::listen() {
        eprintln!(
            "access-audit: warning: cannot watch for signals ({e}): an interrupted run leaves its staging folder"
        );
    }
    let verbose = cli.verbose;
    match access_audit::app::run(cli) {
        Ok(outcome) => {
            if envelope::enabled() {
                envelope::print(&envelope::success(outcome.code, outcome.message.as_deref(), &outcome.result));
            }
            exit(outcome.code)
        }
        Err(e) => {
            // Messages can quote outside text (a file's contents, a path): no raw control character
            // may reach the terminal.
            let line = visible(&format!("{e:#}")).into_owned();
            if verbose {
                eprintln!("access-audit: error: {line}\n{}", visible(&format!("{e:?}")));
            } else {
                eprintln!("access-audit: error: {line}");
            }
            if envelope::enabled() {
                envelope::print(&envelope::failure(e.exit_code(), &line));
            }
            exit(e.exit_code())
        }
    }
}

/// The command line; a mistake in it is exit 2 with clap's message (as JSON with `--json`).
fn parse() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    Cli::parse_from_args(&args).unwrap_or_else(|e| {
        use clap::error::ErrorKind;
        let shown = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
        if !shown && args.iter().any(|a| a == "--json") {
            let text = e.kind().as_str().map(str::to_string).unwrap_or_else(|| e.to_string());
            let first = e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
            let message = if first.is_empty() { text } else { first };
            eprintln!("{}", e.render().ansi());
            envelope::print(&envelope::failure(ExitCode::Usage, &visible(&message)));
            std::process::exit(ExitCode::Usage.code());
        }
        e.exit()
    })
}

fn exit(code: ExitCode) -> std::process::ExitCode {
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
