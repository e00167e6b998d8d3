//! The labels meshctl puts on everything it creates (DESIGN.md §2). Uninstall and upgrade-prune select
//! on them, never on names alone.

use std::collections::BTreeMap;

use super::profile::Component;

/// `app.kubernetes.io/managed-by`
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// `app.kubernetes.io/part-of`
pub const PART_OF: &str = "app.kubernetes.io/part-of";
/// `app.kubernetes.io/component`
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// `app.kubernetes.io/name` (pod selectors).
pub const NAME: &str = "app.kubernetes.io/name";
/// `meshctl.dev/version`: the meshctl version that installed the object.
pub const VERSION: &str = "meshctl.dev/version";
/// `meshctl.dev/namespace`: the install namespace, so cluster-scoped objects of two installs differ.
pub const INSTALL_NAMESPACE: &str = "meshctl.dev/namespace";
/// Value of the managed-by and part-of labels.
pub const MESHCTL: &str = "meshctl";

/// Keys meshctl sets itself; `extraLabels` may not override them.
pub const RESERVED: [&str; 6] = [
    MANAGED_BY,
    PART_OF,
    COMPONENT,
    NAME,
    VERSION,
    INSTALL_NAMESPACE,
];

/// Label selector of everything meshctl installed into `namespace` (namespaced and cluster-scoped).
pub fn install_selector(namespace: &str) -> String {
    format!("{MANAGED_BY}={MESHCTL},{INSTALL_NAMESPACE}={namespace}")
}

/// Label selector of everything meshctl manages in the cluster, whatever the install.
pub fn managed_selector() -> String {
    format!("{MANAGED_BY}={MESHCTL}")
}

/// A version as a label value: at most 63 characters of `[A-Za-z0-9._-]`, `+` becoming `_`.
pub fn version_value(version: &str) -> String {
    let cleaned: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// The standard labels of an object of `component`.
pub fn standard(component: Component, version: &str, namespace: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), MESHCTL.to_owned()),
        (PART_OF.to_owned(), MESHCTL.to_owned()),
        (COMPONENT.to_owned(), component.as_str().to_owned()),
        (VERSION.to_owned(), version_value(version)),
        (INSTALL_NAMESPACE.to_owned(), namespace.to_owned()),
    ])
}

/// Pod selector of a component's workload: stable across versions (selectors are immutable).
pub fn selector(workload: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME.to_owned(), workload.to_owned()),
        (PART_OF.to_owned(), MESHCTL.to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_values_are_valid_label_values() {
        assert_eq!(version_value("1.2.3"), "1.2.3");
        assert_eq!(version_value("1.2.3+build.5"), "1.2.3_build.5");
        assert_eq!(version_value("v1.0.0-rc.1"), "v1.0.0-rc.1");
        assert_eq!(version_value(&"9".repeat(80)).len(), 63);
    }

    #[test]
    fn selectors() {
        assert_eq!(
            install_selector("mesh-system"),
            "app.kubernetes.io/managed-by=meshctl,meshctl.dev/namespace=mesh-system"
        );
        let standard = standard(Component::Agent, "0.1.0", "ns");
        assert_eq!(standard[COMPONENT], "agent");
        assert_eq!(standard[VERSION], "0.1.0");
    }
}
