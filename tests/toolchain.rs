//! The `rust-version` the workspace declares is what it really needs.
//!
//! Three things set the minimum Rust: the language features the code uses (let-chains: 1.88), the
//! standard library items it calls, and the dependencies' own `rust-version`. This test checks
//! the dependencies, from `cargo metadata` of the locked dependency graph (every platform, dev and
//! build dependencies included). Clippy's `incompatible_msrv` (denied in Cargo.toml) checks the
//! standard library items. Nothing here checks language features: CI has one toolchain, the
//! newest, so `cargo +<msrv> check` cannot run there (README, "Develop").

use std::collections::BTreeSet;

use serde_json::Value;

/// The newest language feature or standard library item the code itself uses: let-chains (1.88),
/// `std::fs::File::try_lock` (1.89).
const OWN_NEEDS: (u64, u64) = (1, 89);

/// `1.95`, `1.88.0` → (1, 95), (1, 88).
fn major_minor(version: &str) -> (u64, u64) {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or_else(|_| panic!("{version}")));
    (parts.next().unwrap(), parts.next().unwrap_or(0))
}

#[test]
fn the_declared_rust_version_is_the_newest_any_dependency_needs() {
    let output = std::process::Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let members: BTreeSet<&str> =
        metadata["workspace_members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    let resolved: BTreeSet<&str> =
        metadata["resolve"]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();

    let mut declared = BTreeSet::new();
    let mut needed = (OWN_NEEDS, "the code itself".to_string());
    for package in metadata["packages"].as_array().unwrap() {
        let id = package["id"].as_str().unwrap();
        let name = format!("{} {}", package["name"].as_str().unwrap(), package["version"].as_str().unwrap());
        let version = package["rust_version"].as_str();
        if members.contains(id) {
            declared.insert(major_minor(version.unwrap_or_else(|| panic!("{name} declares no rust-version"))));
        } else if let Some(version) = version.filter(|_| resolved.contains(id)) {
            needed = needed.max((major_minor(version), name));
        }
    }
    assert_eq!(declared.len(), 1, "every workspace member declares the same rust-version: {declared:?}");
    let declared = declared.pop_first().unwrap();
    assert_eq!(declared, needed.0, "rust-version must be {:?}, what {} needs", needed.0, needed.1);
}
