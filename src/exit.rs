//! Exit codes: the contract with cron, CI and wrapper scripts.
//!
//! Every failure of the tool maps to exactly one of these codes, so a caller can
//! tell "fix your configuration" from "Salesforce is down" from "the data cannot
//! be trusted" without parsing messages. The README's exit-code table is written
//! from this enum, and each code has a test.

/// What the process returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Success: everything was pulled, checked and written.
    Ok = 0,
    /// Success, but findings are present and `--fail-on-findings` asked to be told.
    Findings = 1,
    /// Usage or configuration error: a flag, the config file, the roster or credentials are missing or wrong.
    Usage = 2,
    /// Salesforce or network failure: login refused, an API error, the API quota, an unreachable host.
    Salesforce = 3,
    /// Incomplete or inconsistent data: rows missing against `totalSize`, a malformed record,
    /// or a snapshot whose hashes no longer match.
    Incomplete = 4,
    /// A local failure: the output folder cannot be written, the disk is full, or it is not the
    /// tool's to replace (it holds files the tool did not write).
    Io = 5,
    /// An internal error (a bug of this tool, e.g. in the dataframe engine): please report it.
    Internal = 6,
    /// The reports were written (and stay), but the email could not be sent: the SMTP server
    /// refused the login or the message, could not be reached, or its certificate did not verify.
    Mail = 7,
    /// `review`: the workbooks belong to the run, but not every finding has a decision from its
    /// report's list, a reviewer and a date.
    ReviewIncomplete = 8,
    /// `review`: a workbook does not belong to the run: another run id or snapshot manifest on its
    /// Run sheet, findings added or removed, evidence changed, or a row decided differently in two
    /// workbooks (or it cannot be read as a workbook at all).
    ReviewMismatch = 9,
    /// A run of several orgs: at least one org failed (the combined summary names each with its
    /// one-line error); the others' reports are written. It wins over 7 and 1.
    OrgsFailed = 10,
    /// `doctor`: logged in, but a check failed: the integration user cannot read an object or
    /// field the audit needs, may not use the Bulk API, or the org has fewer API requests left
    /// than a run must leave; each failed check says what to grant.
    ChecksFailed = 11,
    /// Stopped by SIGHUP (128 + 1); the output folder is as it was.
    HungUp = 129,
    /// Stopped by SIGINT, Ctrl-C (128 + 2); the output folder is as it was.
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15); the output folder is as it was.
    Terminated = 143,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The code's name in `--json` output (`"name"`): stable, one per code.
    pub fn name(self) -> &'static str {
        match self {
            ExitCode::Ok => "Success",
            ExitCode::Findings => "FindingsPresent",
            ExitCode::Usage => "UsageError",
            ExitCode::Salesforce => "SalesforceError",
            ExitCode::Incomplete => "IncompleteData",
            ExitCode::Io => "LocalError",
            ExitCode::Internal => "InternalError",
            ExitCode::Mail => "EmailNotSent",
            ExitCode::ReviewIncomplete => "ReviewIncomplete",
            ExitCode::ReviewMismatch => "ReviewMismatch",
            ExitCode::OrgsFailed => "OrgsFailed",
            ExitCode::ChecksFailed => "ChecksFailed",
            ExitCode::HungUp => "HungUp",
            ExitCode::Interrupted => "Interrupted",
            ExitCode::Terminated => "Terminated",
        }
    }

    /// What the code means, in a few words (for the failure notice).
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Ok => "success",
            ExitCode::Findings => "success, findings present",
            ExitCode::Usage => "a usage or configuration error",
            ExitCode::Salesforce => "a Salesforce or network failure",
            ExitCode::Incomplete => "incomplete or inconsistent data",
            ExitCode::Io => "a local failure: the output folder",
            ExitCode::Internal => "an internal error of access-audit",
            ExitCode::Mail => "the email could not be sent",
            ExitCode::ReviewIncomplete => "the review is incomplete",
            ExitCode::ReviewMismatch => "a workbook does not belong to the run",
            ExitCode::OrgsFailed => "one or more orgs failed; the others reported",
            ExitCode::ChecksFailed => "a check of doctor failed: the login lacks an access the audit needs",
            ExitCode::HungUp => "stopped by SIGHUP",
            ExitCode::Interrupted => "stopped by SIGINT",
            ExitCode::Terminated => "stopped by SIGTERM",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode;

    #[test]
    fn codes_are_stable() {
        assert_eq!(ExitCode::Ok.code(), 0);
        assert_eq!(ExitCode::Findings.code(), 1);
        assert_eq!(ExitCode::Usage.code(), 2);
        assert_eq!(ExitCode::Salesforce.code(), 3);
        assert_eq!(ExitCode::Incomplete.code(), 4);
        assert_eq!(ExitCode::Io.code(), 5);
        assert_eq!(ExitCode::Internal.code(), 6);
        assert_eq!(ExitCode::Mail.code(), 7);
        assert_eq!(ExitCode::ReviewIncomplete.code(), 8);
        assert_eq!(ExitCode::ReviewMismatch.code(), 9);
        assert_eq!(ExitCode::OrgsFailed.code(), 10);
        assert_eq!(ExitCode::ChecksFailed.code(), 11);
        assert_eq!(ExitCode::HungUp.code(), 129);
        assert_eq!(ExitCode::Interrupted.code(), 130);
        assert_eq!(ExitCode::Terminated.code(), 143);
    }
}
