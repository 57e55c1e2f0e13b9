//! `[apps.NAME]`: the other applications audited over SCIM 2.0 beside the org, validated.
//!
//! Takes the `[apps]` tables of the configuration file and the `--app NAME` / `--all-apps`
//! selection, and hands on one [`AppConfig`] per selected application: where its SCIM service
//! provider is, how to get a bearer token for it, how many resources to ask for per page, and
//! which dialect it speaks. A name becomes part of file names (`apps/NAME/Users.ndjson`,
//! `NAME-app-orphans.csv`) and of environment variables (`ACCESS_AUDIT_APP_NAME_SECRET`), so it
//! is held to lower-case letters, digits and `_`.
//!
//! Secrets follow the Salesforce connection's rules: an environment variable or a file, never the
//! configuration file itself nor the command line, both at once refused. The Salesforce dialect
//! takes no URL and no credentials at all: it reads the org's own SCIM endpoint with the org's
//! session, on the org's My Domain.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{ConfigError, LoadedFile, SecretSource, invalid, secret};
use crate::cli::AppArgs;
use crate::endpoint::endpoint_base;

/// Resources asked for per page when `page_size` is not set; the service provider's own
/// maximum (`filter.maxResults`) lowers it, and a server may send fewer still.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The most resources one page may be asked for.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The longest application name: with ` unexpected` after it, a workbook sheet name (31
/// characters at most) still holds it.
pub const MAX_NAME: usize = 20;

/// One `[apps.NAME]` table, as written. Unknown keys are errors.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileApp {
    /// `scim`, the only kind of application so far; required, so that a later kind is never guessed.
    pub kind: Option<String>,
    /// `generic` (default), `stensul` or `salesforce`.
    pub dialect: Option<Dialect>,
    /// The SCIM base URL, e.g. `https://api.example.com/scim/v2` (not for `salesforce`).
    pub base_url: Option<String>,
    /// OAuth 2.0 token endpoint for the client credentials grant.
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    /// Optional OAuth scope sent with the client credentials grant.
    pub scope: Option<String>,
    /// File holding the client secret (instead of `ACCESS_AUDIT_APP_<NAME>_SECRET`).
    pub client_secret_file: Option<PathBuf>,
    /// File holding a bearer token (instead of `ACCESS_AUDIT_APP_<NAME>_TOKEN`).
    pub token_file: Option<PathBuf>,
    /// Resources asked for per page (`count`), 1 to 1000.
    pub page_size: Option<u32>,
}

/// Which SCIM service provider an application is, for what differs between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Any SCIM 2.0 service provider (RFC 7643/7644).
    Generic,
    /// Stensul: OAuth client credentials from an API connection, an egress IP allowlist,
    /// soft-deleted users hidden, groups are roles.
    Stensul,
    /// Salesforce's own `/services/scim/v2/`: the org's session, `ServiceProviderConfigs`,
    /// profiles and permission sets as entitlements.
    Salesforce,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Generic => "generic",
            Dialect::Stensul => "stensul",
            Dialect::Salesforce => "salesforce",
        }
    }
}

/// How the run gets a bearer token for an application.
#[derive(Debug)]
pub enum AppAuth {
    /// OAuth 2.0 client credentials (RFC 6749 §4.4): renewed when the token is rejected.
    ClientCredentials { token_url: Url, client_id: String, client_secret: SecretString, scope: Option<String> },
    /// A token the user already has; a rejected token ends the run.
    Bearer { token: SecretString },
    /// The org's own session (the Salesforce dialect).
    SalesforceSession,
}

/// One application to audit, validated.
#[derive(Debug)]
pub struct AppConfig {
    pub name: String,
    pub dialect: Dialect,
    /// The SCIM base; `None` for the Salesforce dialect, whose base is the org's My Domain plus
    /// `/services/scim/v2`, known once logged in.
    pub base_url: Option<Url>,
    pub auth: AppAuth,
    pub page_size: u32,
}

/// `ACCESS_AUDIT_APP_STENSUL_SECRET` for `stensul`.
pub fn secret_env(name: &str) -> String {
    format!("ACCESS_AUDIT_APP_{}_SECRET", name.to_ascii_uppercase())
}

/// `ACCESS_AUDIT_APP_STENSUL_TOKEN` for `stensul`.
pub fn token_env(name: &str) -> String {
    format!("ACCESS_AUDIT_APP_{}_TOKEN", name.to_ascii_uppercase())
}

/// `apps.NAME in FILE`, for messages.
fn at(name: &str, file: &LoadedFile) -> String {
    let path = file.path.clone().unwrap_or_else(|| PathBuf::from(super::DEFAULT_CONFIG_FILE));
    format!("[apps.{name}] in {}", path.display())
}

/// Whether `name` may name an application: a lower-case letter, then lower-case letters, digits
/// and `_`, at most [`MAX_NAME`] characters (it becomes a file name, part of an environment
/// variable and of a workbook sheet's name).
pub fn valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The applications the command line selects, each validated with its secret read.
pub fn selected(args: &AppArgs, file: &LoadedFile) -> Result<Vec<AppConfig>, ConfigError> {
    let configured = &file.config.apps;
    for (name, app) in configured {
        check_static(name, app, file)?;
    }
    let own: Vec<&str> =
        configured.iter().filter(|(_, a)| a.dialect == Some(Dialect::Salesforce)).map(|(n, _)| n.as_str()).collect();
    if own.len() > 1 {
        return Err(invalid(format!(
            "[apps.{}] all use dialect = \"salesforce\": the org has one SCIM endpoint (and one cross-check); keep one",
            own.join("], [apps.")
        )));
    }
    let names: Vec<&String> = if args.all_apps {
        if configured.is_empty() {
            return Err(invalid(format!(
                "--all-apps: the configuration file ({}) has no [apps.NAME] table",
                file.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none found".into())
            )));
        }
        configured.keys().collect()
    } else {
        let mut names = Vec::new();
        for wanted in &args.apps {
            let Some((name, _)) = configured.get_key_value(wanted.as_str()) else {
                let known: Vec<&str> = configured.keys().map(String::as_str).collect();
                return Err(invalid(format!(
                    "--app {wanted}: no [apps.{wanted}] table in the configuration file{}",
                    if known.is_empty() {
                        " (it configures no application)".to_string()
                    } else {
                        format!(" (configured: {})", known.join(", "))
                    }
                )));
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    };
    names.into_iter().map(|name| resolve(name, &configured[name], file)).collect()
}

/// What can be checked without reading a secret: the name, the kind, the URLs, the page size, and
/// that the Salesforce dialect brings no URL or credentials of its own.
fn check_static(name: &str, app: &FileApp, file: &LoadedFile) -> Result<(), ConfigError> {
    if !valid_name(name) {
        return Err(invalid(format!(
            "{}: the name {name:?} must be lower-case letters, digits and _ (starting with a letter, at most {MAX_NAME}): \
             it names files, workbook sheets and the environment variables of its secrets",
            at(name, file)
        )));
    }
    match app.kind.as_deref() {
        Some("scim") => {}
        Some(other) => {
            return Err(invalid(format!(
                "{}: kind {other:?} is not supported; the only kind is \"scim\"",
                at(name, file)
            )));
        }
        None => return Err(invalid(format!("{}: kind = \"scim\" is missing", at(name, file)))),
    }
    if let Some(n) = app.page_size
        && !(1..=MAX_PAGE_SIZE).contains(&n)
    {
        return Err(invalid(format!("{}: page_size must be between 1 and {MAX_PAGE_SIZE}, got {n}", at(name, file))));
    }
    if app.dialect == Some(Dialect::Salesforce) {
        let own = [
            ("base_url", app.base_url.is_some()),
            ("token_url", app.token_url.is_some()),
            ("client_id", app.client_id.is_some()),
            ("scope", app.scope.is_some()),
            ("client_secret_file", app.client_secret_file.is_some()),
            ("token_file", app.token_file.is_some()),
        ];
        if let Some((key, _)) = own.iter().find(|(_, set)| *set) {
            return Err(invalid(format!(
                "{}: {key} does not apply to dialect = \"salesforce\": it reads the org's own SCIM endpoint \
                 (/services/scim/v2 on the org's My Domain) with the org's login; remove it",
                at(name, file)
            )));
        }
        return Ok(());
    }
    let Some(base) = &app.base_url else {
        return Err(invalid(format!(
            "{}: base_url is missing (the SCIM base, e.g. https://api.example.com/scim/v2)",
            at(name, file)
        )));
    };
    endpoint_base(&format!("{} base_url", at(name, file)), base)?;
    if let Some(token_url) = &app.token_url {
        endpoint_base(&format!("{} token_url", at(name, file)), token_url)?;
    }
    Ok(())
}

/// One application, validated, its secret read.
fn resolve(name: &str, app: &FileApp, file: &LoadedFile) -> Result<AppConfig, ConfigError> {
    let dialect = app.dialect.unwrap_or(Dialect::Generic);
    let page_size = app.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if dialect == Dialect::Salesforce {
        return Ok(AppConfig {
            name: name.to_string(),
            dialect,
            base_url: None,
            auth: AppAuth::SalesforceSession,
            page_size,
        });
    }
    let here = at(name, file);
    let base_url = endpoint_base(&format!("{here} base_url"), app.base_url.as_deref().unwrap_or_default())?;
    let secret_file = app.client_secret_file.as_ref().map(|p| file.resolve(p));
    let token_file = app.token_file.as_ref().map(|p| file.resolve(p));
    let client_secret = secret(&secret_env(name), &format!("{here} client_secret_file"), secret_file)?;
    let token = secret(&token_env(name), &format!("{here} token_file"), token_file)?;
    let auth = match (token, &app.token_url) {
        (Some((_, source)), Some(_)) => {
            return Err(invalid(format!(
                "{here}: both a bearer token ({source}) and token_url are given: keep one way to get a token"
            )));
        }
        (Some((_, source)), None) if client_secret.is_some() || app.client_id.is_some() => {
            let other = match &client_secret {
                Some((_, s)) => s.to_string(),
                None => "client_id".to_string(),
            };
            return Err(invalid(format!(
                "{here}: both a bearer token ({source}) and client credentials ({other}) are given: keep one way to get a token"
            )));
        }
        (Some(_), None) if app.scope.is_some() => {
            return Err(invalid(format!(
                "{here}: scope applies to token_url (client credentials), not to a bearer token"
            )));
        }
        (Some((token, _)), None) => AppAuth::Bearer { token },
        (None, Some(token_url)) => {
            let token_url = endpoint_base(&format!("{here} token_url"), token_url)?;
            let client_id = app
                .client_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| invalid(format!("{here}: token_url needs client_id (the API connection's client id)")))?
                .to_string();
            let (client_secret, _) = client_secret.ok_or_else(|| {
                invalid(format!(
                    "{here}: token_url needs the client secret: set {} or client_secret_file",
                    secret_env(name)
                ))
            })?;
            let scope = app.scope.clone().filter(|s| !s.trim().is_empty());
            AppAuth::ClientCredentials { token_url, client_id, client_secret, scope }
        }
        (None, None) => {
            return Err(invalid(format!(
                "{here}: no credentials: give token_url and client_id with {} (or client_secret_file) for OAuth \
                 client credentials, or a bearer token in {} (or token_file)",
                secret_env(name),
                token_env(name)
            )));
        }
    };
    Ok(AppConfig { name: name.to_string(), dialect, base_url: Some(base_url), auth, page_size })
}

/// What `access-audit config` prints for the `[apps]` tables: every setting with where it came
/// from, secrets only by source.
pub(super) fn describe(out: &mut super::Described, file: &LoadedFile) -> Result<(), ConfigError> {
    let text = |v: &str| toml::Value::String(v.to_string());
    for (name, app) in &file.config.apps {
        check_static(name, app, file)?;
        let here = |key: &str| format!("{key} under [apps.{name}] in {}", file.shown());
        let given = |set: bool, key: &str| if set { here(key) } else { "default".to_string() };
        out.table(&format!("apps.{name}"));
        out.set("kind", text("scim"), &here("kind"));
        let dialect = app.dialect.unwrap_or(Dialect::Generic);
        out.set("dialect", text(dialect.as_str()), &given(app.dialect.is_some(), "dialect"));
        let page_size = i64::from(app.page_size.unwrap_or(DEFAULT_PAGE_SIZE));
        out.set("page_size", toml::Value::Integer(page_size), &given(app.page_size.is_some(), "page_size"));
        if dialect == Dialect::Salesforce {
            out.comment("base: the org's My Domain and /services/scim/v2; credentials: the org's own login");
            continue;
        }
        for (key, value) in [
            ("base_url", &app.base_url),
            ("token_url", &app.token_url),
            ("client_id", &app.client_id),
            ("scope", &app.scope),
        ] {
            match value {
                Some(v) => out.set(key, text(v), &here(key)),
                None => out.unset(key, "not set"),
            }
        }
        for (what, env, path) in [
            ("client secret", secret_env(name), &app.client_secret_file),
            ("bearer token", token_env(name), &app.token_file),
        ] {
            let source = match path {
                Some(p) => SecretSource::File(file.resolve(p)).to_string(),
                None if std::env::var(&env).is_ok_and(|v| !v.trim().is_empty()) => SecretSource::Env(env).to_string(),
                None => "not set".to_string(),
            };
            out.comment(&format!("{what}: {source}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(toml_text: &str) -> LoadedFile {
        LoadedFile {
            path: Some(PathBuf::from("/etc/aa/access-audit.toml")),
            config: toml::from_str(toml_text).unwrap(),
        }
    }

    fn select(toml_text: &str, apps: &[&str]) -> Result<Vec<AppConfig>, String> {
        let args = AppArgs { apps: apps.iter().map(|s| s.to_string()).collect(), all_apps: false };
        selected(&args, &file(toml_text)).map_err(|e| e.to_string())
    }

    #[test]
    fn names_become_file_names_and_variables() {
        for good in ["stensul", "a", "crm_2"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["Stensul", "2crm", "a-b", "a.b", "", "../x", &"a".repeat(21)] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(secret_env("crm_2"), "ACCESS_AUDIT_APP_CRM_2_SECRET");
        assert_eq!(token_env("stensul"), "ACCESS_AUDIT_APP_STENSUL_TOKEN");
        let e = select("[apps.Stensul]\nkind = \"scim\"\nbase_url = \"https://x.example/scim\"\n", &[]).unwrap_err();
        assert!(e.contains("must be lower-case letters"), "{e}");
    }

    #[test]
    fn the_salesforce_dialect_takes_no_url_or_credentials() {
        let ok = select("[apps.sf]\nkind = \"scim\"\ndialect = \"salesforce\"\n", &["sf"]).unwrap();
        assert!(matches!(ok[0].auth, AppAuth::SalesforceSession));
        assert!(ok[0].base_url.is_none());
        let e = select("[apps.sf]\nkind = \"scim\"\ndialect = \"salesforce\"\nbase_url = \"https://x/scim\"\n", &[])
            .unwrap_err();
        assert!(e.contains("base_url does not apply to dialect = \"salesforce\""), "{e}");
    }

    #[test]
    fn mistakes_are_one_line_naming_the_table() {
        let e = select("[apps.s]\nbase_url = \"https://x.example/scim\"\n", &[]).unwrap_err();
        assert_eq!(e, "[apps.s] in /etc/aa/access-audit.toml: kind = \"scim\" is missing");
        let e = select("[apps.s]\nkind = \"ldap\"\n", &[]).unwrap_err();
        assert!(e.contains("kind \"ldap\" is not supported"), "{e}");
        let e = select("[apps.s]\nkind = \"scim\"\nbase_url = \"http://x.example/scim\"\n", &[]).unwrap_err();
        assert!(e.contains("[apps.s] in /etc/aa/access-audit.toml base_url must use https://"), "{e}");
        let e =
            select("[apps.s]\nkind = \"scim\"\nbase_url = \"https://x.example\"\npage_size = 0\n", &[]).unwrap_err();
        assert!(e.contains("page_size must be between 1 and 1000"), "{e}");
        let e = select("[apps.s]\nkind = \"scim\"\nbase_url = \"https://x.example\"\n", &["t"]).unwrap_err();
        assert_eq!(e, "--app t: no [apps.t] table in the configuration file (configured: s)");
        let e = select("", &["t"]).unwrap_err();
        assert!(e.contains("(it configures no application)"), "{e}");
        let e = select("[apps.s]\nkind = \"scim\"\nbase_url = \"https://x.example\"\n", &["s"]).unwrap_err();
        assert!(e.contains("no credentials"), "{e}");
        assert!(e.contains("ACCESS_AUDIT_APP_S_SECRET") && e.contains("ACCESS_AUDIT_APP_S_TOKEN"), "{e}");
        let e = select(
            "[apps.s]\nkind = \"scim\"\nbase_url = \"https://x.example\"\ntoken_url = \"https://x.example/t\"\n",
            &["s"],
        )
        .unwrap_err();
        assert!(e.contains("token_url needs client_id"), "{e}");
        assert!(toml::from_str::<super::super::FileConfig>("[apps.s]\nkind = \"scim\"\nsecret = \"x\"\n").is_err());
    }

    #[test]
    fn unselected_apps_are_checked_but_their_secrets_not_read() {
        let text = "[apps.a]\nkind = \"scim\"\nbase_url = \"https://a.example/scim\"\n\
                    [apps.b]\nkind = \"scim\"\ndialect = \"salesforce\"\n";
        let apps = select(text, &["b", "b"]).unwrap();
        assert_eq!(apps.len(), 1, "asked twice, audited once");
        assert_eq!(apps[0].name, "b");
        assert_eq!(apps[0].page_size, DEFAULT_PAGE_SIZE);
        assert!(select(text, &[]).unwrap().is_empty(), "no application unless asked");
        let two = format!("{text}[apps.c]\nkind = \"scim\"\ndialect = \"salesforce\"\n");
        let e = select(&two, &[]).unwrap_err();
        assert!(e.starts_with("[apps.b], [apps.c] all use dialect = \"salesforce\""), "{e}");
    }
}
