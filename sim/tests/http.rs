//! End-to-end tests of the simulator over HTTP, through its public API: the
//! token endpoint (each grant, success and failure), paged queries, locators,
//! version gating, 401s, `/limits`, the `Sforce-Limit-Info` header and the
//! request counters.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};
use sf_sim::{
    GRANT_CLIENT_CREDENTIALS, GRANT_JWT_BEARER, GRANT_MISSING, GRANT_REFRESH_TOKEN, Org, Record, Sim, SimConfig,
    generate,
};

const TOKEN: &str = "00DSIM000000001!pre-issued-token";
const USERNAME: &str = "integration@example.com";
const PRIVATE_KEY: &str = include_str!("../../fixtures/keys/test-only-private.pem");
const PUBLIC_KEY: &str = include_str!("../../fixtures/keys/test-only-public.pem");

fn rec(v: Value) -> Record {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn small_org() -> Org {
    let users = vec![
        rec(json!({
            "Id": "005000000000001AAA",
            "Username": USERNAME,
            "IsActive": true,
            "ProfileId": "00e000000000001AAA",
            "Profile": {"Name": "System Administrator", "UserLicense": {"Name": "Salesforce"}},
            "UserRoleId": "00E000000000001AAA",
            "UserRole": {"Name": "CEO"},
            "LastLoginDate": "2024-01-15T10:20:30.000+0000"
        })),
        rec(json!({
            "Id": "005000000000002AAA",
            "Username": "gone@example.com",
            "IsActive": false,
            "ProfileId": "00e000000000002AAA",
            "Profile": {"Name": "Standard User", "UserLicense": {"Name": "Salesforce"}},
            "UserRoleId": null,
            "UserRole": null,
            "LastLoginDate": null
        })),
    ];
    let orgs = vec![rec(json!({
        "Id": "00D000000000001AAA", "Name": "Acme", "InstanceName": "EU42",
        "IsSandbox": false, "OrganizationType": "Enterprise Edition"
    }))];
    Org::from_objects(BTreeMap::from([("User".to_string(), users), ("Organization".to_string(), orgs)])).unwrap()
}

fn config(org: Org) -> SimConfig {
    let mut config = SimConfig::new(org);
    config.access_tokens = vec![TOKEN.into()];
    config.usernames = vec![USERNAME.into()];
    config.refresh_tokens = vec!["refresh-1".into()];
    config.jwt_public_key_pem = Some(PUBLIC_KEY.into());
    config
}

fn start(org: Org) -> Sim {
    Sim::start(config(org)).unwrap()
}

fn get(sim: &Sim, path: &str, token: Option<&str>) -> Response {
    let mut request = Client::new().get(format!("{}{path}", sim.base_url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().unwrap()
}

fn query(sim: &Sim, version: &str, soql: &str, batch: Option<&str>) -> Response {
    let mut request = Client::new()
        .get(format!("{}/services/data/{version}/query", sim.base_url()))
        .query(&[("q", soql)])
        .bearer_auth(TOKEN);
    if let Some(batch) = batch {
        request = request.header("Sforce-Query-Options", batch);
    }
    request.send().unwrap()
}

/// Status, errorCode and message of a REST error (a JSON array).
fn sf_error(response: Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().unwrap();
    let first = &body.as_array().expect("REST errors are arrays")[0];
    (status, first["errorCode"].as_str().unwrap().to_string(), first["message"].as_str().unwrap().to_string())
}

fn token_request(sim: &Sim, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = Client::new().post(format!("{}/services/oauth2/token", sim.base_url())).form(form).send().unwrap();
    assert!(response.headers().get("Sforce-Limit-Info").is_none());
    (response.status(), response.json().unwrap())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn jwt(claims: Value) -> String {
    let key = EncodingKey::from_rsa_pem(PRIVATE_KEY.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
}

fn claims() -> Value {
    json!({
        "iss": "sim-client-id",
        "sub": USERNAME,
        "aud": "https://login.salesforce.com",
        "exp": now() + 180,
    })
}

fn jwt_grant(sim: &Sim, assertion: &str) -> (StatusCode, Value) {
    token_request(sim, &[("grant_type", GRANT_JWT_BEARER), ("assertion", assertion)])
}

fn assert_oauth_error(result: (StatusCode, Value), error: &str, description: &str) {
    let (status, body) = result;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains(description), "{body}");
}

#[test]
fn first_page_shape_with_nested_relationships() {
    let sim = start(small_org());
    let response = query(
        &sim,
        "v62.0",
        "SELECT Id, Username, Profile.Name, Profile.UserLicense.Name, UserRole.Name, LastLoginDate FROM User",
        None,
    );
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let text = response.text().unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["totalSize"], 2);
    assert_eq!(body["done"], true);
    assert!(body.get("nextRecordsUrl").is_none());
    let expected_first = json!({
        "attributes": {"type": "User", "url": "/services/data/v62.0/sobjects/User/005000000000001AAA"},
        "Id": "005000000000001AAA",
        "Username": USERNAME,
        "Profile": {
            "attributes": {"type": "Profile", "url": "/services/data/v62.0/sobjects/Profile/00e000000000001AAA"},
            "Name": "System Administrator",
            "UserLicense": {"attributes": {"type": "UserLicense"}, "Name": "Salesforce"}
        },
        "UserRole": {
            "attributes": {"type": "UserRole", "url": "/services/data/v62.0/sobjects/UserRole/00E000000000001AAA"},
            "Name": "CEO"
        },
        "LastLoginDate": "2024-01-15T10:20:30.000+0000"
    });
    // Key order matters to nobody's parser, but it must be Salesforce's.
    assert_eq!(serde_json::to_string(&body["records"][0]).unwrap(), serde_json::to_string(&expected_first).unwrap());
    assert_eq!(body["records"][1]["UserRole"], Value::Null);
    assert_eq!(body["records"][1]["LastLoginDate"], Value::Null);
    assert!(text.starts_with(r#"{"totalSize":2,"done":true,"records":["#));
}

fn logins(n: usize) -> Org {
    let records = (0..n)
        .map(|i| {
            rec(json!({
                "Id": generate::sf_id("060", i as u64 + 1),
                "UserId": generate::sf_id("005", i as u64 + 1),
                "IsFrozen": i % 7 == 0,
                "IsPasswordLocked": false
            }))
        })
        .collect();
    Org::from_objects(BTreeMap::from([("UserLogin".to_string(), records)])).unwrap()
}

/// Follows `nextRecordsUrl` to the end; returns the page sizes.
fn pull_all(sim: &Sim, batch: Option<&str>, total: usize) -> Vec<usize> {
    let soql = "SELECT Id, UserId, IsFrozen FROM UserLogin";
    let mut body: Value = query(sim, "v62.0", soql, batch).json().unwrap();
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    loop {
        assert_eq!(body["totalSize"], total, "totalSize repeated on every page");
        let records = body["records"].as_array().unwrap();
        sizes.push(records.len());
        ids.extend(records.iter().map(|r| r["Id"].as_str().unwrap().to_string()));
        if body["done"] == true {
            assert!(body.get("nextRecordsUrl").is_none());
            break;
        }
        let next = body["nextRecordsUrl"].as_str().unwrap().to_string();
        let (locator_path, locator) = next.rsplit_once('/').unwrap();
        assert_eq!(locator_path, "/services/data/v62.0/query");
        assert!(locator.starts_with("01gSIM"), "{locator}");
        let (id, _) = locator.rsplit_once('-').unwrap();
        assert_eq!(id.len(), 18);
        assert!(id[6..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        body = get(sim, &next, Some(TOKEN)).json().unwrap();
    }
    let expected: Vec<String> = (0..total).map(|i| generate::sf_id("060", i as u64 + 1)).collect();
    assert_eq!(ids, expected, "all rows, in file order, once");
    sizes
}

#[test]
fn paging_with_batch_sizes() {
    let sim = start(logins(4500));
    assert_eq!(pull_all(&sim, None, 4500), [2000, 2000, 500]);
    assert_eq!(pull_all(&sim, Some("batchSize=2000"), 4500), [2000, 2000, 500]);
    assert_eq!(pull_all(&sim, Some("batchSize=1000"), 4500), [1000, 1000, 1000, 1000, 500]);
    // Clamped to 200..=2000.
    assert_eq!(pull_all(&sim, Some("batchSize=50"), 4500).len(), 23);
    assert_eq!(pull_all(&sim, Some("batchSize=9000"), 4500), [2000, 2000, 500]);
    let stats = sim.stats();
    assert_eq!(stats.query_pages["UserLogin"], 3 + 3 + 5 + 23 + 3);
    assert_eq!(stats.query_errors, 0);
    assert_eq!(stats.api_usage_used, 37);

    let sim = start(logins(2000));
    assert_eq!(pull_all(&sim, None, 2000), [2000]);
    let sim = start(logins(0));
    assert_eq!(pull_all(&sim, None, 0), [0]);
}

#[test]
fn invalid_locators() {
    let sim = start(logins(4500));
    let body: Value = query(&sim, "v62.0", "SELECT Id FROM UserLogin", None).json().unwrap();
    let next = body["nextRecordsUrl"].as_str().unwrap().to_string();
    let (prefix, _) = next.rsplit_once('-').unwrap();

    for path in [
        "/services/data/v62.0/query/01gSIMAAAAAAAAAAAA-2000".to_string(),
        format!("{prefix}-4000"),
        format!("{prefix}-1999"),
        format!("{prefix}-x"),
        "/services/data/v62.0/query/nonsense".to_string(),
    ] {
        let (status, code, message) = sf_error(get(&sim, &path, Some(TOKEN)));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(code, "INVALID_QUERY_LOCATOR", "{path}");
        assert_eq!(message, "invalid query locator", "{path}");
    }
    let other_version = next.replace("v62.0", "v61.0");
    let (_, code, message) = sf_error(get(&sim, &other_version, Some(TOKEN)));
    assert_eq!(code, "INVALID_QUERY_LOCATOR");
    assert!(message.contains("v62.0"), "{message}");

    let (status, code, _) = sf_error(get(&sim, &format!("{next}?q=x"), Some(TOKEN)));
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "MALFORMED_QUERY"));

    // The real locator works, even twice (a retry), until cursors are dropped.
    assert_eq!(get(&sim, &next, Some(TOKEN)).status(), StatusCode::OK);
    assert_eq!(get(&sim, &next, Some(TOKEN)).status(), StatusCode::OK);
    assert_eq!(sim.stats().open_cursors, 1);
    sim.with_state(|st| st.clear_cursors());
    let (_, code, _) = sf_error(get(&sim, &next, Some(TOKEN)));
    assert_eq!(code, "INVALID_QUERY_LOCATOR");
    assert_eq!(sim.stats().query_errors, 8);
}

#[test]
fn query_errors_over_http() {
    let sim = start(small_org());
    let cases = [
        ("v62.0", "SELECT Id FROM User WHERE Username > 'a'", "MALFORMED_QUERY", "conditions other than"),
        ("v62.0", "SELECT Id FROM User LIMIT 5 OFFSET 5", "MALFORMED_QUERY", "OFFSET"),
        ("v62.0", "SELECT Id FROM Account", "INVALID_TYPE", "sObject type 'Account' is not supported."),
        ("v62.0", "SELECT Id, Foo FROM User", "INVALID_FIELD", "No such column 'Foo' on entity 'User'."),
        ("v62.0", "SELECT Profile FROM User", "INVALID_FIELD", "No such column 'Profile' on entity 'User'."),
        ("v62.0", "SELECT Id, id FROM User", "DUPLICATE_FIELD", "duplicate field selected: Id"),
        ("v21.0", "SELECT Id FROM PermissionSetAssignment", "INVALID_TYPE", "PermissionSetAssignment"),
        ("v51.0", "SELECT IsActive FROM PermissionSetAssignment", "INVALID_FIELD", "No such column 'IsActive'"),
        ("v44.0", "SELECT Id FROM PermissionSetGroup", "INVALID_TYPE", "PermissionSetGroup"),
        ("v30.0", "SELECT Id FROM UserPackageLicense", "INVALID_TYPE", "UserPackageLicense"),
        ("v28.0", "SELECT Id FROM UserLogin", "INVALID_TYPE", "UserLogin"),
    ];
    for (version, soql, code, needle) in cases {
        let (status, got_code, message) = sf_error(query(&sim, version, soql, None));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{soql}");
        assert_eq!(got_code, code, "{soql}: {message}");
        assert!(message.contains(needle), "{soql}: {message}");
    }
    // What exists at a version is served at that version.
    assert_eq!(
        query(&sim, "v52.0", "SELECT IsActive, ExpirationDate FROM PermissionSetAssignment", None).status(),
        StatusCode::OK
    );
    assert_eq!(query(&sim, "v20.0", "SELECT Id FROM User", None).status(), StatusCode::OK);

    let (status, code, _) = sf_error(get(&sim, "/services/data/v62.0/query", Some(TOKEN)));
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "MALFORMED_QUERY"));
    let (_, code, message) =
        sf_error(get(&sim, "/services/data/v62.0/query?q=SELECT+Id+FROM+User&explain=1", Some(TOKEN)));
    assert_eq!(code, "MALFORMED_QUERY");
    assert!(message.contains("explain"));
    // `+` and `%20` both decode to spaces.
    let body: Value = get(&sim, "/services/data/v62.0/query?q=SELECT+Id%20FROM+User", Some(TOKEN)).json().unwrap();
    assert_eq!(body["totalSize"], 2);
    let (_, code, _) = sf_error(query(&sim, "v62.0", "SELECT Id FROM User", Some("batchSize=abc")));
    assert_eq!(code, "MALFORMED_QUERY");
    assert_eq!(sim.stats().query_errors, 14);
}

#[test]
fn versions_paths_and_methods() {
    let sim = start(small_org());
    for path in [
        "/services/data/v19.0/query?q=SELECT+Id+FROM+User",
        "/services/data/v67.0/query?q=SELECT+Id+FROM+User",
        "/services/data/v62.0/queryAll?q=SELECT+Id+FROM+User",
        "/services/data/v62.0/sobjects/User",
        "/services/data/v28.0/limits",
        "/services/data/",
    ] {
        let response = get(&sim, path, Some(TOKEN));
        assert!(response.headers().contains_key("Sforce-Limit-Info"), "{path}");
        let (status, code, message) = sf_error(response);
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(code, "NOT_FOUND");
        assert_eq!(message, "The requested resource does not exist");
    }
    let (status, code, _) = sf_error(get(&sim, "/nowhere", None));
    assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "NOT_FOUND"));

    let response =
        Client::new().post(format!("{}/services/data/v62.0/query", sim.base_url())).bearer_auth(TOKEN).send().unwrap();
    let (status, code, _) = sf_error(response);
    assert_eq!((status, code.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"));

    let stats = sim.stats();
    assert_eq!(stats.other_requests, 8);
    assert_eq!(stats.api_usage_used, 7, "/nowhere is not a data request");
}

#[test]
fn unauthorized_requests_are_401_and_not_counted() {
    let sim = start(small_org());
    for token in [None, Some("wrong-token")] {
        let response = get(&sim, "/services/data/v62.0/query?q=SELECT+Id+FROM+User", token);
        assert_eq!(response.headers()["Sforce-Limit-Info"].to_str().unwrap(), "api-usage=0/15000");
        let (status, code, message) = sf_error(response);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(code, "INVALID_SESSION_ID");
        assert_eq!(message, "Session expired or invalid");
    }
    let (status, _, _) = sf_error(get(&sim, "/services/data/v62.0/limits", None));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let stats = sim.stats();
    assert_eq!(stats.api_usage_used, 0);
    assert_eq!(stats.unauthorized_requests, 3);
    assert_eq!(stats.query_errors, 2);
    assert_eq!(stats.limits_requests, 1);

    // Revoking tokens at run time makes the next call fail.
    assert_eq!(get(&sim, "/services/data/v62.0/limits", Some(TOKEN)).status(), StatusCode::OK);
    sim.with_state(|st| st.access_tokens.clear());
    assert_eq!(get(&sim, "/services/data/v62.0/limits", Some(TOKEN)).status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn limits_and_limit_info_header() {
    let mut config = config(small_org());
    config.api_max = 5000;
    config.api_used = 18;
    let sim = Sim::start(config).unwrap();
    let response = get(&sim, "/services/data/v62.0/limits", Some(TOKEN));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["Sforce-Limit-Info"].to_str().unwrap(), "api-usage=19/5000");
    let body: Value = response.json().unwrap();
    assert_eq!(body["DailyApiRequests"], json!({"Max": 5000, "Remaining": 4981}));
    for key in ["DailyBulkApiRequests", "DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB"] {
        assert!(body[key]["Max"].is_u64() && body[key]["Remaining"].is_u64(), "{key}");
    }
    let response = query(&sim, "v62.0", "SELECT Id FROM User", None);
    assert_eq!(response.headers()["Sforce-Limit-Info"].to_str().unwrap(), "api-usage=20/5000");
    // Errors count too.
    let response = query(&sim, "v62.0", "SELECT Nope FROM User", None);
    assert_eq!(response.headers()["Sforce-Limit-Info"].to_str().unwrap(), "api-usage=21/5000");
    sim.with_state(|st| st.api_used = 4999);
    let body: Value = get(&sim, "/services/data/v62.0/limits", Some(TOKEN)).json().unwrap();
    assert_eq!(body["DailyApiRequests"]["Remaining"], 0);
    assert_eq!(sim.stats().api_usage_used, 5000);
    assert_eq!(sim.stats().limits_requests, 2);
}

#[test]
fn stats_counting_and_reset() {
    let sim = start(small_org());
    jwt_grant(&sim, &jwt(claims()));
    jwt_grant(&sim, "not-a-jwt");
    token_request(&sim, &[("grant_type", "password")]);
    query(&sim, "v62.0", "SELECT Id FROM User", None);
    query(&sim, "v62.0", "SELECT Id FROM Organization", None);
    query(&sim, "v62.0", "SELECT Id FROM Nope", None);
    get(&sim, "/services/data/v62.0/limits", Some(TOKEN));
    get(&sim, "/elsewhere", None);
    let stats = sim.stats();
    assert_eq!(stats.token_requests, 3);
    assert_eq!(stats.token_errors, 2);
    assert_eq!(stats.token_requests_by_grant[GRANT_JWT_BEARER], 2);
    assert_eq!(stats.token_requests_by_grant["password"], 1);
    assert_eq!(stats.query_pages["User"], 1);
    assert_eq!(stats.query_pages["Organization"], 1);
    assert_eq!(stats.total_query_pages(), 2);
    assert_eq!(stats.query_errors, 1);
    assert_eq!(stats.limits_requests, 1);
    assert_eq!(stats.other_requests, 1);
    assert_eq!(stats.api_usage_used, 4);

    // The same counters over HTTP, uncounted.
    let over_http: sf_sim::StatsSnapshot = get(&sim, "/__sim/stats", None).json().unwrap();
    assert_eq!(over_http, stats);
    assert_eq!(sim.stats(), stats);

    sim.reset_stats();
    let stats = sim.stats();
    assert_eq!(stats.token_requests, 0);
    assert!(stats.query_pages.is_empty());
    assert_eq!(stats.api_usage_used, 4, "API usage is org state, not a counter");
}

#[test]
fn jwt_bearer_flow() {
    let sim = start(small_org());
    let (status, body) = jwt_grant(&sim, &jwt(claims()));
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["access_token", "instance_url", "id", "token_type", "scope"]);
    assert_eq!(body["instance_url"], sim.base_url());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["id"], format!("{}/id/00D000000000001AAA/005000000000001AAA", sim.base_url()));
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with("00D000000000001!"), "{token}");
    assert_eq!(get(&sim, "/services/data/v62.0/limits", Some(token)).status(), StatusCode::OK);

    let mut test_aud = claims();
    test_aud["aud"] = json!("https://test.salesforce.com");
    assert_eq!(jwt_grant(&sim, &jwt(test_aud)).0, StatusCode::OK);
    // `prn` wins over `sub`.
    let mut prn = claims();
    prn["sub"] = json!("someone-else@example.com");
    prn["prn"] = json!(USERNAME);
    assert_eq!(jwt_grant(&sim, &jwt(prn)).0, StatusCode::OK);
    let mut prn_bad = claims();
    prn_bad["prn"] = json!("someone-else@example.com");
    assert_oauth_error(jwt_grant(&sim, &jwt(prn_bad)), "invalid_grant", "user hasn't approved this consumer");

    let mut c = claims();
    c["iss"] = json!("other-client");
    assert_oauth_error(jwt_grant(&sim, &jwt(c)), "invalid_client_id", "client identifier invalid");
    let mut c = claims();
    c["aud"] = json!("https://acme.my.salesforce.com");
    assert_oauth_error(jwt_grant(&sim, &jwt(c)), "invalid_grant", "audience is invalid");
    let mut c = claims();
    c["exp"] = json!(now() - 10);
    assert_oauth_error(jwt_grant(&sim, &jwt(c)), "invalid_grant", "expired authorization code");
    let mut c = claims();
    c["exp"] = json!(now() + 3600);
    assert_oauth_error(jwt_grant(&sim, &jwt(c)), "invalid_grant", "invalid assertion");
    let mut c = claims();
    c["sub"] = json!("stranger@example.com");
    assert_oauth_error(jwt_grant(&sim, &jwt(c)), "invalid_grant", "user hasn't approved this consumer");

    // Bad signature, wrong algorithm, not a JWT.
    let good = jwt(claims());
    let (head, sig) = good.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{head}.{flipped}{}", &sig[1..]);
    assert_oauth_error(jwt_grant(&sim, &tampered), "invalid_grant", "invalid assertion");
    let hs =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(b"secret")).unwrap();
    assert_oauth_error(jwt_grant(&sim, &hs), "invalid_grant", "invalid assertion");
    assert_oauth_error(jwt_grant(&sim, "garbage"), "invalid_grant", "invalid assertion");
    assert_oauth_error(token_request(&sim, &[("grant_type", GRANT_JWT_BEARER)]), "invalid_grant", "invalid assertion");

    // An inactive integration user cannot get a token.
    sim.with_state(|st| st.usernames.push("gone@example.com".into()));
    let mut c = claims();
    c["sub"] = json!("gone@example.com");
    assert_oauth_error(jwt_grant(&sim, &jwt(c)), "inactive_user", "inactive");

    // Without a configured key the flow is refused, loudly.
    sim.with_state(|st| st.jwt_public_key_pem = None);
    assert_oauth_error(jwt_grant(&sim, &jwt(claims())), "invalid_grant", "no JWT public key");
}

#[test]
fn client_credentials_flow() {
    let sim = start(small_org());
    let (status, body) = token_request(
        &sim,
        &[("grant_type", "client_credentials"), ("client_id", "sim-client-id"), ("client_secret", "sim-client-secret")],
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["issued_at"].as_str().unwrap().parse::<u64>().unwrap() > 1_600_000_000_000);
    assert!(!body["signature"].as_str().unwrap().is_empty());
    assert_eq!(body["id"], format!("{}/id/00D000000000001AAA/005000000000001AAA", sim.base_url()));
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(get(&sim, "/services/data/v62.0/limits", Some(token)).status(), StatusCode::OK);

    // HTTP Basic.
    let response = Client::new()
        .post(format!("{}/services/oauth2/token", sim.base_url()))
        .basic_auth("sim-client-id", Some("sim-client-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = Client::new()
        .post(format!("{}/services/oauth2/token", sim.base_url()))
        .basic_auth("sim-client-id", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_oauth_error((response.status(), response.json().unwrap()), "invalid_client", "invalid client credentials");

    assert_oauth_error(
        token_request(
            &sim,
            &[("grant_type", "client_credentials"), ("client_id", "sim-client-id"), ("client_secret", "wrong")],
        ),
        "invalid_client",
        "invalid client credentials",
    );
    assert_oauth_error(
        token_request(&sim, &[("grant_type", "client_credentials")]),
        "invalid_client",
        "invalid client credentials",
    );
    assert_oauth_error(
        token_request(
            &sim,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "sim-client-id"),
                ("client_secret", "sim-client-secret"),
                ("scope", "api"),
            ],
        ),
        "invalid_request",
        "scope",
    );
    assert_eq!(sim.stats().token_requests_by_grant[GRANT_CLIENT_CREDENTIALS], 6);
}

#[test]
fn refresh_token_flow() {
    let sim = start(small_org());
    let (status, body) = token_request(
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", "refresh-1"), ("client_id", "sim-client-id")],
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("signature").is_some());
    let (status, _) = token_request(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "refresh-1"),
            ("client_id", "sim-client-id"),
            ("client_secret", "sim-client-secret"),
        ],
    );
    assert_eq!(status, StatusCode::OK);
    assert_oauth_error(
        token_request(
            &sim,
            &[("grant_type", "refresh_token"), ("refresh_token", "revoked"), ("client_id", "sim-client-id")],
        ),
        "invalid_grant",
        "expired access/refresh token",
    );
    assert_oauth_error(
        token_request(&sim, &[("grant_type", "refresh_token"), ("refresh_token", "refresh-1"), ("client_id", "other")]),
        "invalid_client_id",
        "client identifier invalid",
    );
    assert_oauth_error(
        token_request(
            &sim,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "refresh-1"),
                ("client_id", "sim-client-id"),
                ("client_secret", "wrong"),
            ],
        ),
        "invalid_client",
        "invalid client credentials",
    );
    assert_eq!(sim.stats().token_requests_by_grant[GRANT_REFRESH_TOKEN], 5);
    assert_eq!(sim.stats().token_errors, 3);
}

#[test]
fn token_endpoint_request_errors() {
    let sim = start(small_org());
    assert_oauth_error(
        token_request(&sim, &[("grant_type", "password")]),
        "unsupported_grant_type",
        "grant type not supported",
    );
    assert_oauth_error(
        token_request(&sim, &[("client_id", "x")]),
        "unsupported_grant_type",
        "grant type not supported",
    );
    let response = Client::new()
        .post(format!("{}/services/oauth2/token", sim.base_url()))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .unwrap();
    assert_oauth_error((response.status(), response.json().unwrap()), "invalid_request", "x-www-form-urlencoded");
    let response = get(&sim, "/services/oauth2/token", None);
    assert_oauth_error((response.status(), response.json().unwrap()), "invalid_request", "must use HTTP POST");
    let stats = sim.stats();
    assert_eq!(stats.token_requests, 4);
    assert_eq!(stats.token_requests_by_grant[GRANT_MISSING], 3);
    assert_eq!(stats.api_usage_used, 0, "the token endpoint is not API usage");
}

#[test]
fn org_changes_at_run_time_do_not_touch_open_cursors() {
    let sim = start(logins(2500));
    let body: Value = query(&sim, "v62.0", "SELECT Id FROM UserLogin", None).json().unwrap();
    let next = body["nextRecordsUrl"].as_str().unwrap().to_string();
    sim.with_state(|st| st.org_mut().objects_mut().get_mut("UserLogin").unwrap().truncate(10));
    let page: Value = get(&sim, &next, Some(TOKEN)).json().unwrap();
    assert_eq!(page["records"].as_array().unwrap().len(), 500);
    assert_eq!(page["totalSize"], 2500);
    let fresh: Value = query(&sim, "v62.0", "SELECT Id FROM UserLogin", None).json().unwrap();
    assert_eq!(fresh["totalSize"], 10);
    assert_eq!(sim.with_state(|st| st.records("UserLogin").len()), 10);
}

#[test]
fn synthetic_org_serves_every_object() {
    let sim = start(generate::synthetic_org(3, 50, 200));
    for soql in [
        "SELECT Id, Username, Name, Email, IsActive, UserType, Profile.Name, Profile.UserLicense.Name, UserRole.Name, Department, Title, FederationIdentifier, CreatedDate, LastLoginDate FROM User",
        "SELECT Id, AssigneeId, PermissionSetId, PermissionSet.Name, PermissionSet.Label, PermissionSet.NamespacePrefix, PermissionSet.IsOwnedByProfile, PermissionSet.Type, PermissionSetGroupId, ExpirationDate FROM PermissionSetAssignment",
        "SELECT Id, DeveloperName, MasterLabel, NamespacePrefix FROM PermissionSetGroup",
        "SELECT PermissionSetGroupId, PermissionSetId, PermissionSet.Name, PermissionSet.Label, PermissionSet.NamespacePrefix, PermissionSet.IsOwnedByProfile FROM PermissionSetGroupComponent",
        "SELECT Id, UserId, PackageLicenseId, PackageLicense.NamespacePrefix FROM UserPackageLicense",
        "SELECT UserId, IsFrozen FROM UserLogin",
        "SELECT Id, Name, InstanceName, IsSandbox, OrganizationType FROM Organization",
    ] {
        let response = query(&sim, "v62.0", soql, None);
        assert_eq!(response.status(), StatusCode::OK, "{soql}");
        let body: Value = response.json().unwrap();
        assert!(body["totalSize"].as_u64().unwrap() > 0, "{soql}");
    }
    // The synthetic org's own id is the org id.
    let (_, body) = jwt_grant(&sim, &jwt(claims()));
    assert!(body["id"].as_str().unwrap().contains(&generate::sf_id("00D", 1)));
}

#[test]
fn dropping_the_sim_stops_the_server() {
    let sim = start(small_org());
    let url = format!("{}/services/data/v62.0/limits", sim.base_url());
    assert_eq!(Client::new().get(&url).bearer_auth(TOKEN).send().unwrap().status(), StatusCode::OK);
    drop(sim);
    assert!(Client::new().get(&url).bearer_auth(TOKEN).send().is_err());
}

#[test]
fn verification_key_may_be_the_certificate_but_not_the_private_key() {
    // Salesforce holds the certificate; the simulator takes it as well.
    let mut cert = config(small_org());
    cert.jwt_public_key_pem = Some(include_str!("../../fixtures/keys/test-only-cert.pem").into());
    let sim = Sim::start(cert).unwrap();
    assert_eq!(jwt_grant(&sim, &jwt(claims())).0, StatusCode::OK);

    let mut private = config(small_org());
    private.jwt_public_key_pem = Some(PRIVATE_KEY.into());
    let err = Sim::start(private).unwrap_err();
    assert!(format!("{err:#}").contains("private key"), "{err:#}");
}

#[test]
fn listing_the_bulk_query_jobs_needs_bulk_api_access() {
    let sim = start(small_org());
    let path = "/services/data/v62.0/jobs/query";
    let response = get(&sim, path, Some(TOKEN));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().unwrap(), json!({"done": true, "records": [], "nextRecordsUrl": null}));
    let created = Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"operation": "query", "query": "SELECT Id FROM User"}))
        .send()
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let id = created.json::<Value>().unwrap()["id"].clone();
    let listed: Value = get(&sim, path, Some(TOKEN)).json().unwrap();
    assert_eq!(listed["records"].as_array().unwrap().iter().map(|j| j["id"].clone()).collect::<Vec<_>>(), [id]);
    assert_eq!(listed["records"][0]["object"], "User");

    sim.with_state(|st| st.bulk_api = false);
    let (status, code, _) = sf_error(get(&sim, path, Some(TOKEN)));
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "API_DISABLED_FOR_ORG"));
    // Before Bulk API 2.0 (v47.0) there is no such resource.
    let (status, code, _) = sf_error(get(&sim, "/services/data/v46.0/jobs/query", Some(TOKEN)));
    assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
}
