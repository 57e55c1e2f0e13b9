//! `--json`: one JSON object on stdout for every command, as the Salesforce CLI does.
//!
//! Takes a command's outcome (its exit code and result) or its failure (exit code and one-line
//! message) and hands on the single line a script reads:
//!
//! ```text
//! {"status": 0, "result": {...}}
//! {"status": 1, "name": "FindingsPresent", "message": "...", "result": {...}}
//! {"status": N, "name": "UsageError", "message": "..."}
//! ```
//!
//! `status` is the process's exit code and `name` its stable name ([`ExitCode::name`]); a run
//! that succeeded with findings (exit 1) carries its result too. Logs stay on stderr, so stdout
//! holds exactly one JSON object. Whether `--json` was given is kept here for the one place that
//! ends the process outside `main` (a signal, [`crate::signals`]).

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::exit::ExitCode;

static JSON: AtomicBool = AtomicBool::new(false);

/// Turns `--json` output on for the whole process.
pub fn enable() {
    JSON.store(true, Ordering::SeqCst);
}

pub fn enabled() -> bool {
    JSON.load(Ordering::SeqCst)
}

/// The object for an outcome: success (or findings) with its result.
pub fn success(code: ExitCode, message: Option<&str>, result: &Value) -> Value {
    match (code, message) {
        (ExitCode::Ok, _) | (_, None) => json!({ "status": code.code(), "result": result }),
        (code, Some(message)) => {
            json!({ "status": code.code(), "name": code.name(), "message": message, "result": result })
        }
    }
}

/// The object for a failure; a message of several lines (a snapshot's list of faults) is joined
/// into one with `; `.
pub fn failure(code: ExitCode, message: &str) -> Value {
    let message = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    json!({ "status": code.code(), "name": code.name(), "message": message })
}

/// Prints one object on stdout, on one line.
pub fn print(value: &Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes() {
        assert_eq!(success(ExitCode::Ok, None, &json!({"a": 1})).to_string(), r#"{"status":0,"result":{"a":1}}"#);
        assert_eq!(
            success(ExitCode::Findings, Some("3 findings"), &json!({})).to_string(),
            r#"{"status":1,"name":"FindingsPresent","message":"3 findings","result":{}}"#
        );
        assert_eq!(
            failure(ExitCode::Internal, "internal error").to_string(),
            r#"{"status":6,"name":"InternalError","message":"internal error"}"#
        );
    }

    #[test]
    fn an_internal_error_has_its_own_status_and_name() {
        // Exit 6 is a bug of the tool: no input reaches it through the binary, so its JSON is
        // checked here, from the error a polars failure becomes.
        let e = crate::Error::Analysis(crate::analysis::AnalysisError::Polars(
            polars::prelude::PolarsError::ComputeError("lengths differ".into()),
        ));
        let v = failure(e.exit_code(), &format!("{e:#}"));
        assert_eq!(v["status"], 6);
        assert_eq!(v["name"], "InternalError");
        assert!(v["message"].as_str().unwrap().contains("please report it"));
    }
}
