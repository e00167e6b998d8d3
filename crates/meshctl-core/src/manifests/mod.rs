//! The manifests `meshctl install` applies: templates embedded in the binary (`templates/`), values
//! (defaults, `-f`, `--set`), rendering per profile, validation against the Kubernetes types, and
//! apply order.

pub mod document;
pub mod embed;
pub mod filters;
pub mod image;
pub mod labels;
pub mod order;
pub mod profile;
pub mod render;
pub mod validate;
pub mod values;
pub mod yaml;

use std::fmt;

pub use document::{Document, to_yaml_stream};
pub use profile::{Component, Profile};
pub use render::{RenderError, RenderOptions};
pub use validate::ValidationError;
pub use values::{ValuesError, ValuesInput};

/// Why manifests could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The user's values are wrong.
    #[error(transparent)]
    Values(#[from] ValuesError),
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A rendered object does not match its Kubernetes type (a template bug, or a free-form value such
    /// as `tolerations` with a misspelt field).
    #[error("{}", ValidationList(.0))]
    Invalid(Vec<ValidationError>),
}

struct ValidationList<'a>(&'a [ValidationError]);

impl fmt::Display for ValidationList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "rendered {err}")?;
        }
        Ok(())
    }
}

/// Values in, validated documents in apply order out: the whole pure pipeline.
pub fn build(input: &ValuesInput, options: &RenderOptions) -> Result<Vec<Document>, ManifestError> {
    let defaults = values::embedded_defaults()?;
    let values = values::resolve(&defaults, input)?;
    let documents = render::render(&values, options)?;
    validate::validate_all(&documents).map_err(ManifestError::Invalid)?;
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_form_values_are_validated_through_the_kubernetes_types() {
        let input = ValuesInput {
            set: vec!["tolerations[0].keyy=dedicated".to_owned()],
            ..Default::default()
        };
        let err = build(&input, &RenderOptions::new(Profile::Mgmt)).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown field spec.template.spec.tolerations[0].keyy"),
            "{err}"
        );
    }

    fn build_with(set: &[&str], set_string: &[&str]) -> Result<Vec<Document>, ManifestError> {
        let input = ValuesInput {
            set: set.iter().map(|s| (*s).to_owned()).collect(),
            set_string: set_string.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        build(&input, &RenderOptions::new(Profile::SingleCluster))
    }

    /// Values the templates cannot use are the user's error (named by key), never a template failure.
    #[test]
    fn values_the_templates_cannot_use_are_rejected_before_rendering() {
        let cases: &[(&[&str], &[&str], &str, &str)] = &[
            (
                &["mgmtServer=null"],
                &[],
                "values key mgmtServer",
                "must be a map, got null",
            ),
            (
                &["mgmtServer.ports=null"],
                &[],
                "values key mgmtServer.ports",
                "must be a map",
            ),
            (&["image=null"], &[], "values key image", "must be a map"),
            (
                &[],
                &["mgmtServer.logLevel=info\ndebug"],
                "values key mgmtServer.logLevel",
                "single line",
            ),
            (
                &[],
                &["image.repository=ghcr.io/x\nkind: Pod"],
                "values key image.repository",
                "single line",
            ),
            (
                &[],
                &["agent.logLevel=info\r"],
                "values key agent.logLevel",
                "control character",
            ),
            (&["image.pullSecrets={a,b}"], &[], "", ""),
            (
                &[],
                &["mgmtServer.relay.serverSans[0]=a\tb"],
                "values key mgmtServer.relay.serverSans[0]",
                "single line",
            ),
            (
                &["image.pullSecrets[0].name=regcred"],
                &[],
                "values key image.pullSecrets[0]",
                "must be a string",
            ),
        ];
        for (set, set_string, key, expected) in cases {
            let result = build_with(set, set_string);
            if key.is_empty() {
                result.unwrap_or_else(|e| panic!("{set:?}: {e}"));
                continue;
            }
            let err = result.expect_err(key);
            assert!(
                matches!(err, ManifestError::Values(_)),
                "{set:?} {set_string:?}: {err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains(key) && text.contains(expected),
                "{set:?} {set_string:?}: {text}"
            );
        }
    }

    #[test]
    fn free_form_values_may_still_be_cleared_or_multi_line() {
        build_with(
            &[
                "mgmtServer.resources=null",
                "tolerations=null",
                "nodeSelector=null",
            ],
            &[],
        )
        .unwrap();
        build_with(&[], &["mgmtServer.podAnnotations.note=line one\nline two"]).unwrap();
    }

    #[test]
    fn every_profile_builds_with_defaults_or_required_values() {
        for profile in Profile::ALL {
            let input = ValuesInput {
                set: vec![
                    "cluster.name=c1".to_owned(),
                    "agent.relayAddress=relay.example.com:9900".to_owned(),
                    "redis.enabled=true".to_owned(),
                    "prometheus.enabled=true".to_owned(),
                ],
                ..Default::default()
            };
            build(&input, &RenderOptions::new(profile)).unwrap();
        }
    }
}
