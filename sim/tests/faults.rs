//! Fault injection over HTTP: each injected fault as a client sees it, the
//! after/times windows, object and follow-up scoping, token expiry, the
//! natural API limit, data faults (totalSize, malformed records, short
//! pages), latency, issued tokens, and the binary's `--demo` and fault flags.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};
use sf_sim::{BadText, BadTextKind, FaultRule, Faults, Injected, Malformed, Org, Record, Sim, SimConfig, generate};

const TOKEN: &str = "00DSIM000000001!pre-issued-token";

fn rec(v: Value) -> Record {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

/// `n` UserLogin rows and 2 User rows.
fn org(n: usize) -> Org {
    let logins = (0..n)
        .map(|i| {
            rec(json!({
                "Id": generate::sf_id("060", i as u64 + 1),
                "UserId": generate::sf_id("005", i as u64 + 1),
                "IsFrozen": false,
                "IsPasswordLocked": false
            }))
        })
        .collect();
    let users = (0..2)
        .map(|i| {
            rec(json!({
                "Id": generate::sf_id("005", i + 1),
                "Username": format!("user{i}@example.com"),
                "IsActive": true,
                "LastLoginDate": "2024-01-15T10:20:30.000+0000"
            }))
        })
        .collect();
    Org::from_objects(BTreeMap::from([("UserLogin".to_string(), logins), ("User".to_string(), users)])).unwrap()
}

fn start_with(n: usize, faults: Faults) -> Sim {
    let mut config = SimConfig::new(org(n));
    config.access_tokens = vec![TOKEN.into()];
    config.usernames = vec!["user0@example.com".into()];
    config.faults = faults;
    Sim::start(config).unwrap()
}

fn rules(rules: &[&str]) -> Faults {
    Faults { rules: rules.iter().map(|r| r.parse().unwrap()).collect(), ..Faults::default() }
}

fn get_with(sim: &Sim, path: &str, token: &str) -> Response {
    Client::new().get(format!("{}{path}", sim.base_url())).bearer_auth(token).send().unwrap()
}

fn get(sim: &Sim, path: &str) -> Response {
    get_with(sim, path, TOKEN)
}

fn query_path(soql: &str) -> String {
    format!("/services/data/v62.0/query?q={}", soql.replace(' ', "+").replace(',', "%2C"))
}

fn query(sim: &Sim, soql: &str) -> Response {
    get(sim, &query_path(soql))
}

const LOGINS: &str = "SELECT Id, UserId FROM UserLogin";
const USERS: &str = "SELECT Id, IsActive, LastLoginDate FROM User";

/// Status and errorCode of a REST error array.
fn error_code(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().unwrap();
    (status, body[0]["errorCode"].as_str().unwrap().to_string())
}

/// Pulls a whole query, following nextRecordsUrl; returns the page sizes,
/// the totalSize of each page, and the ids in order.
fn pull(sim: &Sim, soql: &str, batch: Option<&str>) -> (Vec<usize>, Vec<i64>, Vec<String>) {
    let mut request = Client::new().get(format!("{}{}", sim.base_url(), query_path(soql))).bearer_auth(TOKEN);
    if let Some(batch) = batch {
        request = request.header("Sforce-Query-Options", batch);
    }
    let mut body: Value = request.send().unwrap().json().unwrap();
    let (mut sizes, mut totals, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        let records = body["records"].as_array().unwrap();
        sizes.push(records.len());
        totals.push(body["totalSize"].as_i64().unwrap());
        ids.extend(records.iter().map(|r| r["Id"].as_str().unwrap().to_string()));
        if body["done"] == true {
            break;
        }
        let next = body["nextRecordsUrl"].as_str().unwrap().to_string();
        body = get(sim, &next).json().unwrap();
    }
    (sizes, totals, ids)
}

fn all_login_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| generate::sf_id("060", i as u64 + 1)).collect()
}

#[test]
fn each_fault_kind_as_a_client_sees_it() {
    // 503 JSON.
    let sim = start_with(10, rules(&["503x1"]));
    let response = query(&sim, LOGINS);
    assert!(response.headers().contains_key("Sforce-Limit-Info"));
    assert_eq!(error_code(response), (StatusCode::SERVICE_UNAVAILABLE, "SERVER_UNAVAILABLE".into()));
    assert_eq!(query(&sim, LOGINS).status(), StatusCode::OK);

    // 503 HTML maintenance page.
    let sim = start_with(10, rules(&["503htmlx1"]));
    let response = query(&sim, LOGINS);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(!response.headers().contains_key("Sforce-Limit-Info"));
    let text = response.text().unwrap();
    assert!(text.contains("Maintenance"), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err());

    // 500.
    let sim = start_with(10, rules(&["500x1"]));
    assert_eq!(error_code(query(&sim, LOGINS)), (StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN_EXCEPTION".into()));

    // 403 REQUEST_LIMIT_EXCEEDED.
    let sim = start_with(10, rules(&["limit:UserLogin"]));
    let response = query(&sim, LOGINS);
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().unwrap();
    assert_eq!(body, json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]));

    // Dropped connection: status and headers arrive, the body fails.
    let sim = start_with(10, rules(&["drop"]));
    let response = query(&sim, LOGINS);
    assert_eq!(response.status(), StatusCode::OK);
    let length: usize = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert!(length > 100);
    assert!(response.bytes().is_err(), "the body must fail mid-way");
    let stats = sim.stats();
    assert_eq!(stats.injected_faults_by_kind["DropConnection"], 1);
    assert!(stats.query_pages.is_empty());

    // Truncated body: a complete response whose JSON stops half way.
    let sim = start_with(10, rules(&["cut"]));
    let response = query(&sim, LOGINS);
    assert_eq!(response.status(), StatusCode::OK);
    let length: usize = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let bytes = response.bytes().unwrap();
    assert_eq!(bytes.len(), length);
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
    assert!(bytes.starts_with(br#"{"totalSize":10,"done":true,"records":[{"#));
    sim.set_faults(Faults::none());
    let whole = query(&sim, LOGINS).bytes().unwrap();
    assert_eq!(&whole[..bytes.len()], &bytes[..]);
    assert_eq!(bytes.len(), whole.len() / 2);

    let stats = sim.stats();
    assert_eq!(stats.injected_faults, 1);
    assert_eq!(stats.injected_faults_by_kind["TruncatedBody"], 1);
    assert_eq!(stats.query_pages["UserLogin"], 1, "only the real page");
    assert_eq!(stats.query_errors, 0);
    assert_eq!(stats.api_usage_used, 2, "injected answers count as API usage");
}

#[test]
fn hostile_answers_as_a_client_sees_them() {
    let no_redirects = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let send = |sim: &Sim, client: &Client| {
        client.get(format!("{}{}", sim.base_url(), query_path(LOGINS))).bearer_auth(TOKEN).send()
    };

    // A 200 JSON body that never ends: read 4 MB of it and hang up.
    let sim = start_with(10, rules(&["endless"]));
    let response = send(&sim, &no_redirects).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert!(!response.headers().contains_key("content-length"), "chunked, no length");
    let mut head = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(response, 4 << 20), &mut head).unwrap();
    assert_eq!(head.len(), 4 << 20, "still going after 4 MB");
    assert!(head.starts_with(br#"{"totalSize":1,"done":true,"records":["#));

    // A captive portal's sign-in page, 200 text/html, not from the API.
    let sim = start_with(10, rules(&["portal"]));
    let response = send(&sim, &no_redirects).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(!response.headers().contains_key("Sforce-Limit-Info"));
    assert!(response.text().unwrap().contains("Sign in"));

    // A redirect to the login page.
    let sim = start_with(10, rules(&["302x1"]));
    let response = send(&sim, &no_redirects).unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        "https://login.salesforce.com/?ec=302&startURL=%2Fservices%2Fdata"
    );
    assert_eq!(send(&sim, &no_redirects).unwrap().status(), StatusCode::OK, "only once");

    // Read and never answered: the client's own timeout ends it.
    let sim = start_with(10, rules(&["silent"]));
    let patient = Client::builder().timeout(Duration::from_millis(400)).build().unwrap();
    let started = Instant::now();
    let error = send(&sim, &patient).unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(400));

    let stats = sim.stats();
    assert_eq!(stats.injected_faults_by_kind["Silent"], 1);
    assert_eq!(stats.api_usage_used, 1, "a request that reached the server counts");
}

#[test]
fn text_that_is_not_unicode_in_one_record() {
    let bad = |kind| Faults {
        bad_text: Some(BadText { object: "User".into(), index: 1, field: "Username".into(), kind }),
        ..Faults::default()
    };
    let sim = start_with(10, bad(BadTextKind::LoneSurrogate));
    let bytes = query(&sim, "SELECT Id, Username FROM User").bytes().unwrap();
    let text = std::str::from_utf8(&bytes).expect("still UTF-8");
    assert!(text.contains(r#""Username":"\ud800user1@example.com""#), "{text}");
    assert!(text.contains(r#""Username":"user0@example.com""#), "{text}");
    assert!(serde_json::from_slice::<Value>(&bytes).is_err(), "serde_json refuses lone surrogates");
    let repaired: Value = serde_json::from_str(&text.replace(r"\ud800", r"\ufffd")).unwrap();
    assert_eq!(repaired["records"][1]["Username"], "\u{FFFD}user1@example.com");

    let sim = start_with(10, bad(BadTextKind::InvalidUtf8));
    let bytes = query(&sim, "SELECT Id, Username FROM User").bytes().unwrap();
    assert!(std::str::from_utf8(&bytes).is_err());
    let lossy: Value = serde_json::from_str(&String::from_utf8_lossy(&bytes)).unwrap();
    assert_eq!(lossy["records"][1]["Username"], "\u{FFFD}user1@example.com");
    assert_eq!(lossy["records"][0]["Username"], "user0@example.com");
    // Not selected: the page is untouched.
    let clean: Value = query(&sim, "SELECT Id FROM User").json().unwrap();
    assert!(clean["records"][1].get("Username").is_none());

    let sim = start_with(10, bad(BadTextKind::RawControl));
    let bytes = query(&sim, "SELECT Id, Username FROM User").bytes().unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.contains("\"Username\":\"\u{1}user1@example.com\""), "{text}");
    let e = serde_json::from_slice::<Value>(&bytes).unwrap_err();
    assert_eq!(e.classify(), serde_json::error::Category::Syntax, "not valid JSON at all: {e}");
}

#[test]
fn invalid_query_locator_drops_the_cursor() {
    let sim = start_with(4500, rules(&["locator:UserLogin:followups@0x1"]));
    let first: Value = query(&sim, LOGINS).json().unwrap();
    assert_eq!(first["records"].as_array().unwrap().len(), 2000);
    let next = first["nextRecordsUrl"].as_str().unwrap().to_string();
    assert_eq!(sim.stats().open_cursors, 1);
    for _ in 0..2 {
        let (status, code) = error_code(get(&sim, &next));
        assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "INVALID_QUERY_LOCATOR"));
    }
    assert_eq!(sim.stats().open_cursors, 0);
    // Restarting the query works (the rule fired once).
    let (sizes, _, ids) = pull(&sim, LOGINS, None);
    assert_eq!(sizes, [2000, 2000, 500]);
    assert_eq!(ids, all_login_ids(4500));
    let stats = sim.stats();
    assert_eq!(stats.injected_faults_by_kind["InvalidQueryLocator"], 1);
    assert_eq!(stats.query_errors, 1, "the retry of the dead locator");
    assert_eq!(stats.query_pages["UserLogin"], 4);
    assert_eq!(sim.with_state(|st| st.fault_rule_matches()), [3]);
}

#[test]
fn after_and_times_windows() {
    let sim = start_with(10, rules(&["503@2x3"]));
    let statuses: Vec<u16> = (0..7).map(|_| query(&sim, LOGINS).status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 503, 503, 503, 200, 200]);
    let stats = sim.stats();
    assert_eq!(stats.injected_faults, 3);
    assert_eq!(stats.query_pages["UserLogin"], 4);
    assert_eq!(stats.api_usage_used, 7);
    assert_eq!(sim.with_state(|st| st.fault_rule_matches()), [7]);

    // /limits matches a rule without object; 401s match nothing.
    let sim = start_with(10, rules(&["500x1"]));
    assert_eq!(get_with(&sim, "/services/data/v62.0/limits", "wrong").status(), StatusCode::UNAUTHORIZED);
    assert_eq!(get(&sim, "/services/data/v62.0/limits").status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(get(&sim, "/services/data/v62.0/limits").status(), StatusCode::OK);
    assert_eq!(sim.stats().limits_requests, 2, "the 401 and the real answer");

    // Rules combine: each counts its own matches; the first that fires wins.
    let sim = start_with(10, rules(&["500@1x1", "503x2"]));
    let statuses: Vec<u16> = (0..4).map(|_| query(&sim, LOGINS).status().as_u16()).collect();
    assert_eq!(statuses, [503, 500, 200, 200]);
    assert_eq!(sim.with_state(|st| st.fault_rule_matches()), [4, 4]);
    // set_faults resets the counters.
    sim.set_faults(rules(&["503x1"]));
    assert_eq!(query(&sim, LOGINS).status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[test]
fn object_and_follow_up_scoping() {
    let sim = start_with(4500, rules(&["500:UserLogin:followups@1x1", "503:User"]));
    // User queries get 503 (any page of User), UserLogin first pages pass.
    assert_eq!(query(&sim, USERS).status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&sim, "/services/data/v62.0/limits").status(), StatusCode::OK);
    let first: Value = query(&sim, LOGINS).json().unwrap();
    let second: Value = get(&sim, first["nextRecordsUrl"].as_str().unwrap()).json().unwrap();
    let third_url = second["nextRecordsUrl"].as_str().unwrap().to_string();
    assert_eq!(get(&sim, &third_url).status(), StatusCode::INTERNAL_SERVER_ERROR);
    // A 500 leaves the cursor alone: the retry works.
    let third: Value = get(&sim, &third_url).json().unwrap();
    assert_eq!(third["records"].as_array().unwrap().len(), 500);
    assert_eq!(third["done"], true);
    // Object names compare case-insensitively, also in the SOQL.
    assert_eq!(query(&sim, "select id from USER").status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(sim.with_state(|st| st.fault_rule_matches()), [3, 2]);
    let stats = sim.stats();
    assert_eq!(stats.query_pages["UserLogin"], 3);
    assert!(!stats.query_pages.contains_key("User"));
    assert_eq!(stats.injected_faults, 3);
    assert_eq!(stats.injected_faults_by_kind["Unavailable"], 2);
    assert_eq!(stats.injected_faults_by_kind["InternalError"], 1);

    // A rule built in code.
    let sim = start_with(
        4500,
        Faults {
            rules: vec![FaultRule::always(Injected::TruncatedBody).object("UserLogin").follow_ups().window(0, 1)],
            ..Faults::default()
        },
    );
    let first: Value = query(&sim, LOGINS).json().unwrap();
    let next = first["nextRecordsUrl"].as_str().unwrap();
    let cut = get(&sim, next).bytes().unwrap();
    assert!(serde_json::from_slice::<Value>(&cut).is_err());
    let retry: Value = get(&sim, next).json().unwrap();
    assert_eq!(retry["records"].as_array().unwrap().len(), 2000);
}

fn client_credentials(sim: &Sim) -> String {
    let response = Client::new()
        .post(format!("{}/services/oauth2/token", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sim-client-id"),
            ("client_secret", "sim-client-secret"),
        ])
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

#[test]
fn tokens_expire_and_a_new_login_works() {
    let sim = start_with(10, Faults { expire_tokens_after: Some(2), ..Faults::default() });
    let limits = "/services/data/v62.0/limits";
    // The pre-issued token: two uses, then expired for good.
    assert_eq!(get(&sim, limits).status(), StatusCode::OK);
    assert_eq!(query(&sim, LOGINS).status(), StatusCode::OK);
    for _ in 0..2 {
        let (status, code) = error_code(get(&sim, limits));
        assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "INVALID_SESSION_ID"));
    }
    // A new login gives a fresh token with its own two uses.
    let token = client_credentials(&sim);
    assert_eq!(get_with(&sim, limits, &token).status(), StatusCode::OK);
    assert_eq!(get_with(&sim, limits, &token).status(), StatusCode::OK);
    assert_eq!(get_with(&sim, limits, &token).status(), StatusCode::UNAUTHORIZED);
    let token2 = client_credentials(&sim);
    assert_ne!(token, token2);
    assert_eq!(get_with(&sim, limits, &token2).status(), StatusCode::OK);
    assert_eq!(sim.issued_tokens(), [token.clone(), token2.clone()]);
    let stats = sim.stats();
    assert_eq!(stats.expired_sessions, 2);
    assert_eq!(stats.unauthorized_requests, 3);
    assert_eq!(stats.api_usage_used, 5);
    // Expired tokens are no longer valid; issued ones are still listed.
    sim.with_state(|st| {
        assert!(!st.access_tokens.contains(&token));
        assert!(st.access_tokens.contains(&token2));
        assert_eq!(st.issued_tokens.len(), 2);
    });
}

#[test]
fn the_api_limit_is_enforced() {
    let mut config = SimConfig::new(org(10));
    config.access_tokens = vec![TOKEN.into()];
    config.api_max = 5;
    config.api_used = 2;
    let sim = Sim::start(config).unwrap();
    let body: Value = get(&sim, "/services/data/v62.0/limits").json().unwrap();
    assert_eq!(body["DailyApiRequests"], json!({"Max": 5, "Remaining": 2}));
    assert_eq!(query(&sim, LOGINS).status(), StatusCode::OK);
    assert_eq!(query(&sim, LOGINS).status(), StatusCode::OK);
    for path in [query_path(LOGINS), "/services/data/v62.0/limits".into()] {
        let response = get(&sim, &path);
        assert_eq!(response.headers()["Sforce-Limit-Info"].to_str().unwrap(), "api-usage=5/5");
        let body: Value = response.json().unwrap();
        assert_eq!(body, json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]));
    }
    let stats = sim.stats();
    assert_eq!(stats.api_usage_used, 5, "refused requests add no usage");
    assert_eq!(stats.request_limit_exceeded, 2);
    assert_eq!(stats.query_errors, 1);
    assert_eq!(stats.limits_requests, 2);
    assert_eq!(stats.query_pages["UserLogin"], 2);
    assert_eq!(stats.injected_faults, 0);
    // Over the maximum (set by a test): still refused; raising the maximum helps.
    sim.with_state(|st| st.api_used = 9);
    assert_eq!(query(&sim, LOGINS).status(), StatusCode::FORBIDDEN);
    sim.with_state(|st| st.api_max = 10);
    let body: Value = get(&sim, "/services/data/v62.0/limits").json().unwrap();
    assert_eq!(body["DailyApiRequests"], json!({"Max": 10, "Remaining": 0}));
    // A 401 stays a 401 even when the limit is reached.
    assert_eq!(get_with(&sim, "/services/data/v62.0/limits", "wrong").status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn total_size_delta() {
    let delta = |object: &str, d: i64| Faults { total_size_delta: Some((object.into(), d)), ..Faults::default() };
    let sim = start_with(4500, delta("userlogin", 3));
    let (sizes, totals, ids) = pull(&sim, LOGINS, None);
    assert_eq!(sizes, [2000, 2000, 500]);
    assert_eq!(totals, [4503, 4503, 4503]);
    assert_eq!(ids, all_login_ids(4500));
    let (_, totals, _) = pull(&sim, USERS, None);
    assert_eq!(totals, [2], "other objects are unchanged");

    sim.set_faults(delta("UserLogin", -1));
    let (_, totals, ids) = pull(&sim, LOGINS, None);
    assert_eq!(totals, [4499, 4499, 4499]);
    assert_eq!(ids.len(), 4500);
    sim.set_faults(delta("User", -5));
    let (sizes, totals, _) = pull(&sim, USERS, None);
    assert_eq!((sizes, totals), (vec![2], vec![0]), "never below 0");
}

#[test]
fn malformed_record() {
    let malformed = |object: &str, index: usize, field: &str, value: Value| Faults {
        malformed: Some(Malformed { object: object.into(), index, field: field.into(), value }),
        ..Faults::default()
    };
    let sim = start_with(4500, malformed("User", 1, "IsActive", json!("yes")));
    let body: Value = query(&sim, USERS).json().unwrap();
    assert_eq!(body["records"][0]["IsActive"], true);
    assert_eq!(body["records"][1]["IsActive"], "yes");
    // Not selected: nothing is added.
    let body: Value = query(&sim, "SELECT Id FROM User").json().unwrap();
    assert!(body["records"][1].get("IsActive").is_none());

    sim.set_faults(malformed("User", 0, "lastlogindate", json!("yesterday")));
    let body: Value = query(&sim, USERS).json().unwrap();
    assert_eq!(body["records"][0]["LastLoginDate"], "yesterday");
    assert_eq!(body["records"][1]["LastLoginDate"], "2024-01-15T10:20:30.000+0000");

    // An index on a later page.
    sim.set_faults(malformed("UserLogin", 2500, "UserId", json!(42)));
    let first: Value = query(&sim, LOGINS).json().unwrap();
    assert!(first["records"].as_array().unwrap().iter().all(|r| r["UserId"].is_string()));
    let second: Value = get(&sim, first["nextRecordsUrl"].as_str().unwrap()).json().unwrap();
    assert_eq!(second["records"][500]["UserId"], 42);
    assert_eq!(second["records"][499]["UserId"], generate::sf_id("005", 2500));
}

#[test]
fn short_pages_deliver_every_row() {
    let short = Faults { short_pages: true, ..Faults::default() };
    let sim = start_with(4500, short);
    let (sizes, totals, ids) = pull(&sim, LOGINS, None);
    assert_eq!(sizes, [2000, 1000, 1500]);
    assert_eq!(totals, [4500, 4500, 4500]);
    assert_eq!(ids, all_login_ids(4500));
    let (sizes, _, ids) = pull(&sim, LOGINS, Some("batchSize=1000"));
    assert_eq!(sizes, [1000, 500, 1000, 500, 1000, 500]);
    assert_eq!(ids, all_login_ids(4500));
    let (sizes, _, ids) = pull(&sim, LOGINS, Some("batchSize=200"));
    assert_eq!(sizes.iter().sum::<usize>(), 4500);
    assert!(sizes.iter().all(|&s| s == 200 || s == 100 || s == 0));
    assert_eq!(ids, all_login_ids(4500));
    let pages = 3 + 6 + sizes.len() as u64;
    assert_eq!(sim.stats().query_pages["UserLogin"], pages);
    // A query that fits one page is unchanged.
    let (sizes, _, _) = pull(&sim, USERS, None);
    assert_eq!(sizes, [2]);
    // The layout is fixed when the query starts.
    let first: Value = query(&sim, LOGINS).json().unwrap();
    sim.set_faults(Faults::none());
    let second: Value = get(&sim, first["nextRecordsUrl"].as_str().unwrap()).json().unwrap();
    assert_eq!(second["records"].as_array().unwrap().len(), 1000);
}

#[test]
fn latency_and_token_latency() {
    let sim = start_with(
        10,
        Faults { latency: Duration::from_millis(300), token_latency: Duration::from_millis(400), ..Faults::default() },
    );
    let t = Instant::now();
    assert_eq!(query(&sim, LOGINS).status(), StatusCode::OK);
    let data = t.elapsed();
    assert!(data >= Duration::from_millis(300), "{data:?}");
    let t = Instant::now();
    client_credentials(&sim);
    let token = t.elapsed();
    assert!(token >= Duration::from_millis(400), "{token:?}");
    sim.set_faults(Faults::none());
    let t = Instant::now();
    query(&sim, LOGINS);
    assert!(t.elapsed() < Duration::from_millis(300));
}

#[test]
fn stats_over_http_include_faults() {
    let sim = start_with(10, rules(&["503x1"]));
    query(&sim, LOGINS);
    let over_http: sf_sim::StatsSnapshot =
        Client::new().get(format!("{}/__sim/stats", sim.base_url())).send().unwrap().json().unwrap();
    assert_eq!(over_http, sim.stats());
    assert_eq!(over_http.injected_faults, 1);
    sim.reset_stats();
    assert_eq!(sim.stats().injected_faults, 0);
}

/// The binary: `--demo` with faults from the command line.
#[test]
fn binary_serves_the_demo_org_with_faults() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sf-sim"))
        .args(["--demo", "--fault", "503@1x1", "--short-pages"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("sf-sim listening on ").unwrap_or_else(|| panic!("{line}")).to_string();
    let result = std::panic::catch_unwind(|| {
        let client = Client::new();
        let token: Value = client
            .post(format!("{base}/services/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "sim-client-id"),
                ("client_secret", "sim-client-secret"),
            ])
            .send()
            .unwrap()
            .json()
            .unwrap();
        let demo = generate::demo_org();
        let integration = &demo.records("User")[3];
        assert_eq!(integration["Username"], generate::DEMO_INTEGRATION_USERNAME);
        let id = token["id"].as_str().unwrap();
        assert!(
            id.ends_with(integration["Id"].as_str().unwrap()),
            "the run-as user is the demo integration user: {token}"
        );
        let token = token["access_token"].as_str().unwrap().to_string();
        let get = |path: &str| client.get(format!("{base}{path}")).bearer_auth(&token).send().unwrap();
        let org: Value = get(&query_path("SELECT Name FROM Organization")).json().unwrap();
        assert_eq!(org["records"][0]["Name"], "Northwind Consulting");
        assert_eq!(get(&query_path("SELECT Id FROM User")).status(), StatusCode::SERVICE_UNAVAILABLE);
        let users: Value = get(&query_path("SELECT Id FROM User")).json().unwrap();
        assert_eq!(users["totalSize"], 300);
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
