//! No secret (client secret, refresh token, access tokens, private key, and the secrets and tokens
//! of other applications read over SCIM) in stdout, stderr, logs or the snapshot, even with
//! --verbose, for every flow and for failures too.

use std::path::Path;

use crate::common::*;

/// Every secret the run could know: the configured ones, the tokens the simulator issued, the key.
fn secrets(sim: &sf_sim::Sim) -> Vec<String> {
    let mut all = vec![CLIENT_SECRET.to_string(), REFRESH_TOKEN.to_string(), ACCESS_TOKEN.to_string()];
    all.extend(sim.issued_tokens());
    let pem = std::fs::read_to_string(private_key()).unwrap();
    // Each base64 line of the key body is 64 characters: any one of them leaking is a leak.
    all.extend(pem.lines().filter(|l| !l.starts_with("-----")).map(str::to_string));
    all
}

/// Every file under `dir` as text; a workbook (a zip) is read entry by entry.
fn files_text(dir: &Path) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                text.push_str(&files_text(&path));
            } else if path.extension().is_some_and(|e| e == "xlsx") {
                let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
                for i in 0..zip.len() {
                    let mut part = String::new();
                    std::io::Read::read_to_string(&mut zip.by_index(i).unwrap(), &mut part).unwrap();
                    text.push_str(&part);
                }
            } else {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
            }
        }
    }
    text
}

fn assert_clean(sim: &sf_sim::Sim, output: &std::process::Output, dir: &Path) {
    let everything = format!("{}\n{}\n{}", stdout_of(output), stderr_of(output), files_text(dir));
    for secret in secrets(sim) {
        assert!(!everything.contains(&secret), "a secret leaked: {}…", &secret[..8.min(secret.len())]);
    }
}

#[test]
fn no_secret_in_any_output_of_any_flow_even_verbose() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    let runs: Vec<(&str, assert_cmd::Command)> = vec![
        ("jwt", {
            let mut c = pull_jwt(work.path(), &sim, &work.path().join("jwt"));
            c.arg("--verbose");
            c
        }),
        ("client-credentials", {
            let mut c = bin(work.path());
            c.args(["pull", "--verbose", "--out", "cc", "--instance-url", &sim.base_url(), "--client-id", CLIENT_ID])
                .env("SF_CLIENT_SECRET", CLIENT_SECRET);
            c
        }),
        ("refresh-token", {
            let mut c = bin(work.path());
            c.args(["pull", "--verbose", "--out", "rt", "--login-url", &sim.base_url(), "--client-id", CLIENT_ID])
                .env("SF_REFRESH_TOKEN", REFRESH_TOKEN)
                .env("SF_CLIENT_SECRET", CLIENT_SECRET);
            c
        }),
        ("access-token", {
            let mut c = bin(work.path());
            c.args(["pull", "--verbose", "--out", "at", "--instance-url", &sim.base_url()])
                .env("SF_ACCESS_TOKEN", ACCESS_TOKEN);
            c
        }),
    ];
    for (flow, mut cmd) in runs {
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{flow}: {}", stderr_of(&output));
        assert!(stderr_of(&output).contains("GET"), "{flow}: --verbose logs requests");
        assert_clean(&sim, &output, work.path());
    }
}

#[test]
fn no_secret_in_errors_or_the_config_listing() {
    let sim = sim(small_org());
    let work = tempfile::tempdir().unwrap();
    // A refused login, verbose.
    let output = bin(work.path())
        .args(["pull", "--verbose", "--out", "x", "--login-url", &sim.base_url(), "--client-id", "wrong-id"])
        .env("SF_REFRESH_TOKEN", REFRESH_TOKEN)
        .env("SF_CLIENT_SECRET", CLIENT_SECRET)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_clean(&sim, &output, work.path());
    // Ambiguous secret sources.
    std::fs::write(work.path().join("secret"), CLIENT_SECRET).unwrap();
    let output = bin(work.path())
        .args(["pull", "--out", "x", "--instance-url", &sim.base_url(), "--client-id", CLIENT_ID])
        .args(["--client-secret-file", "secret"])
        .env("SF_CLIENT_SECRET", CLIENT_SECRET)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("keep one"));
    std::fs::remove_file(work.path().join("secret")).unwrap();
    assert_clean(&sim, &output, work.path());
    // The effective configuration names sources, never values.
    let output = bin(work.path())
        .args(["config", "--instance-url", &sim.base_url(), "--client-id", CLIENT_ID])
        .env("SF_CLIENT_SECRET", CLIENT_SECRET)
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(stdout_of(&output).contains("client secret: environment variable SF_CLIENT_SECRET"));
    assert_clean(&sim, &output, work.path());
}

#[test]
fn no_secret_in_a_whole_verbose_run_with_renewed_sessions() {
    let sim = sim(small_org());
    // Sessions expire every 3 requests: several logins, several tokens, all logged around.
    sim.set_faults(sf_sim::Faults { expire_tokens_after: Some(3), ..sf_sim::Faults::none() });
    let work = tempfile::tempdir().unwrap();
    let output = bin(work.path())
        .args(["--verbose", "run", "--out", "out", "--batch-size", "200"])
        .args(["--login-url", &sim.base_url(), "--client-id", CLIENT_ID, "--username", USERNAME, "--jwt-key-file"])
        .arg(private_key())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(sim.issued_tokens().len() >= 3, "sessions were renewed");
    assert!(work.path().join("out/access-review.xlsx").is_file());
    assert_clean(&sim, &output, work.path());
}

#[test]
fn no_app_secret_or_token_in_any_output_or_log() {
    use sf_sim::scim::{ScimGroup, ScimMode, ScimUser};
    let sim = sim(small_org());
    let users = vec![ScimUser::new("st-1", "ana@acme.example"), ScimUser::new("st-2", "bo@acme.example")];
    let groups = vec![ScimGroup { id: "r1".into(), display_name: "Admin".into(), members: vec!["st-1".into()] }];
    // Tokens expire quickly: several are issued, each must stay out of every output.
    let stensul = scim_sim(ScimMode::Stensul, users.clone(), groups.clone(), |c| {
        c.max_results = 1;
        c.faults.expire_tokens_after = Some(2);
    });
    let crm = scim_sim(ScimMode::Generic, users, groups, |_| {});
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("crm-token"), APP_TOKEN).unwrap();
    let config = format!(
        "{}\n[apps.crm]\nkind = \"scim\"\nbase_url = \"{}\"\ntoken_file = \"crm-token\"\n\n\
         [apps.sf]\nkind = \"scim\"\ndialect = \"salesforce\"\n",
        app_table("stensul", "stensul", &stensul),
        crm.scim_url()
    );
    let output = run_apps(work.path(), &sim, &config, "out", "2026-10-01T00:00:00Z")
        .args(["--verbose", "--all-apps"])
        .env("ACCESS_AUDIT_APP_STENSUL_SECRET", APP_CLIENT_SECRET)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(stensul.issued_tokens().len() >= 2, "tokens were renewed");
    assert!(work.path().join("out/snapshot/apps/crm/Users.ndjson").is_file());
    std::fs::remove_file(work.path().join("crm-token")).unwrap();
    let mut app_secrets = vec![APP_CLIENT_SECRET.to_string(), APP_TOKEN.to_string()];
    app_secrets.extend(stensul.issued_tokens());
    let check = |output: &std::process::Output| {
        assert_clean(&sim, output, work.path());
        let everything = format!("{}\n{}\n{}", stdout_of(output), stderr_of(output), files_text(work.path()));
        for secret in &app_secrets {
            assert!(!everything.contains(secret.as_str()), "an app secret leaked: {}…", &secret[..8]);
        }
    };
    check(&output);
    // A refused secret, verbose: the error names the endpoint, never the secret sent.
    let output = run_apps(work.path(), &sim, &config, "bad", "2026-10-01T00:00:00Z")
        .args(["--verbose", "--app", "stensul"])
        .env("ACCESS_AUDIT_APP_STENSUL_SECRET", format!("{APP_CLIENT_SECRET}-wrong"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    check(&output);
    // The effective configuration names where each secret comes from, never its value.
    let output = bin(work.path())
        .args(["config", "--instance-url", &sim.base_url()])
        .env("ACCESS_AUDIT_APP_STENSUL_SECRET", APP_CLIENT_SECRET)
        .env("ACCESS_AUDIT_APP_CRM_TOKEN", APP_TOKEN)
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let listing = stdout_of(&output);
    assert!(listing.contains("[apps.stensul]"), "{listing}");
    assert!(listing.contains("# client secret: environment variable ACCESS_AUDIT_APP_STENSUL_SECRET"), "{listing}");
    assert!(listing.contains("# bearer token: file "), "{listing}");
    check(&output);
}
