//! Shared test helpers: the binary with a clean environment, and simulators with known credentials.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sf_sim::{Org, Sim, SimConfig};

pub const CLIENT_ID: &str = "3MVG9test.client.id";
pub const CLIENT_SECRET: &str = "cs-8c1f0e4a7d2b-SECRET";
pub const REFRESH_TOKEN: &str = "5Aep861-refresh-SECRET-token";
pub const ACCESS_TOKEN: &str = "00DSIM000000001!AQ-preissued-SECRET-token";
pub const USERNAME: &str = "integration@acme.example";

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn private_key() -> PathBuf {
    fixtures().join("keys/test-only-private.pem")
}

/// The built binary, run in an empty folder, with no inherited Salesforce or tool settings.
pub fn bin(cwd: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("access-audit").expect("binary built");
    cmd.current_dir(cwd);
    for (key, _) in std::env::vars() {
        if key.starts_with("SF_") || key.starts_with("ACCESS_AUDIT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// A simulator that knows every test credential, over HTTPS with the test-only CA's certificate.
pub fn sim_tls(org: Org) -> Sim {
    let read = |f: &str| std::fs::read_to_string(fixtures().join("tls").join(f)).expect("test TLS material");
    Sim::start_tls(config(org), &read("test-only-server.pem"), &read("test-only-server.key")).expect("TLS simulator")
}

/// A simulator that knows every test credential.
pub fn sim(org: Org) -> Sim {
    Sim::start(config(org)).expect("simulator starts")
}

fn config(org: Org) -> SimConfig {
    let mut config = SimConfig::new(org);
    config.client_id = CLIENT_ID.into();
    config.client_secret = CLIENT_SECRET.into();
    config.jwt_public_key_pem =
        Some(std::fs::read_to_string(fixtures().join("keys/test-only-public.pem")).expect("public key"));
    config.usernames = vec![USERNAME.into()];
    config.refresh_tokens = vec![REFRESH_TOKEN.into()];
    config.access_tokens = vec![ACCESS_TOKEN.into()];
    config
}

pub fn small_org() -> Org {
    sf_sim::generate::synthetic_org(7, 60, 200)
}

/// `pull` with the JWT bearer flow against `sim`.
pub fn pull_jwt(cwd: &Path, sim: &Sim, out: &Path) -> assert_cmd::Command {
    let mut cmd = bin(cwd);
    cmd.args(["pull", "--out"])
        .arg(out)
        .args(["--login-url", &sim.base_url(), "--client-id", CLIENT_ID, "--username", USERNAME])
        .arg("--jwt-key-file")
        .arg(private_key());
    cmd
}

/// The records of one snapshot file, by Id.
pub fn snapshot_records(dir: &Path, object: &str) -> BTreeMap<String, Map<String, Value>> {
    let text = std::fs::read_to_string(dir.join(format!("{object}.ndjson"))).expect("snapshot file");
    text.lines()
        .map(|l| {
            let m: Map<String, Value> = serde_json::from_str(l).expect("json line");
            (m["Id"].as_str().expect("Id").to_string(), m)
        })
        .collect()
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir` (relative path) with its bytes.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The demo org's users, as its snapshot file holds them.
pub fn demo_users() -> Vec<Map<String, Value>> {
    std::fs::read_to_string(fixtures().join("demo-org/User.ndjson"))
        .expect("the demo org")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// A CSV report's rows keyed by their first column (`Id`, or `RosterLine`), each as header → value.
pub fn csv_rows(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("a CSV report");
    let headers = reader.headers().expect("a header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            let row: BTreeMap<String, String> =
                headers.iter().zip(r.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect();
            (r[0].to_string(), row)
        })
        .collect()
}

/// The shipped demo snapshot.
pub fn demo_org() -> PathBuf {
    fixtures().join("demo-org")
}

/// Copies the files of a flat folder (a snapshot) into `to`, which is created.
pub fn copy_snapshot(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Names in `dir` that belong to a staging folder of the output `name` (`.NAME.access-audit-…`).
pub fn staging_leftovers(dir: &Path, name: &str) -> Vec<String> {
    let prefix = format!(".{name}.access-audit-");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    found.sort();
    found
}

/// `run --out NAME` against `sim` with a pre-issued access token, as a plain process (to signal or kill).
pub fn run_process(cwd: &Path, sim: &Sim, out: &str, as_of: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("access-audit"));
    cmd.current_dir(cwd)
        .args(["--quiet", "run", "--out", out, "--as-of", as_of])
        .args(["--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN);
    for (key, _) in std::env::vars() {
        if key.starts_with("SF_") || key.starts_with("ACCESS_AUDIT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("SF_ACCESS_TOKEN", ACCESS_TOKEN);
    cmd
}

/// Waits (up to 30 s) until `dir` holds a staging folder of the output `name`.
pub fn wait_for_staging(dir: &Path, name: &str) -> PathBuf {
    let prefix = format!(".{name}.access-audit-tmp-");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                return entry.path();
            }
        }
        assert!(std::time::Instant::now() < deadline, "no staging folder appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The SMTP login the test server accepts.
pub const SMTP_USER: &str = "mailer@acme.example";
pub const SMTP_PASSWORD: &str = "smtp-PASSWORD-secret-9f3e";

/// One message an [`SmtpServer`] received: the envelope and the raw bytes.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

/// A real SMTP server on 127.0.0.1 (mailin-embedded, rustls): it offers STARTTLS with the
/// test-only certificate, accepts AUTH PLAIN and LOGIN only after STARTTLS, and a message only
/// after a login with [`SMTP_USER`] and [`SMTP_PASSWORD`]. It runs until the test process ends.
pub struct SmtpServer {
    pub port: u16,
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    logins: std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>,
}

#[derive(Clone)]
struct SmtpHandler {
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    logins: std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>,
    current: Received,
}

impl SmtpHandler {
    fn login(&mut self, user: &str, password: &str) -> mailin_embedded::Response {
        let ok = user == SMTP_USER && password == SMTP_PASSWORD;
        self.logins.lock().unwrap().push((user.to_string(), ok));
        if ok { mailin_embedded::response::AUTH_OK } else { mailin_embedded::response::INVALID_CREDENTIALS }
    }
}

impl mailin_embedded::Handler for SmtpHandler {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> mailin_embedded::Response {
        self.current = Received { from: from.to_string(), to: to.to_vec(), data: Vec::new() };
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.received.lock().unwrap().push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> mailin_embedded::Response {
        self.login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> mailin_embedded::Response {
        self.login(user, password)
    }
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        // mailin-embedded builds its rustls configuration with the process's default provider.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for SMTP");
        let port = listener.local_addr().unwrap().port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let logins = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = SmtpHandler { received: received.clone(), logins: logins.clone(), current: Received::default() };
        let tls = fixtures().join("tls");
        let mut server = mailin_embedded::Server::new(handler);
        server
            .with_name("smtp.test")
            .with_ssl(mailin_embedded::SslConfig::SelfSigned {
                cert_path: tls.join("test-only-server.pem").display().to_string(),
                key_path: tls.join("test-only-server.key").display().to_string(),
            })
            .expect("the test-only certificate")
            .with_auth(mailin_embedded::AuthMechanism::Plain)
            .with_auth(mailin_embedded::AuthMechanism::Login)
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { port, received, logins }
    }

    /// The messages received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The logins tried so far: user, and whether it was accepted.
    pub fn logins(&self) -> Vec<(String, bool)> {
        self.logins.lock().unwrap().clone()
    }

    /// The flags that send through this server, trusting the test-only CA, and the password.
    pub fn args(&self, cmd: &mut assert_cmd::Command) {
        cmd.args(["--smtp-host", "127.0.0.1", "--smtp-port", &self.port.to_string()])
            .args(["--smtp-username", SMTP_USER, "--email-from", "access-audit@acme.example"])
            .arg("--smtp-ca-file")
            .arg(fixtures().join("tls/test-only-ca.pem"))
            .env("ACCESS_AUDIT_SMTP_PASSWORD", SMTP_PASSWORD);
    }
}

// ---------------------------------------------------------------------------------------------
// Orgs built user by user, with Ids that depend only on the user's key, so that two snapshots of
// one org (a quarter apart) name the same user by the same Id.

/// A stable number for a key (FNV-1a), for Ids that do not depend on insertion order.
fn stable(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)) % 1_000_000_007
}

/// The Id the builder gives the record `key` of an object with this key prefix.
pub fn stable_id(prefix: &str, key: &str) -> String {
    sf_sim::generate::sf_id(prefix, stable(key))
}

/// One user of an [`OrgBuilder`].
#[derive(Clone)]
pub struct UserSpec {
    pub active: bool,
    pub user_type: &'static str,
    pub profile: &'static str,
    pub licence: &'static str,
    pub created: String,
    pub last_login: Option<String>,
    pub email: Option<String>,
    pub manager: Option<&'static str>,
}

/// An active standard user who logged in recently, created long ago (datetimes as
/// `YYYY-MM-DDTHH:MM:SS`, UTC).
pub fn person() -> UserSpec {
    UserSpec {
        active: true,
        user_type: "Standard",
        profile: "Standard User",
        licence: "Salesforce",
        created: "2024-01-01T00:00:00".into(),
        last_login: Some("2026-09-30T00:00:00".into()),
        email: None,
        manager: None,
    }
}

impl UserSpec {
    pub fn deactivated(mut self) -> Self {
        self.active = false;
        self
    }
    pub fn login(mut self, at: Option<&str>) -> Self {
        self.last_login = at.map(str::to_string);
        self
    }
    pub fn created(mut self, at: &str) -> Self {
        self.created = at.to_string();
        self
    }
    pub fn kind(mut self, user_type: &'static str) -> Self {
        self.user_type = user_type;
        self
    }
    pub fn profile(mut self, profile: &'static str, licence: &'static str) -> Self {
        self.profile = profile;
        self.licence = licence;
        self
    }
    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.to_string());
        self
    }
    pub fn manager(mut self, key: &'static str) -> Self {
        self.manager = Some(key);
        self
    }
}

/// Builds an org for the simulator user by user; every record's Id follows from its key.
pub struct OrgBuilder {
    objects: BTreeMap<String, Vec<Map<String, Value>>>,
    /// User key → (Id, Name, Email).
    users: BTreeMap<String, (String, String, String)>,
}

impl OrgBuilder {
    pub fn new(name: &str) -> OrgBuilder {
        let mut b = OrgBuilder { objects: BTreeMap::new(), users: BTreeMap::new() };
        b.push(
            "Organization",
            serde_json::json!({"Id": stable_id("00D", "org"), "Name": name, "InstanceName": "SIM7",
                               "IsSandbox": false, "OrganizationType": "Enterprise Edition"}),
        );
        b
    }

    fn push(&mut self, object: &str, record: Value) {
        let Value::Object(map) = record else { unreachable!() };
        self.objects.entry(object.to_string()).or_default().push(map);
    }

    /// The user's Id (the same in every org built with the same key).
    pub fn id(&self, key: &str) -> String {
        self.users.get(key).unwrap_or_else(|| panic!("no user {key}")).0.clone()
    }

    /// Adds a user `key` (username `key@example.com`) with a login record and its profile's
    /// permission set assignment (never Certinia).
    pub fn user(&mut self, key: &str, u: UserSpec) -> String {
        let id = stable_id("005", key);
        let username = format!("{}@example.com", key.to_lowercase());
        let email = u.email.clone().unwrap_or_else(|| username.clone());
        let name = format!("User {key}");
        let manager = u.manager.map(|m| self.users.get(m).unwrap_or_else(|| panic!("add manager {m} first")).clone());
        let dt = |s: &str| format!("{s}.000+0000");
        self.push(
            "User",
            serde_json::json!({
                "Id": id, "Username": username, "Name": name, "Email": email,
                "IsActive": u.active, "UserType": u.user_type,
                "Profile": {"Name": u.profile, "UserLicense": {"Name": u.licence}}, "UserRole": null,
                "Department": "Test", "Title": null, "FederationIdentifier": null,
                "CreatedDate": dt(&u.created), "LastLoginDate": u.last_login.as_deref().map(dt),
                "ManagerId": manager.as_ref().map(|m| m.0.clone()),
                "Manager": manager.as_ref().map(|m| serde_json::json!({"Name": m.1, "Email": m.2})),
            }),
        );
        self.push("UserLogin", serde_json::json!({"Id": stable_id("060", key), "UserId": id, "IsFrozen": false}));
        self.users.insert(key.to_string(), (id.clone(), name, email));
        self.assign(key, &format!("profile:{}", u.profile), None, &format!("X00e{}", u.profile.len()), u.profile, true);
        id
    }

    pub fn freeze(&mut self, key: &str) {
        let id = self.id(key);
        for r in self.objects.get_mut("UserLogin").unwrap() {
            if r["UserId"] == Value::String(id.clone()) {
                r.insert("IsFrozen".into(), Value::Bool(true));
            }
        }
    }

    /// A direct permission set assignment; returns its Id.
    pub fn assign(&mut self, key: &str, set: &str, ns: Option<&str>, name: &str, label: &str, owned: bool) -> String {
        let id = stable_id("0Pa", &format!("{key}/{set}"));
        let assignee = self.id(key);
        self.push(
            "PermissionSetAssignment",
            serde_json::json!({"Id": id, "AssigneeId": assignee, "PermissionSetId": stable_id("0PS", set),
                   "PermissionSet": {"Name": name, "Label": label, "NamespacePrefix": ns, "IsOwnedByProfile": owned,
                                     "Type": if owned { "Profile" } else { "Regular" }},
                   "PermissionSetGroupId": null, "ExpirationDate": null}),
        );
        id
    }

    /// A Certinia grant: the PSA permission set `pse__PSACreateProjects`; returns the assignment Id.
    pub fn psa(&mut self, key: &str) -> String {
        self.assign(key, "pse:PSACreateProjects", Some("pse"), "PSACreateProjects", "PSA - Create Projects", false)
    }

    /// A non-Certinia permission set assignment; returns its Id.
    pub fn sales(&mut self, key: &str) -> String {
        self.assign(key, "Sales_Cloud_User", None, "Sales_Cloud_User", "Sales Cloud User", false)
    }

    /// A package licence of `ns` (Certinia for `pse`, `c2g`, …); returns its Id.
    pub fn licence(&mut self, key: &str, ns: &str) -> String {
        let id = stable_id("051", &format!("{key}/{ns}"));
        let user = self.id(key);
        self.push(
            "UserPackageLicense",
            serde_json::json!({"Id": id, "UserId": user, "PackageLicenseId": stable_id("050", ns),
                               "PackageLicense": {"NamespacePrefix": ns}}),
        );
        id
    }

    /// Adds any record of any object, as the simulator stores it (relationships nested).
    pub fn record(&mut self, object: &str, record: Value) {
        self.push(object, record);
    }

    pub fn build(self) -> Org {
        Org::from_objects(self.objects).expect("a valid org")
    }
}

/// The demo org's as-of instant.
pub const DEMO_AS_OF: &str = "2026-11-20T09:00:00Z";

/// `report` of the shipped demo snapshot into `work/out` as of [`DEMO_AS_OF`], with extra
/// arguments; it must succeed.
pub fn report_demo(work: &Path, extra: &[&str]) {
    let output = bin(work)
        .args(["report", "--snapshot"])
        .arg(demo_org())
        .args(["--out", "out", "--as-of", DEMO_AS_OF])
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
}

/// Rows of a CSV file as maps of header → value, in file order.
pub fn csv_list(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("a CSV file");
    let headers = reader.headers().expect("a header").clone();
    reader
        .records()
        .map(|r| headers.iter().zip(r.expect("a record").iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

/// `run --out OUT --as-of AS_OF` against a simulator of `org`, with extra arguments; the output.
pub fn run_org(work: &Path, org: Org, out: &str, as_of: &str, extra: &[&str]) -> std::process::Output {
    let sim = sim(org);
    bin(work)
        .args(["run", "--out", out, "--as-of", as_of, "--instance-url", &sim.base_url()])
        .args(extra)
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN)
        .output()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Workbooks: their XML (what calamine does not show), and edits the way a spreadsheet program
// saves them.

/// An XLSX file as its zip entries, to read its XML and to save it edited.
pub struct XlsxFile {
    entries: Vec<(String, Vec<u8>)>,
}

/// A value typed into a cell.
pub enum Typed<'a> {
    /// Text, stored as a shared string (what Excel writes for any typed text).
    Text(&'a str),
    /// A date typed into a cell with a date format: its serial number, with the cell's style.
    Date(chrono::NaiveDate),
    /// A date typed into a cell formatted as text: a shared string.
    DateAsText(&'a str),
}

/// `A`, `B`, …, `Z`, `AA`: the column letters of a 0-based index.
pub fn column_letters(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl XlsxFile {
    pub fn open(path: &Path) -> XlsxFile {
        use std::io::Read;
        let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        let mut entries = Vec::new();
        for i in 0..zip.len() {
            let mut file = zip.by_index(i).unwrap();
            let name = file.name().unwrap().to_string();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            entries.push((name, bytes));
        }
        XlsxFile { entries }
    }

    pub fn text(&self, name: &str) -> String {
        let (_, bytes) = self.entries.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}"));
        String::from_utf8(bytes.clone()).unwrap()
    }

    fn set(&mut self, name: &str, text: String) {
        match self.entries.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = text.into_bytes(),
            None => self.entries.push((name.to_string(), text.into_bytes())),
        }
    }

    /// The sheets' names in workbook order.
    pub fn sheet_names(&self) -> Vec<String> {
        let workbook = self.text("xl/workbook.xml");
        workbook
            .split("<sheet ")
            .skip(1)
            .map(|s| s.split("name=\"").nth(1).unwrap().split('"').next().unwrap().to_string())
            .collect()
    }

    /// The zip entry of the sheet `name`, through the workbook's relationships.
    pub fn sheet_entry(&self, name: &str) -> String {
        let workbook = self.text("xl/workbook.xml");
        let sheet = workbook
            .split("<sheet ")
            .skip(1)
            .find(|s| s.contains(&format!("name=\"{}\"", xml_escape(name))))
            .unwrap_or_else(|| panic!("no sheet {name}"));
        let rid = sheet.split("r:id=\"").nth(1).unwrap().split('"').next().unwrap();
        let rels = self.text("xl/_rels/workbook.xml.rels");
        let rel = rels.split("<Relationship ").find(|r| r.contains(&format!("Id=\"{rid}\""))).unwrap();
        let target = rel.split("Target=\"").nth(1).unwrap().split('"').next().unwrap();
        format!("xl/{}", target.trim_start_matches("/xl/"))
    }

    pub fn sheet_xml(&self, name: &str) -> String {
        self.text(&self.sheet_entry(name))
    }

    /// The cell formats of styles.xml (`cellXfs`), in index order.
    pub fn cell_formats(&self) -> Vec<String> {
        let styles = self.text("xl/styles.xml");
        let xfs = styles.split("<cellXfs").nth(1).unwrap().split("</cellXfs>").next().unwrap();
        xfs.split("<xf ").skip(1).map(|x| x.to_string()).collect()
    }

    /// The number format code of a style index (built-in 0 is `General`).
    pub fn number_format(&self, style: usize) -> String {
        let xf = &self.cell_formats()[style];
        let id: u32 = xf.split("numFmtId=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        if id < 164 {
            return match id {
                0 => "General".to_string(),
                14 => "m/d/yyyy".to_string(),
                other => format!("builtin {other}"),
            };
        }
        let styles = self.text("xl/styles.xml");
        let fmt = styles
            .split("<numFmt ")
            .find(|f| f.contains(&format!("numFmtId=\"{id}\"")))
            .unwrap_or_else(|| panic!("no numFmt {id}"));
        fmt.split("formatCode=\"").nth(1).unwrap().split('"').next().unwrap().replace("&quot;", "\"")
    }

    /// Saves every inline string of the sheet as a shared string, as a spreadsheet program does.
    pub fn share_inline_strings(&mut self, sheet: &str) {
        let entry = self.sheet_entry(sheet);
        let xml = self.text(&entry);
        let re = regex::Regex::new(r#"<c r="([A-Z]+[0-9]+)"((?: s="[0-9]+")?) t="inlineStr"><is><t(?: xml:space="preserve")?>(.*?)</t></is></c>"#).unwrap();
        let mut added = Vec::new();
        let base = self.shared_count();
        let out = re.replace_all(&xml, |c: &regex::Captures<'_>| {
            added.push(c[3].to_string());
            format!(r#"<c r="{}"{} t="s"><v>{}</v></c>"#, &c[1], &c[2], base + added.len() - 1)
        });
        let out = out.into_owned();
        self.set(&entry, out);
        self.append_shared(&added);
    }

    fn shared_count(&self) -> usize {
        self.text("xl/sharedStrings.xml").matches("<si>").count()
    }

    /// Appends escaped texts to the shared strings table.
    fn append_shared(&mut self, escaped: &[String]) {
        let mut sst = self.text("xl/sharedStrings.xml");
        let items: String = escaped.iter().map(|t| format!(r#"<si><t xml:space="preserve">{t}</t></si>"#)).collect();
        sst = sst.replace("</sst>", &format!("{items}</sst>"));
        let total = sst.matches("<si>").count();
        let re = regex::Regex::new(r#"(count|uniqueCount)="[0-9]+""#).unwrap();
        sst = re.replace_all(&sst, |c: &regex::Captures<'_>| format!("{}=\"{total}\"", &c[1])).into_owned();
        self.set("xl/sharedStrings.xml", sst);
    }

    /// Types a value into the cell `reference` of `sheet` (e.g. `V5`), keeping the cell's style.
    pub fn type_into(&mut self, sheet: &str, reference: &str, value: Typed<'_>) {
        let entry = self.sheet_entry(sheet);
        let xml = self.text(&entry);
        let start =
            xml.find(&format!("<c r=\"{reference}\"")).unwrap_or_else(|| panic!("no cell {reference} in {sheet}"));
        let open_end = start + xml[start..].find('>').unwrap();
        let end = if xml[..=open_end].ends_with("/>") {
            open_end + 1
        } else {
            open_end + xml[open_end..].find("</c>").unwrap() + 4
        };
        let style = xml[start..open_end]
            .split(" s=\"")
            .nth(1)
            .map(|s| format!(" s=\"{}\"", s.split('"').next().unwrap()))
            .unwrap_or_default();
        let cell = match value {
            Typed::Text(t) | Typed::DateAsText(t) => {
                let index = self.shared_count();
                self.append_shared(&[xml_escape(t)]);
                format!(r#"<c r="{reference}"{style} t="s"><v>{index}</v></c>"#)
            }
            Typed::Date(d) => {
                let serial = (d - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap()).num_days();
                format!(r#"<c r="{reference}"{style}><v>{serial}</v></c>"#)
            }
        };
        let xml = self.text(&entry);
        let xml = format!("{}{}{}", &xml[..start], cell, &xml[end..]);
        self.set(&entry, xml);
    }

    /// Replaces the text shown in the cell `reference` (an evidence cell) with `text`, as a shared string.
    pub fn overwrite(&mut self, sheet: &str, reference: &str, text: &str) {
        self.type_into(sheet, reference, Typed::Text(text));
    }

    pub fn save(&self, path: &Path) {
        use std::io::Write;
        let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in &self.entries {
            out.start_file(name.as_str(), options).unwrap();
            out.write_all(bytes).unwrap();
        }
        out.finish().unwrap();
    }
}

/// A sheet read back with calamine: its header, and each data row by the value of its first
/// column (a user's `Id`), with the row's 1-based sheet row number.
pub struct SheetRows {
    pub header: Vec<String>,
    pub rows: BTreeMap<String, (u32, Vec<calamine::Data>)>,
}

impl SheetRows {
    pub fn read(path: &Path, sheet: &str) -> SheetRows {
        use calamine::Reader;
        let mut book: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
        let range = book.worksheet_range(sheet).unwrap();
        let mut rows = range.rows();
        let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
        let rows = rows
            .enumerate()
            .filter(|(_, r)| r[0] != calamine::Data::Empty)
            .map(|(i, r)| (r[0].to_string(), (i as u32 + 2, r.to_vec())))
            .collect();
        SheetRows { header, rows }
    }

    pub fn column(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
    }

    /// The reference (`V7`) of the cell of row `key` in column `name`.
    pub fn cell(&self, key: &str, name: &str) -> String {
        let (row, _) = self.rows.get(key).unwrap_or_else(|| panic!("no row {key}"));
        format!("{}{row}", column_letters(self.column(name)))
    }

    pub fn value(&self, key: &str, name: &str) -> calamine::Data {
        self.rows.get(key).unwrap_or_else(|| panic!("no row {key}")).1[self.column(name)].clone()
    }
}

/// Fills the reviewer cells of one row: decision, reviewer, and the date (as a date cell).
pub fn decide(
    book: &mut XlsxFile,
    rows: &SheetRows,
    sheet: &str,
    key: &str,
    decision: &str,
    reviewer: &str,
    on: chrono::NaiveDate,
) {
    book.type_into(sheet, &rows.cell(key, "Decision"), Typed::Text(decision));
    book.type_into(sheet, &rows.cell(key, "Reviewer"), Typed::Text(reviewer));
    book.type_into(sheet, &rows.cell(key, "DecidedOn"), Typed::Date(on));
}

/// What two runs of the same org must agree on byte for byte: every snapshot data file and every CSV.
pub fn data_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    tree(dir).into_iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "csv" || e == "ndjson")).collect()
}

/// `summary.json` without what differs between two pulls of the same org served twice (when, the
/// simulator's port, the snapshot's hashes and the run id made of them).
pub fn summary_without_pull(dir: &Path) -> Value {
    let mut summary: Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).expect("summary.json")).expect("JSON");
    let map = summary.as_object_mut().expect("an object");
    map.remove("pulled_at");
    map.remove("snapshot");
    // A hash over the manifest's, which names the pull's time.
    map.remove("run_id");
    if let Some(org) = map.get_mut("org").and_then(Value::as_object_mut) {
        org.remove("instance_url");
    }
    summary
}

/// Asserts that two report folders hold the same data files, CSVs and summary.
pub fn assert_same_reports(a: &Path, b: &Path) {
    let (x, y) = (data_files(a), data_files(b));
    assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>());
    for (path, bytes) in &x {
        assert!(&y[path] == bytes, "{} differs between {} and {}", path.display(), a.display(), b.display());
    }
    assert_eq!(summary_without_pull(a), summary_without_pull(b));
}

/// The SCIM test application's API connection (client credentials) and a pre-issued bearer token.
pub const APP_CLIENT_ID: &str = "stensul-api-connection-7f3e";
pub const APP_CLIENT_SECRET: &str = "st-9b1d2c-APP-SECRET-e41";
pub const APP_TOKEN: &str = "st-preissued-APP-TOKEN-44aa19";

/// A SCIM simulator in `mode` that knows the test application's credentials.
pub fn scim_sim(
    mode: sf_sim::scim::ScimMode,
    users: Vec<sf_sim::scim::ScimUser>,
    groups: Vec<sf_sim::scim::ScimGroup>,
    edit: impl FnOnce(&mut sf_sim::scim::ScimConfig),
) -> sf_sim::scim::ScimSim {
    let mut config = sf_sim::scim::ScimConfig::new(mode, users, groups);
    config.client_id = APP_CLIENT_ID.into();
    config.client_secret = APP_CLIENT_SECRET.into();
    config.tokens = vec![APP_TOKEN.into()];
    edit(&mut config);
    sf_sim::scim::ScimSim::start(config).expect("SCIM simulator starts")
}

/// An `[apps.NAME]` table for `scim` with OAuth client credentials, in `dialect`.
pub fn app_table(name: &str, dialect: &str, scim: &sf_sim::scim::ScimSim) -> String {
    format!(
        "[apps.{name}]\nkind = \"scim\"\ndialect = \"{dialect}\"\nbase_url = \"{}\"\ntoken_url = \"{}\"\nclient_id = \"{APP_CLIENT_ID}\"\n",
        scim.scim_url(),
        scim.token_url()
    )
}

/// `run` against the org `sim` (a pre-issued access token) with `access-audit.toml` holding
/// `config`, the application secret of `app` in its environment variable, and quick retries.
pub fn run_apps(cwd: &Path, sim: &Sim, config: &str, out: &str, as_of: &str) -> assert_cmd::Command {
    std::fs::write(cwd.join("access-audit.toml"), config).expect("config written");
    let mut cmd = bin(cwd);
    cmd.args(["run", "--out", out, "--as-of", as_of, "--retry-delay-ms", "5"])
        .args(["--instance-url", &sim.base_url()])
        .env("SF_ACCESS_TOKEN", ACCESS_TOKEN);
    cmd
}

/// Every object a snapshot holds, in the pull's order (written here from the spec, not read from the code).
pub const OBJECT_NAMES: [&str; 13] = [
    "Organization",
    "User",
    "PermissionSetAssignment",
    "PermissionSetGroup",
    "PermissionSetGroupComponent",
    "UserPackageLicense",
    "UserLogin",
    "PermissionSetLicense",
    "PermissionSetLicenseAssign",
    "PackageLicense",
    "pse__Permission_Control__c",
    "Contact",
    "c2g__codaUserCompany__c",
];
