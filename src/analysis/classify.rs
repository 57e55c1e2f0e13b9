//! What is Certinia (REPORTS.md, "Certinia access"), and how a permission set or group is named.
//!
//! Takes the [`Rules`] (namespaces and name patterns) and answers, for one permission set, group
//! or licence at a time, whether it is Certinia. It runs in Rust, not in polars, because it runs
//! once per distinct permission set or group (a few hundred), never once per assignment: the
//! frames ([`super::frames`]) name each permission set once and the joins carry its answer to
//! every assignment.

use crate::config::Rules;

/// Decides what is Certinia, by REPORTS.md's rules.
pub struct Classifier<'a> {
    rules: &'a Rules,
}

impl<'a> Classifier<'a> {
    pub fn new(rules: &'a Rules) -> Self {
        Classifier { rules }
    }

    pub fn namespace(&self, ns: Option<&str>) -> bool {
        ns.is_some_and(|n| {
            let n = n.trim().to_ascii_lowercase();
            self.rules.namespaces.contains(&n)
        })
    }

    pub fn name(&self, text: Option<&str>) -> bool {
        text.is_some_and(|t| self.rules.name_patterns.iter().any(|re| re.is_match(t)))
    }

    /// A Certinia permission set: Certinia namespace, or name or label matching; never profile-owned.
    pub fn permission_set(
        &self,
        ns: Option<&str>,
        name: Option<&str>,
        label: Option<&str>,
        owned_by_profile: bool,
    ) -> bool {
        !owned_by_profile && (self.namespace(ns) || self.name(name) || self.name(label))
    }
}

/// `Label [ns__Name]`, or just the label when it is the API name.
pub fn display(label: Option<&str>, ns: Option<&str>, name: Option<&str>) -> String {
    let api = match (ns.filter(|n| !n.is_empty()), name) {
        (Some(ns), Some(name)) => Some(format!("{ns}__{name}")),
        (None, Some(name)) => Some(name.to_string()),
        (_, None) => None,
    };
    match (label, api) {
        (Some(l), Some(a)) if l == a => l.to_string(),
        (Some(l), Some(a)) => format!("{l} [{a}]"),
        (Some(l), None) => l.to_string(),
        (None, Some(a)) => a,
        (None, None) => "(unnamed)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RuleArgs;
    use crate::config::LoadedFile;

    fn rules() -> Rules {
        Rules::from_sources(&RuleArgs::default(), &LoadedFile::default()).unwrap()
    }

    #[test]
    fn certinia_permission_sets_by_namespace_name_or_label_never_profile_owned() {
        let r = rules();
        let c = Classifier::new(&r);
        assert!(c.permission_set(Some("pse"), Some("PSACreateProjects"), Some("Create Projects"), false));
        assert!(c.permission_set(Some("SCMC"), Some("X"), Some("Y"), false), "namespaces compare case-insensitively");
        assert!(c.permission_set(None, Some("PSA_Timecard_Entry"), None, false));
        assert!(c.permission_set(None, Some("Custom1"), Some("FF-PSA Full User"), false));
        assert!(!c.permission_set(None, Some("Capsacorp"), Some("Staffa"), false));
        assert!(!c.permission_set(None, Some("PSACreateProjects"), None, false), "no namespace, no whole word");
        assert!(!c.permission_set(Some("pse"), Some("PSA User"), Some("PSA User"), true), "profile-owned never counts");
        assert!(!c.permission_set(Some("ffps"), None, None, false), "ffps is not ffps_po");
        assert!(c.permission_set(Some("ffps_po"), None, None, false));
    }

    #[test]
    fn display_names() {
        assert_eq!(
            display(Some("PSA - Create Projects"), Some("pse"), Some("PSACreateProjects")),
            "PSA - Create Projects [pse__PSACreateProjects]"
        );
        assert_eq!(display(Some("Billing"), None, Some("Billing")), "Billing");
        assert_eq!(display(None, None, Some("X")), "X");
    }
}
