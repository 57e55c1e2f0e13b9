//! Other applications over SCIM 2.0, through the real binary: the pull into `apps/NAME/`, paging
//! as the server actually pages, completeness, retries, errors in one line, the Stensul and
//! Salesforce dialects, and the snapshot's checks over the applications' files.

use std::path::Path;

use serde_json::Value;
use sf_sim::scim::{ScimFaults, ScimGroup, ScimMode, ScimSim, ScimUser};

use crate::common::*;

const AS_OF: &str = "2026-10-01T00:00:00Z";
const SECRET_ENV: &str = "ACCESS_AUDIT_APP_STENSUL_SECRET";

fn accounts(n: usize) -> Vec<ScimUser> {
    (1..=n).map(|i| ScimUser::new(&format!("st-{i:03}"), &format!("person{i}@acme.example"))).collect()
}

fn roles() -> Vec<ScimGroup> {
    vec![
        ScimGroup {
            id: "role-admin".into(),
            display_name: "Admin".into(),
            members: vec!["st-001".into(), "st-002".into()],
        },
        ScimGroup { id: "role-editor".into(), display_name: "Editor".into(), members: vec!["st-003".into()] },
    ]
}

/// `run --app stensul` against the org `sim` and the Stensul simulator `scim`, `extra` appended
/// to the app's table.
fn run_stensul(work: &Path, sim: &sf_sim::Sim, scim: &ScimSim, extra: &str, out: &str) -> std::process::Output {
    let config = format!("{}{extra}", app_table("stensul", "stensul", scim));
    run_apps(work, sim, &config, out, AS_OF)
        .args(["--app", "stensul"])
        .env(SECRET_ENV, APP_CLIENT_SECRET)
        .output()
        .unwrap()
}

fn manifest(snapshot: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(snapshot.join("manifest.json")).unwrap()).unwrap()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ids(path: &Path) -> Vec<String> {
    lines(path).iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

/// The `startIndex` and `count` of every listing request of `endpoint`, in order.
fn asked(scim: &ScimSim, endpoint: &str) -> Vec<(Option<usize>, Option<usize>)> {
    scim.requests()
        .iter()
        .filter(|r| r.path.ends_with(&format!("/{endpoint}")))
        .map(|r| (r.start_index, r.count))
        .collect()
}

fn last_line(output: &std::process::Output) -> String {
    stderr_of(output).trim().lines().last().unwrap_or_default().to_string()
}

#[test]
fn stensul_users_and_roles_land_in_the_snapshot_and_verify_like_every_member() {
    let sim = sim(small_org());
    let mut people = accounts(5);
    people[3].deleted = true; // soft-deleted in Stensul: no GET shows it
    let scim = scim_sim(ScimMode::Stensul, people, roles(), |_| {});
    let work = tempfile::tempdir().unwrap();
    let output = run_stensul(work.path(), &sim, &scim, "", "out");
    assert!(output.status.success(), "{}", stderr_of(&output));
    let snapshot = work.path().join("out/snapshot");
    assert_eq!(ids(&snapshot.join("apps/stensul/Users.ndjson")), ["st-001", "st-002", "st-003", "st-005"]);
    assert_eq!(ids(&snapshot.join("apps/stensul/Groups.ndjson")), ["role-admin", "role-editor"]);
    // The capabilities come first, then the listings.
    assert!(scim.requests()[0].path.ends_with("/ServiceProviderConfig"), "{:?}", scim.requests()[0]);
    let app = &manifest(&snapshot)["apps"][0];
    assert_eq!((app["name"].as_str(), app["dialect"].as_str()), (Some("stensul"), Some("stensul")));
    assert_eq!(app["base_url"], scim.scim_url());
    for resource in app["resources"].as_array().unwrap() {
        let file = snapshot.join(resource["file"].as_str().unwrap());
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(resource["sha256"].as_str().unwrap(), sha256_hex(&bytes), "{file:?}");
        assert_eq!(resource["rows"], resource["total_results"]);
    }
    // The report folder's file list covers them, and `verify` and `report` take them as members.
    let list = std::fs::read_to_string(work.path().join("out/access-audit-files.json")).unwrap();
    assert!(list.contains("snapshot/apps/stensul/Users.ndjson"), "{list}");
    let verified = bin(work.path()).args(["verify", "out/snapshot"]).output().unwrap();
    assert!(verified.status.success(), "{}", stderr_of(&verified));
    assert!(stdout_of(&verified).contains("with 1 application"), "{}", stdout_of(&verified));
    let again = bin(work.path())
        .args(["report", "--snapshot", "out/snapshot", "--out", "again", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr_of(&again));
    assert_eq!(
        std::fs::read(work.path().join("again/snapshot/apps/stensul/Users.ndjson")).unwrap(),
        std::fs::read(snapshot.join("apps/stensul/Users.ndjson")).unwrap()
    );
    // No application is read unless asked for.
    let scim_requests = scim.requests().len();
    let output = run_apps(work.path(), &sim, &app_table("stensul", "stensul", &scim), "plain", AS_OF).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(!work.path().join("plain/snapshot/apps").exists());
    assert_eq!(scim.requests().len(), scim_requests);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn the_page_size_follows_the_providers_maximum_and_what_each_page_holds() {
    let sim = sim(small_org());
    // The provider states 4 per page; the configuration asks 50.
    let scim = scim_sim(ScimMode::Generic, accounts(9), roles(), |c| c.max_results = 4);
    let work = tempfile::tempdir().unwrap();
    let output = run_stensul(work.path(), &sim, &scim, "page_size = 50\n", "out");
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(asked(&scim, "Users"), [(Some(1), Some(4)), (Some(5), Some(4)), (Some(9), Some(4))]);
    let app = &manifest(&work.path().join("out/snapshot"))["apps"][0];
    assert_eq!((app["count"].as_u64(), app["max_results"].as_u64()), (Some(4), Some(4)));

    // A provider that sends fewer than asked without saying so: the next page starts after what
    // arrived, and every account is there.
    let scim = scim_sim(ScimMode::Generic, accounts(10), roles(), |c| c.faults.page_limit = Some(3));
    let output = run_stensul(work.path(), &sim, &scim, "page_size = 50\n", "short");
    assert!(output.status.success(), "{}", stderr_of(&output));
    let starts: Vec<Option<usize>> = asked(&scim, "Users").into_iter().map(|(s, _)| s).collect();
    assert_eq!(starts, [Some(1), Some(4), Some(7), Some(10)]);
    assert!(asked(&scim, "Users").iter().all(|(_, c)| *c == Some(50)));
    let users = work.path().join("short/snapshot/apps/stensul/Users.ndjson");
    assert_eq!(ids(&users), (1..=10).map(|i| format!("st-{i:03}")).collect::<Vec<_>>());
    let app = &manifest(&work.path().join("short/snapshot"))["apps"][0];
    let listing = app["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "Users").unwrap().clone();
    assert_eq!((listing["pages"].as_u64(), listing["total_results"].as_u64()), (Some(4), Some(10)));
}

#[test]
fn a_total_that_is_never_delivered_fails_the_run_and_leaves_the_previous_reports() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let good = scim_sim(ScimMode::Stensul, accounts(6), roles(), |c| c.max_results = 4);
    assert!(run_stensul(work.path(), &sim, &good, "", "out").status.success());
    let before = tree(&work.path().join("out"));
    // Two more accounts announced than the server ever delivers.
    let short = scim_sim(ScimMode::Stensul, accounts(6), roles(), |c| {
        c.max_results = 4;
        c.faults.users_surplus = 2;
    });
    let output = run_stensul(work.path(), &sim, &short, "", "out");
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert_eq!(
        last_line(&output),
        "access-audit: error: app stensul: Users: the service provider announced 8 resources (totalResults) \
         but 6 arrived; the pull is incomplete and no snapshot was written"
    );
    assert!(tree(&work.path().join("out")) == before, "the previous reports are untouched");
    assert_eq!(staging_leftovers(work.path(), "out"), Vec::<String>::new());
    // Into a new folder: nothing appears at all.
    let output = run_stensul(work.path(), &sim, &short, "", "fresh");
    assert_eq!(output.status.code(), Some(4));
    assert!(!work.path().join("fresh").exists());
    assert_eq!(staging_leftovers(work.path(), "fresh"), Vec::<String>::new());
}

#[test]
fn too_many_requests_waits_what_retry_after_asks() {
    let sim = sim(small_org());
    let scim = scim_sim(ScimMode::Stensul, accounts(3), roles(), |c| {
        c.faults = ScimFaults { rate_limited: 1, retry_after_secs: 1, unavailable: 1, ..ScimFaults::default() };
    });
    let work = tempfile::tempdir().unwrap();
    let output = run_stensul(work.path(), &sim, &scim, "", "out");
    assert!(output.status.success(), "{}", stderr_of(&output));
    let requests = scim.requests();
    assert_eq!(requests[0].status, 429);
    assert_eq!(requests[1].status, 503);
    // The retry after the 429 came no sooner than the one second asked (the 503 is retried after
    // the short configured backoff).
    let waited = requests[1].at - requests[0].at;
    assert!(waited >= std::time::Duration::from_secs(1), "retried after {waited:?}");
    assert!(stderr_of(&output).contains("HTTP 429"), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("as Retry-After asks"), "{}", stderr_of(&output));
    assert_eq!(ids(&work.path().join("out/snapshot/apps/stensul/Users.ndjson")).len(), 3);
}

#[test]
fn scim_errors_are_reported_in_one_line() {
    let sim = sim(small_org());
    let scim = scim_sim(ScimMode::Generic, accounts(3), roles(), |c| {
        c.faults.error = Some(("Users".into(), 400, Some("invalidFilter".into()), "The filter\nis not\tvalid".into()));
    });
    let work = tempfile::tempdir().unwrap();
    let output = run_stensul(work.path(), &sim, &scim, "", "out");
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert_eq!(
        last_line(&output),
        "access-audit: error: app stensul: GET /scim/v2/Users (startIndex 1): HTTP 400 invalidFilter: The filter is not valid"
    );
    assert!(!work.path().join("out").exists());
}

#[test]
fn stensul_refuses_an_address_off_its_allowlist_as_a_configuration_error() {
    let sim = sim(small_org());
    let scim = scim_sim(ScimMode::Stensul, accounts(3), roles(), |c| {
        c.allowed_ips = Some(vec!["203.0.113.10".parse().unwrap()]);
    });
    let work = tempfile::tempdir().unwrap();
    let output = run_stensul(work.path(), &sim, &scim, "", "out");
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    let line = last_line(&output);
    assert!(line.contains("app stensul: GET /scim/v2/ServiceProviderConfig: refused (HTTP 403)"), "{line}");
    assert!(line.contains("127.0.0.1 is not on this API connection's allowlist"), "{line}");
    assert!(line.contains("add this machine's public address to the allowlist in Stensul"), "{line}");
    assert!(!work.path().join("out").exists());
}

#[test]
fn tokens_are_renewed_with_client_credentials_never_with_a_fixed_one() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    // Each token works for two requests: the run asks for new ones and completes.
    let scim = scim_sim(ScimMode::Stensul, accounts(9), roles(), |c| {
        c.max_results = 2;
        c.faults.expire_tokens_after = Some(2);
    });
    let output = run_stensul(work.path(), &sim, &scim, "", "out");
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(scim.issued_tokens().len() >= 3, "{:?}", scim.issued_tokens().len());
    assert_eq!(ids(&work.path().join("out/snapshot/apps/stensul/Users.ndjson")).len(), 9);

    // A wrong secret is refused in one line.
    let output = run_apps(work.path(), &sim, &app_table("stensul", "stensul", &scim), "bad", AS_OF)
        .args(["--app", "stensul"])
        .env(SECRET_ENV, "not-the-secret")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(last_line(&output).contains("refused the client credentials: invalid_client"), "{}", last_line(&output));

    // A bearer token from a file is used as it is; once expired, the run stops.
    std::fs::write(work.path().join("app-token"), format!("{APP_TOKEN}\n")).unwrap();
    let config =
        format!("[apps.crm]\nkind = \"scim\"\nbase_url = \"{}\"\ntoken_file = \"app-token\"\n", scim.scim_url());
    let output = run_apps(work.path(), &sim, &config, "fixed", AS_OF).args(["--app", "crm"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert!(last_line(&output).contains("app crm: GET /scim/v2/"), "{}", last_line(&output));
    assert!(last_line(&output).contains("the bearer token is expired or revoked"), "{}", last_line(&output));
}

#[test]
fn the_salesforce_dialect_reads_the_orgs_scim_endpoint_with_the_orgs_session() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let config = "[apps.salesforce]\nkind = \"scim\"\ndialect = \"salesforce\"\npage_size = 500\n";
    let output = run_apps(work.path(), &sim, config, "out", AS_OF).args(["--all-apps"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let snapshot = work.path().join("out/snapshot");
    let soql: Vec<String> = snapshot_records(&snapshot, "User").into_keys().collect();
    assert_eq!(ids(&snapshot.join("apps/salesforce/Users.ndjson")), soql, "the same users, by Id");
    let app = &manifest(&snapshot)["apps"][0];
    assert_eq!(app["base_url"], format!("{}/services/scim/v2", sim.base_url()));
    assert_eq!((app["count"].as_u64(), app["max_results"].as_u64()), (Some(200), Some(200)));
    assert!(sim.stats().scim_requests >= 3, "ServiceProviderConfigs, Users, Groups");
    // Active flags and usernames are the org's.
    for user in lines(&snapshot.join("apps/salesforce/Users.ndjson")) {
        let record = &snapshot_records(&snapshot, "User")[user["id"].as_str().unwrap()];
        assert_eq!(user["userName"], record["Username"]);
        assert_eq!(user["active"], record["IsActive"]);
    }
}

#[test]
fn application_files_are_checked_like_every_other_member() {
    let sim = sim(small_org());
    let scim = scim_sim(ScimMode::Stensul, accounts(4), roles(), |_| {});
    let work = tempfile::tempdir().unwrap();
    assert!(run_stensul(work.path(), &sim, &scim, "", "out").status.success());
    let verify = |dir: &Path| bin(work.path()).arg("verify").arg(dir).output().unwrap();
    let copy = |name: &str| {
        let to = work.path().join(name);
        copy_tree(&work.path().join("out/snapshot"), &to);
        to
    };
    // A changed line.
    let changed = copy("changed");
    let users = changed.join("apps/stensul/Users.ndjson");
    let text = std::fs::read_to_string(&users).unwrap().replace("\"active\":true", "\"active\":false");
    std::fs::write(&users, text).unwrap();
    let output = verify(&changed);
    assert_eq!(output.status.code(), Some(4));
    assert!(stderr_of(&output).contains("apps/stensul/Users.ndjson: SHA-256 is"), "{}", stderr_of(&output));
    // A file nobody pulled.
    let added = copy("added");
    std::fs::write(added.join("apps/stensul/Libraries.ndjson"), "{}\n").unwrap();
    let output = verify(&added);
    assert_eq!(output.status.code(), Some(4));
    assert!(
        stderr_of(&output).contains("apps/stensul/Libraries.ndjson: not part of the snapshot"),
        "{}",
        stderr_of(&output)
    );
    // An application folder that is a link to somewhere else.
    #[cfg(unix)]
    {
        let linked = copy("linked");
        let real = work.path().join("elsewhere");
        std::fs::rename(linked.join("apps/stensul"), &real).unwrap();
        std::os::unix::fs::symlink(&real, linked.join("apps/stensul")).unwrap();
        let output = verify(&linked);
        assert_eq!(output.status.code(), Some(4));
        assert!(
            stderr_of(&output).contains("apps/stensul: is not a folder (a link is never followed here)"),
            "{}",
            stderr_of(&output)
        );
    }
    // A resource without its id, with the hash fixed up: the line itself is refused.
    let forged = copy("forged");
    let users = forged.join("apps/stensul/Users.ndjson");
    let mut text = std::fs::read_to_string(&users).unwrap();
    text.push_str("{\"userName\":\"ghost@acme.example\"}\n");
    std::fs::write(&users, &text).unwrap();
    let mut m = manifest(&forged);
    let listing =
        m["apps"][0]["resources"].as_array_mut().unwrap().iter_mut().find(|r| r["resource"] == "Users").unwrap();
    listing["sha256"] = sha256_hex(text.as_bytes()).into();
    listing["rows"] = 5.into();
    listing["total_results"] = 5.into();
    std::fs::write(forged.join("manifest.json"), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let output = verify(&forged);
    assert_eq!(output.status.code(), Some(4));
    assert!(
        stderr_of(&output).contains("apps/stensul/Users.ndjson line 5: field id is missing"),
        "{}",
        stderr_of(&output)
    );
}

/// Copies a folder and everything in it.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn configuration_mistakes_stop_the_run_before_anything_is_asked() {
    let sim = sim(small_org());
    let scim = scim_sim(ScimMode::Stensul, accounts(2), roles(), |_| {});
    let work = tempfile::tempdir().unwrap();
    let table = app_table("stensul", "stensul", &scim);
    let cases: Vec<(String, Vec<&str>, bool, &str)> = vec![
        (
            table.clone(),
            vec!["--app", "stensull"],
            true,
            "--app stensull: no [apps.stensull] table in the configuration file (configured: stensul)",
        ),
        (
            table.clone(),
            vec!["--app", "stensul"],
            false,
            "needs the client secret: set ACCESS_AUDIT_APP_STENSUL_SECRET or client_secret_file",
        ),
        (
            table.replace("http://127.0.0.1", "http://stensul.example"),
            vec!["--app", "stensul"],
            true,
            "base_url must use https://",
        ),
        (format!("{table}secret = \"x\"\n"), vec!["--app", "stensul"], true, "unknown field `secret`"),
        (String::new(), vec!["--all-apps"], true, "--all-apps: the configuration file"),
    ];
    for (config, args, with_secret, needle) in cases {
        let mut cmd = run_apps(work.path(), &sim, &config, "out", AS_OF);
        cmd.args(&args);
        if with_secret {
            cmd.env(SECRET_ENV, APP_CLIENT_SECRET);
        }
        let output = cmd.output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr_of(&output));
        assert!(last_line(&output).contains(needle), "{needle}: {}", last_line(&output));
        assert_eq!(stderr_of(&output).trim().lines().count(), 1, "one line: {}", stderr_of(&output));
    }
    // An application is audited beside one org: a run of several refuses it.
    let several =
        format!("{table}[orgs.one]\ninstance_url = \"{0}\"\n[orgs.two]\ninstance_url = \"{0}\"\n", sim.base_url());
    std::fs::write(work.path().join("access-audit.toml"), several).unwrap();
    let output = bin(work.path())
        .args(["run", "--out", "out", "--as-of", AS_OF, "--all-orgs", "--app", "stensul"])
        .env(SECRET_ENV, APP_CLIENT_SECRET)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(last_line(&output).contains("audit an application beside one org"), "{}", last_line(&output));
    assert!(scim.requests().is_empty() && scim.issued_tokens().is_empty(), "the application was never asked");
    let output = bin(work.path()).args(["run", "--out", "x", "--app", "a", "--all-apps"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "clap refuses both");
}

#[test]
fn the_orgs_session_is_renewed_when_its_scim_endpoint_rejects_it() {
    let sim = sim(small_org());
    // Every session works for four requests: the SCIM listings outlive the first one.
    sim.set_faults(sf_sim::Faults { expire_tokens_after: Some(4), ..sf_sim::Faults::none() });
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("access-audit.toml"),
        "[apps.sf]\nkind = \"scim\"\ndialect = \"salesforce\"\npage_size = 10\n",
    )
    .unwrap();
    let output = pull_jwt(work.path(), &sim, &work.path().join("snap")).args(["--app", "sf"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(sim.issued_tokens().len() >= 3, "logged in again: {}", sim.issued_tokens().len());
    let soql: Vec<String> = snapshot_records(&work.path().join("snap"), "User").into_keys().collect();
    assert_eq!(ids(&work.path().join("snap/apps/sf/Users.ndjson")), soql);
    // ServiceProviderConfigs, 6 pages of Users (60 users, 10 a page), 1 of Groups: any request
    // beyond those 8 is a SCIM request refused with an expired session, and repeated.
    assert!(sim.stats().scim_requests > 8, "a SCIM request met an expired session: {:?}", sim.stats().scim_requests);
}
