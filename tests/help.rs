//! `--help` of every command: each option documented, and the text reviewed once as a snapshot.

use clap::CommandFactory;

use crate::common::*;

fn help(args: &[&str]) -> String {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path()).args(args).arg("--help").env("COLUMNS", "100").output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", stderr_of(&output));
    stdout_of(&output)
}

#[test]
fn every_option_of_every_command_has_help_and_is_shown() {
    let root = access_audit::cli::Cli::command();
    let mut commands = vec![(Vec::<String>::new(), root.clone())];
    commands.extend(root.get_subcommands().map(|c| (vec![c.get_name().to_string()], c.clone())));
    for (path, command) in commands {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let text = help(&args);
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let documented = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(documented.len() > 10, "{path:?} {id}: no help text");
            let shown = match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => arg.get_value_names().and_then(|v| v.first()).map(|v| format!("<{v}>")).unwrap(),
            };
            assert!(text.contains(&shown), "{path:?}: {shown} missing from --help:\n{text}");
        }
        for sub in command.get_subcommands() {
            assert!(sub.get_about().is_some(), "{} has no description", sub.get_name());
            if path.is_empty() && sub.get_name() != "help" {
                assert!(text.contains(sub.get_name()), "{} missing from the main help", sub.get_name());
            }
        }
    }
}

#[test]
fn main_help() {
    insta::assert_snapshot!("help-main", help(&[]));
}

#[test]
fn pull_help() {
    let text = help(&["pull"]);
    assert!(text.contains("Secrets are never command-line arguments"));
    assert!(text.contains("SF_CLIENT_SECRET"));
    insta::assert_snapshot!("help-pull", text);
}

#[test]
fn report_help() {
    insta::assert_snapshot!("help-report", help(&["report"]));
}

#[test]
fn run_help() {
    insta::assert_snapshot!("help-run", help(&["run"]));
}

#[test]
fn verify_help() {
    insta::assert_snapshot!("help-verify", help(&["verify"]));
}

#[test]
fn review_help() {
    let text = help(&["review"]);
    assert!(text.contains("Exits 0 when every finding has a decision"));
    insta::assert_snapshot!("help-review", text);
}

#[test]
fn config_help() {
    insta::assert_snapshot!("help-config", help(&["config"]));
}

#[test]
fn send_help() {
    let text = help(&["send"]);
    assert!(text.contains("ACCESS_AUDIT_SMTP_PASSWORD"));
    insta::assert_snapshot!("help-send", text);
}

#[test]
fn doctor_help() {
    let text = help(&["doctor"]);
    assert!(text.contains("--target-org") && text.contains("--api"));
    insta::assert_snapshot!("help-doctor", text);
}

#[test]
fn version() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path()).arg("--version").output().unwrap();
    assert_eq!(stdout_of(&output).trim(), format!("access-audit {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path()).args(["pull", "--outt", "x"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}
