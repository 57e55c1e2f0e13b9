//! Benchmark of a whole `access-audit run` against the simulator: counts and ratios, not timings
//! asserted in tests. Run with `cargo bench --bench pipeline` (release build).
//!
//! For each org size it reports the API requests per 10,000 rows (the quota cost), the wall
//! time against the simulator's latency floor (every request waits `LATENCY`; the queries run
//! concurrently, so the floor is the longest object's pages plus login and /limits), and the
//! peak memory of the process. `ACCESS_AUDIT_BENCH_SIZES=10000x40000,100000x400000` changes the
//! org sizes (users x assignments); `ACCESS_AUDIT_BENCH_LATENCY_MS` the latency.

use std::process::Command;
use std::time::{Duration, Instant};

use sf_sim::{Faults, Sim, SimConfig};

fn peak_rss_kib(pid: u32, current: u64) -> u64 {
    // VmHWM is the process's high-water mark; polled until it exits.
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .map_or(current, |v: u64| v.max(current))
}

fn main() {
    let sizes = std::env::var("ACCESS_AUDIT_BENCH_SIZES").unwrap_or_else(|_| "10000x40000,50000x200000".into());
    let latency_ms: u64 =
        std::env::var("ACCESS_AUDIT_BENCH_LATENCY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let latency = Duration::from_millis(latency_ms);
    println!(
        "| users | assignments | rows | API requests | requests per 10k rows | wall | latency floor | wall / floor | peak RSS | email.html |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for size in sizes.split(',') {
        let (users, assignments) = size.split_once('x').expect("USERSxASSIGNMENTS");
        let (users, assignments): (usize, usize) = (users.parse().unwrap(), assignments.parse().unwrap());
        let org = sf_sim::generate::synthetic_org(1, users, assignments);
        let rows: usize = org.objects().values().map(Vec::len).sum();
        let largest = org.objects().values().map(Vec::len).max().unwrap_or(0);
        let mut config = SimConfig::new(org);
        config.access_tokens = vec!["bench-token".into()];
        config.faults = Faults { latency, ..Faults::none() };
        let sim = Sim::start(config).expect("simulator");
        let out = tempfile::tempdir().unwrap();

        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_access-audit"))
            .args(["--quiet", "run", "--out"])
            .arg(out.path().join("reports"))
            .args(["--as-of", "2026-10-01T00:00:00Z", "--instance-url", &sim.base_url()])
            .env("SF_ACCESS_TOKEN", "bench-token")
            .spawn()
            .expect("the release binary");
        let mut peak = 0;
        let status = loop {
            peak = peak_rss_kib(child.id(), peak);
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let wall = started.elapsed();
        assert!(status.success(), "the run failed");

        let manifest = access_audit::snapshot::read_manifest(&out.path().join("reports/snapshot")).unwrap();
        let requests = manifest.api.requests;
        // Objects are pulled concurrently: the floor is the longest object's sequential pages,
        // plus /limits before them (the login is not a data request and has no latency here).
        let floor = latency * (largest.div_ceil(2000).max(1) as u32 + 1);
        // The digest mailed as the body: at most 100 KB whatever the org's size.
        let digest = std::fs::metadata(out.path().join("reports/email.html")).unwrap().len();
        assert!(digest <= 100 * 1024, "email.html is {digest} bytes, over 100 KB");
        println!(
            "| {users} | {assignments} | {rows} | {requests} | {:.1} | {:.2} s | {:.2} s | {:.1} | {} MiB | {:.1} KB |",
            requests as f64 * 10_000.0 / rows as f64,
            wall.as_secs_f64(),
            floor.as_secs_f64(),
            wall.as_secs_f64() / floor.as_secs_f64(),
            peak / 1024,
            digest as f64 / 1024.0
        );
    }
}
