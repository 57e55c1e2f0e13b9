//! Where credentials may be sent: the URL rules for instance and login hosts, and for the
//! SCIM base URLs and token endpoints of other applications.
//!
//! Takes a URL as the user (or Salesforce's token endpoint) wrote it and hands on
//! its origin (or, for an API base, origin and path), checked: `https://`, or plain
//! `http://` only on a loopback host (the simulator), no user name or password, a
//! host. `config` applies it to the flags and the `[apps]` settings, and `auth` to
//! the `instance_url` a login returns, so the rule lives here, in a leaf that imports
//! nothing of the crate, and neither has to import the other.

use url::Url;

/// The production login host, and the JWT audience for production orgs.
pub const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";
/// The sandbox login host, and the JWT audience for sandboxes.
pub const SANDBOX_LOGIN_URL: &str = "https://test.salesforce.com";

/// A URL that breaks the rules; its message starts with what was checked (e.g. `--login-url`).
#[derive(Debug, thiserror::Error)]
#[error("{what} {problem}")]
pub struct EndpointError {
    what: String,
    problem: String,
}

/// A URL the tool may send credentials to: `https://`, or `http://` on a loopback host only.
/// Returns the origin (path, query and fragment dropped).
pub fn endpoint_url(what: &str, value: &str) -> Result<Url, EndpointError> {
    let url = checked(what, value)?;
    // Only the origin matters; `https://acme.my.salesforce.com/` and without the slash are the same org.
    let mut origin = url.clone();
    origin.set_path("");
    origin.set_query(None);
    origin.set_fragment(None);
    Ok(origin)
}

/// A base URL under which an API lives (a SCIM service provider's `https://host/scim/v2`, an OAuth
/// token endpoint), held to the same rules as [`endpoint_url`] but keeping its path, without a
/// trailing `/`. A query or fragment is refused: the path is all a base may say.
pub fn endpoint_base(what: &str, value: &str) -> Result<Url, EndpointError> {
    let mut url = checked(what, value)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(EndpointError {
            what: what.to_string(),
            problem: format!("must not carry a query (?...) or fragment (#...): {value}"),
        });
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

/// The rules every URL that receives credentials must meet.
fn checked(what: &str, value: &str) -> Result<Url, EndpointError> {
    let bad = |problem: String| EndpointError { what: what.to_string(), problem };
    let url = Url::parse(value.trim()).map_err(|e| bad(format!("is not a URL ({e}): {value:?}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(bad(format!(
                "must use https:// (plain http:// is accepted only for loopback hosts such as 127.0.0.1): {value}"
            )));
        }
        other => return Err(bad(format!("must be an https:// URL, not {other}: {value}"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad(format!("has no host: {value}")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry a user name or password".to_string()));
    }
    Ok(url)
}

/// 127.0.0.0/8, ::1 or `localhost`: the only hosts plain http:// may reach.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// [`is_loopback`] for a bare host name or address (an SMTP host): `127.0.0.1`, `::1`, `[::1]`, `localhost`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// True for the shared login hosts, which are not an org's My Domain.
pub fn is_shared_login_host(url: &Url) -> bool {
    matches!(url.host_str(), Some(h) if h.eq_ignore_ascii_case("login.salesforce.com") || h.eq_ignore_ascii_case("test.salesforce.com"))
}

/// True for the sandbox login host and sandbox My Domains.
pub fn is_sandbox_host(url: &Url) -> bool {
    match url.host_str() {
        Some(h) => {
            let h = h.to_ascii_lowercase();
            h == "test.salesforce.com" || h.ends_with(".sandbox.my.salesforce.com")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(endpoint_url("--instance-url", "https://acme.my.salesforce.com").is_ok());
        assert!(endpoint_url("--instance-url", "http://127.0.0.1:8080").is_ok());
        assert!(endpoint_url("--instance-url", "http://localhost:8080").is_ok());
        assert!(endpoint_url("--instance-url", "http://[::1]:8080").is_ok());
        let e = endpoint_url("--instance-url", "http://acme.my.salesforce.com").unwrap_err();
        assert!(e.to_string().starts_with("--instance-url must use https://"), "{e}");
        assert!(endpoint_url("--instance-url", "ftp://x").is_err());
        assert!(endpoint_url("--instance-url", "https://user:pw@x.com").is_err());
        assert_eq!(
            endpoint_url("u", "https://acme.my.salesforce.com/some/path?x=1").unwrap().as_str(),
            "https://acme.my.salesforce.com/"
        );
    }

    #[test]
    fn bases_keep_their_path() {
        let base = |s: &str| endpoint_base("base_url", s).map(|u| u.to_string()).map_err(|e| e.to_string());
        assert_eq!(base("https://api.stensul.com/scim/v2/").unwrap(), "https://api.stensul.com/scim/v2");
        assert_eq!(base("http://127.0.0.1:9/scim/v2").unwrap(), "http://127.0.0.1:9/scim/v2");
        assert_eq!(base("https://x.example").unwrap(), "https://x.example/");
        assert!(base("http://x.example/scim").unwrap_err().starts_with("base_url must use https://"));
        assert!(base("https://x.example/scim?tenant=1").unwrap_err().contains("must not carry a query"));
        assert!(base("https://u:p@x.example/scim").is_err());
    }

    #[test]
    fn login_hosts() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(is_shared_login_host(&u("https://LOGIN.salesforce.com")));
        assert!(is_shared_login_host(&u("https://test.salesforce.com/")));
        assert!(!is_shared_login_host(&u("https://acme.my.salesforce.com")));
        assert!(is_sandbox_host(&u("https://test.salesforce.com")));
        assert!(is_sandbox_host(&u("https://acme--uat.sandbox.my.salesforce.com")));
        assert!(!is_sandbox_host(&u("https://login.salesforce.com")));
    }
}
