//! `report.html`: the one-page report a reviewer reads, or gets by email.
//!
//! One self-contained file: an inline `<style>` and inline SVG charts, no
//! script, no event handler, no external font, image or stylesheet, so it shows
//! the same offline, in a browser, in a mail client and on paper. Content: who
//! and when (org, instance, as-of instant, thresholds, tool version), counts
//! per report and for the population, two charts, then each report with one
//! paragraph saying exactly who is in it ([`super::explanation`]) and its
//! table, capped at [`ROW_LIMIT`] rows (the CSV and the workbook have them
//! all), then each other application's reports and the SCIM cross-check (introduced by the
//! application's name and where it was read), and a footer with the snapshot manifest's SHA-256.
//!
//! The template is `templates/report.html` (tera 2, compiled into the binary).
//! Its name ends in `.html`, so tera escapes every value; nothing is marked
//! `safe`. Everything shown is prepared here as plain strings and integers,
//! including the chart geometry: the template only places numbers we computed
//! and text tera escapes, so a profile named `<script>` is text in a `<title>`.
//! Org text also has its control characters shown as visible symbols
//! ([`crate::text::visible`], the same in every format): tera escapes markup,
//! not a raw ESC or NUL.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Serialize;

use super::{
    RenderError, RenderedFile, Renderer, apps, deciding_columns, each_row, explanation, meaning, rfc3339, what_to_do,
};
use crate::model::apps::{AppAudit, AppColumn, CROSSCHECK_CSV, CrosscheckColumn};
use crate::model::{
    Audit, Cell, ChangeCounts, Column, ColumnType, ExclusionStatus, Report, ReportKind, Rows, Seats, UserRow,
};
use crate::text::visible;

pub const FILE_NAME: &str = "report.html";
/// Rows shown per report table; the CSV and the workbook hold every row.
pub const ROW_LIMIT: usize = 500;
/// Bars in the findings-by-profile chart.
pub const TOP_PROFILES: usize = 10;

const TEMPLATE: &str = include_str!("../../templates/report.html");
const TEMPLATE_NAME: &str = "report.html";

/// Bar colours: recent enough, beyond the inactive threshold, never logged in.
const FILL_OK: &str = "#2f6db5";
const FILL_WARN: &str = "#c0392b";
const FILL_NEVER: &str = "#6b7280";

/// Writes `report.html`.
pub struct HtmlRenderer;

impl Renderer for HtmlRenderer {
    fn name(&self) -> &'static str {
        "html"
    }

    fn render(&self, audit: &Audit) -> Result<Vec<RenderedFile>, RenderError> {
        let page =
            render_string(audit).map_err(|source| RenderError::Template { file: FILE_NAME.to_string(), source })?;
        Ok(vec![RenderedFile { name: FILE_NAME.to_string(), bytes: page.into_bytes() }])
    }
}

/// The template engine with the report template; autoescaping follows the `.html` name.
fn engine() -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::new();
    tera.add_raw_templates([(TEMPLATE_NAME, TEMPLATE)])?;
    Ok(tera)
}

/// Renders the page to a string (the renderer's bytes; also for callers that mail it).
pub fn render_string(audit: &Audit) -> Result<String, tera::Error> {
    let context = tera::Context::from_serialize(&Page::new(audit))?;
    engine()?.render(TEMPLATE_NAME, &context)
}

/// Everything the template shows, prepared as text and integers.
#[derive(Serialize)]
struct Page {
    tool_version: String,
    org_name: String,
    org_id: String,
    instance_url: String,
    is_sandbox: bool,
    api_version: String,
    as_of: String,
    pulled_at: String,
    inactive_days: u32,
    inactive_cutoff: String,
    grace_days: u32,
    user_types: String,
    namespaces: String,
    name_patterns: Vec<String>,
    roster: Option<RosterInfo>,
    population: Vec<Stat>,
    /// Report cards, four to a table row (email clients lay out tables, not grids).
    cards: Vec<Vec<Card>>,
    findings: String,
    sections: Vec<Section>,
    login_chart: VChart,
    profile_chart: HChart,
    manifest_sha256: String,
    xlsx_file: &'static str,
    row_limit: usize,
    /// The run's notes in plain words (summary.json `notes.run`).
    notes: Vec<String>,
    run_id: String,
    /// Against the previous review, when one was given.
    changes: Option<ChangesView>,
    /// The Exclusions list's counts, when there is one.
    exclusions: Option<ExclusionsView>,
    /// The Seats report: a bar per licence, and its numbers.
    seats: SeatsView,
}

/// The Seats section: one bar per licence (used against allowed, the reclaimable part marked).
#[derive(Serialize)]
struct SeatsView {
    width: i64,
    height: i64,
    label_x: i64,
    bar_x: i64,
    bars: Vec<SeatBar>,
    /// Licences beyond the ones drawn (every one is in the table, seats.csv and the Seats sheet).
    others: usize,
    rows: Vec<SeatLine>,
    with_costs: bool,
    total_cost: String,
    csv_file: &'static str,
    sheet: &'static str,
}

#[derive(Serialize)]
struct SeatBar {
    y: i64,
    h: i64,
    text_y: i64,
    label: String,
    /// The allowed seats' outline (none for a site licence), the used bar, and its reclaimable end.
    allowed_w: Option<i64>,
    used_w: i64,
    reclaim_x: i64,
    reclaim_w: i64,
    value_x: i64,
    value: String,
    tip: String,
}

#[derive(Serialize)]
struct SeatLine {
    name: String,
    kind: &'static str,
    certinia: bool,
    allowed: String,
    used: String,
    assigned: String,
    mismatch: bool,
    reclaimable: String,
    cost: String,
}

#[derive(Serialize)]
struct ChangesView {
    previous: String,
    rows: Vec<ChangeLine>,
    total: ChangeLine,
}

#[derive(Serialize)]
struct ChangeLine {
    title: &'static str,
    anchor: &'static str,
    new: String,
    persisting: String,
    resolved: String,
    not_done: String,
}

impl ChangeLine {
    fn new(title: &'static str, anchor: &'static str, c: ChangeCounts) -> ChangeLine {
        ChangeLine {
            title,
            anchor,
            new: thousands(c.new),
            persisting: thousands(c.persisting),
            resolved: thousands(c.resolved),
            not_done: thousands(c.not_done),
        }
    }
}

#[derive(Serialize)]
struct ExclusionsView {
    active: usize,
    expired: usize,
    unmatched: usize,
    class: usize,
}

#[derive(Serialize)]
struct RosterInfo {
    file: String,
    sha256: String,
    entries: String,
}

#[derive(Serialize)]
struct Stat {
    label: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Card {
    title: String,
    anchor: String,
    count: String,
    /// `finding` (something to act on, red when non-zero), `clear`, or `inventory`.
    class: &'static str,
}

#[derive(Serialize)]
struct Section {
    /// Set on the first section of another application: the application's own heading.
    app: Option<AppIntro>,
    anchor: String,
    title: String,
    /// What the report means, one sentence; then exactly who is in it, and what to do.
    meaning: String,
    explanation: String,
    action: &'static str,
    /// The findings (rows less grace-period users; the access matrix: its rows).
    count: String,
    /// Rows listed that are not findings (never-logged-in users in their grace period).
    not_findings: usize,
    total: usize,
    shown: usize,
    truncated: bool,
    csv_file: String,
    sheet: String,
    headers: Vec<Td>,
    rows: Vec<Vec<Td>>,
}

/// Another application, introduced before its first report.
#[derive(Serialize)]
struct AppIntro {
    anchor: String,
    title: String,
    base_url: String,
    accounts: String,
    groups: String,
}

/// One table cell: its text, a CSS class (`num`, `dt`, `id` or empty), its column's header (shown
/// beside the value on a phone, where each row is a block), and the user's page in the org for
/// the name.
#[derive(Serialize)]
struct Td {
    text: String,
    class: &'static str,
    label: &'static str,
    url: Option<String>,
}

/// A vertical bar chart, geometry in SVG user units.
#[derive(Serialize)]
struct VChart {
    width: i64,
    height: i64,
    baseline_y: i64,
    axis_x1: i64,
    axis_x2: i64,
    label_y: i64,
    total: String,
    bars: Vec<VBar>,
}

#[derive(Serialize)]
struct VBar {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
    center_x: i64,
    value_y: i64,
    label: String,
    value: String,
    fill: &'static str,
    tip: String,
}

/// A horizontal bar chart, one row per label.
#[derive(Serialize)]
struct HChart {
    width: i64,
    height: i64,
    mid_x: i64,
    label_x: i64,
    bar_x: i64,
    shown: usize,
    bars: Vec<HBar>,
    /// Profiles with findings beyond the top ones.
    others: usize,
}

#[derive(Serialize)]
struct HBar {
    y: i64,
    h: i64,
    w: i64,
    text_y: i64,
    value_x: i64,
    label: String,
    full: String,
    value: String,
}

impl Page {
    fn new(audit: &Audit) -> Page {
        let meta = &audit.meta;
        let rules = &meta.rules;
        let s = &audit.summary;
        let population = vec![
            Stat { label: "Users in the org", value: thousands(s.users_in_org) },
            Stat { label: "Audited users", value: thousands(s.audited_users) },
            Stat { label: "Active (not frozen)", value: thousands(s.active) },
            Stat { label: "Frozen", value: thousands(s.frozen) },
            Stat { label: "Deactivated", value: thousands(s.deactivated) },
            Stat { label: "With a Certinia grant", value: thousands(s.with_certinia_grant) },
            Stat { label: "With a Certinia licence", value: thousands(s.with_certinia_license) },
        ];
        let cards = audit
            .reports
            .iter()
            .map(|r| Card {
                title: r.kind.title().to_string(),
                anchor: r.kind.slug().to_string(),
                count: thousands(if r.kind.is_finding() { r.findings() } else { r.rows.len() } as u64),
                class: match (r.kind.is_finding(), r.findings() == 0) {
                    (false, _) => "inventory",
                    (true, true) => "clear",
                    (true, false) => "finding",
                },
            })
            .chain(audit.apps.iter().flat_map(app_cards))
            .collect::<Vec<_>>();
        let mut cards = cards.into_iter().peekable();
        let mut card_rows = Vec::new();
        while cards.peek().is_some() {
            card_rows.push(cards.by_ref().take(4).collect());
        }
        let mut sections: Vec<Section> = audit.reports.iter().map(|r| section(audit, r)).collect();
        sections.extend(audit.apps.iter().flat_map(|app| app_sections(audit, app)));
        Page {
            tool_version: meta.tool_version.clone(),
            org_name: shown(meta.org_name.as_deref().unwrap_or("(unnamed org)")),
            org_id: shown(&meta.org_id),
            instance_url: shown(&meta.instance_url),
            is_sandbox: meta.is_sandbox,
            api_version: shown(&meta.api_version),
            as_of: meta.as_of.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            pulled_at: shown(&meta.pulled_at),
            inactive_days: rules.inactive_days,
            inactive_cutoff: rfc3339(meta.as_of - Duration::days(i64::from(rules.inactive_days))),
            grace_days: rules.grace_days,
            user_types: list_or_none(&rules.user_types),
            namespaces: list_or_none(&rules.namespaces),
            name_patterns: rules.name_patterns.iter().map(|p| shown(p)).collect(),
            roster: rules.roster.as_ref().map(|r| RosterInfo {
                file: shown(&r.file),
                sha256: r.sha256.clone(),
                entries: thousands(r.entries),
            }),
            population,
            cards: card_rows,
            findings: thousands(audit.findings() as u64),
            sections,
            login_chart: login_chart(audit),
            profile_chart: profile_chart(audit),
            manifest_sha256: meta.manifest_sha256.clone(),
            xlsx_file: super::xlsx::FILE_NAME,
            row_limit: ROW_LIMIT,
            notes: audit.notes.run.iter().map(|n| shown(n)).collect(),
            run_id: meta.run_id.clone(),
            changes: audit.changes.as_ref().map(|changes| ChangesView {
                previous: meta.previous.as_ref().map_or_else(String::new, |p| {
                    let run = if p.run_id.is_empty() { "(no run id)".to_string() } else { format!("run {}", p.run_id) };
                    format!("{run}, as of {}", p.as_of)
                }),
                rows: changes.counts.iter().map(|(kind, c)| ChangeLine::new(kind.title(), kind.slug(), *c)).collect(),
                total: ChangeLine::new("All findings", "", changes.total()),
            }),
            seats: seats_view(&audit.seats),
            exclusions: audit.exclusions.as_ref().map(|rows| {
                let count = |s: ExclusionStatus| rows.iter().filter(|r| r.status == s).count();
                ExclusionsView {
                    active: count(ExclusionStatus::Active),
                    expired: count(ExclusionStatus::Expired),
                    unmatched: count(ExclusionStatus::Unmatched),
                    class: count(ExclusionStatus::Class),
                }
            }),
        }
    }
}

/// Outside text as the page shows it: control characters made visible (tera escapes the markup).
fn shown(text: &str) -> String {
    visible(text).into_owned()
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() { "(none)".to_string() } else { shown(&items.join(", ")) }
}

/// One report's section: the deciding columns only ([`deciding_columns`]), so that the table fits
/// 1,400 px without scrolling sideways; every column is in the CSV and the workbook.
fn section(audit: &Audit, report: &Report) -> Section {
    let kind = report.kind;
    let rows = &report.rows;
    let deciding = deciding_columns(report);
    // The Id comes along for the link to the user's page, and is not shown.
    let mut columns = deciding.clone();
    let id_at = kind.columns().contains(&Column::Id).then(|| {
        columns.push(Column::Id);
        columns.len() - 1
    });
    let classes: Vec<&'static str> = deciding
        .iter()
        .map(|c| match c.column_type() {
            ColumnType::Integer => "num",
            ColumnType::DateTime | ColumnType::Date => "dt",
            ColumnType::UserId => "id",
            // Usernames and emails have no spaces: they may break anywhere, never squeeze the others.
            ColumnType::Text if matches!(c.header(), "Username" | "username" | "email") => "u",
            ColumnType::Text | ColumnType::Bool => "",
        })
        .collect();
    let headers = deciding
        .iter()
        .zip(&classes)
        .map(|(c, class)| Td { text: heading(*c).to_string(), class, label: heading(*c), url: None })
        .collect();
    let mut shown = Vec::with_capacity(rows.len().min(ROW_LIMIT));
    let _ = each_row(rows, &columns, |cells: &[Cell]| {
        if shown.len() == ROW_LIMIT {
            // Stop early: the rest is only in the CSV and the workbook.
            return Err(());
        }
        let id = id_at.map(|i| cells[i].to_plain()).unwrap_or_default();
        shown.push(
            deciding
                .iter()
                .zip(cells)
                .zip(&classes)
                .map(|((column, cell), class)| Td {
                    text: match cell {
                        // The day is what decides; the CSV and the workbook have the instant.
                        Cell::DateTime(t) => t.format("%Y-%m-%d").to_string(),
                        cell => visible(&cell.to_plain()).into_owned(),
                    },
                    class,
                    label: heading(*column),
                    url: if *column == Column::Name { audit.meta.user_url(&id) } else { None },
                })
                .collect(),
        );
        Ok(())
    });
    let total = rows.len();
    let count = if kind.is_finding() { report.findings() } else { total };
    Section {
        app: None,
        anchor: kind.slug().to_string(),
        title: kind.title().to_string(),
        meaning: meaning(kind, audit),
        explanation: explanation(kind, audit),
        action: what_to_do(kind),
        count: thousands(count as u64),
        not_findings: report.listed_not_findings(),
        total,
        shown: shown.len(),
        truncated: shown.len() < total,
        csv_file: format!("{}.csv", kind.slug()),
        sheet: kind.sheet_name().to_string(),
        headers,
        rows: shown,
    }
}

/// The summary cards of another application: its finding reports, its access matrix, and the
/// SCIM cross-check.
fn app_cards(app: &AppAudit) -> Vec<Card> {
    let card = |title: String, anchor: String, count: usize, finding: bool| Card {
        title,
        anchor,
        count: thousands(count as u64),
        class: match (finding, count == 0) {
            (false, _) => "inventory",
            (true, true) => "clear",
            (true, false) => "finding",
        },
    };
    let mut cards: Vec<Card> = app
        .reports
        .iter()
        .map(|r| card(apps::report_title(app, r.kind), apps::anchor(app, r.kind), r.rows.len(), r.kind.is_finding()))
        .collect();
    if let Some(rows) = &app.crosscheck {
        cards.push(card(apps::CROSSCHECK_TITLE.to_string(), apps::CROSSCHECK_ANCHOR.to_string(), rows.len(), true));
    }
    cards
}

/// A table's cells as the page shows them: org text made visible, a date by its day.
fn td_text(cell: &Cell) -> String {
    match cell {
        Cell::DateTime(t) => t.format("%Y-%m-%d").to_string(),
        cell => visible(&cell.to_plain()).into_owned(),
    }
}

/// A table of another application's rows: the headings and, for each of the first [`ROW_LIMIT`]
/// rows, its cells, `cell` giving a column's value and the org page it links to, if any.
fn table<C: Copy, R>(
    columns: &[C],
    rows: &[R],
    heading: fn(C) -> &'static str,
    class: impl Fn(C) -> &'static str,
    cell: impl Fn(&R, C) -> (Cell, Option<String>),
) -> (Vec<Td>, Vec<Vec<Td>>) {
    let headers = columns
        .iter()
        .map(|c| Td { text: heading(*c).to_string(), class: class(*c), label: heading(*c), url: None })
        .collect();
    let rows = rows
        .iter()
        .take(ROW_LIMIT)
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    let (value, url) = cell(row, *c);
                    Td { text: td_text(&value), class: class(*c), label: heading(*c), url }
                })
                .collect()
        })
        .collect();
    (headers, rows)
}

/// Another application's sections: one per report (the deciding columns, the matched Salesforce
/// user linked to its page in the org), then the SCIM cross-check when there is one.
fn app_sections(audit: &Audit, app: &AppAudit) -> Vec<Section> {
    let mut intro = Some(AppIntro {
        anchor: format!("app-{}", app.name),
        title: shown(&apps::app_title(app)),
        base_url: shown(&app.base_url),
        accounts: thousands(app.accounts),
        groups: thousands(app.groups),
    });
    // Everything of a section but its texts.
    let mut section =
        |anchor: String, title: String, total: usize, files: (String, String), table: (Vec<Td>, Vec<Vec<Td>>)| {
            let (headers, rows) = table;
            Section {
                app: intro.take(),
                anchor,
                title,
                meaning: String::new(),
                explanation: String::new(),
                action: "",
                count: thousands(total as u64),
                not_findings: 0,
                total,
                shown: rows.len(),
                truncated: rows.len() < total,
                csv_file: files.0,
                sheet: files.1,
                headers,
                rows,
            }
        };
    let mut sections = Vec::new();
    for report in &app.reports {
        let kind = report.kind;
        let class = |c: AppColumn| match c {
            AppColumn::AccountId => "id",
            AppColumn::UserName | AppColumn::Username | AppColumn::Email => "u",
            _ => "",
        };
        let cells = table(&apps::deciding_columns(kind), &report.rows, apps::heading, class, |row, c| {
            let url = match (c, row.matches.as_slice()) {
                (AppColumn::Username, [one]) => audit.meta.user_url(&one.id),
                _ => None,
            };
            (row.cell(c), url)
        });
        let files = (app.csv_name(kind), apps::sheet_name(app, kind));
        let mut s =
            section(apps::anchor(app, kind), shown(&apps::report_title(app, kind)), report.rows.len(), files, cells);
        s.meaning = shown(&apps::meaning(kind, app));
        s.explanation = apps::explanation(kind, audit);
        s.action = apps::what_to_do(kind);
        sections.push(s);
    }
    if let Some(crosscheck) = &app.crosscheck {
        let class = |c: CrosscheckColumn| if c == CrosscheckColumn::Username { "u" } else { "" };
        let cells = table(&apps::CROSSCHECK_DECIDING, crosscheck, apps::crosscheck_heading, class, |row, c| {
            (row.cell(c), if c == CrosscheckColumn::Name { audit.meta.user_url(&row.id) } else { None })
        });
        let files = (CROSSCHECK_CSV.to_string(), apps::CROSSCHECK_SHEET.to_string());
        let title = apps::CROSSCHECK_TITLE.to_string();
        let mut s = section(apps::CROSSCHECK_ANCHOR.to_string(), title, crosscheck.len(), files, cells);
        s.meaning = apps::crosscheck_meaning().to_string();
        s.explanation = apps::crosscheck_explanation().to_string();
        s.action = apps::crosscheck_what_to_do();
        sections.push(s);
    }
    sections
}

/// A column's heading in the page: short words that can wrap, so that the table fits 1,400 px
/// (the CSV and the workbook keep the model's names); a column this page does not know keeps its name.
fn heading(column: Column) -> &'static str {
    match column.header() {
        "LastLoginDate" => "Last login",
        "DaysSinceLogin" => "Days since login",
        "CreatedDate" => "Created",
        "DaysSinceCreated" => "Days since created",
        "InGracePeriod" => "In grace period",
        "CertiniaAccess" => "Certinia access",
        "ExpectedBy" => "Expected by",
        "CertiniaPermissionSets" => "Certinia permission sets",
        "CertiniaPermissionSetGroups" => "Certinia permission set groups",
        "CertiniaLicenses" => "Certinia licences",
        "CertiniaPermissionSetLicenses" => "Certinia permission set licences",
        "PermissionControls" => "Permission controls",
        "UserCompanies" => "User companies",
        "ActiveResource" => "Active resource",
        other => other,
    }
}

/// `12345` → `12,345`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// One bucket of the last-login chart.
#[derive(Debug, PartialEq)]
struct Bucket {
    label: String,
    count: u64,
    fill: &'static str,
}

/// Last-login age of the active audited users (IsActive, frozen included), from the access matrix.
///
/// Bucket edges are 30, 60, 90, 180 and 365 days plus the inactive threshold
/// itself, so every bucket is wholly within or wholly beyond it: the ones
/// beyond are exactly the inactive users' and get the warning colour. Ages are
/// measured like the inactive rule, from `LastLoginDate` to the as-of instant.
/// A login after the as-of instant is inactive by rule (README, "Dates after the
/// as-of instant") and has a warning bar of its own, `after as-of`, shown only
/// when there is one.
fn login_buckets(audit: &Audit) -> Vec<Bucket> {
    let threshold = i64::from(audit.meta.rules.inactive_days);
    let mut edges = vec![30, 60, 90, 180, 365, threshold];
    edges.sort_unstable();
    edges.dedup();
    let active: Vec<&UserRow> = match audit.report(ReportKind::AccessMatrix).map(|r| &r.rows) {
        Some(Rows::Users(users)) => users.iter().filter(|u| u.is_active).collect(),
        _ => Vec::new(),
    };
    let mut never = 0;
    let mut after_as_of = 0;
    let mut counts = vec![0u64; edges.len() + 1];
    for user in active {
        match user.last_login {
            None => never += 1,
            // Inactive by the rule for dates after the as-of instant: their own warning bar.
            Some(login) if login > audit.meta.as_of => after_as_of += 1,
            Some(login) => {
                let age = audit.meta.as_of - login;
                let slot = edges.iter().position(|e| age <= Duration::days(*e)).unwrap_or(edges.len());
                counts[slot] += 1;
            }
        }
    }
    let mut buckets = vec![Bucket { label: "never".to_string(), count: never, fill: FILL_NEVER }];
    for (slot, count) in counts.into_iter().enumerate() {
        let (label, lower) = if slot == 0 {
            (format!("0–{} d", edges[0]), None)
        } else if slot == edges.len() {
            (format!("> {} d", edges[slot - 1]), Some(edges[slot - 1]))
        } else {
            (format!("{}–{} d", edges[slot - 1] + 1, edges[slot]), Some(edges[slot - 1]))
        };
        let beyond = lower.is_some_and(|l| l >= threshold);
        buckets.push(Bucket { label, count, fill: if beyond { FILL_WARN } else { FILL_OK } });
    }
    if after_as_of > 0 {
        buckets.push(Bucket { label: "after as-of".to_string(), count: after_as_of, fill: FILL_WARN });
    }
    buckets
}

fn login_chart(audit: &Audit) -> VChart {
    let buckets = login_buckets(audit);
    let (width, height) = (640, 260);
    let (left, right, top, bottom) = (16, 16, 28, 40);
    let plot_h = height - top - bottom;
    let slot = (width - left - right) / buckets.len() as i64;
    let bar_w = slot * 7 / 10;
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(0);
    let baseline_y = height - bottom;
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let h = if max == 0 { 0 } else { ((b.count as f64 / max as f64) * plot_h as f64).round() as i64 };
            // A non-zero count always shows at least a sliver.
            let h = if b.count > 0 { h.max(2) } else { h };
            let x = left + i as i64 * slot + (slot - bar_w) / 2;
            VBar {
                x,
                y: baseline_y - h,
                w: bar_w,
                h,
                center_x: x + bar_w / 2,
                value_y: baseline_y - h - 6,
                tip: format!("{}: {} user{}", b.label, thousands(b.count), if b.count == 1 { "" } else { "s" }),
                label: b.label.clone(),
                value: thousands(b.count),
                fill: b.fill,
            }
        })
        .collect();
    VChart {
        width,
        height,
        baseline_y,
        axis_x1: left,
        axis_x2: width - right,
        label_y: baseline_y + 18,
        total: thousands(buckets.iter().map(|b| b.count).sum()),
        bars,
    }
}

/// Finding rows per profile, across every finding report with user rows; most first, then by name.
fn findings_by_profile(audit: &Audit) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for report in audit.reports.iter().filter(|r| r.kind.is_finding()) {
        if let Rows::Users(users) = &report.rows {
            // A never-logged-in user in the grace period is listed, not a finding.
            let grace = |u: &&UserRow| report.kind == ReportKind::NeverLoggedIn && u.in_grace_period;
            for user in users.iter().filter(|u| !grace(u)) {
                let profile = shown(user.profile.as_deref().unwrap_or("(no profile)"));
                *counts.entry(profile).or_default() += 1;
            }
        }
    }
    let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// The most licences drawn as bars (the table lists every one).
const SEAT_BARS: usize = 30;

fn seats_view(seats: &Seats) -> SeatsView {
    let (width, row_h, pad) = (640, 26, 8);
    let (label_x, bar_x) = (252, 260);
    let bar_max = width - bar_x - 150;
    let drawn = &seats.rows[..seats.rows.len().min(SEAT_BARS)];
    let scale =
        drawn.iter().map(|r| r.allowed.unwrap_or(0).max(r.used.unwrap_or(0)).max(r.assigned as i64)).max().unwrap_or(0);
    let w = |n: i64| if scale == 0 { 0 } else { ((n.max(0) as f64 / scale as f64) * bar_max as f64).round() as i64 };
    let count = |v: Option<i64>| {
        v.map_or_else(|| "?".to_string(), |n| if n < 0 { "site licence".to_string() } else { thousands(n as u64) })
    };
    let bars = drawn
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let used = r.used.unwrap_or(0);
            let used_w = w(used);
            let reclaim_w = w(r.reclaimable.min(used.max(0) as u64) as i64);
            let allowed_w = r.allowed.filter(|a| *a >= 0).map(w);
            let y = pad + i as i64 * row_h;
            let right = used_w.max(allowed_w.unwrap_or(0));
            let value = format!("{} / {}, {} reclaimable", count(r.used), count(r.allowed), thousands(r.reclaimable));
            SeatBar {
                y: y + 4,
                h: row_h - 8,
                text_y: y + row_h / 2 + 4,
                label: super::clip(&r.name, 36),
                allowed_w,
                used_w,
                reclaim_x: bar_x + used_w - reclaim_w,
                reclaim_w,
                value_x: bar_x + right + 6,
                tip: format!("{} ({}): {value}", r.name, r.kind.label()),
                value,
            }
        })
        .collect::<Vec<_>>();
    let money = |a: f64| format!("{a:.2}");
    SeatsView {
        width,
        height: if bars.is_empty() { 48 } else { 2 * pad + bars.len() as i64 * row_h },
        label_x,
        bar_x,
        others: seats.rows.len() - bars.len(),
        bars,
        rows: seats
            .rows
            .iter()
            .map(|r| SeatLine {
                name: shown(&r.name),
                kind: r.kind.label(),
                certinia: r.certinia,
                allowed: r.allowed.map(|n| n.to_string()).unwrap_or_default(),
                used: r.used.map(|n| n.to_string()).unwrap_or_default(),
                assigned: thousands(r.assigned),
                mismatch: r.used_mismatch(),
                reclaimable: thousands(r.reclaimable),
                cost: r.reclaimable_cost().map(money).unwrap_or_default(),
            })
            .collect(),
        with_costs: seats.with_costs,
        total_cost: seats.reclaimable_cost().map(money).unwrap_or_default(),
        csv_file: Seats::CSV,
        sheet: Seats::SHEET,
    }
}

fn profile_chart(audit: &Audit) -> HChart {
    let all = findings_by_profile(audit);
    let others = all.len().saturating_sub(TOP_PROFILES);
    let top = &all[..all.len().min(TOP_PROFILES)];
    let (width, row_h, pad) = (640, 26, 8);
    let (label_x, bar_x) = (252, 260);
    let bar_max = width - bar_x - 64;
    let max = top.first().map(|(_, n)| *n).unwrap_or(0);
    let bars = top
        .iter()
        .enumerate()
        .map(|(i, (profile, n))| {
            let w = if max == 0 { 0 } else { ((*n as f64 / max as f64) * bar_max as f64).round() as i64 }.max(2);
            let y = pad + i as i64 * row_h;
            HBar {
                y: y + 4,
                h: row_h - 8,
                w,
                text_y: y + row_h / 2 + 4,
                value_x: bar_x + w + 6,
                label: super::clip(profile, 36),
                full: format!("{profile}: {} finding row{}", thousands(*n), if *n == 1 { "" } else { "s" }),
                value: thousands(*n),
            }
        })
        .collect::<Vec<_>>();
    HChart {
        width,
        height: if bars.is_empty() { 48 } else { 2 * pad + bars.len() as i64 * row_h },
        mid_x: width / 2,
        label_x,
        bar_x,
        shown: bars.len(),
        bars,
        others,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Report;
    use crate::render::dom::{self, Element};
    use crate::render::tests::{CONTROLS_SHOWN, EVIL_LINK, SCRIPT, SLUGS, sample_audit, user};

    fn page() -> String {
        render_string(&sample_audit()).unwrap()
    }

    /// The page as a tree; parsing fails on a page whose elements do not nest.
    fn dom(audit: &Audit) -> Element {
        dom::parse(&render_string(audit).unwrap()).unwrap()
    }

    /// A `<section>`'s data table: header texts and row texts.
    fn table(section: &Element) -> (Vec<String>, Vec<Vec<String>>) {
        let cells = |tr: &Element| tr.elements().iter().map(|c| c.text()).collect::<Vec<_>>();
        let thead = &section.all("thead")[0];
        let tbody = &section.all("tbody")[0];
        (cells(thead.all("tr")[0]), tbody.all("tr").into_iter().map(cells).collect())
    }

    #[test]
    fn org_text_is_text_and_the_page_runs_nothing() {
        let doc = dom(&sample_audit());
        for tag in ["script", "img", "iframe", "object", "embed", "link", "base", "form"] {
            assert!(doc.all(tag).is_empty(), "no <{tag}> element");
        }
        let handlers: Vec<&String> =
            doc.descendants().into_iter().flat_map(|e| e.attrs.keys()).filter(|n| n.starts_with("on")).collect();
        assert!(handlers.is_empty(), "event handler attributes: {handlers:?}");
        // The hostile names come back as the text of their cells, exactly as the org wrote them.
        let (headers, rows) = table(doc.by_id("access-matrix").unwrap());
        let name = headers.iter().position(|h| h == "Name").unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r[name].as_str()).collect();
        for hostile in [SCRIPT, "<img src=x onerror=alert(1)>", "\"quoted\" & 'apos'", EVIL_LINK] {
            assert!(names.contains(&hostile), "{hostile}");
        }
        // And in the header: the org's name and the roster's file name.
        assert_eq!(
            doc.all("title")[0].text(),
            "Certinia access audit: Acme <script>alert(1)</script> & \"Co\" (00D000000000001EAA)"
        );
        let header = &doc.all("header")[0];
        assert_eq!(header.all("bdi")[0].text(), "Acme <script>alert(1)</script> & \"Co\"");
        assert!(header.all("td").iter().any(|td| td.words().starts_with("roster <b>.csv, 3 entries")));
    }

    #[test]
    fn is_self_contained() {
        let html = page();
        let doc = dom::parse(&html).unwrap();
        assert_eq!(doc.attr("doctype"), Some("DOCTYPE html"));
        let head = &doc.all("head")[0];
        assert_eq!(head.all("style").len(), 1, "inline CSS");
        let css = head.all("style")[0].text().to_ascii_lowercase();
        assert!(!css.contains("url(") && !css.contains("@import"), "no external stylesheet or font");
        for element in doc.descendants() {
            assert!(element.attr("src").is_none(), "<{}> loads something", element.tag);
            if let Some(href) = element.attr("href") {
                let user_page =
                    href.starts_with("https://acme.my.salesforce.com/lightning/r/User/005") && href.ends_with("/view");
                assert!(href.starts_with('#') || user_page, "only links within the page or to a user: {href}");
            }
        }
    }

    #[test]
    fn tables_show_the_deciding_columns_each_name_linked_to_its_user() {
        let doc = dom(&sample_audit());
        let retained = doc.by_id("certinia-access-retained").unwrap();
        let (headers, rows) = table(retained);
        assert_eq!(
            headers,
            [
                "Name",
                "Username",
                "Profile",
                "Status",
                "Last login",
                "Days since login",
                "Certinia permission sets",
                "Certinia permission set groups",
                "Certinia licences",
                "Certinia permission set licences",
                "Permission controls",
                "User companies",
                "Active resource"
            ]
        );
        assert_eq!(rows[0][..3], ["User 52", "user52@example.com", "Standard User"]);
        let link = &retained.all("tbody")[0].all("a")[0];
        assert_eq!(link.attr("href"), Some("https://acme.my.salesforce.com/lightning/r/User/005000000000052AAA/view"));
        assert_eq!(link.text(), "User 52");
        // On a phone each cell says which column it is.
        let cells = retained.all("tbody")[0].all("td");
        assert_eq!(cells[0].attr("data-label"), Some("Name"));
        // What to do, under the report's meaning.
        let todo: Vec<String> = retained.all("p").iter().filter(|p| p.has_class("todo")).map(|p| p.words()).collect();
        assert_eq!(todo, [format!("What to do: {}", super::super::what_to_do(ReportKind::CertiniaAccessRetained))]);
    }

    #[test]
    fn has_both_charts_with_titles() {
        let doc = dom(&sample_audit());
        let charts: Vec<&Element> = doc.all("svg");
        let ids: Vec<&str> = charts.iter().filter_map(|c| c.attr("id")).collect();
        assert_eq!(ids, ["chart-last-login", "chart-profiles", "chart-seats"]);
        for chart in &charts {
            let title = chart.elements()[0];
            assert_eq!(title.tag, "title", "a chart's first child is its title");
            assert_eq!(title.attr("id"), Some(format!("{}-title", chart.attr("id").unwrap()).as_str()));
            assert_eq!(chart.attr("aria-labelledby"), title.attr("id"));
            assert_eq!(chart.attr("role"), Some("img"));
        }
        // Bars beyond the inactive threshold are red.
        assert!(charts[0].all("rect").iter().any(|r| r.attr("fill") == Some(FILL_WARN)));
        // The hostile profile name is the text of a label in the profile chart.
        let labels: Vec<String> = charts[1].all("text").iter().map(|t| t.text()).collect();
        assert!(labels.iter().any(|l| l == SCRIPT), "{labels:?}");
    }

    #[test]
    fn header_shows_org_and_rules() {
        let doc = dom(&sample_audit());
        let header = &doc.all("header")[0];
        let meta: BTreeMap<String, String> =
            header.all("tr").iter().map(|tr| (tr.all("th")[0].words(), tr.all("td")[0].words())).collect();
        assert_eq!(meta["Instance"], "https://acme.my.salesforce.com");
        assert_eq!(meta["As of"], "2024-06-30 12:20:30 UTC");
        assert_eq!(meta["Pulled at"], "2024-06-30T11:00:00Z");
        assert_eq!(meta["Inactive after"], "90 days without a login (last login before 2024-04-01T12:20:30Z)");
        assert_eq!(meta["Grace period"], "14 days for accounts that never logged in");
        assert_eq!(meta["Audited user types"], "Standard");
        assert_eq!(meta["Certinia namespaces"], "pse, c2g");
        assert_eq!(meta["API version"], "v62.0");
        assert_eq!(meta["Tool"], "access-audit 0.1.0");
        let footer: Vec<String> = doc.all("footer")[0].all("p").iter().map(|p| p.words()).collect();
        assert_eq!(
            footer,
            [format!("Snapshot manifest SHA-256: {}", "cd".repeat(32)), "generated by access-audit 0.1.0".into()]
        );
    }

    #[test]
    fn every_report_has_a_section_and_empty_ones_say_none() {
        let doc = dom(&sample_audit());
        let sections: Vec<&Element> = doc.all("section");
        let ids: Vec<&str> = sections.iter().filter_map(|s| s.attr("id")).collect();
        assert_eq!(ids[0], "seats", "the Seats section comes before the reports");
        assert_eq!(ids[1..], SLUGS);
        let heading = |id: &str| doc.by_id(id).unwrap().all("h2")[0].words();
        // Two listed, one of them in the grace period: one finding.
        assert_eq!(heading("never-logged-in"), "Never logged in (1)");
        assert_eq!(heading("unexpected-access"), "Roster: unexpected access (0)");
        let unexpected = doc.by_id("unexpected-access").unwrap();
        assert!(unexpected.all("table").is_empty());
        let none: Vec<&Element> = unexpected.all("p").into_iter().filter(|p| p.has_class("none")).collect();
        assert_eq!(none.len(), 1);
        assert_eq!(none[0].text(), "None.");
        // A non-empty report: one row per user, with the report's columns.
        let never = doc.by_id("never-logged-in").unwrap();
        let (headers, rows) = table(never);
        assert_eq!(headers, ["Name", "Username", "Profile", "Created", "Days since created", "In grace period"]);
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names, ["User 50", "User 51"]);
        let grace: Vec<String> = never.all("p").iter().filter(|p| p.has_class("grace")).map(|p| p.words()).collect();
        assert_eq!(grace, ["1 of these 2 users are in their grace period: listed, not counted as findings."]);
        assert!(rows.iter().all(|r| r.len() == headers.len()));
        // The summary cards link to the sections.
        let cards: Vec<&str> = doc
            .all("table")
            .iter()
            .filter(|t| t.has_class("cards"))
            .flat_map(|t| t.all("a"))
            .filter_map(|a| a.attr("href"))
            .collect();
        assert_eq!(cards.len(), 7);
        assert!(cards.iter().all(|href| doc.by_id(&href[1..]).is_some()), "{cards:?}");
    }

    #[test]
    fn tables_are_capped_with_a_note() {
        let mut audit = sample_audit();
        let many: Vec<UserRow> = (0..ROW_LIMIT + 7).map(user).collect();
        audit.reports.iter_mut().find(|r| r.kind == ReportKind::AccessMatrix).unwrap().rows = Rows::Users(many);
        let doc = dom(&audit);
        let matrix = doc.by_id("access-matrix").unwrap();
        let notes: Vec<String> = matrix.all("p").iter().filter(|p| p.has_class("note")).map(|p| p.words()).collect();
        assert_eq!(notes, ["Showing the first 500 of 507 rows; the CSV and the workbook have them all."]);
        let (_, rows) = table(matrix);
        assert_eq!(rows.len(), ROW_LIMIT);
        assert_eq!(rows[0][0], "User 0");
        assert_eq!(rows[ROW_LIMIT - 1][0], "User 499");
        let small = dom(&sample_audit());
        assert!(small.all("p").iter().all(|p| !p.has_class("note")), "no note when all rows fit");
    }

    #[test]
    fn is_deterministic() {
        assert_eq!(page(), page());
    }

    #[test]
    fn login_buckets_split_at_the_threshold() {
        let audit = sample_audit();
        let buckets = login_buckets(&audit);
        let labels: Vec<&str> = buckets.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(
            labels,
            ["never", "0–30 d", "31–60 d", "61–90 d", "91–180 d", "181–365 d", "> 365 d", "after as-of"]
        );
        let warn: Vec<&str> = buckets.iter().filter(|b| b.fill == FILL_WARN).map(|b| b.label.as_str()).collect();
        assert_eq!(warn, ["91–180 d", "181–365 d", "> 365 d", "after as-of"]);
        assert_eq!(buckets.last().unwrap().count, 1, "the one login after the as-of instant");
        // Active users only: the deactivated user (400 days) is not counted.
        let active = audit.report(ReportKind::AccessMatrix).unwrap();
        let Rows::Users(users) = &active.rows else { unreachable!() };
        let n = users.iter().filter(|u| u.is_active).count() as u64;
        assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), n);
        assert_eq!(buckets[0].count, 2, "two never logged in");
        // The inactive bars hold exactly the inactive report's users.
        let beyond: u64 = buckets.iter().filter(|b| b.fill == FILL_WARN).map(|b| b.count).sum();
        assert_eq!(beyond as usize, audit.report(ReportKind::InactiveUsers).unwrap().rows.len());

        let mut custom = sample_audit();
        custom.meta.rules.inactive_days = 45;
        let labels: Vec<String> = login_buckets(&custom).into_iter().map(|b| b.label).collect();
        assert_eq!(labels[2..4], ["31–45 d".to_string(), "46–60 d".to_string()]);

        // No login after the as-of instant, no such bar.
        let mut plain = sample_audit();
        for report in &mut plain.reports {
            if let Rows::Users(users) = &mut report.rows {
                users.retain(|u| u.last_login.is_none_or(|t| t <= plain.meta.as_of));
            }
        }
        assert!(login_buckets(&plain).iter().all(|b| b.label != "after as-of"));
    }

    #[test]
    fn control_characters_are_shown_and_notes_listed() {
        let html = page();
        assert!(!html.chars().any(|c| c.is_control() && !"\t\r\n".contains(c)), "no raw control character");
        assert!(html.contains(CONTROLS_SHOWN), "shown as symbols");
        let notes = &html[html.find("<ul class=\"notes\">").expect("a notes list")..];
        let notes = &notes[..notes.find("</ul>").unwrap()];
        assert!(notes.contains("1 date is after the as-of instant &lt;script&gt;"), "{notes}");
        assert!(notes.contains(&format!("a note with {CONTROLS_SHOWN}")), "{notes}");
        let mut quiet = sample_audit();
        quiet.notes.run.clear();
        assert!(!render_string(&quiet).unwrap().contains("class=\"notes\""));
    }

    /// A user row with only a profile, for the profile chart.
    fn with_profile(n: usize, profile: Option<&str>) -> UserRow {
        UserRow { profile: profile.map(str::to_string), ..user(n) }
    }

    /// The reports written by hand: which profile each finding row has, and an access matrix
    /// (an inventory, never counted) dominated by a profile that has no finding.
    fn profile_audit() -> Audit {
        const SALES: &str = "Sales and Marketing Operations, EMEA North";
        let users = |profiles: &[Option<&str>]| {
            Rows::Users(profiles.iter().enumerate().map(|(n, p)| with_profile(n, *p)).collect())
        };
        let mut audit = sample_audit();
        audit.reports = vec![
            Report::new(ReportKind::InactiveUsers, users(&[Some("Finance"), Some("Finance"), Some(SALES)])),
            Report::new(ReportKind::NeverLoggedIn, users(&[Some("Finance"), Some("Ops")])),
            Report::new(ReportKind::CertiniaAccessRetained, users(&[Some(SALES), None])),
            Report::new(ReportKind::CertiniaAccessLacking, users(&[])),
            Report::new(ReportKind::AccessMatrix, users(&[Some("Matrix Only"); 5])),
        ];
        audit
    }

    #[test]
    fn profiles_are_ranked_by_finding_rows() {
        let chart = profile_chart(&profile_audit());
        let bars: Vec<(&str, &str, &str, i64)> =
            chart.bars.iter().map(|b| (b.label.as_str(), b.full.as_str(), b.value.as_str(), b.w)).collect();
        // Finance 3, Sales 2, then the ties by name ("(" sorts before "O"); the access matrix is
        // not a finding. The longest bar spans the 316 units between x = 260 and the value's
        // 64; the others are in proportion, rounded.
        assert_eq!(
            bars,
            [
                ("Finance", "Finance: 3 finding rows", "3", 316),
                (
                    "Sales and Marketing Operations, EME…",
                    "Sales and Marketing Operations, EMEA North: 2 finding rows",
                    "2",
                    211
                ),
                ("(no profile)", "(no profile): 1 finding row", "1", 105),
                ("Ops", "Ops: 1 finding row", "1", 105),
            ]
        );
        assert_eq!((chart.shown, chart.others, chart.height), (4, 0, 8 + 4 * 26 + 8));

        // Twelve profiles with 12, 11, ..., 1 findings: the top ten are drawn, two are "more".
        let mut audit = profile_audit();
        let rows: Vec<UserRow> =
            (1..=12usize).flat_map(|p| (0..13 - p).map(move |n| with_profile(n, Some(&format!("P{p:02}"))))).collect();
        audit.reports = vec![Report::new(ReportKind::InactiveUsers, Rows::Users(rows))];
        let chart = profile_chart(&audit);
        let labels: Vec<(&str, &str)> = chart.bars.iter().map(|b| (b.label.as_str(), b.value.as_str())).collect();
        assert_eq!(
            labels,
            [
                ("P01", "12"),
                ("P02", "11"),
                ("P03", "10"),
                ("P04", "9"),
                ("P05", "8"),
                ("P06", "7"),
                ("P07", "6"),
                ("P08", "5"),
                ("P09", "4"),
                ("P10", "3")
            ]
        );
        assert_eq!((chart.shown, chart.others), (10, 2));

        // No findings: no bar.
        let mut audit = profile_audit();
        audit.reports.retain(|r| r.kind == ReportKind::AccessMatrix);
        assert!(profile_chart(&audit).bars.is_empty());
    }

    #[test]
    fn helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(super::super::clip("abc", 3), "abc");
        assert_eq!(super::super::clip("abcdef", 4), "abc…");
    }
}
