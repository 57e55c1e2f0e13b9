//! The email from cron, through the real binary: the simulator on 127.0.0.1 for Salesforce and a
//! real SMTP server on 127.0.0.1 that requires STARTTLS and a login. What arrives is parsed as
//! MIME and compared with the report folder byte for byte.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use sf_sim::{FaultRule, Faults, Injected, Sim};

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";
const TO_A: &str = "it-sec@acme.example";
const TO_B: &str = "auditor@acme.example";

/// `run` against the simulator with an access token, into `out`.
fn run(work: &Path, sim: &Sim, out_args: &[&str]) -> assert_cmd::Command {
    let mut cmd = bin(work);
    cmd.arg("run").args(out_args).args(["--as-of", AS_OF, "--instance-url", &sim.base_url()]);
    cmd.env("SF_ACCESS_TOKEN", ACCESS_TOKEN);
    cmd
}

/// `report` of the demo snapshot into `work/out`, without email.
fn demo_report(work: &Path) {
    let output = bin(work)
        .args(["report", "--snapshot"])
        .arg(demo_org())
        .args(["--out", "out", "--as-of", "2026-11-20T09:00:00Z"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
}

/// The digest's placeholder sentences, as the folder's email.txt holds them.
const LOCATION: &str = access_audit::render::email::LOCATION_PLACEHOLDER;
const ATTACHED: &str = access_audit::render::email::ATTACHMENTS_ALL;

/// A parsed part's media type, `type/subtype`.
fn media(part: &mail_parser::MessagePart) -> String {
    let ct = part.content_type().expect("a content type");
    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default())
}

#[test]
fn the_digest_arrives_over_starttls_with_a_login_and_matches_the_report_folder() {
    let work = tempfile::tempdir().unwrap();
    let sim = sim(small_org());
    let smtp = SmtpServer::start();
    let mut cmd = run(work.path(), &sim, &["--out", "out"]);
    cmd.args(["--email-to", TO_A, "--email-to", &format!("Auditor <{TO_B}>")]);
    smtp.args(&mut cmd);
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let out = work.path().join("out");

    // One message, to both recipients, after a successful login (over STARTTLS: the server
    // accepts AUTH only after it, and a message only after AUTH).
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let raw = &received[0].data;
    let mut rcpt: Vec<String> = received[0].to.iter().map(|a| a.trim_matches(['<', '>']).to_string()).collect();
    rcpt.sort();
    assert_eq!(rcpt, [TO_B, TO_A]);
    assert_eq!(smtp.logins(), [(SMTP_USER.to_string(), true)]);

    let message = MessageParser::default().parse(raw).expect("a MIME message");
    let to: Vec<&str> = message.to().unwrap().iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, [TO_A, TO_B]);
    assert_eq!(message.from().unwrap().first().unwrap().address(), Some("access-audit@acme.example"));
    // The subject: the default template filled in from summary.json.
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let expected = format!(
        "Certinia access review {}: {} findings as of 2026-10-01 00:00 UTC",
        summary["org"]["name"].as_str().unwrap(),
        summary["findings"]
    );
    assert_eq!(message.subject(), Some(expected.as_str()));
    assert!(String::from_utf8_lossy(raw).contains("Auto-Submitted: auto-generated"));

    // multipart/mixed: multipart/alternative (text/plain, then text/html), then the attachments.
    let root = message.root_part();
    assert_eq!(media(root), "multipart/mixed");
    let PartType::Multipart(children) = &root.body else { panic!("not multipart") };
    assert_eq!(children.len(), 3);
    let alternative = message.part(children[0]).unwrap();
    assert_eq!(media(alternative), "multipart/alternative");
    let PartType::Multipart(bodies) = &alternative.body else { panic!("not multipart") };
    let kinds: Vec<String> = bodies.iter().map(|i| media(message.part(*i).unwrap())).collect();
    assert_eq!(kinds, ["text/plain", "text/html"]);

    // The bodies are the folder's email.txt and email.html, with where the report is filled in.
    let shown = "out";
    let text = std::fs::read_to_string(out.join("email.txt")).unwrap().replace(LOCATION, shown);
    let html = std::fs::read_to_string(out.join("email.html")).unwrap().replace(LOCATION, shown);
    assert!(text.contains(ATTACHED) && html.contains(ATTACHED));
    let norm = |s: &str| s.replace("\r\n", "\n");
    assert_eq!(norm(&message.body_text(0).unwrap()), norm(&text));
    assert_eq!(norm(&message.body_html(0).unwrap()), norm(&html));

    // The attachments, byte for byte: the workbook, and every CSV of the folder in one zip.
    let attachments: BTreeMap<String, Vec<u8>> =
        message.attachments().map(|a| (a.attachment_name().unwrap().to_string(), a.contents().to_vec())).collect();
    assert_eq!(attachments.keys().collect::<Vec<_>>(), ["access-review.xlsx", "reports-csv.zip"]);
    assert_eq!(attachments["access-review.xlsx"], std::fs::read(out.join("access-review.xlsx")).unwrap());
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(attachments["reports-csv.zip"].clone())).unwrap();
    let mut zipped = BTreeMap::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        zipped.insert(file.name().unwrap().to_string(), bytes);
    }
    let csvs: BTreeMap<String, Vec<u8>> = tree(&out)
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "csv") && p.parent() == Some(Path::new("")))
        .map(|(p, b)| (p.display().to_string(), b))
        .collect();
    assert!(csvs.len() >= 5, "{:?}", csvs.keys());
    assert_eq!(zipped, csvs);

    // No secret anywhere: not in the message, not in what the run printed.
    let printed = format!("{}{}", stdout_of(&output), stderr_of(&output));
    for secret in [SMTP_PASSWORD, ACCESS_TOKEN] {
        assert!(!String::from_utf8_lossy(raw).contains(secret), "{secret} in the message");
        assert!(!printed.contains(secret), "{secret} in the output");
    }
    let encoded = base64_of(SMTP_PASSWORD);
    assert!(!String::from_utf8_lossy(raw).contains(&encoded));
}

fn base64_of(text: &str) -> String {
    // A few lines rather than a dependency: standard alphabet, with padding.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn a_failed_run_sends_a_notice_and_never_the_last_findings() {
    let work = tempfile::tempdir().unwrap();
    let sim = sim(small_org());
    let smtp = SmtpServer::start();
    // A good run first, then one that fails (Salesforce refuses: the daily quota is spent).
    let first = run(work.path(), &sim, &["--reviews", "reviews", "--org-name", "acme"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let good = std::fs::canonicalize(work.path().join("reviews/acme/latest")).unwrap();
    sim.set_faults(Faults { rules: vec![FaultRule::always(Injected::RequestLimitExceeded)], ..Faults::none() });
    let mut cmd = run(work.path(), &sim, &["--reviews", "reviews", "--org-name", "acme", "--email-on-failure"]);
    cmd.args(["--email-to", TO_A]);
    smtp.args(&mut cmd);
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));

    let received = smtp.received();
    assert_eq!(received.len(), 1, "one notice");
    let message = MessageParser::default().parse(&received[0].data).unwrap();
    assert_eq!(message.subject(), Some("access-audit FAILED for acme (exit 3): no new report"));
    assert_eq!(media(message.root_part()), "text/plain", "a short notice, nothing attached");
    assert_eq!(message.attachments().count(), 0);
    let body = message.body_text(0).unwrap().replace("\r\n", "\n");
    let error_line = stderr_of(&output).lines().find(|l| l.starts_with("access-audit: error: ")).unwrap().to_string();
    assert!(body.contains(&format!("Error: {}", &error_line["access-audit: error: ".len()..])), "{body}");
    assert!(body.contains("REQUEST_LIMIT_EXCEEDED"), "{body}");
    assert!(body.contains("Exit code: 3 (a Salesforce or network failure)"), "{body}");
    assert!(
        body.contains(&format!("The last good report is reviews/acme/{}", good.file_name().unwrap().to_string_lossy())),
        "{body}"
    );
    // Not one user of the last good report's findings.
    for (_, row) in csv_rows(&good.join("inactive-users.csv")) {
        assert!(!body.contains(&row["Username"]), "{} in the notice", row["Username"]);
    }
    assert!(!body.to_lowercase().contains("findings to review"));
    // And the last good run is still the latest.
    assert_eq!(std::fs::canonicalize(work.path().join("reviews/acme/latest")).unwrap(), good);
}

#[test]
fn a_refused_login_is_exit_7_with_the_reports_committed() {
    let work = tempfile::tempdir().unwrap();
    let sim = sim(small_org());
    let smtp = SmtpServer::start();
    let mut cmd = run(work.path(), &sim, &["--out", "out", "--email-on-failure"]);
    cmd.args(["--email-to", TO_A]);
    smtp.args(&mut cmd);
    cmd.env("ACCESS_AUDIT_SMTP_PASSWORD", "not-the-password");
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(7), "{}", stderr_of(&output));
    let err = stderr_of(&output);
    assert!(err.contains("the server refused the login"), "{err}");
    assert!(err.contains("the reports are written in out"), "{err}");
    assert!(!err.contains("not-the-password"));
    assert_eq!(smtp.logins(), [(SMTP_USER.to_string(), false)]);
    assert!(smtp.received().is_empty(), "no message, and no failure notice through the same refusing server");
    // The reports are there, complete: the folder's file list matches what is on disk.
    let list = access_audit::deliver::FileList::read(&work.path().join("out")).unwrap();
    assert!(list.files.iter().any(|f| f.file == "email.html"));
    for record in &list.files {
        let bytes = std::fs::read(work.path().join("out").join(&record.file)).unwrap();
        assert_eq!(bytes.len() as u64, record.bytes, "{}", record.file);
    }
    access_audit::snapshot::verify(&work.path().join("out/snapshot")).unwrap();
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start();
    demo_report(work.path());
    // Without --smtp-ca-file the test-only CA is not trusted: no login is even tried.
    let output = bin(work.path())
        .args(["send", "out", "--email-to", TO_A, "--email-from", "a@acme.example", "--smtp-host", "127.0.0.1"])
        .args(["--smtp-port", &smtp.port.to_string(), "--smtp-username", SMTP_USER])
        .env("ACCESS_AUDIT_SMTP_PASSWORD", SMTP_PASSWORD)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(7), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("TLS"), "{}", stderr_of(&output));
    assert!(smtp.logins().is_empty());
    // Plain SMTP is refused for any host but this machine.
    let output = bin(work.path())
        .args(["send", "out", "--email-to", TO_A, "--email-from", "a@acme.example"])
        .args(["--smtp-host", "smtp.acme.example", "--smtp-tls", "none"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("only for a server on this machine"), "{}", stderr_of(&output));
}

#[test]
fn send_resends_a_folder_and_drops_the_csvs_above_the_size_limit() {
    let work = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start();
    demo_report(work.path());
    let send = |extra: &[&str]| {
        let mut cmd = bin(work.path());
        cmd.args(["--json", "send", "out", "--email-to", TO_A]).args(extra);
        smtp.args(&mut cmd);
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        serde_json::from_str::<serde_json::Value>(&stdout_of(&output)).unwrap()
    };
    let full = send(&[]);
    assert_eq!(full["result"]["email"]["attachments"], serde_json::json!(["access-review.xlsx", "reports-csv.zip"]));
    let bytes = full["result"]["email"]["bytes"].as_u64().unwrap();
    // One byte under the whole message: the CSVs stay behind, the body says where they are.
    let cut = send(&["--email-max-bytes", &(bytes - 1).to_string()]);
    assert_eq!(cut["result"]["email"]["attachments"], serde_json::json!(["access-review.xlsx"]));
    let received = smtp.received();
    assert_eq!(received.len(), 2);
    let message = MessageParser::default().parse(&received[1].data).unwrap();
    let names: Vec<&str> = message.attachments().filter_map(|a| a.attachment_name()).collect();
    assert_eq!(names, ["access-review.xlsx"]);
    let text = message.body_text(0).unwrap();
    assert!(text.contains("Attached: the workbook (access-review.xlsx) only"), "{text}");
    let folder = std::fs::canonicalize(work.path().join("out")).unwrap();
    assert!(text.contains(&format!("Full report: {}", folder.display())), "{text}");
    assert!((received[1].data.len() as u64) < bytes);
}

#[test]
fn a_changed_digest_is_not_sent() {
    let work = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start();
    demo_report(work.path());
    std::fs::write(work.path().join("out/email.html"), "<p>all clear</p>").unwrap();
    let mut cmd = bin(work.path());
    cmd.args(["send", "out", "--email-to", TO_A]);
    smtp.args(&mut cmd);
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("email.html is not the file access-audit wrote"), "{}", stderr_of(&output));
    assert!(smtp.received().is_empty());
}

#[test]
fn the_digest_of_a_20k_user_org_is_under_100_kb_and_mail_safe() {
    // The bound holds by construction (src/render/email.rs: rows per report, clipped fields, a
    // byte budget per report; its unit tests flood every report with hostile text); here a
    // generated org pulled through the binary. The 100,000-user org is the benchmark's
    // (`ACCESS_AUDIT_BENCH_SIZES=100000x400000 cargo bench --bench pipeline` asserts and prints it).
    let work = tempfile::tempdir().unwrap();
    let sim = sim(sf_sim::generate::synthetic_org(5, 20_000, 60_000));
    let output = run(work.path(), &sim, &["--out", "out"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let html = std::fs::read_to_string(work.path().join("out/email.html")).unwrap();
    assert!(html.len() <= 100 * 1024, "{} bytes", html.len());
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<svg") && !lower.contains("<script") && !lower.contains("<img"));
    let instance = sim.base_url();
    let links: Vec<&str> = html.split("href=\"").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]).collect();
    assert!(links.len() >= 25, "{} links", links.len());
    for link in links {
        assert!(link.starts_with(&format!("{instance}/lightning/r/User/005")) && link.ends_with("/view"), "{link}");
    }
    assert!(!lower.contains("src="), "no external resource");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("out/summary.json")).unwrap()).unwrap();
    assert!(summary["findings"].as_u64().unwrap() > 1000, "a large org with many findings: {}", summary["findings"]);
}
