//! The SCIM servers over HTTP: RFC 7644 paging, errors, OAuth client credentials, the Stensul
//! mode, and Salesforce's own endpoint consistent with the org's records.

use std::collections::BTreeMap;
use std::net::IpAddr;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use sf_sim::scim::{ScimConfig, ScimFaults, ScimGroup, ScimMode, ScimSim, ScimUser};
use sf_sim::{Org, Record, Sim, SimConfig, generate};

const TOKEN: &str = "scim-preissued-token";

fn users(n: usize) -> Vec<ScimUser> {
    (1..=n).map(|i| ScimUser::new(&format!("u{i:03}"), &format!("user{i}@example.com"))).collect()
}

fn start(mode: ScimMode, users: Vec<ScimUser>, groups: Vec<ScimGroup>, edit: impl FnOnce(&mut ScimConfig)) -> ScimSim {
    let mut config = ScimConfig::new(mode, users, groups);
    config.tokens = vec![TOKEN.into()];
    edit(&mut config);
    ScimSim::start(config).unwrap()
}

fn get(url: &str) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let response = Client::new().get(url).bearer_auth(TOKEN).send().unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, response.json().unwrap_or(Value::Null), headers)
}

fn ids(page: &Value) -> Vec<String> {
    page["Resources"].as_array().into_iter().flatten().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn paging_is_one_based_with_the_servers_own_maximum() {
    let sim = start(ScimMode::Generic, users(7), vec![], |c| c.max_results = 3);
    let (status, spc, headers) = get(&format!("{}/ServiceProviderConfig", sim.scim_url()));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/scim+json");
    assert_eq!(spc["filter"]["maxResults"], 3);
    let (_, page, _) = get(&format!("{}/Users?startIndex=1&count=10", sim.scim_url()));
    assert_eq!((page["totalResults"].as_u64(), page["itemsPerPage"].as_u64()), (Some(7), Some(3)));
    assert_eq!(ids(&page), ["u001", "u002", "u003"], "fewer than asked: the server's maximum");
    let (_, page, _) = get(&format!("{}/Users?startIndex=7&count=2", sim.scim_url()));
    assert_eq!(ids(&page), ["u007"]);
    let (_, page, _) = get(&format!("{}/Users?startIndex=8&count=2", sim.scim_url()));
    assert!(page.get("Resources").is_none(), "an empty page has no Resources: {page}");
    let (status, error, _) = get(&format!("{}/Users?filter=userName%20eq%20%22x%22", sim.scim_url()));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!((error["status"].as_str(), error["scimType"].as_str()), (Some("400"), Some("invalidValue")));
    let requests = sim.requests();
    assert_eq!(requests[1].start_index, Some(1));
    assert_eq!(requests[1].count, Some(10));
}

#[test]
fn faults_short_pages_missing_totals_and_rate_limits() {
    let sim = start(ScimMode::Generic, users(5), vec![], |c| {
        c.faults = ScimFaults {
            page_limit: Some(2),
            users_surplus: 3,
            rate_limited: 1,
            retry_after_secs: 2,
            ..ScimFaults::default()
        };
    });
    let (status, _, headers) = get(&format!("{}/Users", sim.scim_url()));
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "2");
    let (_, spc, _) = get(&format!("{}/ServiceProviderConfig", sim.scim_url()));
    assert_eq!(spc["filter"]["maxResults"], 100, "the page limit is not advertised");
    let (_, page, _) = get(&format!("{}/Users?startIndex=1&count=100", sim.scim_url()));
    assert_eq!(ids(&page).len(), 2);
    assert_eq!(page["totalResults"], 8, "three more announced than exist");
}

#[test]
fn client_credentials_issue_tokens_that_expire() {
    let sim = start(ScimMode::Generic, users(1), vec![], |c| {
        c.tokens.clear();
        c.faults.expire_tokens_after = Some(1);
    });
    let client = Client::new();
    let form = [("grant_type", "client_credentials"), ("client_id", "scim-client-id"), ("client_secret", "nope")];
    let refused = client.post(sim.token_url()).form(&form).send().unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json::<Value>().unwrap()["error"], "invalid_client");
    let ok = client.post(sim.token_url()).basic_auth("scim-client-id", Some("scim-client-secret"));
    let token: Value = ok.form(&[("grant_type", "client_credentials")]).send().unwrap().json().unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    assert_eq!(sim.issued_tokens(), std::slice::from_ref(&token));
    let url = format!("{}/Users", sim.scim_url());
    assert_eq!(client.get(&url).bearer_auth(&token).send().unwrap().status(), StatusCode::OK);
    assert_eq!(client.get(&url).bearer_auth(&token).send().unwrap().status(), StatusCode::UNAUTHORIZED, "expired");
    assert_eq!(client.get(&url).send().unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn stensul_hides_soft_deleted_users_keeps_roles_read_only_and_checks_the_allowlist() {
    let mut people = users(3);
    people[1].deleted = true;
    people[2].active = false;
    let roles =
        vec![ScimGroup { id: "r1".into(), display_name: "Admin".into(), members: vec!["u002".into(), "u003".into()] }];
    let sim = start(ScimMode::Stensul, people.clone(), roles.clone(), |_| {});
    let (_, page, _) = get(&format!("{}/Users", sim.scim_url()));
    assert_eq!(ids(&page), ["u001", "u003"]);
    assert_eq!(page["totalResults"], 2);
    assert!(page["Resources"][0].get("groups").is_none(), "Stensul users do not carry groups");
    assert_eq!(page["Resources"][1]["active"], false);
    let (status, _, _) = get(&format!("{}/Users/u002", sim.scim_url()));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, groups, _) = get(&format!("{}/Groups", sim.scim_url()));
    assert_eq!(
        groups["Resources"][0]["members"],
        json!([{"value": "u003", "$ref": format!("{}/Users/u003", sim.scim_url()), "type": "User"}])
    );
    let write =
        Client::new().post(format!("{}/Groups", sim.scim_url())).bearer_auth(TOKEN).json(&json!({})).send().unwrap();
    assert_eq!(write.status(), StatusCode::NOT_IMPLEMENTED);
    assert!(write.json::<Value>().unwrap()["detail"].as_str().unwrap().contains("read-only"));

    let elsewhere: IpAddr = "203.0.113.10".parse().unwrap();
    let sim = start(ScimMode::Stensul, people, roles, |c| c.allowed_ips = Some(vec![elsewhere]));
    let (status, error, _) = get(&format!("{}/Users", sim.scim_url()));
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        error["detail"].as_str().unwrap().contains("127.0.0.1 is not on this API connection's allowlist"),
        "{error}"
    );
}

fn rec(v: Value) -> Record {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

#[test]
fn salesforce_scim_serves_the_orgs_users_with_their_entitlements() {
    let user = |n: u64, active: bool| {
        rec(
            json!({"Id": generate::sf_id("005", n), "Username": format!("u{n}@acme.example"), "Email": format!("U{n}@Acme.example"),
                   "Name": format!("User {n}"), "IsActive": active, "FederationIdentifier": format!("E{n}"),
                   "ProfileId": generate::sf_id("00e", 1), "Profile": {"Name": "Standard User"}}),
        )
    };
    let psa = |n: u64, user: u64, ps: u64, owned: bool, group: Option<u64>| {
        rec(
            json!({"Id": generate::sf_id("0Pa", n), "AssigneeId": generate::sf_id("005", user), "PermissionSetId": generate::sf_id("0PS", ps),
                   "PermissionSet": {"Name": format!("PS{ps}"), "Label": format!("Set {ps}"), "IsOwnedByProfile": owned},
                   "PermissionSetGroupId": group.map(|g| generate::sf_id("0PG", g))}),
        )
    };
    let mut all_users: Vec<Record> = (1..=250).map(|n| user(n, n % 2 == 0)).collect();
    all_users.push(user(251, true));
    let org = Org::from_objects(BTreeMap::from([
        ("User".to_string(), all_users),
        (
            "PermissionSetAssignment".to_string(),
            vec![psa(1, 1, 7, false, None), psa(2, 1, 8, true, None), psa(3, 1, 9, false, Some(1))],
        ),
    ]))
    .unwrap();
    let mut config = SimConfig::new(org);
    config.access_tokens = vec![TOKEN.into()];
    let sim = Sim::start(config).unwrap();
    let base = format!("{}/services/scim/v2", sim.base_url());
    let (_, spc, _) = get(&format!("{base}/ServiceProviderConfigs"));
    assert_eq!(spc["filter"]["maxResults"], 200);
    assert_eq!(get(&format!("{base}/ServiceProviderConfig")).0, StatusCode::NOT_FOUND, "Salesforce spells it plural");
    let (_, page, _) = get(&format!("{base}/Users?startIndex=1&count=1000"));
    assert_eq!((page["totalResults"].as_u64(), page["itemsPerPage"].as_u64()), (Some(251), Some(200)));
    let first = &page["Resources"][0];
    assert_eq!(first["id"], generate::sf_id("005", 1));
    assert_eq!((first["userName"].as_str(), first["externalId"].as_str()), (Some("u1@acme.example"), Some("E1")));
    assert_eq!(first["active"], false);
    let entitlements: Vec<(&str, &str)> = first["entitlements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["value"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    let ps7 = generate::sf_id("0PS", 7);
    let profile = generate::sf_id("00e", 1);
    assert_eq!(
        entitlements,
        [(profile.as_str(), "Profile"), (ps7.as_str(), "Permission Set")],
        "owned and group sets left out"
    );
    sim.with_state(|st| {
        st.scim_drift.active.insert(generate::sf_id("005", 1), true);
        st.scim_drift.hidden_entitlements.insert(generate::sf_id("005", 1), vec![ps7.clone()]);
    });
    let (_, one, _) = get(&format!("{base}/Users/{}", generate::sf_id("005", 1)));
    assert_eq!(one["active"], true);
    assert_eq!(one["entitlements"].as_array().unwrap().len(), 1);
    assert_eq!(sim.stats().scim_requests, 4);
    let unauthorized = Client::new().get(format!("{base}/Users")).send().unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
}
