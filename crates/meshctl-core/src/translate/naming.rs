//! Names and labels of translated objects: deterministic, valid Kubernetes names (DNS-1123 subdomains),
//! label values within 63 characters, with a hash suffix whenever a value had to be shortened or altered.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::inputs::InputRef;

/// Label naming the kind of the platform resource an output was translated from.
pub const OWNER_KIND_LABEL: &str = "meshctl.dev/owner-kind";
/// Label naming the platform resource an output was translated from.
pub const OWNER_NAME_LABEL: &str = "meshctl.dev/owner-name";
/// Label naming the namespace (management cluster) of that resource.
pub const OWNER_NAMESPACE_LABEL: &str = "meshctl.dev/owner-namespace";
/// The standard managed-by label.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY: &str = "meshctl";

/// Longest object name Kubernetes accepts (DNS-1123 subdomain).
pub const MAX_NAME: usize = 253;
/// Longest label value.
pub const MAX_LABEL_VALUE: usize = 63;
const HASH_CHARS: usize = 8;

/// First `HASH_CHARS` hex characters of the SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(digest)[..HASH_CHARS].to_owned()
}

/// The name of an output: `parts` joined with `.` (so that `<name>.<namespace>` of the owner is
/// unambiguous: namespaces contain no dots). Each part is lower-cased and reduced to `[a-z0-9-]`
/// (dots allowed inside a part); when anything was altered, or the result exceeds 253 characters,
/// the name is shortened and `-<8 hex of sha256(original)>` appended.
pub fn object_name(parts: &[&str]) -> String {
    let original = parts.join(".");
    let cleaned: Vec<String> = parts.iter().map(|p| clean_part(p)).collect();
    let cleaned = cleaned
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    if cleaned == original && !cleaned.is_empty() && cleaned.len() <= MAX_NAME {
        return cleaned;
    }
    with_hash(&cleaned, &original, MAX_NAME)
}

/// A label value for `value`: unchanged when valid, else shortened with a hash suffix.
pub fn label_value(value: &str) -> String {
    let valid_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let alnum_ends = value
        .chars()
        .next()
        .is_none_or(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .last()
            .is_none_or(|c| c.is_ascii_alphanumeric());
    if valid_chars && alnum_ends && value.len() <= MAX_LABEL_VALUE {
        return value.to_owned();
    }
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    with_hash(&cleaned, value, MAX_LABEL_VALUE)
}

fn clean_part(part: &str) -> String {
    let lowered: String = part
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    // Every dot-separated segment must start and end with an alphanumeric character.
    lowered
        .split('.')
        .map(|s| s.trim_matches('-'))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

fn with_hash(cleaned: &str, original: &str, max: usize) -> String {
    let hash = short_hash(original);
    let room = max - HASH_CHARS - 1;
    let mut head: String = cleaned
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(room)
        .collect();
    while head.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        head.pop();
    }
    if head.is_empty() {
        hash
    } else {
        format!("{head}-{hash}")
    }
}

/// The labels every output carries: owner kind/name/namespace and managed-by.
pub fn owner_labels(owner: &InputRef) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
        (OWNER_KIND_LABEL.to_owned(), owner.kind.as_str().to_owned()),
        (OWNER_NAME_LABEL.to_owned(), label_value(&owner.name)),
        (
            OWNER_NAMESPACE_LABEL.to_owned(),
            label_value(&owner.namespace),
        ),
    ])
}

/// `<owner name>.<owner namespace>`: the base name of every output of `owner`.
pub fn owner_name(owner: &InputRef) -> String {
    object_name(&[&owner.name, &owner.namespace])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::inputs::InputKind;
    use proptest::prelude::*;

    fn is_subdomain(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= MAX_NAME
            && name.split('.').all(|seg| {
                !seg.is_empty()
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !seg.starts_with('-')
                    && !seg.ends_with('-')
            })
    }

    #[test]
    fn clean_names_are_kept() {
        assert_eq!(object_name(&["reviews", "bookinfo"]), "reviews.bookinfo");
        assert_eq!(
            object_name(&["reviews", "bookinfo", "reviews.global"]),
            "reviews.bookinfo.reviews.global"
        );
    }

    #[test]
    fn altered_or_long_names_get_a_hash_suffix() {
        let upper = object_name(&["Reviews", "bookinfo"]);
        assert!(upper.starts_with("reviews.bookinfo-"), "{upper}");
        assert_ne!(upper, object_name(&["reviews", "bookinfo"]));
        let long = "a".repeat(300);
        let name = object_name(&[&long, "ns"]);
        assert_eq!(name.len(), MAX_NAME);
        assert!(is_subdomain(&name));
        assert_eq!(name, object_name(&[&long, "ns"]), "deterministic");
    }

    #[test]
    fn label_values_fit_63_characters() {
        assert_eq!(label_value("reviews"), "reviews");
        let long = label_value(&"x".repeat(100));
        assert_eq!(long.len(), MAX_LABEL_VALUE);
        assert_ne!(long, label_value(&"x".repeat(101)));
    }

    #[test]
    fn owner_labels_name_the_owner() {
        let labels = owner_labels(&InputRef::new(InputKind::RouteTable, "cfg", "rt"));
        assert_eq!(labels[OWNER_KIND_LABEL], "RouteTable");
        assert_eq!(labels[OWNER_NAME_LABEL], "rt");
        assert_eq!(labels[OWNER_NAMESPACE_LABEL], "cfg");
        assert_eq!(labels[MANAGED_BY_LABEL], "meshctl");
    }

    proptest! {
        #[test]
        fn every_name_is_a_valid_subdomain(parts in proptest::collection::vec(".{0,120}", 1..4)) {
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            let name = object_name(&refs);
            prop_assert!(is_subdomain(&name), "{name:?}");
        }

        #[test]
        fn every_label_value_is_valid(value in ".{0,150}") {
            let v = label_value(&value);
            prop_assert!(v.len() <= MAX_LABEL_VALUE);
            prop_assert!(v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
            prop_assert!(v.is_empty() || (v.starts_with(|c: char| c.is_ascii_alphanumeric()) && v.ends_with(|c: char| c.is_ascii_alphanumeric())));
        }
    }
}
