//! The installed license: Secret `meshctl-license` (key `license-key`) in the
//! install namespace. These functions take a `kube::Client` so they can be
//! tested at the request level.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};

use crate::license::{LICENSE_SECRET_KEY, LICENSE_SECRET_NAME};

/// Field manager of meshctl's server-side applies.
pub const FIELD_MANAGER: &str = "meshctl";

/// Why the license Secret could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LicenseSecretError {
    #[error("cannot read Secret {namespace}/{LICENSE_SECRET_NAME}")]
    Read {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot apply Secret {namespace}/{LICENSE_SECRET_NAME}")]
    Apply {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("Kubernetes API request for Secret {namespace}/{LICENSE_SECRET_NAME} timed out")]
    Timeout {
        namespace: String,
        #[source]
        source: tokio::time::error::Elapsed,
    },
    #[error(
        "Secret {namespace}/{LICENSE_SECRET_NAME} has no '{LICENSE_SECRET_KEY}' entry; install a license with `meshctl license apply`"
    )]
    MissingKey { namespace: String },
}

/// The labels meshctl puts on the license Secret (DESIGN §2).
pub fn labels() -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/managed-by", "meshctl"),
        ("app.kubernetes.io/part-of", "meshctl"),
        ("app.kubernetes.io/component", "license"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([(
        crate::manifests::labels::VERSION.to_owned(),
        crate::manifests::labels::version_value(crate::version::VERSION),
    )])
    .collect()
}

/// The Secret `apply` writes.
pub fn desired_secret(namespace: &str, key: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(LICENSE_SECRET_NAME.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels()),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            LICENSE_SECRET_KEY.to_owned(),
            ByteString(key.trim().as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// The installed license key, or `None` when the Secret does not exist.
pub async fn read(
    client: kube::Client,
    namespace: &str,
    timeout: Duration,
) -> Result<Option<String>, LicenseSecretError> {
    let api: Api<Secret> = Api::namespaced(client, namespace);
    let secret = tokio::time::timeout(timeout, api.get_opt(LICENSE_SECRET_NAME))
        .await
        .map_err(|source| LicenseSecretError::Timeout {
            namespace: namespace.to_owned(),
            source,
        })?
        .map_err(|source| LicenseSecretError::Read {
            namespace: namespace.to_owned(),
            source,
        })?;
    let Some(secret) = secret else {
        return Ok(None);
    };
    let value = secret
        .data
        .and_then(|mut data| data.remove(LICENSE_SECRET_KEY))
        .ok_or_else(|| LicenseSecretError::MissingKey {
            namespace: namespace.to_owned(),
        })?;
    Ok(Some(String::from_utf8_lossy(&value.0).into_owned()))
}

/// Creates or replaces the license Secret with server-side apply (field manager `meshctl`).
pub async fn apply(
    client: kube::Client,
    namespace: &str,
    key: &str,
    timeout: Duration,
) -> Result<(), LicenseSecretError> {
    let api: Api<Secret> = Api::namespaced(client, namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let secret = desired_secret(namespace, key);
    tokio::time::timeout(
        timeout,
        api.patch(LICENSE_SECRET_NAME, &params, &Patch::Apply(&secret)),
    )
    .await
    .map_err(|source| LicenseSecretError::Timeout {
        namespace: namespace.to_owned(),
        source,
    })?
    .map_err(|source| LicenseSecretError::Apply {
        namespace: namespace.to_owned(),
        source,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use http::{Method, Request, Response, StatusCode};
    use kube::client::Body;
    use serde_json::json;

    use super::*;
    use crate::exit::{ExitKind, exit_kind_of};

    type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

    fn mock() -> (kube::Client, Handle) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        (kube::Client::new(service, "default"), handle)
    }

    fn respond(status: StatusCode, body: serde_json::Value) -> Response<Body> {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap()
    }

    fn secret_json(data: serde_json::Value) -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "meshctl-license", "namespace": "mesh-system"},
            "type": "Opaque",
            "data": data,
        })
    }

    fn not_found() -> serde_json::Value {
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "secrets \"meshctl-license\" not found", "reason": "NotFound",
            "details": {"name": "meshctl-license", "kind": "secrets"}, "code": 404
        })
    }

    const TIMEOUT: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn read_gets_the_secret_and_decodes_the_key() {
        let (client, mut handle) = mock();
        let server = tokio::spawn(async move {
            let (request, send) = handle.next_request().await.unwrap();
            assert_eq!(request.method(), Method::GET);
            assert_eq!(
                request.uri().path(),
                "/api/v1/namespaces/mesh-system/secrets/meshctl-license"
            );
            let encoded = STANDARD.encode("eyJ.a.b");
            send.send_response(respond(
                StatusCode::OK,
                secret_json(json!({"license-key": encoded})),
            ));
        });
        let key = read(client, "mesh-system", TIMEOUT).await.unwrap();
        assert_eq!(key.as_deref(), Some("eyJ.a.b"));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn read_of_a_missing_secret_is_none() {
        let (client, mut handle) = mock();
        let server = tokio::spawn(async move {
            let (_, send) = handle.next_request().await.unwrap();
            send.send_response(respond(StatusCode::NOT_FOUND, not_found()));
        });
        assert_eq!(read(client, "mesh-system", TIMEOUT).await.unwrap(), None);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn read_of_a_secret_without_the_key_says_so() {
        let (client, mut handle) = mock();
        let server = tokio::spawn(async move {
            let (_, send) = handle.next_request().await.unwrap();
            send.send_response(respond(
                StatusCode::OK,
                secret_json(json!({"other": "eA=="})),
            ));
        });
        let err = read(client, "mesh-system", TIMEOUT).await.unwrap_err();
        assert!(
            matches!(err, LicenseSecretError::MissingKey { .. }),
            "{err}"
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn forbidden_is_an_environment_error() {
        let (client, mut handle) = mock();
        let server = tokio::spawn(async move {
            let (_, send) = handle.next_request().await.unwrap();
            send.send_response(respond(
                StatusCode::FORBIDDEN,
                json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "secrets \"meshctl-license\" is forbidden", "reason": "Forbidden",
                    "code": 403
                }),
            ));
        });
        let err = read(client, "mesh-system", TIMEOUT).await.unwrap_err();
        let err = anyhow::Error::new(err);
        assert_eq!(exit_kind_of(&err), ExitKind::Environment);
        assert!(format!("{err:#}").contains("forbidden"), "{err:#}");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_silent_api_server_times_out() {
        let (client, handle) = mock();
        // The handle stays alive but never answers.
        let err = read(client, "mesh-system", Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, LicenseSecretError::Timeout { .. }), "{err}");
        assert_eq!(
            exit_kind_of(&anyhow::Error::new(err)),
            ExitKind::Environment
        );
        drop(handle);
    }

    #[tokio::test]
    async fn apply_is_a_forced_server_side_apply_with_labels() {
        let (client, mut handle) = mock();
        let server = tokio::spawn(async move {
            let (request, send) = handle.next_request().await.unwrap();
            assert_eq!(request.method(), Method::PATCH);
            assert_eq!(
                request.uri().path(),
                "/api/v1/namespaces/prod-mesh/secrets/meshctl-license"
            );
            let query = request.uri().query().unwrap_or_default().to_owned();
            assert!(query.contains("fieldManager=meshctl"), "{query}");
            assert!(query.contains("force=true"), "{query}");
            assert_eq!(
                request.headers()["content-type"],
                "application/apply-patch+yaml"
            );
            let body = request.into_body().collect_bytes().await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["apiVersion"], "v1");
            assert_eq!(body["kind"], "Secret");
            assert_eq!(body["type"], "Opaque");
            assert_eq!(body["metadata"]["name"], "meshctl-license");
            assert_eq!(body["metadata"]["namespace"], "prod-mesh");
            let labels = &body["metadata"]["labels"];
            assert_eq!(labels["app.kubernetes.io/managed-by"], "meshctl");
            assert_eq!(labels["app.kubernetes.io/part-of"], "meshctl");
            assert_eq!(labels["app.kubernetes.io/component"], "license");
            assert_eq!(
                labels["meshctl.dev/version"],
                crate::manifests::labels::version_value(crate::version::VERSION)
            );
            assert_eq!(body["data"]["license-key"], STANDARD.encode("eyJ.new.key"));
            assert!(body.get("stringData").is_none());
            let reply = body.clone();
            send.send_response(respond(StatusCode::OK, reply));
        });
        apply(client, "prod-mesh", "eyJ.new.key\n", TIMEOUT)
            .await
            .unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn apply_failure_names_the_secret() {
        let (client, mut handle) = mock();
        let server = tokio::spawn(async move {
            let (_, send) = handle.next_request().await.unwrap();
            send.send_response(respond(
                StatusCode::NOT_FOUND,
                json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "namespaces \"nope\" not found", "reason": "NotFound", "code": 404
                }),
            ));
        });
        let err = apply(client, "nope", "k", TIMEOUT).await.unwrap_err();
        let err = anyhow::Error::new(err);
        let text = format!("{err:#}");
        assert!(
            text.contains("cannot apply Secret nope/meshctl-license"),
            "{text}"
        );
        assert!(
            text.contains("namespaces \\\"nope\\\" not found")
                || text.contains("namespaces \"nope\" not found"),
            "{text}"
        );
        assert_eq!(exit_kind_of(&err), ExitKind::Environment);
        server.await.unwrap();
    }
}
