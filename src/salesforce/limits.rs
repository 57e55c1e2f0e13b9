//! The org's API quota as Salesforce reports it: the `Sforce-Limit-Info` header on every
//! answer, and `/limits`' `{Max, Remaining}` entries.
//!
//! Plain data, read by the REST client and written into the snapshot manifest (what the run
//! cost the org's shared daily allocation).

use serde::{Deserialize, Serialize};

/// `Sforce-Limit-Info: api-usage=18/5000`: the org's daily API requests used and allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsage {
    pub used: u64,
    pub max: u64,
}

impl ApiUsage {
    /// Parses the header's `key=value; key=value` list, ignoring unknown keys.
    pub fn from_header(value: &str) -> Option<ApiUsage> {
        value.split(';').find_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            if k.trim() != "api-usage" {
                return None;
            }
            let (used, max) = v.trim().split_once('/')?;
            Some(ApiUsage { used: used.trim().parse().ok()?, max: max.trim().parse().ok()? })
        })
    }
}

/// One entry of `/limits`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub struct Limit {
    #[serde(rename = "Max")]
    pub max: i64,
    #[serde(rename = "Remaining")]
    pub remaining: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_info_header() {
        assert_eq!(ApiUsage::from_header("api-usage=18/5000"), Some(ApiUsage { used: 18, max: 5000 }));
        assert_eq!(
            ApiUsage::from_header("api-bursts=1/750; api-usage=25/15000; per-app-api-usage=2/100(appName=x)"),
            Some(ApiUsage { used: 25, max: 15000 })
        );
        assert_eq!(ApiUsage::from_header("api-bursts=1/750"), None);
        assert_eq!(ApiUsage::from_header("api-usage=x/1"), None);
    }
}
