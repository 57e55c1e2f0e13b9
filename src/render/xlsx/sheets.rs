//! The sheets around the data: Summary, Instructions, Managers (the index of the per-manager
//! workbooks) and Run.

use rust_xlsxwriter::{Table, TableColumn, TableStyle, Url, Worksheet, XlsxError};

use super::{
    DATETIME_FORMAT, Formats, INSTRUCTIONS_SHEET, MANIFEST_KEY, Manager, REVIEW_COLUMNS, RUN_ID_KEY, Scope, Widths,
    Wrapped, write_text, write_text_as,
};
use crate::model::{Audit, Decision, ReportKind};
use crate::render::explanation;

/// Writes `key` in bold in column A and `value` as text in column B.
fn key_text(ws: &mut Worksheet, row: u32, key: &str, value: &str, f: &Formats) -> Result<(), XlsxError> {
    ws.write_string_with_format(row, 0, key, &f.bold)?;
    write_text(ws, row, 1, value, f)
}

fn key_number(ws: &mut Worksheet, row: u32, key: &str, value: f64, f: &Formats) -> Result<(), XlsxError> {
    ws.write_string_with_format(row, 0, key, &f.bold)?;
    ws.write_number(row, 1, value)?;
    Ok(())
}

fn key_datetime(ws: &mut Worksheet, row: u32, key: &str, audit: &Audit, f: &Formats) -> Result<(), XlsxError> {
    ws.write_string_with_format(row, 0, key, &f.bold)?;
    ws.write_datetime_with_format(row, 1, audit.meta.as_of.naive_utc(), &f.datetime)?;
    Ok(())
}

pub(super) fn summary(ws: &mut Worksheet, audit: &Audit, scope: &Scope<'_>, f: &Formats) -> Result<(), XlsxError> {
    let meta = &audit.meta;
    let changes = audit.changes.as_ref();
    let mut headers = vec!["Report", "Rows", "Findings"];
    if changes.is_some() {
        headers.extend(["New", "Persisting", "Resolved", "Not done"]);
    }
    headers.extend(["Type", "Who is in it"]);
    let who = headers.len() - 1;
    let mut caps = vec![34; headers.len()];
    caps[who] = 90;
    let mut widths = Widths::new(&headers, caps, false);
    let mut wrapped = Wrapped::default();
    // Column B holds the as-of date of the key/value rows: wide enough for its format.
    widths.value(1, DATETIME_FORMAT.len());
    widths.text(0, "Findings to review (grace-period users not counted)".len());

    ws.write_string_with_format(0, 0, "Certinia access review", &f.title)?;
    let mut row = 2;
    let org_name = meta.org_name.as_deref().unwrap_or("(unnamed org)");
    for (key, value) in [
        ("Org", org_name),
        ("Org Id", meta.org_id.as_str()),
        ("Instance", meta.instance_url.as_str()),
        ("Environment", if meta.is_sandbox { "Sandbox" } else { "Production" }),
    ] {
        key_text(ws, row, key, value, f)?;
        row += 1;
    }
    key_datetime(ws, row, "As of (UTC)", audit, f)?;
    row += 1;
    key_text(ws, row, "Pulled at", &meta.pulled_at, f)?;
    row += 1;
    key_text(ws, row, RUN_ID_KEY, &meta.run_id, f)?;
    row += 1;
    key_text(ws, row, "Tool", &format!("access-audit {}", meta.tool_version), f)?;
    row += 1;
    if let Scope::Manager(m) = scope {
        key_text(ws, row, "Manager", m.label(), f)?;
        row += 1;
        key_text(ws, row, "Manager email", m.email.as_deref().unwrap_or(""), f)?;
        row += 1;
        key_text(ws, row, "Manager Id", m.id.as_deref().unwrap_or("(none)"), f)?;
        row += 1;
    }
    if let Some(previous) = &meta.previous {
        let run = if previous.run_id.is_empty() { "(no run id)" } else { previous.run_id.as_str() };
        key_text(ws, row, "Previous review", &format!("run {run}, as of {}", previous.as_of), f)?;
        row += 1;
    }
    row += 1;

    for (col, header) in headers.iter().enumerate() {
        ws.write_string_with_format(row, col as u16, *header, &f.header)?;
    }
    row += 1;
    for report in &audit.reports {
        let kind = report.kind;
        // The report's name links to its sheet; the counts stay numbers.
        let link = Url::new(format!("internal:'{}'!A1", kind.sheet_name())).set_text(kind.title());
        ws.write_url(row, 0, link)?;
        widths.text(0, kind.title().len());
        let mut numbers = vec![report.rows.len() as u64, report.findings() as u64];
        if let Some(changes) = changes {
            let c = changes.counts(kind);
            numbers.extend(if kind.is_finding() { [c.new, c.persisting, c.resolved, c.not_done] } else { [0; 4] });
        }
        for (i, n) in numbers.iter().enumerate() {
            if kind.is_finding() || i < 2 {
                ws.write_number(row, 1 + i as u16, *n as f64)?;
                widths.value(1 + i, n.to_string().len());
            }
        }
        let kind_col = 1 + numbers.len() as u16;
        ws.write_string(row, kind_col, if kind.is_finding() { "finding" } else { "inventory" })?;
        widths.text(kind_col as usize, "inventory".len());
        let text = explanation(kind, audit);
        widths.text(who, text.chars().count());
        write_text_as(ws, row, who as u16, &text, true, f)?;
        wrapped.add(row, who, &text);
        row += 1;
    }
    // The other applications' reports (their findings are not compared with a previous review).
    if let Scope::Whole { .. } = scope {
        for line in super::apps::summary_lines(audit) {
            let link = Url::new(format!("internal:'{}'!A1", line.sheet)).set_text(&line.title);
            ws.write_url(row, 0, link)?;
            widths.text(0, line.title.chars().count());
            ws.write_number(row, 1, line.rows as f64)?;
            widths.value(1, line.rows.to_string().len());
            if let Some(n) = line.findings {
                ws.write_number(row, 2, n as f64)?;
                widths.value(2, n.to_string().len());
            }
            let kind_col = headers.len() as u16 - 2;
            ws.write_string(row, kind_col, if line.findings.is_some() { "finding" } else { "inventory" })?;
            widths.text(who, line.who.chars().count());
            write_text_as(ws, row, who as u16, &line.who, true, f)?;
            wrapped.add(row, who, &line.who);
            row += 1;
        }
    }
    ws.write_string_with_format(row, 0, "Findings to review (grace-period users not counted)", &f.bold)?;
    let findings = audit.findings();
    ws.write_number_with_format(row, 2, findings as f64, &f.bold)?;
    widths.value(2, findings.to_string().len());
    row += 2;

    if let Scope::Whole { .. } = scope {
        let lists = audit.lists();
        if !lists.is_empty() {
            ws.write_string_with_format(row, 0, "Lists", &f.header)?;
            ws.write_string_with_format(row, 1, "Rows", &f.header)?;
            row += 1;
            for list in &lists {
                let link = Url::new(format!("internal:'{}'!A1", list.sheet)).set_text(list.title);
                ws.write_url(row, 0, link)?;
                widths.text(0, list.title.len());
                ws.write_number(row, 1, list.rows.len() as f64)?;
                widths.value(1, list.rows.len().to_string().len());
                row += 1;
            }
            row += 1;
        }
        let s = &audit.summary;
        ws.write_string_with_format(row, 0, "Population", &f.header)?;
        ws.write_string_with_format(row, 1, "Users", &f.header)?;
        row += 1;
        for (label, n) in [
            ("Users in the org", s.users_in_org),
            ("Audited users", s.audited_users),
            ("Active (not frozen)", s.active),
            ("Frozen", s.frozen),
            ("Deactivated", s.deactivated),
            ("With a Certinia grant", s.with_certinia_grant),
            ("With a Certinia licence", s.with_certinia_license),
        ] {
            ws.write_string(row, 0, label)?;
            ws.write_number(row, 1, n as f64)?;
            widths.value(1, n.to_string().len());
            row += 1;
        }
        row += 1;
        if !audit.notes.run.is_empty() {
            ws.write_string_with_format(row, 0, "Notes", &f.header)?;
            row += 1;
            for note in &audit.notes.run {
                write_text(ws, row, 0, note, f)?;
                row += 1;
            }
            row += 1;
        }
    }
    ws.write_string_with_format(
        row,
        0,
        format!(
            "All dates and times are UTC. Record each decision in the reviewer columns ({}) of the report \
             sheets; the {INSTRUCTIONS_SHEET} sheet says how. The Run sheet says how this workbook was made.",
            REVIEW_COLUMNS.join(", ")
        ),
        &f.note,
    )?;
    widths.apply(ws)?;
    wrapped.fit(ws, &widths)
}

pub(super) fn instructions(ws: &mut Worksheet, audit: &Audit, f: &Formats) -> Result<(), XlsxError> {
    let widths = Widths::fixed(&[28, 80, 44]);
    widths.apply(ws)?;
    let mut wrapped = Wrapped::default();
    let mut prose = |ws: &mut Worksheet, row: u32, col: u16, text: &str| -> Result<(), XlsxError> {
        wrapped.add(row, col as usize, text);
        write_text_as(ws, row, col, text, true, f)
    };
    ws.write_string_with_format(0, 0, "How to review", &f.title)?;
    let steps = [
        "1. Each report sheet lists the rows to review, one per user (or roster entry). The evidence columns \
         are protected; the five reviewer columns at the right are yours.",
        "2. For every finding, choose a Decision from the drop-down (each report offers its own choices), \
         enter your name in Reviewer and the date in DecidedOn (a date, YYYY-MM-DD). Ticket and Comment are \
         for the change ticket and the reason.",
        "3. A decision is complete with a choice, a reviewer and a date. Never-logged-in users still in the \
         grace period and the access matrix are not findings: deciding them is optional.",
        "4. Deactivate, Freeze, Remove access and Grant access are actions: an admin changes the org \
         afterwards. The tool never changes the org.",
        "5. Do not add, remove or edit evidence rows or cells; sort and filter freely. The sheets are \
         protected without a password against accidents (Review > Unprotect Sheet, e.g. to sort in Excel).",
    ];
    // Paragraphs span the three columns.
    let paragraph = |ws: &mut Worksheet, row: u32, text: &str| -> Result<(), XlsxError> {
        ws.merge_range(row, 0, row, 2, text, &f.wrap)?;
        let lines = (text.chars().count() as f64 * 1.2 / 148.0).ceil().max(1.0);
        ws.set_row_height(row, super::LINE_HEIGHT * lines)?;
        Ok(())
    };
    let mut row = 2;
    for step in steps {
        paragraph(ws, row, step)?;
        row += 1;
    }
    row += 1;
    for (col, header) in ["Report (sheet)", "Who is in it", "Decisions"].iter().enumerate() {
        ws.write_string_with_format(row, col as u16, *header, &f.header)?;
    }
    row += 1;
    for report in &audit.reports {
        let kind = report.kind;
        prose(ws, row, 0, &format!("{} ({})", kind.title(), kind.sheet_name()))?;
        prose(ws, row, 1, &explanation(kind, audit))?;
        let choices: Vec<&str> = kind.decisions().iter().map(|d| d.label()).collect();
        prose(ws, row, 2, &choices.join(", "))?;
        row += 1;
    }
    for line in super::apps::summary_lines(audit) {
        prose(ws, row, 0, &format!("{} ({})", line.title, line.sheet))?;
        prose(ws, row, 1, &line.who)?;
        prose(ws, row, 2, &line.decisions.join(", "))?;
        row += 1;
    }
    row += 1;
    for (col, header) in ["Decision", "What it means", "Offered in"].iter().enumerate() {
        ws.write_string_with_format(row, col as u16, *header, &f.header)?;
    }
    row += 1;
    for decision in Decision::ALL {
        let offered: Vec<&str> =
            ReportKind::ALL.iter().filter(|k| k.decisions().contains(&decision)).map(|k| k.sheet_name()).collect();
        ws.write_string_with_format(row, 0, decision.label(), &f.bold)?;
        prose(ws, row, 1, decision.meaning())?;
        prose(ws, row, 2, &offered.join(", "))?;
        row += 1;
    }
    if !audit.apps.is_empty() {
        ws.write_string_with_format(row, 0, "Disable account", &f.bold)?;
        prose(
            ws,
            row,
            1,
            "Disable the account in the other application (its administrator does it; the tool never changes \
             an application). Keep (justified) and Investigate mean there what they mean for the org.",
        )?;
        prose(ws, row, 2, "the other applications' sheets")?;
        row += 1;
    }
    row += 1;
    ws.write_string_with_format(row, 0, "Handing it back", &f.header)?;
    row += 1;
    let back = [
        "Save the workbook as .xlsx under its own name, in its report folder (managers: your file in \
         by-manager/), and tell the admin who runs the review.",
        "The admin runs `access-audit review <report folder>`: it checks that the workbook belongs to this run \
         and that every finding is decided, and writes the sign-off (review/signoff.json), every decision \
         (review/decisions.csv) and the files an admin loads to carry out the actions (review/remediation/).",
    ];
    for line in back {
        paragraph(ws, row, line)?;
        row += 1;
    }
    wrapped.fit(ws, &widths)
}

pub(super) fn managers(ws: &mut Worksheet, managers: &[Manager], f: &Formats) -> Result<(), XlsxError> {
    let headers = ["Manager", "ManagerEmail", "ManagerId", "Workbook", "Findings", "Users"];
    let mut widths = Widths::new(&headers, vec![40; headers.len()], true);
    for m in managers {
        widths.text(0, m.label().chars().count());
        widths.text(1, m.email.as_deref().map_or(0, |e| e.chars().count()));
        widths.text(2, m.id.as_deref().map_or(0, str::len));
        widths.text(3, m.file.len());
        widths.value(4, m.findings.to_string().len());
        widths.value(5, m.users.to_string().len());
    }
    widths.apply(ws)?;
    ws.set_freeze_panes(1, 1)?;
    ws.set_repeat_rows(0, 0)?;
    let table = Table::new()
        .set_name("managers")
        .set_columns(&headers.iter().map(|h| TableColumn::new().set_header(*h)).collect::<Vec<_>>())
        .set_style(TableStyle::Light9)
        .set_autofilter(true);
    ws.add_table(0, 0, managers.len().max(1) as u32, headers.len() as u16 - 1, &table)?;
    for (i, m) in managers.iter().enumerate() {
        let row = i as u32 + 1;
        write_text(ws, row, 0, m.label(), f)?;
        if let Some(email) = &m.email {
            write_text(ws, row, 1, email, f)?;
        }
        if let Some(id) = &m.id {
            write_text(ws, row, 2, id, f)?;
        }
        ws.write_string(row, 3, &m.file)?;
        ws.write_number(row, 4, m.findings as f64)?;
        ws.write_number(row, 5, m.users as f64)?;
    }
    Ok(())
}

pub(super) fn run(ws: &mut Worksheet, audit: &Audit, scope: &Scope<'_>, f: &Formats) -> Result<(), XlsxError> {
    let meta = &audit.meta;
    let rules = &meta.rules;
    for (col, w) in [30.0, 68.0, 10.0, 68.0, 110.0].iter().enumerate() {
        ws.set_column_width(col as u16, *w)?;
    }
    let join = |items: &[String]| {
        if items.is_empty() { "(none)".to_string() } else { items.join(", ") }
    };
    let roster = rules.roster.as_ref();
    let mut row = 0;
    let mut texts: Vec<(&str, String)> = vec![
        (RUN_ID_KEY, meta.run_id.clone()),
        ("Org Id", meta.org_id.clone()),
        ("Org name", meta.org_name.clone().unwrap_or_default()),
        ("Instance", meta.instance_url.clone()),
        ("Sandbox", meta.is_sandbox.to_string()),
        ("Pulled at", meta.pulled_at.clone()),
        ("Tool version", meta.tool_version.clone()),
        ("API version", meta.api_version.clone()),
        ("Audited user types", join(&rules.user_types)),
    ];
    if let Scope::Manager(m) = scope {
        texts.push(("Manager Id", m.id.clone().unwrap_or_else(|| "(none)".into())));
    }
    for (key, value) in &texts {
        key_text(ws, row, key, value, f)?;
        row += 1;
    }
    key_datetime(ws, row, "As of (UTC)", audit, f)?;
    row += 1;
    for (key, n) in [("Inactive after (days)", rules.inactive_days), ("Grace period (days)", rules.grace_days)] {
        key_number(ws, row, key, f64::from(n), f)?;
        row += 1;
    }
    let classes: Vec<String> = rules.excluded_classes.iter().map(|c| c.label().to_string()).collect();
    let exclusions = rules.exclusions.as_ref();
    let previous = meta.previous.as_ref();
    let seat_costs: Vec<String> = rules.seat_costs.iter().map(|(key, amount)| format!("{key}={amount}")).collect();
    let more: [(&str, String); 15] = [
        ("Certinia namespaces", join(&rules.namespaces)),
        (
            "Name patterns",
            if rules.name_patterns.is_empty() { "(none)".into() } else { rules.name_patterns.join("\n") },
        ),
        ("Roster file", roster.map(|r| r.file.clone()).unwrap_or_else(|| "(none)".into())),
        ("Roster SHA-256", roster.map(|r| r.sha256.clone()).unwrap_or_default()),
        ("Exclusions file", exclusions.map(|e| e.file.clone()).unwrap_or_else(|| "(none)".into())),
        ("Exclusions SHA-256", exclusions.map(|e| e.sha256.clone()).unwrap_or_default()),
        ("Excluded account classes", join(&classes)),
        ("Yearly seat costs", join(&seat_costs)),
        ("Previous review", previous.map(|p| p.folder.clone()).unwrap_or_else(|| "(none)".into())),
        ("Previous run id", previous.map(|p| p.run_id.clone()).unwrap_or_default()),
        ("Previous as of", previous.map(|p| p.as_of.clone()).unwrap_or_default()),
        ("Previous manifest SHA-256", previous.map(|p| p.manifest_sha256.clone()).unwrap_or_default()),
        ("Previous workbook SHA-256", previous.and_then(|p| p.workbook_sha256.clone()).unwrap_or_default()),
        ("Split by manager", meta.split_by_manager.to_string()),
        (MANIFEST_KEY, meta.manifest_sha256.clone()),
    ];
    for (key, value) in &more {
        key_text(ws, row, key, value, f)?;
        row += 1;
    }
    if let Some(r) = roster {
        key_number(ws, row, "Roster entries", r.entries as f64, f)?;
        row += 1;
    }
    if let Some(e) = exclusions {
        key_number(ws, row, "Exclusions entries", e.entries as f64, f)?;
        row += 1;
    }
    // What the run could not audit ("PSA not installed: …") and its other warnings, with the
    // evidence they qualify.
    if !audit.notes.run.is_empty() {
        key_text(ws, row, "Notes", &audit.notes.run.join("\n"), f)?;
        row += 1;
    }

    row += 1;
    ws.write_string_with_format(row, 0, "Snapshot files", &f.title)?;
    row += 1;
    let headers = ["Object", "File", "Rows", "SHA-256", "SOQL"];
    if meta.sources.is_empty() {
        ws.write_string_with_format(row, 0, "(none recorded)", &f.note)?;
        return Ok(());
    }
    let columns: Vec<TableColumn> = headers.iter().map(|h| TableColumn::new().set_header(*h)).collect();
    let first = row;
    let last = first + meta.sources.len() as u32;
    ws.add_table(
        first,
        0,
        last,
        headers.len() as u16 - 1,
        &Table::new().set_name("snapshot_files").set_columns(&columns).set_style(TableStyle::Light9),
    )?;
    for (i, source) in meta.sources.iter().enumerate() {
        let r = first + 1 + i as u32;
        write_text(ws, r, 0, &source.object, f)?;
        write_text(ws, r, 1, &source.file, f)?;
        ws.write_number(r, 2, source.rows as f64)?;
        write_text(ws, r, 3, &source.sha256, f)?;
        write_text_as(ws, r, 4, &source.soql, true, f)?;
    }
    Ok(())
}
