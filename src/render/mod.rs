//! Rendering: the finished [`Audit`] in, the report folder's files out.
//!
//! Every format sits behind one [`Renderer`] (hyperfine's `Exporter` shape) and
//! reads only the report model, never raw Salesforce JSON, so all formats show
//! the same rows and columns in the same order. A renderer returns its files as
//! bytes ([`RenderedFile`]) and never touches the file system: [`render_all`]
//! hands them to one writer (the caller's, [`crate::deliver::Staging::write`]),
//! which writes them into the staging folder and records each file's SHA-256 in
//! the folder's file list. The files:
//!
//! - one `<slug>.csv` per report ([`csv`]): RFC 4180, formula-neutralised; for each other
//!   application read over SCIM, `<app>-<slug>.csv` per report and `scim-crosscheck.csv`
//!   (their titles and sentences, the same in every format, come from [`apps`]);
//! - the lists beside the reports (`resolved.csv`, `not-done.csv`, `exclusions.csv`, when
//!   present: [`Audit::lists`]), as CSV too;
//! - `access-review.xlsx` ([`xlsx`]): the review workbook, with reviewer columns (and with
//!   `--split-by manager`, one more per manager under `by-manager/`);
//! - `report.html` ([`html`]): one self-contained page, for a browser or a phone;
//! - `email.html` and `email.txt` ([`email`]): the digest that is the body of the email;
//! - `summary.json` ([`json`]): counts and run metadata.
//!
//! A run of several orgs also writes a combined summary of them ([`combined`]), from its own
//! model ([`crate::combined::Combined`]) rather than an [`Audit`].
//!
//! Everything is a pure function of the [`Audit`]: no wall-clock time, no hash
//! map iteration order, so the same audit gives the same bytes (the workbook's
//! document date is the as-of instant for the same reason). Text from the org is
//! data in every format: escaped in HTML, never a formula in CSV or XLSX.

pub mod apps;
pub mod combined;
pub mod csv;
#[cfg(test)]
mod dom;
pub mod email;
pub mod html;
pub mod json;
pub mod xlsx;

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use crate::model::{Audit, Cell, Column, Report, ReportKind, Rows};

/// One file of the report folder, rendered: its name and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// The file name in the report folder, e.g. `inactive-users.csv`.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// One output format.
pub trait Renderer {
    /// Short name for logs: `csv`, `xlsx`, `html`, `json`.
    fn name(&self) -> &'static str;

    /// This format's files for `audit`, as bytes; writing them is the caller's.
    fn render(&self, audit: &Audit) -> Result<Vec<RenderedFile>, RenderError>;
}

/// Everything that can go wrong while rendering the report files.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot write the CSV file {file}: {source}")]
    Csv { file: String, source: ::csv::Error },
    #[error("cannot encode {file}: {source}")]
    Json { file: String, source: serde_json::Error },
    #[error("cannot render the HTML report {file}: {source:#}")]
    Template { file: String, source: tera::Error },
    #[error("cannot write the workbook {file}: {source}")]
    Xlsx { file: String, source: rust_xlsxwriter::XlsxError },
    #[error(
        "the {report} report has {rows} rows, more than the {max} an Excel sheet can hold; \
         narrow the audited population, or use {slug}.csv"
    )]
    TooManyRows { report: &'static str, slug: &'static str, rows: usize, max: usize },
}

/// Every renderer, in the order [`render_all`] runs them.
pub fn renderers() -> Vec<Box<dyn Renderer>> {
    vec![
        Box::new(csv::CsvRenderer),
        Box::new(xlsx::XlsxRenderer),
        Box::new(html::HtmlRenderer),
        Box::new(email::EmailRenderer),
        Box::new(json::JsonRenderer),
    ]
}

/// Runs every renderer and hands each file to `write`, one format at a time (so that no more than
/// one format's bytes are held at once); returns the names of the files, in order.
pub fn render_all<E: From<RenderError>>(
    audit: &Audit,
    mut write: impl FnMut(RenderedFile) -> Result<(), E>,
) -> Result<Vec<String>, E> {
    let mut names = Vec::new();
    for renderer in renderers() {
        let started = std::time::Instant::now();
        let files = renderer.render(audit)?;
        tracing::debug!("{}: {} file(s) in {:.2?}", renderer.name(), files.len(), started.elapsed());
        for file in files {
            names.push(file.name.clone());
            write(file)?;
        }
    }
    Ok(names)
}

/// Calls `f` with each row's cells of `columns`, one row at a time.
///
/// It never holds the whole report as cells, which matters for an access
/// matrix of 100k users.
pub(crate) fn each_row<E>(
    rows: &Rows,
    columns: &[Column],
    mut f: impl FnMut(&[Cell]) -> Result<(), E>,
) -> Result<(), E> {
    let mut cells = Vec::with_capacity(columns.len());
    match rows {
        Rows::Users(users) => {
            for user in users {
                cells.clear();
                cells.extend(columns.iter().map(|c| user.cell(*c)));
                f(&cells)?;
            }
        }
        Rows::Roster(entries) => {
            for entry in entries {
                cells.clear();
                cells.extend(columns.iter().map(|c| entry.cell(*c)));
                f(&cells)?;
            }
        }
    }
    Ok(())
}

/// `2024-01-15T10:20:30Z`: RFC 3339, UTC, whole seconds.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The columns a reviewer decides on, in the order shown by `report.html` and the email digest;
/// the other columns are in the CSV and the workbook.
///
/// Picked **by header name** from the report's own column list ([`Report::columns`]), so a
/// column the report has only sometimes (`Change` and `PreviousDecision`, with a previous review) shows when it is there, and
/// one a report lacks is simply skipped: a never-logged-in user has no last login to show, so
/// that report shows when the account was created and whether it is in its grace period.
pub fn deciding_columns(report: &Report) -> Vec<Column> {
    const USERS: &[&str] = &[
        "Change",
        "PreviousDecision",
        "Name",
        "Username",
        "Profile",
        "Status",
        "LastLoginDate",
        "DaysSinceLogin",
        "ExpectedBy",
        "CertiniaPermissionSets",
        "CertiniaPermissionSetGroups",
        "CertiniaLicenses",
        "CertiniaPermissionSetLicenses",
        "PermissionControls",
        "UserCompanies",
        "ActiveResource",
    ];
    const NEVER: &[&str] = &[
        "Change",
        "PreviousDecision",
        "Name",
        "Username",
        "Profile",
        "CreatedDate",
        "DaysSinceCreated",
        "InGracePeriod",
    ];
    const ROSTER: &[&str] = &["Change", "PreviousDecision", "federation_id", "username", "email", "Reason"];
    let kind = report.kind;
    let all = report.columns();
    let wanted = match kind {
        ReportKind::NeverLoggedIn => NEVER,
        k if k.is_roster_entries() => ROSTER,
        _ => USERS,
    };
    let mut columns: Vec<Column> =
        wanted.iter().filter_map(|name| all.iter().find(|c| c.header() == *name)).copied().collect();
    // A report without the grants' lists (inactive users) still says whether the user holds Certinia access.
    if kind != ReportKind::NeverLoggedIn
        && !kind.is_roster_entries()
        && !columns.contains(&Column::CertiniaPermissionSets)
        && let Some(access) = all.iter().find(|c| c.header() == "CertiniaAccess")
    {
        columns.push(*access);
    }
    columns
}

/// One sentence on what a report means, for the digest and report.html (the exact rule with this
/// run's thresholds is [`explanation`]).
pub fn meaning(kind: ReportKind, audit: &Audit) -> String {
    let rules = &audit.meta.rules;
    match kind {
        ReportKind::InactiveUsers => format!(
            "Active users who have not logged in for more than {} days: accounts nobody seems to use, \
             still open to whoever holds their credentials.",
            rules.inactive_days
        ),
        ReportKind::NeverLoggedIn => format!(
            "Active users who have never logged in; those created in the last {} days are in their grace \
             period: listed, but not counted as findings.",
            rules.grace_days
        ),
        ReportKind::CertiniaAccessRetained => "Deactivated users who still hold Certinia permission sets, \
             groups, package or permission set licences, PSA permission controls or resources, or Accounting \
             companies: access that was never removed, and seats still paid for."
            .to_string(),
        ReportKind::CertiniaAccessLacking => "Active users expected to use Certinia (a Certinia licence, or the \
             roster) who hold no Certinia permission set or group: they cannot work in it."
            .to_string(),
        ReportKind::NotProvisioned => {
            "Roster entries that match no active audited user: people expected to have Certinia access who \
             have no usable account."
                .to_string()
        }
        ReportKind::UnexpectedAccess => "Active users with Certinia access whom the roster does not list.".to_string(),
        ReportKind::AccessMatrix => {
            "Every audited user with every Certinia grant and licence they hold: the inventory to certify.".to_string()
        }
    }
}

/// One sentence on what to do about a report's rows.
pub fn what_to_do(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::InactiveUsers => {
            "Deactivate or freeze the accounts no longer needed; record a reason for those you keep."
        }
        ReportKind::NeverLoggedIn => {
            "Deactivate the accounts nobody will use; look at the grace-period ones again at the next review."
        }
        ReportKind::CertiniaAccessRetained => {
            "Remove the Certinia permission sets and groups, free the package and permission set licences, end \
             the permission controls, deactivate the resources and remove the user companies."
        }
        ReportKind::CertiniaAccessLacking => {
            "Grant the Certinia access they need, or remove the licence or roster entry that expects it."
        }
        ReportKind::NotProvisioned => "Provision the user, or remove the entry from the roster.",
        ReportKind::UnexpectedAccess => "Remove the access, or add the user to the roster.",
        ReportKind::AccessMatrix => "Certify each user's access in the workbook, or mark what to remove.",
    }
}

/// `text` cut to at most `max` characters, ending in `…` when cut (for the digest and the charts).
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// One plain paragraph saying exactly who is in a report (REPORTS.md), with this run's thresholds.
pub fn explanation(kind: ReportKind, audit: &Audit) -> String {
    let rules = &audit.meta.rules;
    let as_of = audit.meta.as_of;
    let types = if rules.user_types.is_empty() { "(none)".to_string() } else { rules.user_types.join(", ") };
    match kind {
        ReportKind::InactiveUsers => format!(
            "Active users (IsActive = true) whose last login is more than {} days before the as-of date: \
             LastLoginDate before {}. Frozen users are included; their Status says Frozen. A LastLoginDate \
             after the as-of date is not a recent login: such users are listed too, and DataWarnings says so.",
            rules.inactive_days,
            rfc3339(as_of - Duration::days(i64::from(rules.inactive_days))),
        ),
        ReportKind::NeverLoggedIn => format!(
            "Active users (IsActive = true) who have never logged in (no LastLoginDate). InGracePeriod is true \
             for accounts created in the {} days before the as-of date (CreatedDate on or after {}, and not \
             after the as-of date): those are probably newly provisioned, not abandoned.",
            rules.grace_days,
            rfc3339(as_of - Duration::days(i64::from(rules.grace_days))),
        ),
        ReportKind::CertiniaAccessRetained => format!(
            "Deactivated users (IsActive = false) who still hold a Certinia permission set, a Certinia permission \
             set group, a Certinia package licence, a Certinia permission set licence, a live PSA permission \
             control (no end date, or an end date on or after {}), an Accounting user company, or who are the \
             Salesforce user of an active PSA resource: access or seats that should have been removed.",
            as_of.date_naive().format("%Y-%m-%d")
        ),
        ReportKind::CertiniaAccessLacking => {
            let expected = if rules.roster.is_some() {
                "they hold a Certinia package licence, or the roster lists them"
            } else {
                "they hold a Certinia package licence (no roster was given)"
            };
            format!(
                "Active users expected to have Certinia access ({expected}) but holding no Certinia permission \
                 set or permission set group. ExpectedBy says why access is expected."
            )
        }
        ReportKind::NotProvisioned => "Roster entries that match no active audited user: no user matches \
             the entry's federation_id, username or email, or every user it matches is deactivated or outside \
             the audited user types. Reason says which."
            .to_string(),
        ReportKind::UnexpectedAccess => "Active audited users holding a Certinia permission set or permission \
             set group whom no roster entry lists. Deactivated holders are in Certinia access retained instead."
            .to_string(),
        ReportKind::AccessMatrix => format!(
            "Every audited user (user types: {types}), active or not, with every Certinia permission set, \
             permission set group and package licence they hold, one row per user. Users holding none are \
             listed too."
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{
        DataWarning, Notes, Report, RosterRow, RosterUsed, RulesUsed, RunMeta, SourceFile, Summary, UserRow,
    };
    use chrono::TimeZone;

    pub(crate) const EVIL_LINK: &str = "=HYPERLINK(\"http://evil\",\"x\")";
    /// The sample audit's reports, in the order REPORTS.md lists them (the roster ones included).
    pub(crate) const SLUGS: [&str; 7] = [
        "inactive-users",
        "never-logged-in",
        "certinia-access-retained",
        "certinia-access-lacking",
        "not-provisioned",
        "unexpected-access",
        "access-matrix",
    ];
    pub(crate) const SCRIPT: &str = "<script>alert(1)</script>";
    /// Raw control characters: NUL, ESC (starting a colour sequence), BEL, DEL and a C1 control.
    pub(crate) const CONTROLS: &str = "nul\0 esc\u{1b}[31m bel\u{7} del\u{7f} csi\u{9b}";
    /// [`CONTROLS`] as every format shows it (README, "Control characters").
    pub(crate) const CONTROLS_SHOWN: &str = "nul\u{2400} esc\u{241B}[31m bel\u{2407} del\u{2421} csi\u{FFFD}";

    /// The hostile strings the tests push through every format.
    pub(crate) fn hostile() -> Vec<String> {
        vec![
            EVIL_LINK.to_string(),
            "+SUM(1)".to_string(),
            "-2+3".to_string(),
            "@cmd".to_string(),
            "\tTab".to_string(),
            "\rCR".to_string(),
            SCRIPT.to_string(),
            "\"quoted\" & 'apos'".to_string(),
            "line one\nline two".to_string(),
            "\u{202E}evil RTL \u{1F600} emoji".to_string(),
            "<img src=x onerror=alert(1)>".to_string(),
            "_x0041_ stays as typed".to_string(),
            "x".repeat(5000),
            CONTROLS.to_string(),
        ]
    }

    pub(crate) fn t(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 20, 30).unwrap()
    }

    pub(crate) fn user(n: usize) -> UserRow {
        let as_of = t(2024, 6, 30, 12);
        UserRow {
            id: format!("005000000000{n:03}AAA"),
            username: format!("user{n}@example.com"),
            name: Some(format!("User {n}")),
            email: Some(format!("user{n}@example.com")),
            user_type: "Standard".to_string(),
            profile: Some("Standard User".to_string()),
            user_license: Some("Salesforce".to_string()),
            role: None,
            department: Some("Finance".to_string()),
            title: None,
            federation_id: None,
            account_class: crate::model::AccountClass::Human,
            manager_id: Some("005000000000900AAA".to_string()),
            manager_name: Some("Maria Manager".to_string()),
            manager_email: Some("maria@example.com".to_string()),
            is_active: true,
            is_frozen: false,
            created: t(2023, 1, 10, 9),
            last_login: Some(as_of - Duration::days(10)),
            days_since_login: Some(10),
            days_since_created: Some(537),
            in_grace_period: false,
            certinia_permission_sets: vec![],
            certinia_groups: vec![],
            certinia_licenses: vec![],
            certinia_permission_set_licenses: vec![],
            permission_controls: vec![],
            user_companies: vec![],
            active_resource: false,
            expected_by: vec![],
            data_warnings: vec![],
            certinia_assignment_ids: vec![],
            certinia_license_ids: vec![],
            login_ids: vec![format!("060000000000{n:03}AAA")],
            change: None,
        }
    }

    /// A small audit whose texts try every trick against CSV, HTML and XLSX.
    pub(crate) fn sample_audit() -> Audit {
        let as_of = t(2024, 6, 30, 12);
        let evil = hostile();

        // One active user per hostile text, in the profile, name and title.
        let mut matrix: Vec<UserRow> = evil
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut u = user(i);
                u.name = Some(s.clone());
                u.title = Some(s.clone());
                u.profile = Some(if i % 3 == 0 { SCRIPT.to_string() } else { format!("Profile {}", i % 4) });
                u.last_login = Some(as_of - Duration::days(40 * i as i64));
                u.days_since_login = Some(40 * i as i64);
                u
            })
            .collect();
        // Never logged in, one inside the grace period.
        let mut never = user(50);
        never.last_login = None;
        never.days_since_login = None;
        never.created = as_of - Duration::days(3);
        never.days_since_created = Some(3);
        never.in_grace_period = true;
        never.department = Some("-3".to_string());
        let mut never_old = user(51);
        never_old.last_login = None;
        never_old.days_since_login = None;
        // Deactivated, still holding Certinia access.
        let mut gone = user(52);
        gone.is_active = false;
        gone.certinia_permission_sets = vec!["PSA Resource [pse__Resource]".to_string(), EVIL_LINK.to_string()];
        gone.certinia_groups = vec!["FF Accounting".to_string()];
        gone.certinia_licenses = vec!["pse".to_string(), "c2g".to_string()];
        gone.last_login = Some(as_of - Duration::days(400));
        gone.days_since_login = Some(400);
        // Frozen and holding a licence, but no grant.
        let mut frozen = user(53);
        frozen.is_frozen = true;
        frozen.certinia_licenses = vec!["c2g".to_string()];
        frozen.expected_by = vec!["licence".to_string()];
        // A login after the as-of instant: no day count, a data warning, and inactive by rule.
        let mut future = user(54);
        future.last_login = Some(as_of + Duration::days(3));
        future.days_since_login = None;
        future.certinia_permission_sets = vec!["Certinia Admin".to_string()];
        let future_warning = DataWarning {
            object: "User".to_string(),
            id: future.id.clone(),
            field: "LastLoginDate".to_string(),
            detail: "2024-07-03T12:20:30Z is after the as-of instant 2024-06-30T12:20:30Z".to_string(),
        };
        future.data_warnings = vec![future_warning.clone()];
        matrix.extend([never.clone(), never_old.clone(), gone.clone(), frozen.clone(), future.clone()]);

        let inactive: Vec<UserRow> = matrix
            .iter()
            .filter(|u| u.is_active && u.last_login.is_some_and(|t| t < as_of - Duration::days(90) || t > as_of))
            .cloned()
            .collect();
        let roster = vec![RosterRow {
            line: 2,
            federation_id: EVIL_LINK.to_string(),
            username: "@cmd".to_string(),
            email: SCRIPT.to_string(),
            matched_by: Some("email".to_string()),
            matched_user_ids: vec![gone.id.clone()],
            reason: "matched user is deactivated".to_string(),
            change: None,
        }];
        Audit {
            meta: RunMeta {
                run_id: "0123456789abcdef".to_string(),
                tool_version: "0.1.0".to_string(),
                org_id: "00D000000000001EAA".to_string(),
                org_name: Some(format!("Acme {SCRIPT} & \"Co\"")),
                instance_url: "https://acme.my.salesforce.com".to_string(),
                is_sandbox: false,
                api_version: "v62.0".to_string(),
                pulled_at: "2024-06-30T11:00:00Z".to_string(),
                as_of,
                rules: RulesUsed {
                    inactive_days: 90,
                    grace_days: 14,
                    user_types: vec!["Standard".to_string()],
                    namespaces: vec!["pse".to_string(), "c2g".to_string()],
                    name_patterns: vec![r"(?i)(^|[^a-z0-9])(psa|ffa)([^a-z0-9]|$)".to_string()],
                    roster: Some(RosterUsed {
                        file: "roster <b>.csv".to_string(),
                        sha256: "ab".repeat(32),
                        entries: 3,
                    }),
                    exclusions: None,
                    excluded_classes: vec![],
                    seat_costs: Default::default(),
                },
                manifest_sha256: "cd".repeat(32),
                sources: vec![SourceFile {
                    object: "User".to_string(),
                    file: "User.ndjson".to_string(),
                    soql: "SELECT Id, Username FROM User".to_string(),
                    rows: matrix.len() as u64,
                    sha256: "ef".repeat(32),
                }],
                previous: None,
                split_by_manager: false,
            },
            summary: Summary {
                users_in_org: 20,
                audited_users: matrix.len() as u64,
                active: 15,
                frozen: 1,
                deactivated: 1,
                with_certinia_grant: 2,
                with_certinia_license: 2,
            },
            reports: vec![
                Report::new(ReportKind::InactiveUsers, Rows::Users(inactive)),
                Report::new(ReportKind::NeverLoggedIn, Rows::Users(vec![never, never_old])),
                Report::new(ReportKind::CertiniaAccessRetained, Rows::Users(vec![gone])),
                Report::new(ReportKind::CertiniaAccessLacking, Rows::Users(vec![frozen])),
                Report::new(ReportKind::NotProvisioned, Rows::Roster(roster)),
                Report::new(ReportKind::UnexpectedAccess, Rows::Users(vec![])),
                Report::new(ReportKind::AccessMatrix, Rows::Users(matrix)),
            ],
            notes: Notes {
                run: vec![format!("1 date is after the as-of instant {SCRIPT}"), format!("a note with {CONTROLS}")],
                data_warnings: vec![future_warning],
            },
            changes: None,
            exclusions: None,
            apps: Vec::new(),
            seats: sample_seats(),
        }
    }

    /// Two licences: a Certinia package licence whose used count differs from its assignments,
    /// and a permission set licence named with hostile text.
    pub(crate) fn sample_seats() -> crate::model::Seats {
        use crate::model::{SeatKind, SeatRow, Seats};
        let pse = SeatRow {
            id: "050000000000001AAA".to_string(),
            kind: SeatKind::PackageLicense,
            name: "pse".to_string(),
            developer_name: None,
            certinia: true,
            allowed: Some(10),
            used: Some(7),
            assigned: 6,
            expiration: chrono::NaiveDate::from_ymd_opt(2025, 3, 31),
            status: Some("Active".to_string()),
            deactivated: 2,
            frozen: 1,
            inactive: 1,
            never_logged_in: 0,
            reclaimable: 3,
            seat_cost: Some(1200.0),
        };
        let other = SeatRow {
            id: "0PL000000000001AAA".to_string(),
            kind: SeatKind::PermissionSetLicense,
            name: format!("=HYPERLINK(\"x\") {SCRIPT}"),
            developer_name: Some("Other_PSL".to_string()),
            certinia: false,
            allowed: Some(-1),
            used: Some(1),
            assigned: 1,
            expiration: None,
            status: Some("Active".to_string()),
            seat_cost: None,
            ..pse.clone()
        };
        Seats { rows: vec![pse, other], with_costs: true }
    }

    /// Every file `render_all` hands on, by name.
    fn rendered(audit: &Audit) -> Vec<RenderedFile> {
        let mut files = Vec::new();
        let names = render_all(audit, |f| {
            files.push(f);
            Ok::<(), RenderError>(())
        })
        .unwrap();
        assert_eq!(names, files.iter().map(|f| f.name.clone()).collect::<Vec<_>>());
        files
    }

    #[test]
    fn render_all_hands_on_every_format_once() {
        let files = rendered(&sample_audit());
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        let csvs: Vec<String> = SLUGS.iter().map(|s| format!("{s}.csv")).collect();
        assert_eq!(names[..7], csvs);
        assert_eq!(
            names[7..],
            ["seats.csv", "access-review.xlsx", "report.html", "email.html", "email.txt", "summary.json"]
        );
        assert!(files.iter().all(|f| !f.bytes.is_empty()));
        // Each is what its own format says it is.
        let by_name = |n: &str| &files.iter().find(|f| f.name == n).unwrap().bytes;
        assert!(by_name("access-review.xlsx").starts_with(b"PK\x03\x04"), "a zip container");
        assert!(by_name("report.html").starts_with(b"<!DOCTYPE html>"));
        serde_json::from_slice::<serde_json::Value>(by_name("summary.json")).unwrap();
    }

    #[test]
    fn a_failing_writer_stops_the_rendering() {
        let mut calls = 0;
        let result = render_all(&sample_audit(), |_| {
            calls += 1;
            Err(RenderError::Json { file: "x".into(), source: serde::de::Error::custom("disk full") })
        });
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn roster_reports_are_left_out_when_absent() {
        let mut audit = sample_audit();
        audit.reports.retain(|r| !matches!(r.kind, ReportKind::NotProvisioned | ReportKind::UnexpectedAccess));
        let files = rendered(&audit);
        assert!(!files.iter().any(|f| f.name.starts_with("not-provisioned")));
        assert!(!files.iter().any(|f| f.name.starts_with("unexpected-access")));
    }

    #[test]
    fn explanations_carry_the_thresholds() {
        let audit = sample_audit();
        let inactive = explanation(ReportKind::InactiveUsers, &audit);
        assert!(inactive.contains("90 days"), "{inactive}");
        assert!(inactive.contains("2024-04-01T12:20:30Z"), "{inactive}");
        assert!(explanation(ReportKind::NeverLoggedIn, &audit).contains("14 days"));
        assert!(inactive.contains("LastLoginDate after the as-of date is not a recent login"), "{inactive}");
        assert!(explanation(ReportKind::CertiniaAccessLacking, &audit).contains("roster lists them"));
    }
}
