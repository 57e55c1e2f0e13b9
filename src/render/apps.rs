//! What every format says about the other applications' reports: titles, anchors, sheet names,
//! and the plain sentences of what each report means, exactly who is in it, and what to do.
//!
//! Takes an [`AppAudit`] (and the run's rules, for the population named in the orphans rule) and
//! hands on text, so that `report.html`, the email digest and the workbook say the same thing in
//! the same words. The rules are REPORTS.md's "Other applications over SCIM 2.0".

use crate::model::Audit;
use crate::model::apps::{AppAudit, AppColumn, AppReportKind, CrosscheckColumn};

/// `stensul (Stensul)`: the application's name and the service provider it is.
pub fn app_title(app: &AppAudit) -> String {
    let provider = match app.dialect.as_str() {
        "stensul" => "Stensul",
        "salesforce" => "Salesforce's own SCIM endpoint",
        _ => "SCIM 2.0",
    };
    format!("{} ({provider})", app.name)
}

/// `stensul: App orphans`.
pub fn report_title(app: &AppAudit, kind: AppReportKind) -> String {
    format!("{}: {}", app.name, kind.title())
}

/// `stensul-app-orphans`: the HTML anchor, and the CSV's stem.
pub fn anchor(app: &AppAudit, kind: AppReportKind) -> String {
    kind.csv_stem(&app.name)
}

/// The workbook sheet: `stensul orphans`.
pub fn sheet_name(app: &AppAudit, kind: AppReportKind) -> String {
    kind.sheet_name(&app.name)
}

pub const CROSSCHECK_TITLE: &str = "SCIM cross-check";
pub const CROSSCHECK_ANCHOR: &str = "scim-crosscheck";
pub const CROSSCHECK_SHEET: &str = "SCIM cross-check";

/// What a report means, in one sentence.
pub fn meaning(kind: AppReportKind, app: &AppAudit) -> String {
    let name = &app.name;
    match kind {
        AppReportKind::AppOrphans => format!(
            "Accounts that can still sign in to {name} although their person cannot use Salesforce: a leaver, \
             a frozen user, someone outside the audited population, or someone the org does not know."
        ),
        AppReportKind::AppAccessRetained => format!(
            "Disabled {name} accounts that still hold a group (a role in Stensul): enabling the account again \
             would give the access back at once."
        ),
        AppReportKind::AppUnexpectedAccess => {
            format!("Active {name} accounts with a group (a role in Stensul) that the roster does not list.")
        }
        AppReportKind::AppAccessMatrix => {
            format!("Every {name} account, active or not, with its groups and the Salesforce user it belongs to.")
        }
    }
}

/// Exactly who is in a report (REPORTS.md), with this run's population.
pub fn explanation(kind: AppReportKind, audit: &Audit) -> String {
    let types = &audit.meta.rules.user_types;
    let types = if types.is_empty() { "(none)".to_string() } else { types.join(", ") };
    const MATCHING: &str = "An account is matched to Salesforce users case-insensitively by its externalId against \
        FederationIdentifier, else its userName against Username, else its emails against Email; the first key \
        that finds any user decides (MatchedBy), and an email shared by several users matches them all.";
    match kind {
        AppReportKind::AppOrphans => format!(
            "Accounts with active = true whose matches include no active, unfrozen, audited Salesforce user \
             (audited user types: {types}). Reason is the first that applies to any match: frozen in Salesforce \
             (an active audited match that is frozen), deactivated in Salesforce (an audited match), outside the \
             audited population (any match), else no Salesforce user. {MATCHING}"
        ),
        AppReportKind::AppAccessRetained => "Accounts with active = false that are still a member of at least one \
             group: the groups the account lists, and the groups that list it as a member."
            .to_string(),
        AppReportKind::AppUnexpectedAccess => "Accounts with active = true and at least one group that no roster \
             entry matches: an entry matches when its federation_id is the account's externalId, its username the \
             account's userName, or its email one of the account's emails (case-insensitively; empty values never \
             match)."
            .to_string(),
        AppReportKind::AppAccessMatrix => {
            format!("Every account the application lists, active or not, with its groups and its matches. {MATCHING}")
        }
    }
}

/// What a reviewer does with a report's rows.
pub fn what_to_do(kind: AppReportKind) -> &'static str {
    match kind {
        AppReportKind::AppOrphans => {
            "disable the account in the application, or record why it must stay (Keep (justified)); \
             Investigate when the match looks wrong."
        }
        AppReportKind::AppAccessRetained => {
            "remove the disabled account from its groups (Disable account), or record why it keeps them."
        }
        AppReportKind::AppUnexpectedAccess => {
            "confirm with the application's owner that the person should have it; add them to the roster, or \
             disable the account."
        }
        AppReportKind::AppAccessMatrix => "certify the accounts and their groups; mark any that should go.",
    }
}

pub fn crosscheck_meaning() -> &'static str {
    "Users whose Certinia access or active state reads differently through Salesforce's SCIM endpoint than \
     through SOQL: two views of the same org that should agree."
}

pub fn crosscheck_explanation() -> &'static str {
    "For every audited user: the Certinia permission sets among its SCIM entitlements against the Certinia \
     permission sets SOQL found directly assigned (compared by permission set Id), and SCIM's active against \
     IsActive. Every user whose two sets differ, or whose active state differs, is listed, as are users only one \
     of the two APIs returns. Nothing is reconciled."
}

pub fn crosscheck_what_to_do() -> &'static str {
    "run again to rule out a change during the pull; a difference that stays needs an explanation from the org's \
     administrators (an assignment one API does not show is access nobody reviews)."
}

/// The columns `report.html` shows of an application report (the CSV and the workbook have all).
pub fn deciding_columns(kind: AppReportKind) -> Vec<AppColumn> {
    use AppColumn::*;
    let mut columns = vec![AccountId, UserName, DisplayName, Active, Groups, Username, IsActive, MatchedBy];
    if kind == AppReportKind::AppOrphans {
        columns.push(Reason);
    }
    columns
}

/// The columns `report.html` shows of the cross-check.
pub const CROSSCHECK_DECIDING: [CrosscheckColumn; 7] = [
    CrosscheckColumn::Username,
    CrosscheckColumn::Name,
    CrosscheckColumn::IsActive,
    CrosscheckColumn::ScimActive,
    CrosscheckColumn::OnlyInSoql,
    CrosscheckColumn::OnlyInScim,
    CrosscheckColumn::Differences,
];

/// A column's heading in `report.html` and the digest: which side a value comes from, in words.
pub fn heading(column: AppColumn) -> &'static str {
    match column {
        AppColumn::AccountId => "Account id",
        AppColumn::UserName => "Account userName",
        AppColumn::DisplayName => "Display name",
        AppColumn::Email => "Email",
        AppColumn::Active => "Active in the app",
        AppColumn::Groups => "Groups",
        AppColumn::Id => "Salesforce Id",
        AppColumn::Username => "Salesforce user",
        AppColumn::IsActive => "Active in Salesforce",
        AppColumn::MatchedBy => "Matched by",
        AppColumn::Reason => "Reason",
    }
}

pub fn crosscheck_heading(column: CrosscheckColumn) -> &'static str {
    match column {
        CrosscheckColumn::IsActive => "IsActive (SOQL)",
        CrosscheckColumn::ScimActive => "active (SCIM)",
        CrosscheckColumn::OnlyInSoql => "Only in SOQL",
        CrosscheckColumn::OnlyInScim => "Only in SCIM",
        other => other.header(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::apps::{AppAccountRow, AppReport, CrosscheckRow, MatchedUser};
    use crate::render::tests::{CONTROLS, CONTROLS_SHOWN, EVIL_LINK, SCRIPT, hostile, sample_audit};
    use crate::render::{Renderer, csv, dom, email, html, json};

    fn account(n: usize, text: &str, active: bool) -> AppAccountRow {
        AppAccountRow {
            account_id: format!("st-{n:03}"),
            user_name: format!("{text}{n}"),
            display_name: Some(text.to_string()),
            email: Some(text.to_string()),
            active,
            groups: vec![text.to_string(), "Admin".to_string()],
            matches: vec![MatchedUser {
                id: format!("005000000000{n:03}AAA"),
                username: text.to_string(),
                is_active: false,
            }],
            matched_by: Some("emails".to_string()),
            reason: Some("deactivated in Salesforce".to_string()),
        }
    }

    /// The sample audit with one Stensul application and one Salesforce-dialect application, every
    /// text of theirs hostile, `n` accounts in each report.
    pub(crate) fn with_apps(n: usize, text: &str) -> Audit {
        let mut audit = sample_audit();
        let rows: Vec<AppAccountRow> = (0..n).map(|i| account(i, text, i % 2 == 0)).collect();
        let reports = AppReportKind::ALL.iter().map(|kind| AppReport { kind: *kind, rows: rows.clone() }).collect();
        let crosscheck = (0..n)
            .map(|i| CrosscheckRow {
                id: format!("005000000000{i:03}AAA"),
                username: text.to_string(),
                name: Some(text.to_string()),
                is_active: Some(true),
                scim_active: Some(false),
                soql_permission_sets: vec![text.to_string()],
                scim_permission_sets: vec![],
                differences: vec!["active".to_string(), "permission sets".to_string()],
            })
            .collect();
        for (name, dialect, check) in [("stensul", "stensul", None), ("sf", "salesforce", Some(crosscheck))] {
            audit.apps.push(AppAudit {
                name: name.to_string(),
                dialect: dialect.to_string(),
                base_url: format!("https://{name}.example/scim/v2"),
                accounts: n as u64,
                groups: 2,
                reports: Vec::clone(&reports),
                crosscheck: check,
                notes: vec![format!("{name}: a note with {text}")],
            });
        }
        audit
    }

    #[test]
    fn csv_files_per_application_never_hold_a_formula() {
        let audit = with_apps(3, EVIL_LINK);
        let files = csv::CsvRenderer.render(&audit).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        for expected in [
            "stensul-app-orphans.csv",
            "stensul-app-access-retained.csv",
            "stensul-app-unexpected-access.csv",
            "stensul-app-access-matrix.csv",
            "sf-app-orphans.csv",
            "scim-crosscheck.csv",
        ] {
            assert!(names.contains(&expected), "{expected}: {names:?}");
        }
        let orphans = &files.iter().find(|f| f.name == "stensul-app-orphans.csv").unwrap().bytes;
        let text = String::from_utf8(orphans.clone()).unwrap();
        assert!(text.starts_with(
            "AccountId,AccountUserName,DisplayName,Email,Active,Groups,Id,Username,IsActive,MatchedBy,Reason\r\n"
        ));
        let mut reader = ::csv::Reader::from_reader(orphans.as_slice());
        for record in reader.records() {
            for field in record.unwrap().iter() {
                assert!(!field.starts_with(['=', '+', '-', '@']), "{field}");
            }
        }
        let cross = &files.iter().find(|f| f.name == "scim-crosscheck.csv").unwrap().bytes;
        assert!(String::from_utf8_lossy(cross).contains("'=HYPERLINK"), "neutralised");
    }

    #[test]
    fn html_sections_per_application_escape_every_text() {
        for text in hostile() {
            let audit = with_apps(2, &text);
            let page = html::render_string(&audit).unwrap();
            let doc = dom::parse(&page).unwrap();
            assert!(doc.all("script").is_empty(), "no script from {text:?}");
            for id in
                ["app-stensul", "stensul-app-orphans", "stensul-app-access-matrix", "sf-app-orphans", CROSSCHECK_ANCHOR]
            {
                assert!(doc.by_id(id).is_some(), "{id} for {text:?}");
            }
        }
        let page = html::render_string(&with_apps(1, CONTROLS)).unwrap();
        assert!(page.contains(CONTROLS_SHOWN), "control characters made visible");
        assert!(!page.contains(SCRIPT));
    }

    #[test]
    fn the_digest_stays_bounded_with_applications() {
        for text in ["\"'<>&".repeat(1000), "x".repeat(5000), "Ann Lee".to_string()] {
            let mut audit = with_apps(400, &text);
            // More applications than the digest details.
            for i in 0..email::MAX_APPS {
                let mut extra = audit.apps[0].clone();
                extra.name = format!("app{i}");
                audit.apps.push(extra);
            }
            let (page, plain) = email::render_strings(&audit).unwrap();
            assert!(page.len() <= email::MAX_HTML_BYTES, "{} bytes", page.len());
            dom::parse(&page).unwrap();
            assert!(plain.contains("2 more applications: see report.html"), "{plain}");
            assert!(plain.contains("stensul: App orphans"), "{plain}");
            assert!(plain.contains("SCIM cross-check"), "{plain}");
        }
    }

    #[test]
    fn summary_json_counts_each_applications_reports_and_findings() {
        let audit = with_apps(3, "Ann");
        let mut bytes = Vec::new();
        json::write_summary(&audit, &mut bytes).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let apps = doc["apps"].as_array().unwrap();
        assert_eq!(apps[0]["name"], "stensul");
        assert_eq!(apps[0]["reports"]["app-orphans"], 3);
        assert_eq!(apps[0]["findings"], 9, "three finding reports of three");
        assert_eq!(apps[1]["scim_crosscheck"], 3);
        assert_eq!(apps[1]["findings"], 12, "the cross-check counts");
        assert_eq!(doc["findings"], audit.findings());
        let plain: serde_json::Value = {
            let mut b = Vec::new();
            json::write_summary(&sample_audit(), &mut b).unwrap();
            serde_json::from_slice(&b).unwrap()
        };
        assert!(plain.get("apps").is_none(), "no key without applications");
    }

    #[test]
    fn sheet_names_fit_excel() {
        let mut audit = with_apps(1, "x");
        audit.apps[0].name = "a".repeat(crate::config::apps::MAX_NAME);
        for kind in AppReportKind::ALL {
            assert!(sheet_name(&audit.apps[0], kind).chars().count() <= 31, "{kind:?}");
        }
    }
}
