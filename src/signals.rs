//! Signals: an interrupted run removes what it was writing, says so, and exits with a code of its own.
//!
//! [`listen`] starts one thread that waits for SIGINT (Ctrl-C), SIGTERM (`kill`,
//! systemd, a container stop) and SIGHUP (a closed terminal). On the first of
//! them it removes every staging folder this process is writing
//! ([`crate::deliver::abandon_all`], under the lock the final swap takes, so the
//! output folder is either left exactly as it was or already complete), prints
//! one line on stderr, and exits with 128 + the signal's number, as shells do:
//! 130, 143, 129 ([`ExitCode`]). Without it, a signal ended the process at once
//! and left a hidden staging folder full of user data until the next run.

use std::path::PathBuf;

use crate::deliver;
use crate::exit::ExitCode;

/// Starts watching for the signals; returns once they are being watched.
pub fn listen() -> std::io::Result<()> {
    let (ready, started) = std::sync::mpsc::channel::<std::io::Result<()>>();
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_io().build() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        runtime.block_on(async move {
            match watch() {
                Ok(mut signals) => {
                    let _ = ready.send(Ok(()));
                    let (name, code) = signals.next().await;
                    deliver::abandon_all(|targets| stop(name, code, &targets))
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            }
        });
    })?;
    started.recv().map_err(|_| std::io::Error::other("the signal thread ended before it started"))?
}

/// Prints the one line (and, with `--json`, the JSON object on stdout) and ends the process.
fn stop(name: &str, code: ExitCode, targets: &[PathBuf]) -> ! {
    let line = if targets.is_empty() {
        format!("stopped by {name}")
    } else {
        let names: Vec<String> = targets.iter().map(|t| t.display().to_string()).collect();
        format!("stopped by {name}: nothing was written to {}", names.join(", "))
    };
    eprintln!("access-audit: {line}");
    if crate::envelope::enabled() {
        crate::envelope::print(&crate::envelope::failure(code, &line));
    }
    std::process::exit(code.code())
}

#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
fn watch() -> std::io::Result<Signals> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok(Signals {
        int: signal(SignalKind::interrupt())?,
        term: signal(SignalKind::terminate())?,
        hup: signal(SignalKind::hangup())?,
    })
}

#[cfg(unix)]
impl Signals {
    async fn next(&mut self) -> (&'static str, ExitCode) {
        tokio::select! {
            _ = self.int.recv() => ("SIGINT", ExitCode::Interrupted),
            _ = self.term.recv() => ("SIGTERM", ExitCode::Terminated),
            _ = self.hup.recv() => ("SIGHUP", ExitCode::HungUp),
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
fn watch() -> std::io::Result<Signals> {
    Ok(Signals)
}

#[cfg(not(unix))]
impl Signals {
    async fn next(&mut self) -> (&'static str, ExitCode) {
        let _ = tokio::signal::ctrl_c().await;
        ("Ctrl-C", ExitCode::Interrupted)
    }
}
