//! The two messages: a report folder's digest, and the notice of a failed run.

use std::io::Write;
use std::path::{Path, PathBuf};

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde_json::Value;

use super::MailError;
use crate::config::EmailConfig;
use crate::deliver::{FileList, WORKBOOK};
use crate::files;
use crate::render::email::{self, ATTACHMENTS_ALL};
use crate::render::json::FILE_NAME as SUMMARY;

/// The zip of the CSVs, as attached.
pub const CSV_ZIP: &str = "reports-csv.zip";
const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A message ready to send, and what it holds.
#[derive(Debug)]
pub struct Outgoing {
    pub message: Message,
    /// Its size as sent (MIME-encoded).
    pub bytes: usize,
    pub to: Vec<String>,
    pub subject: String,
    /// The attached files' names.
    pub attachments: Vec<String>,
}

/// What the digest says about the run, from the folder's `summary.json` (an org's, or the
/// combined summary of a run of several orgs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFacts {
    /// The org's name, else its Id.
    pub org: String,
    /// `2026-11-20 09:00 UTC`.
    pub as_of: String,
    pub findings: u64,
}

impl RunFacts {
    /// Reads `summary.json` of a report folder.
    pub fn read(dir: &Path) -> Result<RunFacts, MailError> {
        let path = dir.join(SUMMARY);
        let bytes = files::read_member(&path, files::MARKER)
            .map_err(|source| MailError::Read { path: path.clone(), source })?;
        let bad = |detail: &str| MailError::Summary { path: path.clone(), detail: detail.to_string() };
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| bad(&format!("not valid JSON: {e}")))?;
        // A run of several orgs' combined summary names them all in its `label`.
        let org = v["org"]["name"]
            .as_str()
            .or_else(|| v["org"]["id"].as_str())
            .or_else(|| v["label"].as_str())
            .ok_or_else(|| bad("it names no org"))?;
        let as_of = v["as_of"].as_str().ok_or_else(|| bad("it has no as_of"))?;
        let as_of = chrono::DateTime::parse_from_rfc3339(as_of)
            .map_err(|_| bad("its as_of is not an RFC 3339 instant"))?
            .to_utc()
            .format("%Y-%m-%d %H:%M UTC")
            .to_string();
        let findings = v["findings"].as_u64().ok_or_else(|| bad("it has no findings count"))?;
        Ok(RunFacts { org: one_line(org), as_of, findings })
    }

    /// The subject: the template with `{org}`, `{as_of}` and `{findings}` filled in.
    pub fn subject(&self, template: &str) -> String {
        template
            .replace("{org}", &self.org)
            .replace("{as_of}", &self.as_of)
            .replace("{findings}", &self.findings.to_string())
    }
}

/// Text from outside as one header-safe line: control characters shown, never a line break.
fn one_line(text: &str) -> String {
    crate::text::visible(&text.split_whitespace().collect::<Vec<_>>().join(" ")).into_owned()
}

/// A report folder's file, read and checked against the SHA-256 its file list recorded.
fn checked(dir: &Path, list: &FileList, name: &str) -> Result<Vec<u8>, MailError> {
    let record = list.files.iter().find(|f| f.file == name).ok_or_else(|| MailError::NotReportFolder {
        path: dir.to_path_buf(),
        reason: format!("it has no {name}; a folder written by an older access-audit: run the report again"),
    })?;
    let path = dir.join(name);
    let bytes = files::read_member(&path, files::REPORT_FILE)
        .map_err(|source| MailError::Read { path: path.clone(), source })?;
    let sha256 = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(&bytes))
    };
    if sha256 != record.sha256 {
        return Err(MailError::Changed { path: dir.to_path_buf(), file: name.to_string() });
    }
    Ok(bytes)
}

/// The CSVs in one zip, in name order, with fixed timestamps (the same folder, the same bytes).
fn zip_csvs(csvs: &[(String, Vec<u8>)]) -> Result<Vec<u8>, MailError> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let build = |e: &dyn std::fmt::Display| MailError::Build(format!("zip of the CSVs: {e}"));
    for (name, bytes) in csvs {
        zip.start_file(name.as_str(), options).map_err(|e| build(&e))?;
        zip.write_all(bytes).map_err(|e| build(&e))?;
    }
    Ok(zip.finish().map_err(|e| build(&e))?.into_inner())
}

/// The headers every message carries: from, to, subject, date, and that no human sent it
/// (RFC 3834's `Auto-Submitted`, so that no auto-responder answers a cron job).
fn envelope(config: &EmailConfig, subject: &str) -> lettre::message::MessageBuilder {
    let mut builder = Message::builder().from(config.from.clone()).subject(subject).date_now();
    for to in &config.to {
        builder = builder.to(to.clone());
    }
    builder
}

fn finish(
    config: &EmailConfig,
    subject: String,
    message: Result<Message, lettre::error::Error>,
    attachments: Vec<String>,
) -> Result<Outgoing, MailError> {
    let mut message = message.map_err(|e| MailError::Build(e.to_string()))?;
    message
        .headers_mut()
        .insert_raw(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".to_string()));
    let bytes = message.formatted().len();
    Ok(Outgoing { message, bytes, to: config.to.iter().map(Mailbox::to_string).collect(), subject, attachments })
}

/// The digest of the report folder `dir` (shown as `location` in the body): the folder's
/// `email.txt` and `email.html`, the workbook and the CSVs zipped, within `--email-max-bytes`.
pub fn digest(config: &EmailConfig, dir: &Path, location: &Path) -> Result<Outgoing, MailError> {
    let list = FileList::read(dir).map_err(|reason| MailError::NotReportFolder { path: dir.to_path_buf(), reason })?;
    let facts = RunFacts::read(dir)?;
    checked(dir, &list, SUMMARY)?;
    let html = String::from_utf8_lossy(&checked(dir, &list, email::HTML_FILE)?).into_owned();
    let text = String::from_utf8_lossy(&checked(dir, &list, email::TEXT_FILE)?).into_owned();
    let mut csvs = Vec::new();
    for record in list.files.iter().filter(|f| f.file.ends_with(".csv") && !f.file.contains('/')) {
        csvs.push((record.file.clone(), checked(dir, &list, &record.file)?));
    }
    csvs.sort();
    // The workbook is sent as it is now: reviewers may have recorded decisions in it.
    let workbook_path = dir.join(WORKBOOK);
    let workbook = files::read_member(&workbook_path, files::REPORT_FILE)
        .map_err(|source| MailError::Read { path: workbook_path, source })?;
    let zip = zip_csvs(&csvs)?;
    let subject = facts.subject(&config.subject);
    let location = location.display().to_string();
    let max = config.max_bytes;

    // Everything; then the workbook only; then nothing, whichever first fits.
    let plans: [(&[&str], String); 3] = [
        (&[WORKBOOK, CSV_ZIP], ATTACHMENTS_ALL.to_string()),
        (
            &[WORKBOOK],
            format!(
                "Attached: the workbook ({WORKBOOK}) only: with the CSVs the message would exceed {max} bytes \
                 (--email-max-bytes). Every CSV is in the full report."
            ),
        ),
        (
            &[],
            format!(
                "Nothing is attached: even the workbook alone would exceed {max} bytes (--email-max-bytes). \
                 The workbook and every CSV are in the full report."
            ),
        ),
    ];
    let mut last = None;
    for (names, sentence) in plans {
        let body = MultiPart::alternative()
            .singlepart(SinglePart::plain(email::with_location(&text, &location, &sentence, false)))
            .singlepart(SinglePart::html(email::with_location(&html, &location, &sentence, true)));
        let mut mixed = MultiPart::mixed().multipart(body);
        for name in names {
            let (bytes, kind) =
                if *name == WORKBOOK { (workbook.clone(), XLSX_TYPE) } else { (zip.clone(), "application/zip") };
            let kind = ContentType::parse(kind).expect("a valid media type");
            mixed = mixed.singlepart(Attachment::new(name.to_string()).body(bytes, kind));
        }
        let message = envelope(config, &subject).multipart(mixed);
        let outgoing = finish(config, subject.clone(), message, names.iter().map(|n| n.to_string()).collect())?;
        if outgoing.bytes as u64 <= max {
            return Ok(outgoing);
        }
        tracing::info!("{} bytes with {}: over --email-max-bytes {max}", outgoing.bytes, names.join(" and "));
        last = Some(outgoing);
    }
    // Not even the body fits: send it all the same, without attachments (the body is bounded).
    Ok(last.expect("three plans were tried"))
}

/// Where the last good report of the org is, for a failure notice.
#[derive(Debug, Clone)]
pub struct LastGood {
    pub dir: PathBuf,
    pub facts: Option<RunFacts>,
}

impl LastGood {
    /// The report folder `dir`, if it is one of ours.
    pub fn at(dir: &Path) -> Option<LastGood> {
        FileList::read(dir).ok()?;
        Some(LastGood { dir: dir.to_path_buf(), facts: RunFacts::read(dir).ok() })
    }
}

/// The notice of a failed run: the org, the one-line error, the exit code and what it means,
/// and where the last good report is. It reports no finding: the last good report's findings
/// are not news.
pub fn failure_notice(
    config: &EmailConfig,
    org: &str,
    error: &str,
    exit_code: i32,
    meaning: &str,
    last_good: Option<&LastGood>,
) -> Result<Outgoing, MailError> {
    let org = one_line(org);
    let subject = format!("access-audit FAILED for {org} (exit {exit_code}): no new report");
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let last = match last_good {
        Some(LastGood { dir, facts: Some(facts) }) => format!(
            "The last good report is {} (as of {}). Its findings are not repeated here: they are not new.",
            dir.display(),
            facts.as_of
        ),
        Some(LastGood { dir, facts: None }) => {
            format!("The last good report is {}. Its findings are not repeated here: they are not new.", dir.display())
        }
        None => "There is no earlier report of this org.".to_string(),
    };
    let body = format!(
        "The access-audit run for {org} failed at {now} and wrote no new report.\n\n\
         Error: {}\n\
         Exit code: {exit_code} ({meaning})\n\n\
         {last}\n\n\
         -- \naccess-audit {}\n",
        one_line(error),
        env!("CARGO_PKG_VERSION")
    );
    let message = envelope(config, &subject).singlepart(SinglePart::plain(body));
    finish(config, subject, message, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_zip_is_the_same_bytes_for_the_same_csvs() {
        let csvs = vec![("a.csv".to_string(), b"Id\r\n1\r\n".to_vec()), ("b.csv".to_string(), b"Id\r\n".to_vec())];
        let zip = zip_csvs(&csvs).unwrap();
        assert_eq!(zip, zip_csvs(&csvs).unwrap());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), 2);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("a.csv").unwrap(), &mut text).unwrap();
        assert_eq!(text, "Id\r\n1\r\n");
    }

    #[test]
    fn the_subject_fills_in_its_fields_on_one_line() {
        let facts = RunFacts {
            org: one_line("Acme\r\nBcc: evil@example.com"),
            as_of: "2026-11-20 09:00 UTC".into(),
            findings: 7,
        };
        assert_eq!(facts.org, "Acme Bcc: evil@example.com");
        assert_eq!(
            facts.subject(crate::config::DEFAULT_SUBJECT),
            "Certinia access review Acme Bcc: evil@example.com: 7 findings as of 2026-11-20 09:00 UTC"
        );
    }
}
