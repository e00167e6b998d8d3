//! `RouteTable` (networking.meshctl.dev): HTTP routes for hosts, translated to an Istio VirtualService.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DURATION_PATTERN, ObjectReference, TranslationStatus};

/// HTTP routes for a set of hosts, forwarding to virtual destinations or Services with weights. Applies
/// to mesh traffic, or to the listeners of the referenced virtual gateways.
// kube's repeated `printcolumn(...)` items look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "networking.meshctl.dev",
    version = "v1alpha1",
    kind = "RouteTable",
    namespaced,
    status = "TranslationStatus",
    shortname = "rt",
    category = "meshctl",
    doc = "HTTP routes for hosts, forwarding to (virtual) destinations with weights.",
    printcolumn(name = "Hosts", type_ = "string", json_path = ".spec.hosts"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct RouteTableSpec {
    /// Hostnames the routes apply to (`*.example.com` allowed).
    #[schemars(length(min = 1))]
    pub hosts: Vec<String>,
    /// Gateways whose listeners serve these routes; empty means mesh (east-west) traffic only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_gateways: Vec<ObjectReference>,
    /// Routes, evaluated in order; the first whose matchers match wins.
    #[schemars(length(min = 1))]
    pub http: Vec<HttpRoute>,
}

/// One HTTP route.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    /// Name of the route, shown in status messages and metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Request matchers; the route applies when any matcher matches (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<HttpMatcher>,
    /// Where matching requests go.
    pub forward_to: ForwardTo,
    /// Retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RetryPolicy>,
    /// Overall request timeout, e.g. `15s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub timeout: Option<String>,
}

/// A request matcher; every field that is set must match.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpMatcher {
    /// Path match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<PathMatch>,
    /// Header matches; all must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatcher>,
    /// HTTP methods (`GET`, `POST`, ...); any may match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

/// How the request path is matched: exactly one of `prefix`, `exact`, `regex`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PathMatch {
    /// Path starts with this prefix.
    Prefix(String),
    /// Path equals this string.
    Exact(String),
    /// Path matches this RE2 regular expression.
    Regex(String),
}

/// A header match.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderMatcher {
    /// Header name (case-insensitive).
    #[schemars(length(min = 1))]
    pub name: String,
    /// Expected value; when absent, the header only has to be present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Treat `value` as an RE2 regular expression.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub regex: bool,
    /// Match when the header does NOT match.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invert_match: bool,
}

/// Destinations of a route, with weights.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForwardTo {
    /// Weighted destinations; weights are relative (default 1 each).
    #[schemars(length(min = 1))]
    pub destinations: Vec<RouteDestination>,
    /// Replace the matched path prefix with this value before forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_rewrite: Option<String>,
    /// Replace the Host/authority header before forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_rewrite: Option<String>,
}

/// Kind of object a route forwards to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum DestinationKind {
    /// A VirtualDestination (global host).
    #[default]
    VirtualDestination,
    /// A Kubernetes Service in one cluster.
    Service,
}

/// One weighted destination.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteDestination {
    /// What `name` refers to.
    #[serde(default)]
    pub kind: DestinationKind,
    /// Name of the VirtualDestination or Service.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Namespace of the destination; defaults to the RouteTable's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Cluster of the Service (kind `Service` only); defaults to every cluster that has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Port to forward to; required when the destination has several ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Relative weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub weight: Option<i32>,
}

/// Retries of failed requests.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Number of retries.
    #[schemars(range(min = 0))]
    pub attempts: i32,
    /// Timeout of each try, e.g. `2s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub per_try_timeout: Option<String>,
    /// Conditions that trigger a retry, Envoy syntax (`5xx,reset,connect-failure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_realistic_route_table() {
        let spec: RouteTableSpec = serde_json::from_value(serde_json::json!({
            "hosts": ["reviews.example.com"],
            "virtualGateways": [{"name": "north-south", "namespace": "gateways"}],
            "http": [{
                "name": "v2-canary",
                "matchers": [{"uri": {"prefix": "/api"}, "headers": [{"name": "x-canary", "value": "1"}], "methods": ["GET"]}],
                "forwardTo": {"destinations": [
                    {"name": "reviews-v1", "weight": 90},
                    {"kind": "Service", "name": "reviews-v2", "cluster": "cluster-2", "port": 9080, "weight": 10}
                ]},
                "retries": {"attempts": 3, "perTryTimeout": "2s"},
                "timeout": "10s"
            }]
        }))
        .unwrap();
        let route = &spec.http[0];
        assert_eq!(
            route.matchers[0].uri,
            Some(PathMatch::Prefix("/api".into()))
        );
        assert_eq!(
            route.forward_to.destinations[0].kind,
            DestinationKind::VirtualDestination
        );
        assert_eq!(
            route.forward_to.destinations[1].kind,
            DestinationKind::Service
        );
    }

    #[test]
    fn a_path_match_has_exactly_one_form() {
        let two = serde_json::json!({"prefix": "/a", "exact": "/a"});
        assert!(serde_json::from_value::<PathMatch>(two).is_err());
    }
}
