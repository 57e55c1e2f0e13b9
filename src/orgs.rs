//! Which org a command works on, or which orgs a run audits, and how to reach each.
//!
//! Takes the org options of the command line (`--target-org`, `--all-orgs`) and the
//! configuration file, and hands on [`Org`]s: each names its source (`[salesforce]`, an
//! `[orgs.NAME]` table, or the Salesforce CLI's login of an alias) and turns into the
//! connection settings ([`Org::connection`]) and the rules ([`Org::rules`]) of that org.
//!
//! - `--target-org NAME`: a name of `[orgs.NAME]`, else an alias or username of the Salesforce
//!   CLI ([`crate::sfcli`]); without it, `[salesforce]`.
//! - A run of several orgs (`--all-orgs`, or `orgs = [...]` under `[run]`): the orgs `[run]`
//!   lists (each looked up like `--target-org`), else every `[orgs.NAME]`, and `[salesforce]`
//!   when it names a login ([`FileSalesforce::names_login`]).
//!
//! Why resolving happens per org, late: in a run of several, an org whose key file is missing or
//! whose CLI session has expired fails alone, and the others still report.

use crate::cli::{OrgArgs, RuleArgs, SalesforceArgs};
use crate::config::{self, ConfigError, DEFAULT_ORG_CONCURRENCY, LoadedFile, Rules, SalesforceConfig};
use crate::sfcli::{self, SfLogin};
use crate::{Error, auth};

/// Where an org's settings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgSource {
    /// `[salesforce]` (and the flags): the org a command uses when none is named.
    Default,
    /// `[orgs.NAME]`.
    Config(String),
    /// An alias or username the Salesforce CLI is logged in to.
    SfCli(String),
}

/// One org a command works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub source: OrgSource,
}

impl Org {
    /// The name it was given by (`[orgs.NAME]`, the CLI's alias); None for `[salesforce]`'s org,
    /// which is named by its Id once logged in.
    pub fn name(&self) -> Option<&str> {
        match &self.source {
            OrgSource::Default => None,
            OrgSource::Config(name) | OrgSource::SfCli(name) => Some(name),
        }
    }

    /// Its folder's name under `--reviews` or a run of several's `--out`: its name when that is
    /// one plain folder name (an alias can be a username, `jane@acme.com`); else None, and the
    /// org's Id will name it.
    pub fn folder(&self) -> Option<String> {
        self.name().filter(|n| config::check_org_folder_name(n).is_ok()).map(str::to_string)
    }

    /// How messages name it before its Id is known.
    pub fn label(&self) -> String {
        match &self.source {
            OrgSource::Default => "[salesforce]".to_string(),
            OrgSource::Config(name) => crate::text::visible(name).into_owned(),
            OrgSource::SfCli(name) => format!("{} (Salesforce CLI)", crate::text::visible(name)),
        }
    }

    /// Whether its login comes from the Salesforce CLI.
    pub fn is_sf_cli(&self) -> bool {
        matches!(self.source, OrgSource::SfCli(_))
    }

    /// The org `--target-org` names, else `[salesforce]`'s.
    pub fn target(args: &OrgArgs, file: &LoadedFile) -> Org {
        match args.target_org.as_deref() {
            None => Org { source: OrgSource::Default },
            Some(name) => Org::named(name, file),
        }
    }

    /// An org of the file by that name, else the Salesforce CLI's.
    fn named(name: &str, file: &LoadedFile) -> Org {
        if file.config.orgs.contains_key(name) {
            Org { source: OrgSource::Config(name.to_string()) }
        } else {
            Org { source: OrgSource::SfCli(name.to_string()) }
        }
    }

    /// The connection settings: the org's table with the flags over it, or the Salesforce CLI's
    /// login with the flags that do not say which org (a login's own flags are refused there).
    pub fn connection(
        &self,
        args: &SalesforceArgs,
        org_args: &OrgArgs,
        file: &LoadedFile,
    ) -> Result<(SalesforceConfig, Option<SfLogin>), Error> {
        match &self.source {
            OrgSource::Default => Ok((SalesforceConfig::from_sources(args, file)?, None)),
            OrgSource::Config(name) => {
                let table = &file.config.orgs[name].salesforce;
                Ok((SalesforceConfig::from_table(args, table, file)?, None))
            }
            OrgSource::SfCli(alias) => {
                if let Some(flag) = args.login_flags().first() {
                    return Err(ConfigError::Invalid(format!(
                        "{flag} would replace the login the Salesforce CLI has for {alias}: leave it out, or add \
                         [orgs.{alias}] to the configuration file"
                    ))
                    .into());
                }
                let login = sfcli::login(alias, org_args.sf_bin.as_deref())?;
                tracing::info!(
                    "{alias}: the Salesforce CLI's login{} at {}",
                    login.username.as_deref().map(|u| format!(" of {u}")).unwrap_or_default(),
                    login.instance_url.as_str().trim_end_matches('/')
                );
                let credentials = auth::Credentials::AccessToken {
                    instance_url: login.instance_url.clone(),
                    access_token: login.access_token.clone(),
                };
                Ok((SalesforceConfig::with_credentials(args, credentials)?, Some(login)))
            }
        }
    }

    /// The audit rules: the flags, then the org's `[orgs.NAME.rules]`, then `[rules]`.
    pub fn rules(&self, args: &RuleArgs, file: &LoadedFile) -> Result<Rules, ConfigError> {
        match &self.source {
            OrgSource::Config(name) => Rules::for_org(args, file, Some(name)),
            OrgSource::Default | OrgSource::SfCli(_) => Rules::from_sources(args, file),
        }
    }
}

/// The orgs of a run of several: None when the run is about one org (`--target-org`, or neither
/// `--all-orgs` nor `orgs` under `[run]`).
pub fn several(all_orgs: bool, org_args: &OrgArgs, file: &LoadedFile) -> Result<Option<Vec<Org>>, ConfigError> {
    let listed = file.config.run.orgs.as_ref();
    if org_args.target_org.is_some() || !(all_orgs || listed.is_some()) {
        return Ok(None);
    }
    let orgs: Vec<Org> = match listed {
        Some(names) => names.iter().map(|n| Org::named(n, file)).collect(),
        None => {
            let default = file.config.salesforce.names_login().then_some(Org { source: OrgSource::Default });
            default
                .into_iter()
                .chain(file.config.orgs.keys().map(|n| Org { source: OrgSource::Config(n.clone()) }))
                .collect()
        }
    };
    if orgs.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "--all-orgs: {} names no org: add [orgs.NAME] tables (or orgs = [...] under [run])",
            file.shown()
        )));
    }
    Ok(Some(orgs))
}

/// How many orgs a run of several audits at once: the flag, else `[run]`, else the default.
pub fn concurrency(given: Option<usize>, file: &LoadedFile) -> Result<usize, ConfigError> {
    let n = given.or(file.config.run.org_concurrency).unwrap_or(DEFAULT_ORG_CONCURRENCY);
    config::check_concurrency(n).map_err(|e| ConfigError::Invalid(format!("--org-concurrency {e}")))?;
    Ok(n)
}

/// The flags a run of several cannot take: those that say which org to log in to, or how.
pub fn check_shared_flags(args: &SalesforceArgs) -> Result<(), ConfigError> {
    match args.login_flags().first() {
        None => Ok(()),
        Some(flag) => Err(ConfigError::Invalid(format!(
            "{flag} names one org's login: a run of several orgs takes each org's login from its [orgs.NAME] table \
             (or the Salesforce CLI); leave it out"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> LoadedFile {
        LoadedFile { path: None, config: toml::from_str(text).unwrap() }
    }

    #[test]
    fn a_target_is_an_org_of_the_file_else_the_cli_s() {
        let f = file("[orgs.prod]\ninstance_url = \"https://acme.my.salesforce.com\"\n");
        let target = |name: &str| Org::target(&OrgArgs { target_org: Some(name.into()), sf_bin: None }, &f);
        assert_eq!(target("prod").source, OrgSource::Config("prod".into()));
        assert_eq!(target("fullsb").source, OrgSource::SfCli("fullsb".into()));
        assert_eq!(Org::target(&OrgArgs::default(), &f).source, OrgSource::Default);
        assert_eq!(target("jane@acme.com").folder(), None, "a username is not a folder name");
        assert_eq!(target("fullsb").folder().as_deref(), Some("fullsb"));
    }

    #[test]
    fn a_run_of_several_takes_run_orgs_else_every_table() {
        let f = file("[salesforce]\napi_version = \"60.0\"\n[orgs.b]\nusername = \"x\"\n[orgs.a]\nusername = \"y\"\n");
        let orgs = several(true, &OrgArgs::default(), &f).unwrap().unwrap();
        let names: Vec<_> = orgs.iter().map(|o| o.name().unwrap().to_string()).collect();
        assert_eq!(names, ["a", "b"], "[salesforce] with only shared settings is no org");
        assert!(several(false, &OrgArgs::default(), &f).unwrap().is_none());

        let f = file("[salesforce]\nclient_id = \"k\"\n[run]\norgs = [\"a\", \"sbx\"]\n[orgs.a]\nusername = \"y\"\n");
        let orgs = several(false, &OrgArgs::default(), &f).unwrap().unwrap();
        assert_eq!(orgs[0].source, OrgSource::Config("a".into()));
        assert_eq!(orgs[1].source, OrgSource::SfCli("sbx".into()));
        let f = file("[salesforce]\nclient_id = \"k\"\n[orgs.a]\nusername = \"y\"\n");
        let orgs = several(true, &OrgArgs::default(), &f).unwrap().unwrap();
        assert_eq!(orgs[0].source, OrgSource::Default, "a [salesforce] that names a login is an org");
        assert!(several(true, &OrgArgs::default(), &file("")).is_err());
    }
}
