//! Status of each translated input (ACCEPTED / INVALID / UNLICENSED with observedGeneration), the
//! findings a translation collects, and the deterministic ranking that decides conflicts.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::{TranslationState, TranslationStatus};

use super::inputs::{Product, product_title};
use super::output::Outputs;

/// Errors (make the input INVALID) and warnings (reported on an ACCEPTED input) of one translation.
/// Each message starts with the field it is about, e.g. `spec.hosts[0]: ...`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    errors: Vec<String>,
    warnings: Vec<String>,
}

impl Findings {
    /// Records an error about `field`.
    pub fn error(&mut self, field: impl AsRef<str>, message: impl AsRef<str>) {
        self.errors
            .push(format!("{}: {}", field.as_ref(), message.as_ref()));
    }

    /// Records a warning about `field`.
    pub fn warn(&mut self, field: impl AsRef<str>, message: impl AsRef<str>) {
        self.warnings
            .push(format!("{}: {}", field.as_ref(), message.as_ref()));
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The status these findings give an input of `generation`.
    pub fn status(&self, generation: Option<i64>) -> TranslationStatus {
        if self.errors.is_empty() {
            TranslationStatus {
                state: TranslationState::Accepted,
                message: join(&self.warnings),
                observed_generation: generation,
            }
        } else {
            TranslationStatus {
                state: TranslationState::Invalid,
                message: join(&self.errors),
                observed_generation: generation,
            }
        }
    }
}

fn join(messages: &[String]) -> Option<String> {
    if messages.is_empty() {
        None
    } else {
        Some(messages.join("; "))
    }
}

/// Status of an input whose product is not licensed.
pub fn unlicensed(
    products: &[Product],
    expired: bool,
    generation: Option<i64>,
) -> TranslationStatus {
    let names: Vec<&str> = products.iter().map(|p| product_title(*p)).collect();
    let message = if expired {
        "license expired: this resource is not translated until the license is renewed".to_owned()
    } else {
        format!(
            "requires the {} product, which the license does not cover",
            names.join(" or ")
        )
    };
    TranslationStatus {
        state: TranslationState::Unlicensed,
        message: Some(message),
        observed_generation: generation,
    }
}

/// Message on an input whose outputs are kept in place after the license expired.
pub const EXPIRED_KEPT: &str = "license expired: the configuration translated before expiry stays in place; renew the license to translate changes";
/// Message on an input changed after the license expired.
pub const EXPIRED_CHANGED: &str = "license expired: this change is not translated; the configuration translated before expiry stays in place";

/// The result of translating one input.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Translation {
    /// Status to write back.
    pub status: TranslationStatus,
    /// Objects per cluster (empty unless ACCEPTED).
    pub outputs: Outputs,
    /// For a VirtualDestination: the Services backing it, as (cluster, namespace, name).
    pub backends: Vec<(String, String, String)>,
}

impl Translation {
    /// A translation with no outputs.
    pub fn without_outputs(status: TranslationStatus) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }
}

/// Rank of a claimant in a conflict: the oldest (creationTimestamp) wins, then namespace and name.
/// Objects without a creation time rank after those with one.
pub type Rank = (bool, Option<jiff::Timestamp>, String, String);

/// The [`Rank`] of an object.
pub fn rank(meta: &ObjectMeta) -> Rank {
    let created = meta.creation_timestamp.as_ref().map(|t| t.0);
    (
        created.is_none(),
        created,
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn errors_make_an_input_invalid_and_name_the_field() {
        let mut f = Findings::default();
        f.warn("spec.services[0]", "no Service matches yet");
        assert_eq!(f.status(Some(3)).state, TranslationState::Accepted);
        f.error("spec.hosts[1]", "host claimed twice");
        let status = f.status(Some(3));
        assert_eq!(status.state, TranslationState::Invalid);
        assert_eq!(
            status.message.as_deref(),
            Some("spec.hosts[1]: host claimed twice")
        );
        assert_eq!(status.observed_generation, Some(3));
    }

    #[test]
    fn the_oldest_claimant_ranks_first() {
        let meta = |name: &str, secs: Option<i64>| ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            creation_timestamp: secs.map(|s| Time(jiff::Timestamp::from_second(s).unwrap())),
            ..ObjectMeta::default()
        };
        let mut ranks = [
            rank(&meta("a", None)),
            rank(&meta("z", Some(10))),
            rank(&meta("b", Some(20))),
        ];
        ranks.sort();
        assert_eq!(ranks[0].3, "z");
        assert_eq!(ranks[1].3, "b");
        assert_eq!(ranks[2].3, "a");
    }

    #[test]
    fn unlicensed_names_the_products() {
        let s = unlicensed(&[Product::Mesh, Product::Network], false, Some(1));
        assert_eq!(s.state, TranslationState::Unlicensed);
        assert!(s.message.unwrap().contains("Mesh or Network"));
    }
}
