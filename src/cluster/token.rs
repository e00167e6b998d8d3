//! The per-cluster bootstrap token on the management cluster: Secret `relay-identity-token-<name>`
//! (key `token`, clear text). Created when absent, reused while unused, re-issued (new token, the
//! server's `meshctl.dev/token-consumed-at` annotation removed) once used, unless the agent already
//! holds its client certificate and needs no token.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde::Serialize;
use serde_json::json;

use super::api::Cluster;
use super::{ClusterError, TOKEN_CONSUMED_ANNOTATION, TOKEN_KEY, is_managed, token_secret_name};
use crate::relay::token::BootstrapToken;

/// What happened to the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenAction {
    /// A new Secret with a new token.
    Created,
    /// The unused token already issued.
    Reused,
    /// The old token was used: a new one replaced it.
    Reissued,
    /// The token was used and the agent holds its certificate: nothing to do.
    AlreadyUsed,
}

impl std::fmt::Display for TokenAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Reused => "reused (not used yet)",
            Self::Reissued => "re-issued (the previous one was used)",
            Self::AlreadyUsed => "kept (used; the agent holds its certificate)",
        })
    }
}

/// The token to hand to the agent and what was done to obtain it.
#[derive(Debug, Clone)]
pub struct EnsuredToken {
    /// The clear-text token (redacted in Debug).
    pub token: BootstrapToken,
    /// What happened.
    pub action: TokenAction,
}

/// Whether the token Secret says the token was used.
pub fn is_consumed(secret: &Secret) -> bool {
    secret
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(TOKEN_CONSUMED_ANNOTATION))
}

fn stored_token(secret: &Secret) -> Option<BootstrapToken> {
    let bytes = secret.data.as_ref()?.get(TOKEN_KEY)?;
    let text = std::str::from_utf8(&bytes.0).ok()?.trim();
    (!text.is_empty()).then(|| BootstrapToken::from_text(text))
}

/// Creates or reuses the token Secret of `cluster` in `namespace`; `labels` go on a new Secret.
pub async fn ensure(
    mgmt: &Cluster,
    namespace: &str,
    cluster: &str,
    labels: &BTreeMap<String, String>,
    agent_has_certificate: bool,
) -> Result<EnsuredToken, ClusterError> {
    let name = token_secret_name(cluster);
    let api: Api<Secret> = Api::namespaced(mgmt.client.clone(), namespace);
    let existing = mgmt
        .call_opt(format!("get Secret {namespace}/{name}"), api.get(&name))
        .await?;
    let Some(existing) = existing else {
        let token = BootstrapToken::generate();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.to_owned()),
                labels: Some(labels.clone()),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(BTreeMap::from([(
                TOKEN_KEY.to_owned(),
                ByteString(token.expose().as_bytes().to_vec()),
            )])),
            ..Secret::default()
        };
        mgmt.call(
            format!("create Secret {namespace}/{name}"),
            api.create(&PostParams::default(), &secret),
        )
        .await?;
        return Ok(EnsuredToken {
            token,
            action: TokenAction::Created,
        });
    };
    if !is_managed(existing.metadata.labels.as_ref()) {
        return Err(ClusterError::NotManaged {
            side: mgmt.side,
            objects: vec![format!("Secret {namespace}/{name}")],
        });
    }
    let stored = stored_token(&existing);
    match (is_consumed(&existing), stored) {
        (false, Some(token)) => Ok(EnsuredToken {
            token,
            action: TokenAction::Reused,
        }),
        (true, Some(token)) if agent_has_certificate => Ok(EnsuredToken {
            token,
            action: TokenAction::AlreadyUsed,
        }),
        _ => {
            let token = BootstrapToken::generate();
            let patch = json!({
                "metadata": {
                    "labels": labels,
                    "annotations": {TOKEN_CONSUMED_ANNOTATION: null},
                },
                "data": {TOKEN_KEY: ByteString(token.expose().as_bytes().to_vec())},
            });
            mgmt.call(
                format!("re-issue the token in Secret {namespace}/{name}"),
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)),
            )
            .await?;
            Ok(EnsuredToken {
                token,
                action: TokenAction::Reissued,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::cluster::Side;
    use crate::cluster::testing::*;

    const PATH: &str = "/api/v1/namespaces/mesh-system/secrets/relay-identity-token-east";

    fn decoded(body: &Value) -> String {
        use base64::Engine;
        let text = body["data"]["token"].as_str().unwrap();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn creates_a_labelled_secret_when_absent() {
        let api = MockApi::start(|method, path, body| match method {
            "GET" => {
                assert_eq!(path, PATH);
                not_found()
            }
            _ => {
                assert_eq!(
                    (method, path),
                    ("POST", "/api/v1/namespaces/mesh-system/secrets")
                );
                echo(body)
            }
        });
        let labels = agent_labels("east");
        let got = ensure(
            &cluster(&api, Side::Mgmt),
            "mesh-system",
            "east",
            &labels,
            false,
        )
        .await
        .unwrap();
        assert_eq!(got.action, TokenAction::Created);
        let (_, body) = &api.calls()[1];
        assert_eq!(body["metadata"]["name"], "relay-identity-token-east");
        assert_eq!(body["metadata"]["labels"]["meshctl.dev/cluster"], "east");
        assert_eq!(decoded(body), got.token.expose());
        assert!(!format!("{got:?}").contains(got.token.expose()));
    }

    #[tokio::test]
    async fn reuses_an_unused_token() {
        let api = MockApi::start(|_, _, _| {
            (
                200,
                secret(
                    "mesh-system",
                    "relay-identity-token-east",
                    Some(agent_labels("east")),
                    &[("token", "t0k3n")],
                ),
            )
        });
        let got = ensure(
            &cluster(&api, Side::Mgmt),
            "mesh-system",
            "east",
            &agent_labels("east"),
            false,
        )
        .await
        .unwrap();
        assert_eq!(
            (got.action, got.token.expose()),
            (TokenAction::Reused, "t0k3n")
        );
        assert_eq!(api.requests(), [format!("GET {PATH}")]);
    }

    fn consumed() -> Value {
        let mut s = secret(
            "mesh-system",
            "relay-identity-token-east",
            Some(agent_labels("east")),
            &[("token", "old")],
        );
        s["metadata"]["annotations"] =
            json!({"meshctl.dev/token-consumed-at": "2026-11-22T05:00:00Z"});
        s
    }

    #[tokio::test]
    async fn reissues_a_used_token_and_removes_the_consumed_annotation() {
        let api = MockApi::start(|method, _, _| match method {
            "GET" => (200, consumed()),
            _ => (
                200,
                secret(
                    "mesh-system",
                    "relay-identity-token-east",
                    Some(agent_labels("east")),
                    &[("token", "new")],
                ),
            ),
        });
        let got = ensure(
            &cluster(&api, Side::Mgmt),
            "mesh-system",
            "east",
            &agent_labels("east"),
            false,
        )
        .await
        .unwrap();
        assert_eq!(got.action, TokenAction::Reissued);
        assert_ne!(got.token.expose(), "old");
        let (request, body) = &api.calls()[1];
        assert_eq!(request, &format!("PATCH {PATH}"));
        assert_eq!(
            body["metadata"]["annotations"]["meshctl.dev/token-consumed-at"],
            Value::Null
        );
        assert_eq!(decoded(body), got.token.expose());
    }

    #[tokio::test]
    async fn keeps_a_used_token_when_the_agent_has_its_certificate() {
        let api = MockApi::start(|_, _, _| (200, consumed()));
        let got = ensure(
            &cluster(&api, Side::Mgmt),
            "mesh-system",
            "east",
            &agent_labels("east"),
            true,
        )
        .await
        .unwrap();
        assert_eq!(got.action, TokenAction::AlreadyUsed);
        assert_eq!(api.requests().len(), 1);
    }

    #[tokio::test]
    async fn refuses_a_secret_meshctl_does_not_manage() {
        let api = MockApi::start(|_, _, _| {
            (
                200,
                secret(
                    "mesh-system",
                    "relay-identity-token-east",
                    None,
                    &[("token", "x")],
                ),
            )
        });
        let err = ensure(
            &cluster(&api, Side::Mgmt),
            "mesh-system",
            "east",
            &agent_labels("east"),
            false,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ClusterError::NotManaged { .. }), "{err}");
    }
}
