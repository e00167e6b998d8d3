//! What `serve agent` reads and writes: directories (`dir:PATH`), or the Kubernetes
//! cluster it runs in or is pointed at (`kube`, in-cluster or `--kubeconfig/--context`):
//! watchers as the source, server-side apply as the sink, credentials, bootstrap token
//! and root CA in Secrets of `--namespace`.

use std::collections::BTreeSet;
use std::path::PathBuf;

/// A `--source`/`--sink` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// `dir:PATH`
    Dir(PathBuf),
    /// `kube`, or for the source `kube:NS1,NS2` (only those namespaces).
    Kube(Option<BTreeSet<String>>),
}

/// Parses a `--source`/`--sink` value; `namespaces_allowed` for the source only.
pub fn parse_spec(flag: &str, spec: &str, namespaces_allowed: bool) -> anyhow::Result<Spec> {
    if let Some(path) = spec.strip_prefix("dir:")
        && !path.is_empty()
    {
        return Ok(Spec::Dir(PathBuf::from(path)));
    }
    if spec == "kube" {
        return Ok(Spec::Kube(None));
    }
    if let Some(list) = spec.strip_prefix("kube:") {
        if !namespaces_allowed {
            return Err(crate::exit::usage(format!(
                "{flag} {spec}: a namespace list is only accepted by --source"
            )));
        }
        let namespaces: BTreeSet<String> = list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        if namespaces.is_empty() {
            return Err(crate::exit::usage(format!(
                "{flag} {spec}: expected kube:NAMESPACE[,NAMESPACE...]"
            )));
        }
        return Ok(Spec::Kube(Some(namespaces)));
    }
    let expected = if namespaces_allowed {
        "kube, kube:NS[,NS...] or dir:PATH"
    } else {
        "kube or dir:PATH"
    };
    Err(crate::exit::usage(format!(
        "{flag} {spec:?}: expected {expected}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            parse_spec("--source", "dir:/a/b", true).ok(),
            Some(Spec::Dir(PathBuf::from("/a/b")))
        );
        assert_eq!(
            parse_spec("--sink", "kube", false).ok(),
            Some(Spec::Kube(None))
        );
        assert_eq!(
            parse_spec("--source", "kube:a, b", true).ok(),
            Some(Spec::Kube(Some(BTreeSet::from(["a".into(), "b".into()]))))
        );
        assert!(parse_spec("--sink", "kube:a", false).is_err());
        assert!(parse_spec("--source", "kube:", true).is_err());
        assert!(parse_spec("--source", "/a", true).is_err());
        assert!(parse_spec("--source", "dir:", true).is_err());
    }
}
