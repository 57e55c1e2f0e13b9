//! `email.html` and `email.txt`: the digest that is the body of the email, sized for an inbox.
//!
//! Takes the finished [`Audit`] and hands on two files for the report folder, which the mail
//! stage ([`crate::deliver::email`]) sends as the `multipart/alternative` body (plain text first, then
//! HTML). `report.html` is a page for a browser; this is a message for a mail client, so:
//!
//! - **Bounded**: at most [`MAX_HTML_BYTES`] (100 KB, under Gmail's clipping at about 102 KB) for
//!   any org. Each finding report shows its first [`ROWS_PER_REPORT`] rows, each field clipped
//!   to a fixed number of characters, and stops earlier when the report's share of
//!   [`ROWS_BUDGET`] is spent. A row's cost is counted exactly as it will be written (its text
//!   after HTML escaping, [`html_len`], plus [`ROW_MARKUP_MAX`], the most markup a row carries,
//!   which a test measures), and the fixed part is bounded by clipping every org text in it,
//!   so the bound holds by construction, whatever the org holds. "and N more: see the
//!   workbook" says what was cut.
//! - **Only what decides**: per finding report, the count, one sentence on what it means
//!   ([`super::meaning`]) and one on what to do ([`super::what_to_do`]), and per user the
//!   deciding columns ([`super::deciding_columns`], picked by name, so a column the model gains
//!   later shows up), the name linked to the user's page in the org.
//! - **Renders in mail clients**: table layout with inline styles, no script, no SVG, no image,
//!   no external URL (the only links are the org's own user pages); bars are table cells. The
//!   `<style>` block only adds dark mode (`prefers-color-scheme`) and narrow screens, for the
//!   clients that keep it; the inline styles are the light defaults for those that strip it.
//! - **Grace-period users** are listed with a badge and never counted (REPORTS.md).
//! - **Other applications** read over SCIM show their counts and their finding reports (and the
//!   SCIM cross-check) like the org's, sharing the same row budget; beyond [`MAX_APPS`]
//!   applications, one line says how many more `report.html` has.
//!
//! Where the full report is cannot be known here (the same audit gives the same bytes wherever
//! it is written), so the digest says [`LOCATION_PLACEHOLDER`], which the mail stage replaces
//! with the folder's path when it sends ([`with_location`]); likewise [`ATTACHMENTS_ALL`].

use serde::Serialize;

use super::{RenderError, RenderedFile, Renderer, apps, clip, deciding_columns, each_row, meaning, what_to_do};
use crate::model::apps::{AppAccountRow, AppAudit, AppReportKind, CrosscheckColumn, CrosscheckRow};
use crate::model::{Audit, Cell, Column, Report, ReportKind};
use crate::text::visible;

pub const HTML_FILE: &str = "email.html";
pub const TEXT_FILE: &str = "email.txt";
/// The most `email.html` may hold: Gmail clips a message body at about 102 KB.
pub const MAX_HTML_BYTES: usize = 100 * 1024;
/// Rows shown per finding report.
pub const ROWS_PER_REPORT: usize = 25;
/// Other applications detailed in the digest (their counts and finding reports).
pub const MAX_APPS: usize = 4;
/// Bytes of rows, shared equally by the finding reports present.
pub const ROWS_BUDGET: usize = 76 * 1024;
/// The most markup one row of the HTML carries around its text (badge, link and every line
/// present); `a_rows_markup_is_within_its_bound` measures it from the template.
pub const ROW_MARKUP_MAX: usize = 360;
/// What the digest says where the report folder's path goes, until the mail stage knows it.
pub const LOCATION_PLACEHOLDER: &str = "the folder this digest was written into (report.html, the CSVs, the workbook)";
/// What the digest says is attached, until the mail stage decides otherwise.
pub const ATTACHMENTS_ALL: &str =
    "Attached: the workbook (access-review.xlsx), and every report as CSV in one zip (reports-csv.zip).";

/// Characters kept of each text in a row, and of the org's texts in the fixed part.
const NAME_CHARS: usize = 60;
const USERNAME_CHARS: usize = 80;
const LINE_CHARS: usize = 180;
const GRANTS_CHARS: usize = 220;
const BADGE_CHARS: usize = 24;
const ORG_CHARS: usize = 80;
const NOTE_CHARS: usize = 200;
const MAX_NOTES: usize = 3;

const HTML_TEMPLATE: &str = include_str!("../../templates/email.html");
const TEXT_TEMPLATE: &str = include_str!("../../templates/email.txt");

/// Writes `email.html` and `email.txt`.
pub struct EmailRenderer;

impl Renderer for EmailRenderer {
    fn name(&self) -> &'static str {
        "email"
    }

    fn render(&self, audit: &Audit) -> Result<Vec<RenderedFile>, RenderError> {
        let (html, text) = render_strings(audit)?;
        Ok(vec![
            RenderedFile { name: HTML_FILE.to_string(), bytes: html.into_bytes() },
            RenderedFile { name: TEXT_FILE.to_string(), bytes: text.into_bytes() },
        ])
    }
}

/// The digest as HTML and as plain text.
pub fn render_strings(audit: &Audit) -> Result<(String, String), RenderError> {
    fn template_error(file: &'static str) -> impl Fn(tera::Error) -> RenderError {
        move |source| RenderError::Template { file: file.to_string(), source }
    }
    let mut tera = tera::Tera::new();
    tera.add_raw_templates([(HTML_FILE, HTML_TEMPLATE), (TEXT_FILE, TEXT_TEMPLATE)])
        .map_err(template_error(HTML_FILE))?;
    let context = tera::Context::from_serialize(&Digest::new(audit)).map_err(template_error(HTML_FILE))?;
    let html = tera.render(HTML_FILE, &context).map_err(template_error(HTML_FILE))?;
    let text = tera.render(TEXT_FILE, &context).map_err(template_error(TEXT_FILE))?;
    Ok((html, text))
}

/// The digest with the report folder's place (and what is attached) filled in, as sent.
/// `escape` says whether the text goes into HTML.
pub fn with_location(digest: &str, location: &str, attachments: &str, html: bool) -> String {
    let (location, attachments) = if html {
        (escape_html(location), escape_html(attachments))
    } else {
        (location.to_string(), attachments.to_string())
    };
    let escaped_placeholder = if html { escape_html(LOCATION_PLACEHOLDER) } else { LOCATION_PLACEHOLDER.to_string() };
    let escaped_all = if html { escape_html(ATTACHMENTS_ALL) } else { ATTACHMENTS_ALL.to_string() };
    digest.replacen(&escaped_placeholder, &location, 1).replacen(&escaped_all, &attachments, 1)
}

/// HTML escaping as the templates do it (tera's rules).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The bytes `text` takes in the HTML once escaped (exactly what tera writes).
pub fn html_len(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '&' | '\'' => 5,
            '<' | '>' => 4,
            '"' => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// Everything the templates show, prepared as plain strings.
#[derive(Serialize)]
struct Digest {
    org_name: String,
    org_id: String,
    environment: &'static str,
    as_of: String,
    findings: String,
    findings_n: usize,
    findings_word: &'static str,
    grace_listed: usize,
    grace_word: &'static str,
    overview: Vec<Overview>,
    sections: Vec<Section>,
    location: &'static str,
    attachments: &'static str,
    notes: Vec<String>,
    manifest_sha256: String,
    tool_version: String,
}

/// One line of the counts table.
#[derive(Serialize)]
struct Overview {
    title: String,
    count: String,
    count_n: usize,
    finding: bool,
    /// The bar's length in percent of the largest finding count (table cells, not an image).
    bar: u32,
    /// For the inventory: what the count counts.
    note: &'static str,
}

#[derive(Serialize)]
struct Section {
    title: String,
    sheet: String,
    findings: String,
    /// Rows listed that are not findings, in words (never-logged-in users in the grace period).
    extra: String,
    findings_n: usize,
    rows_total: usize,
    meaning: String,
    action: &'static str,
    rows: Vec<Row>,
    more: usize,
    more_text: String,
}

/// One user (or roster entry), as a few lines of text.
#[derive(Serialize, Default)]
struct Row {
    badge: Option<String>,
    name: String,
    url: Option<String>,
    username: Option<String>,
    line: Option<String>,
    grants: Option<String>,
}

impl Row {
    /// The bytes this row takes in the HTML: its escaped text plus at most [`ROW_MARKUP_MAX`].
    fn cost(&self) -> usize {
        let texts = [&self.badge, &self.url, &self.username, &self.line, &self.grants];
        ROW_MARKUP_MAX + html_len(&self.name) + texts.iter().filter_map(|t| t.as_deref()).map(html_len).sum::<usize>()
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

impl Digest {
    fn new(audit: &Audit) -> Digest {
        let meta = &audit.meta;
        let shown_apps: Vec<&AppAudit> = audit.apps.iter().take(MAX_APPS).collect();
        let app_finding_reports: usize = shown_apps.iter().map(|a| app_finding_sections(a)).sum();
        let finding_reports =
            (audit.reports.iter().filter(|r| r.kind.is_finding()).count() + app_finding_reports).max(1);
        let budget = ROWS_BUDGET / finding_reports;
        // Each line: title, count, whether it is a finding, and what an inventory counts.
        let mut lines: Vec<(String, usize, bool, &'static str)> = audit
            .reports
            .iter()
            .map(|r| {
                let finding = r.kind.is_finding();
                (
                    r.kind.title().to_string(),
                    if finding { r.findings() } else { r.rows.len() },
                    finding,
                    "users, inventory",
                )
            })
            .collect();
        for app in &shown_apps {
            let title = |t: String| clip(&visible(&t), TITLE_CHARS);
            for r in &app.reports {
                lines.push((
                    title(apps::report_title(app, r.kind)),
                    r.rows.len(),
                    r.kind.is_finding(),
                    "accounts, inventory",
                ));
            }
            if let Some(rows) = &app.crosscheck {
                lines.push((apps::CROSSCHECK_TITLE.to_string(), rows.len(), true, ""));
            }
        }
        let max = lines.iter().filter(|l| l.2).map(|l| l.1).max().unwrap_or(0);
        let overview = lines
            .into_iter()
            .map(|(title, count_n, finding, inventory)| {
                let bar = if !finding || count_n == 0 || max == 0 {
                    0
                } else {
                    ((count_n as f64 / max as f64) * 100.0).round().clamp(2.0, 100.0) as u32
                };
                Overview {
                    title,
                    count: super::html::thousands(count_n as u64),
                    count_n,
                    finding,
                    bar,
                    note: if finding { "" } else { inventory },
                }
            })
            .collect();
        let mut sections: Vec<Section> =
            audit.reports.iter().filter(|r| r.kind.is_finding()).map(|r| section(audit, r, budget)).collect();
        for app in &shown_apps {
            sections.extend(app_sections(audit, app, budget));
        }
        let findings_n = audit.findings();
        let grace_listed: usize = audit.reports.iter().map(Report::listed_not_findings).sum();
        let mut notes: Vec<String> =
            audit.notes.run.iter().take(MAX_NOTES).map(|n| clip(&visible(n), NOTE_CHARS)).collect();
        if audit.notes.run.len() > MAX_NOTES {
            notes.push(format!("{} more notes in summary.json", audit.notes.run.len() - MAX_NOTES));
        }
        if audit.apps.len() > MAX_APPS {
            notes.push(format!("{} more applications: see report.html", audit.apps.len() - MAX_APPS));
        }
        Digest {
            org_name: clip(&visible(meta.org_name.as_deref().unwrap_or("(unnamed org)")), ORG_CHARS),
            org_id: clip(&visible(&meta.org_id), ORG_CHARS),
            environment: if meta.is_sandbox { "sandbox" } else { "production" },
            as_of: meta.as_of.format("%Y-%m-%d %H:%M UTC").to_string(),
            findings: super::html::thousands(findings_n as u64),
            findings_n,
            findings_word: plural(findings_n, "finding", "findings"),
            grace_listed,
            grace_word: plural(grace_listed, "user is", "users are"),
            overview,
            sections,
            location: LOCATION_PLACEHOLDER,
            attachments: ATTACHMENTS_ALL,
            notes,
            manifest_sha256: clip(&meta.manifest_sha256, 64),
            tool_version: clip(&meta.tool_version, 32),
        }
    }
}

fn section(audit: &Audit, report: &Report, budget: usize) -> Section {
    let kind = report.kind;
    let deciding = deciding_columns(report);
    // The Id comes along for the link to the user's page.
    let mut columns = Vec::with_capacity(deciding.len() + 1);
    if let Some(id) = kind.columns().iter().find(|c| **c == Column::Id) {
        columns.push(*id);
    }
    columns.extend(&deciding);
    let mut rows = Vec::new();
    let mut spent = 0;
    let _ = each_row(&report.rows, &columns, |cells| {
        if rows.len() == ROWS_PER_REPORT {
            return Err(());
        }
        let row = row(audit, kind, &columns, cells);
        spent += row.cost();
        if spent > budget {
            return Err(());
        }
        rows.push(row);
        Ok(())
    });
    let findings_n = report.findings();
    let listed = report.listed_not_findings();
    let findings = super::html::thousands(findings_n as u64);
    let extra = if listed > 0 { format!("and {listed} in the grace period, not counted") } else { String::new() };
    let more = report.rows.len() - rows.len();
    Section {
        title: kind.title().to_string(),
        sheet: kind.sheet_name().to_string(),
        findings,
        extra,
        findings_n,
        rows_total: report.rows.len(),
        meaning: meaning(kind, audit),
        action: what_to_do(kind),
        rows,
        more,
        more_text: super::html::thousands(more as u64),
    }
}

/// Characters kept of a title that holds an application's name.
const TITLE_CHARS: usize = 60;

/// How many sections an application adds: its finding reports, and the SCIM cross-check.
fn app_finding_sections(app: &AppAudit) -> usize {
    app.reports.iter().filter(|r| r.kind.is_finding()).count() + usize::from(app.crosscheck.is_some())
}

/// Rows taken in order until [`ROWS_PER_REPORT`] or the byte `budget` is reached; and how many
/// of `total` were left out.
fn take_rows(rows: impl Iterator<Item = Row>, total: usize, budget: usize) -> (Vec<Row>, usize) {
    let mut taken = Vec::new();
    let mut spent = 0;
    for row in rows.take(ROWS_PER_REPORT) {
        spent += row.cost();
        if spent > budget {
            break;
        }
        taken.push(row);
    }
    let more = total - taken.len();
    (taken, more)
}

/// An application's finding reports and its SCIM cross-check, as digest sections.
fn app_sections(audit: &Audit, app: &AppAudit, budget: usize) -> Vec<Section> {
    let title = |t: String| clip(&visible(&t), TITLE_CHARS);
    let mut sections = Vec::new();
    for report in app.reports.iter().filter(|r| r.kind.is_finding()) {
        let total = report.rows.len();
        let (rows, more) = take_rows(report.rows.iter().map(|r| app_row(audit, report.kind, r)), total, budget);
        sections.push(Section {
            title: title(apps::report_title(app, report.kind)),
            sheet: apps::sheet_name(app, report.kind),
            findings: super::html::thousands(total as u64),
            extra: String::new(),
            findings_n: total,
            rows_total: total,
            meaning: clip(&visible(&apps::meaning(report.kind, app)), LINE_CHARS * 2),
            action: apps::what_to_do(report.kind),
            rows,
            more,
            more_text: super::html::thousands(more as u64),
        });
    }
    if let Some(crosscheck) = &app.crosscheck {
        let total = crosscheck.len();
        let (rows, more) = take_rows(crosscheck.iter().map(|r| crosscheck_row(audit, r)), total, budget);
        sections.push(Section {
            title: apps::CROSSCHECK_TITLE.to_string(),
            sheet: apps::CROSSCHECK_SHEET.to_string(),
            findings: super::html::thousands(total as u64),
            extra: String::new(),
            findings_n: total,
            rows_total: total,
            meaning: apps::crosscheck_meaning().to_string(),
            action: apps::crosscheck_what_to_do(),
            rows,
            more,
            more_text: super::html::thousands(more as u64),
        });
    }
    sections
}

/// One account of an application, as a few lines of text.
fn app_row(audit: &Audit, kind: AppReportKind, account: &AppAccountRow) -> Row {
    let mut row = Row::default();
    match &account.display_name {
        Some(name) => {
            row.name = clip(&visible(name), NAME_CHARS);
            row.username = Some(clip(&visible(&account.user_name), USERNAME_CHARS));
        }
        None => row.name = clip(&visible(&account.user_name), NAME_CHARS),
    }
    let mut line: Vec<String> = account.reason.iter().cloned().collect();
    if !account.active {
        line.push("disabled in the application".to_string());
    }
    match account.matches.as_slice() {
        [] if kind != AppReportKind::AppOrphans => line.push("no Salesforce user".to_string()),
        [] => {}
        [one] => {
            line.push(format!(
                "Salesforce: {} ({})",
                one.username,
                if one.is_active { "active" } else { "deactivated" }
            ));
            row.url = audit.meta.user_url(&one.id);
        }
        many => line.push(format!("matches {} Salesforce users", many.len())),
    }
    if !line.is_empty() {
        row.line = Some(clip(&visible(&line.join(" · ")), LINE_CHARS));
    }
    if !account.groups.is_empty() {
        row.grants = Some(clip(&visible(&format!("Groups: {}", account.groups.join("; "))), GRANTS_CHARS));
    }
    row
}

/// One user of the SCIM cross-check, as a few lines of text.
fn crosscheck_row(audit: &Audit, user: &CrosscheckRow) -> Row {
    let text = |c: CrosscheckColumn| match user.cell(c) {
        Cell::Empty => None,
        cell => Some(visible(&cell.to_plain()).into_owned()),
    };
    let mut row = Row {
        name: clip(&visible(user.name.as_deref().unwrap_or(&user.username)), NAME_CHARS),
        username: Some(clip(&visible(&user.username), USERNAME_CHARS)),
        url: audit.meta.user_url(&user.id),
        ..Row::default()
    };
    let mut line = vec![format!("differs: {}", user.differences.join(", "))];
    if user.differences.iter().any(|d| d == "active") {
        line.push(format!(
            "IsActive {} in SOQL, active {} in SCIM",
            text(CrosscheckColumn::IsActive).unwrap_or_default(),
            text(CrosscheckColumn::ScimActive).unwrap_or_default()
        ));
    }
    row.line = Some(clip(&line.join(" · "), LINE_CHARS));
    let sides: Vec<String> =
        [(CrosscheckColumn::OnlyInSoql, "Only in SOQL"), (CrosscheckColumn::OnlyInScim, "Only in SCIM")]
            .into_iter()
            .filter_map(|(c, label)| text(c).map(|v| format!("{label}: {v}")))
            .collect();
    if !sides.is_empty() {
        row.grants = Some(clip(&sides.join(" · "), GRANTS_CHARS));
    }
    row
}

/// `2026-11-20T09:00:00Z` → `2026-11-20`.
fn day(cell: &Cell) -> Option<String> {
    match cell {
        Cell::DateTime(t) => Some(t.format("%Y-%m-%d").to_string()),
        Cell::Empty => None,
        other => Some(other.to_plain()),
    }
}

fn days(cell: Option<&Cell>) -> String {
    match cell {
        Some(Cell::Integer(n)) => format!(" ({n} {} ago)", plural(*n as usize, "day", "days")),
        _ => String::new(),
    }
}

/// A row's text from its deciding cells, by column name.
fn row(audit: &Audit, kind: ReportKind, columns: &[Column], cells: &[Cell]) -> Row {
    let get = |name: &str| columns.iter().position(|c| c.header() == name).map(|i| &cells[i]);
    let text = |name: &str| get(name).map(Cell::to_plain).filter(|t| !t.is_empty()).map(|t| visible(&t).into_owned());
    let mut row = Row::default();
    let mut line: Vec<String> = Vec::new();
    if let Some(change) = text("Change") {
        row.badge = Some(clip(&change, BADGE_CHARS));
    }
    if kind.is_roster_entries() {
        let keys: Vec<String> = ["username", "email", "federation_id"].iter().filter_map(|k| text(k)).collect();
        row.name =
            clip(&if keys.is_empty() { "(empty roster entry)".to_string() } else { keys.join(" · ") }, NAME_CHARS);
        if let Some(reason) = text("Reason") {
            line.push(reason);
        }
    } else {
        let id = text("Id").unwrap_or_default();
        row.name = clip(&text("Name").unwrap_or_else(|| id.clone()), NAME_CHARS);
        row.url = audit.meta.user_url(&id);
        row.username = text("Username").map(|u| clip(&u, USERNAME_CHARS));
    }
    let mut grants: Vec<String> = Vec::new();
    for column in columns {
        let name = column.header();
        let Some(cell) = get(name) else { continue };
        match name {
            "Profile" => line.extend(text(name)),
            "Id" | "Name" | "Username" | "Change" | "Reason" | "federation_id" | "username" | "email" => {}
            "DaysSinceLogin" | "DaysSinceCreated" => {}
            "LastLoginDate" => match day(cell) {
                Some(d) => line.push(format!("last login {d}{}", days(get("DaysSinceLogin")))),
                None => line.push("never logged in".to_string()),
            },
            "CreatedDate" => {
                if let Some(d) = day(cell) {
                    line.push(format!("created {d}{}", days(get("DaysSinceCreated"))));
                }
            }
            "InGracePeriod" => {
                if *cell == Cell::Bool(true) {
                    if row.badge.is_none() {
                        row.badge = Some("grace period".to_string());
                    }
                    line.push("in the grace period: not a finding".to_string());
                }
            }
            "Status" => {
                if let Some(status) = text(name).filter(|s| s != "Active") {
                    line.push(status);
                }
            }
            "CertiniaAccess" => line.push(
                if *cell == Cell::Bool(true) { "holds Certinia access" } else { "no Certinia access" }.to_string(),
            ),
            "ExpectedBy" => {
                if let Some(by) = text(name) {
                    line.push(format!("expected by {by}"));
                }
            }
            "CertiniaPermissionSets"
            | "CertiniaPermissionSetGroups"
            | "CertiniaLicenses"
            | "CertiniaPermissionSetLicenses"
            | "PermissionControls"
            | "UserCompanies" => {
                if let Some(value) = text(name) {
                    let label = match name {
                        "CertiniaPermissionSets" => "Permission sets",
                        "CertiniaPermissionSetGroups" => "Groups",
                        "CertiniaLicenses" => "Licences",
                        "CertiniaPermissionSetLicenses" => "Permission set licences",
                        "PermissionControls" => "Permission controls",
                        _ => "Companies",
                    };
                    grants.push(format!("{label}: {value}"));
                }
            }
            "ActiveResource" => {
                if *cell == Cell::Bool(true) {
                    grants.push("Active PSA resource".to_string());
                }
            }
            _ => {
                if let Some(value) = text(name) {
                    line.push(format!("{name}: {value}"));
                }
            }
        }
    }
    if !line.is_empty() {
        row.line = Some(clip(&line.join(" · "), LINE_CHARS));
    }
    if !grants.is_empty() {
        row.grants = Some(clip(&grants.join(" · "), GRANTS_CHARS));
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Rows, UserRow};
    use crate::render::dom;
    use crate::render::tests::{SCRIPT, hostile, sample_audit, user};

    fn html(audit: &Audit) -> String {
        render_strings(audit).unwrap().0
    }

    fn set_rows(audit: &mut Audit, kind: ReportKind, users: Vec<UserRow>) {
        audit.reports.iter_mut().find(|r| r.kind == kind).unwrap().rows = Rows::Users(users);
    }

    /// An audit whose every finding report holds `n` users whose every text is `text`.
    fn flooded(text: &str, n: usize) -> Audit {
        let mut audit = sample_audit();
        audit.meta.org_name = Some(text.to_string());
        audit.notes.run = vec![text.to_string(); 10];
        let users: Vec<UserRow> = (0..n)
            .map(|i| {
                let mut u = user(i);
                u.name = Some(text.to_string());
                u.username = text.to_string();
                u.profile = Some(text.to_string());
                u.certinia_permission_sets = vec![text.to_string(); 3];
                u.certinia_groups = vec![text.to_string(); 3];
                u.certinia_licenses = vec![text.to_string(); 3];
                u.expected_by = vec![text.to_string()];
                u
            })
            .collect();
        for kind in ReportKind::ALL.into_iter().filter(|k| k.is_finding() && !k.is_roster_entries()) {
            set_rows(&mut audit, kind, users.clone());
        }
        audit
    }

    #[test]
    fn the_digest_stays_under_100_kb_whatever_the_org_holds() {
        for text in ["\"'<>&".repeat(1000), "\u{1F600}".repeat(5000), "x".repeat(5000), "Ann Lee".to_string()] {
            let page = html(&flooded(&text, 500));
            assert!(page.len() <= MAX_HTML_BYTES, "{} bytes with {:?}…", page.len(), &text[..8]);
            dom::parse(&page).unwrap();
        }
    }

    /// The markup one row of `kind` adds to the page around its text.
    fn row_markup(mut audit: Audit, kind: ReportKind, u: UserRow) -> usize {
        set_rows(&mut audit, kind, vec![u.clone()]);
        let one = html(&audit).len();
        set_rows(&mut audit, kind, vec![u.clone(), u]);
        let two = html(&audit).len();
        let text = section(&audit, audit.report(kind).unwrap(), ROWS_BUDGET).rows[0].cost() - ROW_MARKUP_MAX;
        two - one - text
    }

    #[test]
    fn a_rows_markup_is_within_its_bound() {
        // Rows with every optional part: a badge, a link, the username, a line of facts, the grants.
        let mut lacking = user(1);
        lacking.certinia_permission_sets = vec!["g".into()];
        lacking.is_frozen = true;
        lacking.expected_by = vec!["e".into()];
        let mut grace = user(2);
        grace.last_login = None;
        grace.in_grace_period = true;
        // The lacking row has everything but a badge (issue 9's `Change`); the grace row has one.
        let badge = "<span class=\"bd\" style=\"background:#eaeef2;border-radius:3px;padding:0 4px\"></span> ";
        let markup = row_markup(sample_audit(), ReportKind::CertiniaAccessLacking, lacking);
        assert!(markup + badge.len() <= ROW_MARKUP_MAX, "{markup} bytes of markup");
        let markup = row_markup(sample_audit(), ReportKind::NeverLoggedIn, grace);
        assert!(markup <= ROW_MARKUP_MAX, "{markup} bytes of markup");
    }

    #[test]
    fn only_mail_safe_markup_and_links_to_the_org() {
        let page = html(&sample_audit());
        let doc = dom::parse(&page).unwrap();
        for tag in ["script", "svg", "img", "iframe", "object", "embed", "link", "form", "video", "audio"] {
            assert!(doc.all(tag).is_empty(), "no <{tag}>");
        }
        for element in doc.descendants() {
            assert!(element.attr("src").is_none(), "<{}> loads something", element.tag);
            assert!(!element.attrs.keys().any(|a| a.starts_with("on")), "an event handler on <{}>", element.tag);
            if let Some(href) = element.attr("href") {
                assert!(href.starts_with("https://acme.my.salesforce.com/lightning/r/User/005"), "{href}");
                assert!(href.ends_with("/view"), "{href}");
            }
        }
        let css = doc.all("style")[0].text();
        assert!(!css.contains("url(") && !css.contains("@import"), "{css}");
        assert!(css.contains("prefers-color-scheme: dark"), "dark mode");
    }

    #[test]
    fn each_finding_report_has_its_count_sentences_and_first_rows() {
        let mut audit = sample_audit();
        let many: Vec<UserRow> = (0..40).map(user).collect();
        set_rows(&mut audit, ReportKind::CertiniaAccessRetained, many);
        let doc = dom::parse(&html(&audit)).unwrap();
        let text = doc.words();
        for report in audit.reports.iter().filter(|r| r.kind.is_finding()) {
            let kind = report.kind;
            assert!(text.contains(&crate::render::meaning(kind, &audit)), "{kind:?}");
            // What to do, where there is something to do.
            assert_eq!(text.contains(crate::render::what_to_do(kind)), !report.rows.is_empty(), "{kind:?}");
        }
        assert!(text.contains("and 15 more: see the workbook, sheet “Certinia retained”"), "{text}");
        // The first 25 in the report's order, each linked to its page.
        let links: Vec<&str> = doc.all("a").iter().filter_map(|a| a.attr("href")).collect();
        for n in 0..25 {
            let url = format!("https://acme.my.salesforce.com/lightning/r/User/005000000000{n:03}AAA/view");
            assert!(links.contains(&url.as_str()), "{url}");
        }
        assert!(!links.iter().any(|l| l.contains("005000000000025AAA")), "the 26th is cut");
    }

    #[test]
    fn grace_period_users_are_listed_not_counted() {
        let audit = sample_audit();
        let never = section(&audit, audit.report(ReportKind::NeverLoggedIn).unwrap(), ROWS_BUDGET);
        assert_eq!(never.findings_n, 1, "one of the two is in the grace period");
        assert_eq!(never.rows.len(), 2);
        assert_eq!(never.rows[0].badge.as_deref(), Some("grace period"));
        assert_eq!(never.findings, "1");
        assert_eq!(never.extra, "and 1 in the grace period, not counted");
        let text = render_strings(&audit).unwrap().1;
        assert!(text.contains("1 never-logged-in user is in the grace period: listed, not counted."), "{text}");
    }

    #[test]
    fn org_text_is_escaped_and_made_visible() {
        let audit = sample_audit();
        let page = html(&audit);
        assert!(!page.contains(SCRIPT));
        assert!(!page.chars().any(|c| c.is_control() && !"\t\r\n".contains(c)));
        let (_, text) = render_strings(&audit).unwrap();
        assert!(!text.chars().any(|c| c.is_control() && !"\t\r\n".contains(c)));
        // The plain text keeps the org's names as written (short ones, without control characters).
        let Rows::Users(inactive) = &audit.report(ReportKind::InactiveUsers).unwrap().rows else { unreachable!() };
        let names = inactive.iter().filter_map(|u| u.name.as_deref());
        for name in names.filter(|n| n.len() < 60 && !n.chars().any(char::is_control)) {
            assert!(text.contains(name), "{name:?}");
        }
    }

    #[test]
    fn the_location_and_attachments_are_filled_in_when_sent() {
        let (page, text) = render_strings(&sample_audit()).unwrap();
        let sent = with_location(&page, "/srv/reviews/acme/<2026>", "Attached: the workbook only.", true);
        assert!(sent.contains("<span id=\"location\">/srv/reviews/acme/&lt;2026&gt;</span>"), "{sent}");
        assert!(sent.contains("Attached: the workbook only."));
        assert!(!sent.contains(&escape_html(LOCATION_PLACEHOLDER)));
        let sent = with_location(&text, "/srv/reviews/acme/<2026>", "Attached: the workbook only.", false);
        assert!(sent.contains("Full report: /srv/reviews/acme/<2026>\nAttached: the workbook only.\n"), "{sent}");
    }

    #[test]
    fn html_len_is_what_the_template_writes() {
        for s in hostile() {
            assert_eq!(html_len(&s), escape_html(&s).len(), "{s:?}");
        }
        let mut tera = tera::Tera::new();
        tera.add_raw_template("x.html", "{{ v }}").unwrap();
        let mut ctx = tera::Context::new();
        ctx.insert("v", "\"'<>&é\u{1F600}");
        assert_eq!(tera.render("x.html", &ctx).unwrap(), escape_html("\"'<>&é\u{1F600}"));
    }

    #[test]
    fn is_deterministic() {
        assert_eq!(render_strings(&sample_audit()).unwrap(), render_strings(&sample_audit()).unwrap());
    }
}
