//! The benchmark of a whole `access-audit run` on a large org: `cargo bench --bench pipeline`.
//!
//! It generates a deterministic org (100,000 users, 1,000,000 permission set assignment targets,
//! 15,000 package licences, PSA and Accounting installed: licences, resources, permission
//! controls, user companies), serves it from sf-sim over HTTPS with every data request delayed by
//! 50 ms, and runs the real release binary end to end (pull and every report, with a roster) once
//! per strategy: sequential REST (`--api rest --max-cursors 1`), parallel REST (`--api rest`) and
//! `--api auto`. For each it prints the wall time, the API requests by kind (as the simulator
//! answered them), the peak RSS of the child (`getrusage(RUSAGE_CHILDREN)` in a process of its
//! own, so that it is that child's alone), and the **floor** of that strategy, measured in the same
//! run: a bare client that sends the same requests with the same concurrency (the same counts,
//! probes, pages of the same queries, Bulk job calls) and only downloads the answers, parsing
//! nothing. Then it times `report` alone from the auto run's snapshot. The three runs' reports
//! must be byte-identical; the benchmark fails otherwise.
//!
//! Flags (after `--`): `--users N --assignments N --licences N --latency-ms N`, e.g.
//! `cargo bench --bench pipeline -- --users 10000 --assignments 100000 --licences 1500`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use access_audit::snapshot;
use sf_sim::{Faults, Sim, SimConfig};

const TOKEN: &str = "00DSIM000000001!AQ-bench-token";
const AS_OF: &str = "2026-10-01T00:00:00Z";

struct Settings {
    users: usize,
    assignments: usize,
    licences: usize,
    latency_ms: u64,
}

fn settings() -> Settings {
    let mut s = Settings { users: 100_000, assignments: 1_000_000, licences: 15_000, latency_ms: 50 };
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = || -> usize {
            it.clone().next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--users" => s.users = value(),
            "--assignments" => s.assignments = value(),
            "--licences" => s.licences = value(),
            "--latency-ms" => s.latency_ms = value() as u64,
            other => panic!("unknown flag {other} (--users, --assignments, --licences, --latency-ms)"),
        }
        it.next();
    }
    s
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One measured run of the binary.
struct Measured {
    wall: Duration,
    peak_rss_kib: u64,
    ok: bool,
}

/// Runs `args` as the binary in a process of its own (this benchmark re-run with `--measure`),
/// which waits for it and reports its peak RSS from `getrusage(RUSAGE_CHILDREN)`.
fn measure(args: &[String]) -> Measured {
    let started = Instant::now();
    let output = Command::new(std::env::current_exe().expect("the benchmark"))
        .arg("--measure")
        .arg(env!("CARGO_BIN_EXE_access-audit"))
        .args(args)
        .env("SF_ACCESS_TOKEN", TOKEN)
        .output()
        .expect("the measuring process");
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut fields = stdout.split_whitespace();
    let ok = fields.next() == Some("0");
    let peak_rss_kib = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    if !ok {
        eprintln!("the run failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Measured { wall, peak_rss_kib, ok }
}

/// `--measure BINARY ARGS…`: run it, wait, print "exit-code max-rss-kib".
fn measure_child(args: &[String]) -> ! {
    let status = Command::new(&args[0]).args(&args[1..]).status().expect("the binary");
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    // Linux reports ru_maxrss in KiB.
    println!("{} {}", status.code().unwrap_or(-1), usage.max_rss());
    std::process::exit(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--measure") {
        measure_child(&args[1..]);
    }
    let s = settings();
    let work = tempfile::tempdir().expect("a temporary folder");
    let w = work.path();

    let started = Instant::now();
    let mut org = sf_sim::generate::synthetic_org(1, s.users, s.assignments);
    if let Some(licences) = org.objects_mut().get_mut("UserPackageLicense") {
        licences.truncate(s.licences);
    }
    // PSA and Accounting installed: licences, resources, permission controls, user companies.
    sf_sim::generate::add_certinia(&mut org, chrono::DateTime::parse_from_rfc3339(AS_OF).unwrap().timestamp());
    let counts: BTreeMap<String, usize> = org.objects().iter().map(|(k, v)| (k.clone(), v.len())).collect();
    // A roster: every third user by username, and a few people who have no account.
    let mut roster = String::from("username,email\n");
    for (i, user) in org.records("User").iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        roster.push_str(&format!("{},\n", user["Username"].as_str().unwrap_or_default()));
        if i % 3000 == 0 {
            roster.push_str(&format!(",nobody{i}@example.com\n"));
        }
    }
    std::fs::write(w.join("roster.csv"), roster).unwrap();
    println!(
        "org: {} users, {} assignments, {} package licences, {} logins (generated in {:.1} s); latency {} ms a data request, HTTPS",
        counts["User"],
        counts["PermissionSetAssignment"],
        counts["UserPackageLicense"],
        counts["UserLogin"],
        started.elapsed().as_secs_f64(),
        s.latency_ms
    );

    let read = |f: &str| std::fs::read_to_string(fixtures().join("tls").join(f)).expect("test TLS material");
    let mut config = SimConfig::new(org);
    config.access_tokens = vec![TOKEN.into()];
    config.api_max = 1_000_000;
    config.faults = Faults { latency: Duration::from_millis(s.latency_ms), ..Faults::none() };
    let sim = Sim::start_tls(config, &read("test-only-server.pem"), &read("test-only-server.key")).expect("sf-sim");
    let ca = fixtures().join("tls/test-only-ca.pem");

    let strategies: [(&str, &[&str]); 3] = [
        ("sequential REST", &["--api", "rest", "--max-cursors", "1"]),
        ("parallel REST", &["--api", "rest"]),
        ("auto", &["--api", "auto"]),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut rows = Vec::new();
    for (i, (name, options)) in strategies.iter().enumerate() {
        let out = w.join(format!("run{i}"));
        let mut args: Vec<String> = ["--quiet", "run", "--out"].map(String::from).to_vec();
        args.push(out.display().to_string());
        args.extend(
            [
                "--as-of",
                AS_OF,
                "--instance-url",
                &sim.base_url(),
                "--ca-file",
                &ca.display().to_string(),
                "--roster",
                &w.join("roster.csv").display().to_string(),
            ]
            .map(String::from),
        );
        args.extend(options.iter().map(|o| o.to_string()));
        sim.reset_stats();
        sim.with_state(|st| st.clear_cursors());
        let run = measure(&args);
        assert!(run.ok, "{name}: the run failed");
        let stats = sim.stats();
        let manifest = snapshot::read_manifest(&out.join("snapshot")).expect("the run's snapshot");
        sim.reset_stats();
        sim.with_state(|st| st.clear_cursors());
        let floor_started = Instant::now();
        let sequential = options.contains(&"--max-cursors");
        let floor_requests = runtime.block_on(floor::replay(&sim.base_url(), &ca, &manifest, sequential));
        let floor = floor_started.elapsed();
        let floor_stats = sim.stats();
        rows.push((name.to_string(), run, stats, manifest, floor, floor_requests, floor_stats, out));
    }

    println!();
    println!("| strategy | wall | floor | wall / floor | API requests | peak RSS |");
    println!("|---|---|---|---|---|---|");
    for (name, run, _, manifest, floor, _, _, _) in &rows {
        println!(
            "| {name} | {:.1} s | {:.1} s | {:.2} | {} | {} MiB |",
            run.wall.as_secs_f64(),
            floor.as_secs_f64(),
            run.wall.as_secs_f64() / floor.as_secs_f64(),
            manifest.api.requests,
            run.peak_rss_kib / 1024
        );
    }
    println!();
    for (name, _, stats, manifest, _, floor_requests, floor_stats, _) in &rows {
        let kinds: Vec<String> = stats.requests_by_kind.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let floor_kinds: Vec<String> = floor_stats.requests_by_kind.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let objects: Vec<String> = manifest
            .objects
            .iter()
            .map(|o| {
                let how = match (o.api.as_deref(), o.queries.len()) {
                    (Some("bulk"), _) => "Bulk".to_string(),
                    (_, 0) => "REST".to_string(),
                    (_, n) => format!("REST x{n}"),
                };
                format!("{} {} rows {how}", o.object, o.rows)
            })
            .collect();
        println!(
            "{name}: requests by kind: {}; the floor sent {floor_requests}: {}",
            kinds.join(", "),
            floor_kinds.join(", ")
        );
        println!("  {}", objects.join("; "));
        println!("  most cursors open at once: {}", stats.max_open_cursors);
    }

    // The reports must not depend on the strategy.
    let reports = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "csv"))
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect()
    };
    let first = reports(&rows[0].7);
    for row in &rows[1..] {
        assert!(reports(&row.7) == first, "{}: the reports differ from sequential REST's", row.0);
        for o in &rows[0].3.objects {
            let other = row.3.object(&o.object).expect("the same objects");
            assert_eq!(o.sha256, other.sha256, "{}: {} differs from sequential REST's", row.0, o.file);
        }
    }
    println!("\nthe three runs wrote byte-identical snapshot files and CSV reports");
    // The digest mailed as the body: at most 100 KB whatever the org's size (issue 8).
    let digest = std::fs::metadata(rows[2].7.join("email.html")).expect("email.html").len();
    assert!(digest <= 100 * 1024, "email.html is {digest} bytes, over 100 KB");
    println!("email.html, the digest mailed as the body: {:.1} KB (at most 100 KB)", digest as f64 / 1024.0);

    // `report` alone, from the auto run's snapshot.
    let mut args: Vec<String> = ["--quiet", "report", "--snapshot"].map(String::from).to_vec();
    args.push(rows[2].7.join("snapshot").display().to_string());
    args.push("--out".into());
    args.push(w.join("report-only").display().to_string());
    args.extend(["--as-of", AS_OF, "--roster"].map(String::from));
    args.push(w.join("roster.csv").display().to_string());
    let report = measure(&args);
    assert!(report.ok, "report failed");
    println!(
        "report alone from the auto run's snapshot: {:.1} s, peak RSS {} MiB",
        report.wall.as_secs_f64(),
        report.peak_rss_kib / 1024
    );
    drop(sim);

    // Memory of the pull alone: the same org, and one with half the assignments.
    let mut peaks = Vec::new();
    for (label, assignments) in [("full", s.assignments), ("half", s.assignments / 2)] {
        let org = sf_sim::generate::synthetic_org(1, s.users, assignments);
        let rows = org.records("PermissionSetAssignment").len();
        let mut config = SimConfig::new(org);
        config.access_tokens = vec![TOKEN.into()];
        config.api_max = 1_000_000;
        config.faults = Faults { latency: Duration::from_millis(s.latency_ms), ..Faults::none() };
        let sim = Sim::start_tls(config, &read("test-only-server.pem"), &read("test-only-server.key")).expect("sf-sim");
        for (name, options) in [("parallel REST", &["--api", "rest"][..]), ("auto", &["--api", "auto"][..])] {
            let mut args: Vec<String> = ["--quiet", "pull", "--out"].map(String::from).to_vec();
            args.push(w.join(format!("pull-{label}-{}", name.replace(' ', "-"))).display().to_string());
            args.extend(["--instance-url", &sim.base_url(), "--ca-file", &ca.display().to_string()].map(String::from));
            args.extend(options.iter().map(|o| o.to_string()));
            let run = measure(&args);
            assert!(run.ok, "pull {name} {label}");
            println!(
                "pull alone, {name}, {rows} assignments: {:.1} s, peak RSS {} MiB",
                run.wall.as_secs_f64(),
                run.peak_rss_kib / 1024
            );
            peaks.push((label, name, run.peak_rss_kib));
        }
    }
    for name in ["parallel REST", "auto"] {
        let peak = |label| peaks.iter().find(|p| p.0 == label && p.1 == name).map_or(0, |p| p.2) as f64;
        println!(
            "pull alone, {name}: peak RSS at all the assignments / at half of them = {:.2}",
            peak("full") / peak("half")
        );
    }
}

/// The floor: the same requests as a run, answers downloaded and thrown away.
mod floor {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use access_audit::snapshot::Manifest;
    use tokio::sync::Semaphore;

    /// Sends what the run sent (per its manifest): `/limits`, the counts, the probes, every page
    /// of every query with at most 5 (or, for the sequential run, 1) at once, Bulk jobs created,
    /// polled on the same schedule, read chunk by chunk and deleted. Returns the requests sent.
    pub async fn replay(base: &str, ca: &Path, manifest: &Manifest, sequential: bool) -> u64 {
        let pem = std::fs::read(ca).unwrap();
        let certs = reqwest::Certificate::from_pem_bundle(&pem).unwrap();
        let http = reqwest::Client::builder().tls_certs_merge(certs).build().unwrap();
        let sent = Arc::new(AtomicU64::new(0));
        let v = manifest.api_version.clone();
        let ctx = Arc::new(Ctx { http, base: base.to_string(), version: v, sent: sent.clone() });
        ctx.get(&format!("/services/data/v{}/limits", ctx.version)).await;
        if !sequential {
            // Counts, and the probes of objects in Id ranges, as the plan sends them.
            let counts = manifest.objects.iter().filter(|o| o.object != "Organization").map(|o| {
                let ctx = ctx.clone();
                let soql = match o.soql.split_once(" WHERE ") {
                    Some((_, filter)) => format!("SELECT COUNT() FROM {} WHERE {filter}", o.object),
                    None => format!("SELECT COUNT() FROM {}", o.object),
                };
                async move { ctx.query_page(&soql).await }
            });
            futures::future::join_all(counts).await;
            let probes = manifest.objects.iter().filter(|o| !o.queries.is_empty()).flat_map(|o| {
                let filter = o.soql.split_once(" WHERE ").map(|(_, f)| format!(" WHERE {f}")).unwrap_or_default();
                ["ASC", "DESC"].map(|d| {
                    let ctx = ctx.clone();
                    let soql = format!("SELECT Id FROM {}{filter} ORDER BY Id {d} LIMIT 1", o.object);
                    async move { ctx.query_page(&soql).await }
                })
            });
            futures::future::join_all(probes).await;
        }
        let cursors = Arc::new(Semaphore::new(if sequential { 1 } else { 5 }));
        let mut queries: Vec<(u64, String)> = Vec::new();
        let mut jobs = Vec::new();
        for o in &manifest.objects {
            if o.api.as_deref() == Some("bulk") {
                jobs.push(o.soql.clone());
            } else if o.queries.is_empty() {
                queries.push((o.rows, o.soql.clone()));
            } else {
                let each = o.rows / o.queries.len() as u64;
                queries.extend(o.queries.iter().map(|q| (each, q.clone())));
            }
        }
        // The largest first, as the pull queues them.
        queries.sort_by_key(|q| std::cmp::Reverse(q.0));
        let rest = queries.into_iter().map(|(_, soql)| {
            let (ctx, cursors) = (ctx.clone(), cursors.clone());
            async move {
                let _permit = cursors.acquire().await.unwrap();
                let mut next = ctx.query_page(&soql).await;
                while let Some(path) = next {
                    next = ctx.more(&path).await;
                }
            }
        });
        let bulk = jobs.into_iter().map(|soql| {
            let ctx = ctx.clone();
            async move { ctx.bulk(&soql).await }
        });
        futures::future::join(futures::future::join_all(rest), futures::future::join_all(bulk)).await;
        sent.load(Ordering::Relaxed)
    }

    struct Ctx {
        http: reqwest::Client,
        base: String,
        version: String,
        sent: Arc<AtomicU64>,
    }

    impl Ctx {
        fn token(&self) -> &'static str {
            super::TOKEN
        }

        async fn drain(&self, request: reqwest::RequestBuilder) -> (reqwest::header::HeaderMap, Vec<u8>) {
            self.sent.fetch_add(1, Ordering::Relaxed);
            let mut response = request.bearer_auth(self.token()).send().await.expect("the floor's request");
            assert!(response.status().is_success(), "the floor's request failed: {}", response.status());
            let headers = response.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.expect("the floor's answer") {
                body.extend_from_slice(&chunk);
            }
            (headers, body)
        }

        async fn get(&self, path: &str) -> Vec<u8> {
            self.drain(self.http.get(format!("{}{path}", self.base))).await.1
        }

        /// The nextRecordsUrl of a page, found without parsing the page.
        fn next_of(body: &[u8]) -> Option<String> {
            const KEY: &[u8] = b"\"nextRecordsUrl\":\"";
            let at = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
            let end = body[at..].iter().position(|&b| b == b'"')?;
            Some(String::from_utf8_lossy(&body[at..at + end]).into_owned())
        }

        async fn query_page(&self, soql: &str) -> Option<String> {
            let url = format!("{}/services/data/v{}/query", self.base, self.version);
            let request = self.http.get(url).query(&[("q", soql)]).header("Sforce-Query-Options", "batchSize=2000");
            Self::next_of(&self.drain(request).await.1)
        }

        async fn more(&self, path: &str) -> Option<String> {
            let request =
                self.http.get(format!("{}{path}", self.base)).header("Sforce-Query-Options", "batchSize=2000");
            Self::next_of(&self.drain(request).await.1)
        }

        async fn bulk(&self, soql: &str) {
            let jobs = format!("{}/services/data/v{}/jobs/query", self.base, self.version);
            let body = serde_json::json!({"operation": "query", "query": soql, "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"});
            let (_, created) = self.drain(self.http.post(&jobs).json(&body)).await;
            let created: serde_json::Value = serde_json::from_slice(&created).unwrap();
            let id = created["id"].as_str().unwrap().to_string();
            let mut pause = Duration::from_millis(100);
            loop {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
                let info = self.drain(self.http.get(format!("{jobs}/{id}"))).await.1;
                // The one field the floor must read: is the job done?
                if info.windows(13).any(|w| w == b"\"JobComplete\"") {
                    break;
                }
            }
            let mut locator: Option<String> = None;
            loop {
                let mut url = format!("{jobs}/{id}/results?maxRecords=250000");
                if let Some(l) = &locator {
                    url.push_str(&format!("&locator={l}"));
                }
                let (headers, _) = self.drain(self.http.get(url)).await;
                match headers.get("sforce-locator").and_then(|v| v.to_str().ok()) {
                    Some("null") | None => break,
                    Some(l) => locator = Some(l.to_string()),
                }
            }
            self.drain(self.http.delete(format!("{jobs}/{id}"))).await;
        }
    }
}
