//! The manifests `meshctl install` applies: templates embedded in the binary (`templates/`), values
//! (defaults, `-f`, `--set`), rendering per profile, validation against the Kubernetes types, and
//! apply order.

pub mod document;
pub mod embed;
pub mod filters;
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
