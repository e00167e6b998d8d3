//! Agent-side checks on a workload cluster (`--remote-context`, repeatable; category
//! `agent (<context>)`): `agent-kubernetes-api`, `agent-deployment` (Deployment mesh-agent
//! available), `agent-client-cert` (Secret relay-client-tls-secret holds a certificate that has
//! not expired), `agent-relay-address` (the relay address in the agent's Deployment resolves).

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use x509_parser::extensions::GeneralName;

use super::install::unavailable_reason;
use super::relay::{CERT_WARNING, ago, span};
use super::{AGENT, api_failure};
use crate::check::cluster::{ClusterAccess, humanize};
use crate::check::engine::Check;
use crate::check::model::{CheckSpec, Finding, Severity};

/// Secret the agent writes after bootstrap (DESIGN.md §2).
pub const CLIENT_TLS_SECRET: &str = "relay-client-tls-secret";
/// Flag of `meshctl serve agent` naming the management server's relay address.
pub const RELAY_ADDRESS_FLAG: &str = "--relay-address";
/// Environment variable equivalent of [`RELAY_ADDRESS_FLAG`].
pub const RELAY_ADDRESS_ENV: &str = "MESHCTL_RELAY_ADDRESS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentCheck {
    Deployment,
    ClientCert,
    RelayAddress,
}

pub struct Agent {
    spec: CheckSpec,
    which: AgentCheck,
    cluster: Arc<ClusterAccess>,
    namespace: String,
    now: Timestamp,
}

impl Agent {
    pub fn new(
        which: AgentCheck,
        category: impl Into<String>,
        cluster: Arc<ClusterAccess>,
        namespace: impl Into<String>,
        now: Timestamp,
    ) -> Self {
        let spec = match which {
            AgentCheck::Deployment => CheckSpec::new(
                "agent-deployment",
                category,
                "the agent Deployment is available",
                Severity::Error,
            )
            .retryable(),
            AgentCheck::ClientCert => CheckSpec::new(
                "agent-client-cert",
                category,
                "the agent holds a valid relay client certificate",
                Severity::Error,
            )
            .retryable(),
            AgentCheck::RelayAddress => CheckSpec::new(
                "agent-relay-address",
                category,
                "the agent's relay address resolves",
                Severity::Error,
            ),
        }
        .depends_on(&["agent-kubernetes-api"]);
        Self {
            spec,
            which,
            cluster,
            namespace: namespace.into(),
            now,
        }
    }

    fn context(&self) -> &str {
        self.cluster.label()
    }

    async fn agent_deployment(&self, attempt: u32) -> Result<Option<Deployment>, Finding> {
        let all = self
            .cluster
            .list_namespaced::<Deployment>(&self.namespace, None, attempt)
            .await
            .map_err(|e| api_failure(&e))?;
        Ok(all
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(AGENT))
            .cloned())
    }

    fn missing_agent(&self) -> Finding {
        Finding::fail(
            format!(
                "no Deployment {}/{AGENT} in context {}",
                self.namespace,
                self.context()
            ),
            "register the cluster with `meshctl cluster register NAME --remote-context CONTEXT` (it installs the agent), or pass --agent-namespace with the namespace it was registered into",
        )
    }

    async fn evaluate(&self, attempt: u32) -> Finding {
        match self.which {
            AgentCheck::Deployment => match self.agent_deployment(attempt).await {
                Err(f) => f,
                Ok(None) => self.missing_agent(),
                Ok(Some(d)) => match unavailable_reason(&d) {
                    Some(why) => Finding::fail(
                        format!("Deployment {}/{AGENT}: {why}", self.namespace),
                        format!(
                            "kubectl --context {} -n {} describe deployment {AGENT}; logs: kubectl --context {} -n {} logs deploy/{AGENT}",
                            self.context(),
                            self.namespace,
                            self.context(),
                            self.namespace
                        ),
                    ),
                    None => Finding::pass(format!(
                        "Deployment {}/{AGENT} available",
                        self.namespace
                    )),
                },
            },
            AgentCheck::ClientCert => {
                match self
                    .cluster
                    .get_namespaced::<Secret>(&self.namespace, CLIENT_TLS_SECRET, attempt)
                    .await
                {
                    Err(e) => api_failure(&e),
                    Ok(secret) => client_cert(&self.namespace, secret.as_deref(), self.now),
                }
            }
            AgentCheck::RelayAddress => match self.agent_deployment(attempt).await {
                Err(f) => f,
                Ok(None) => self.missing_agent(),
                Ok(Some(d)) => match relay_address(&d) {
                    None => Finding::fail(
                        format!(
                            "Deployment {}/{AGENT} sets no relay address ({RELAY_ADDRESS_FLAG} argument or {RELAY_ADDRESS_ENV} variable)",
                            self.namespace
                        ),
                        "re-run `meshctl cluster register` so the agent gets the management server's relay address",
                    )
                    .permanent(),
                    Some(address) => resolve(&address, self.cluster.timeout()).await,
                },
            },
        }
    }
}

impl Check for Agent {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
        self.evaluate(attempt).boxed()
    }
}

/// What the certificate in the agent's client TLS Secret says.
pub fn client_cert(namespace: &str, secret: Option<&Secret>, now: Timestamp) -> Finding {
    let object = format!("Secret {namespace}/{CLIENT_TLS_SECRET}");
    let Some(secret) = secret else {
        return Finding::fail(
            format!("{object} does not exist: the agent has not bootstrapped"),
            format!(
                "the agent writes it after exchanging its token (Secret {namespace}/relay-identity-token) for a certificate; check the agent logs, and re-run `meshctl cluster register` if the token expired"
            ),
        );
    };
    let Some(pem) = secret.data.as_ref().and_then(|d| d.get("tls.crt")) else {
        return Finding::fail(
            format!("{object} has no data key tls.crt"),
            format!("delete {object} and restart the agent so it bootstraps again"),
        );
    };
    let parsed = x509_parser::pem::parse_x509_pem(&pem.0)
        .map_err(|e| e.to_string())
        .and_then(|(_, pem)| {
            pem.parse_x509().map_err(|e| e.to_string()).map(|cert| {
                let not_after = cert.validity().not_after.timestamp();
                let identity = cert
                    .subject_alternative_name()
                    .ok()
                    .flatten()
                    .and_then(|san| {
                        san.value.general_names.iter().find_map(|n| match n {
                            GeneralName::URI(uri) => Some(uri.to_string()),
                            _ => None,
                        })
                    });
                (not_after, identity)
            })
        });
    let (not_after, identity) = match parsed {
        Ok(p) => p,
        Err(e) => {
            return Finding::fail(
                format!("{object} data tls.crt is not a PEM certificate: {e}"),
                format!("delete {object} and restart the agent so it bootstraps again"),
            );
        }
    };
    let Ok(not_after) = Timestamp::from_second(not_after) else {
        return Finding::fail(
            format!("{object} data tls.crt has an unreadable expiry"),
            format!("delete {object} and restart the agent so it bootstraps again"),
        );
    };
    let who = identity.map(|i| format!(" for {i}")).unwrap_or_default();
    let left = not_after.duration_since(now);
    let date = not_after.strftime("%Y-%m-%d %H:%M UTC");
    if left <= SignedDuration::ZERO {
        return Finding::fail(
            format!(
                "{object}: certificate{who} expired {} ({date})",
                ago(not_after, now)
            ),
            "the agent could not renew it: check its logs; re-run `meshctl cluster register` to bootstrap it again",
        );
    }
    if left < CERT_WARNING {
        return Finding::warn(
            format!(
                "{object}: certificate{who} expires in {} ({date})",
                span(left)
            ),
            "the agent renews it before expiry over the relay; if it stays close to expiry, check the agent logs",
        );
    }
    Finding::pass(format!("certificate{who} valid until {date}"))
}

/// The relay address from the agent's first container: `--relay-address=X`,
/// `--relay-address X`, or the `MESHCTL_RELAY_ADDRESS` variable.
pub fn relay_address(d: &Deployment) -> Option<String> {
    let containers = d.spec.template.spec.as_ref()?.containers.clone();
    for c in containers {
        let args: Vec<String> = c
            .command
            .unwrap_or_default()
            .into_iter()
            .chain(c.args.unwrap_or_default())
            .collect();
        let prefix = format!("{RELAY_ADDRESS_FLAG}=");
        for (i, arg) in args.iter().enumerate() {
            if let Some(v) = arg.strip_prefix(&prefix) {
                return Some(v.to_string());
            }
            if arg == RELAY_ADDRESS_FLAG
                && let Some(v) = args.get(i + 1)
            {
                return Some(v.clone());
            }
        }
        if let Some(v) = c
            .env
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.name == RELAY_ADDRESS_ENV)
            .and_then(|e| e.value)
        {
            return Some(v);
        }
    }
    None
}

/// Resolves `host:port` from this machine (the agent resolves from its pod; a name only the
/// cluster's DNS knows is reported as such).
pub async fn resolve(address: &str, timeout: Duration) -> Finding {
    let Some((host, port)) = address.rsplit_once(':') else {
        return Finding::fail(
            format!("relay address {address:?} is not HOST:PORT"),
            "re-run `meshctl cluster register` with a relay address of the form host:port",
        )
        .permanent();
    };
    if port.parse::<u16>().is_err() {
        return Finding::fail(
            format!("relay address {address:?} has an invalid port"),
            "re-run `meshctl cluster register` with a relay address of the form host:port",
        )
        .permanent();
    }
    match tokio::time::timeout(timeout, tokio::net::lookup_host(address)).await {
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(a) => Finding::pass(format!("relay address {address} resolves ({})", a.ip())),
            None => Finding::fail(
                format!("relay address {address}: {host} has no address"),
                "publish a DNS record for the management server's relay Service, or register with its IP",
            ),
        },
        Ok(Err(e)) => Finding::fail(
            format!("relay address {address}: cannot resolve {host}: {e}"),
            format!(
                "resolved from this machine: if {host} is a cluster-internal name the agent may still resolve it; otherwise publish a DNS record for the relay Service (kubectl -n mesh-system get svc mesh-mgmt-server) or register with its IP"
            ),
        ),
        Err(_) => Finding::fail(
            format!(
                "relay address {address}: resolving {host} took over {}",
                humanize(timeout)
            ),
            "check DNS from this machine and from the workload cluster",
        ),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use serde_json::json;

    use super::*;
    use crate::check::model::Verdict;
    use crate::check::testing::{MockApi, list, status};

    fn now() -> Timestamp {
        "2026-11-22T05:00:00Z".parse().unwrap()
    }

    fn cert_pem(not_after: (i32, u8, u8)) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.not_before = rcgen::date_time_ymd(2026, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        params.subject_alt_names.push(rcgen::SanType::URI(
            "spiffe://meshctl/cluster/east".try_into().unwrap(),
        ));
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    fn secret(pem: &str) -> Secret {
        Secret {
            data: Some([("tls.crt".to_string(), ByteString(pem.as_bytes().to_vec()))].into()),
            ..Default::default()
        }
    }

    #[test]
    fn certificates() {
        let f = client_cert("mesh-system", Some(&secret(&cert_pem((2027, 1, 1)))), now());
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        assert_eq!(
            f.message,
            "certificate for spiffe://meshctl/cluster/east valid until 2027-01-01 00:00 UTC"
        );
        let f = client_cert(
            "mesh-system",
            Some(&secret(&cert_pem((2026, 11, 1)))),
            now(),
        );
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.message.contains("expired 21d ago"), "{}", f.message);
        let f = client_cert(
            "mesh-system",
            Some(&secret(&cert_pem((2026, 11, 23)))),
            now(),
        );
        assert_eq!(f.verdict, Verdict::Warn);
        let f = client_cert("mesh-system", None, now());
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.message.contains("has not bootstrapped"));
        let f = client_cert("mesh-system", Some(&secret("garbage")), now());
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.message.contains("not a PEM certificate"), "{}", f.message);
    }

    fn agent(args: serde_json::Value, env: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "mesh-agent", "namespace": "mesh-system", "generation": 1},
            "spec": {"replicas": 1, "selector": {}, "template": {"spec": {"containers": [
                {"name": "agent", "image": "x", "args": args, "env": env}]}}},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}})
    }

    #[test]
    fn relay_address_from_args_or_env() {
        let d = |v| serde_json::from_value::<Deployment>(v).unwrap();
        let a = d(agent(
            json!(["serve", "agent", "--relay-address=mgmt.example:9900"]),
            json!([]),
        ));
        assert_eq!(relay_address(&a).as_deref(), Some("mgmt.example:9900"));
        let a = d(agent(
            json!(["serve", "agent", "--relay-address", "10.0.0.1:9900"]),
            json!([]),
        ));
        assert_eq!(relay_address(&a).as_deref(), Some("10.0.0.1:9900"));
        let a = d(agent(
            json!([]),
            json!([{"name": "MESHCTL_RELAY_ADDRESS", "value": "h:1"}]),
        ));
        assert_eq!(relay_address(&a).as_deref(), Some("h:1"));
        let a = d(agent(json!(["serve", "agent"]), json!([])));
        assert_eq!(relay_address(&a), None);
    }

    #[tokio::test]
    async fn resolution() {
        let f = resolve("127.0.0.1:9900", Duration::from_secs(5)).await;
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        let f = resolve("no-port", Duration::from_secs(5)).await;
        assert_eq!(f.verdict, Verdict::Fail);
        let f = resolve("host:99999", Duration::from_secs(5)).await;
        assert_eq!(f.verdict, Verdict::Fail);
    }

    #[tokio::test]
    async fn agent_checks_over_the_api() {
        let pem = cert_pem((2027, 1, 1));
        let api = MockApi::start(move |method, path, _| {
            assert_eq!(method, "GET");
            match path {
                "/apis/apps/v1/namespaces/mesh-system/deployments" => (
                    200,
                    list(
                        "DeploymentList",
                        vec![agent(json!(["--relay-address=127.0.0.1:9900"]), json!([]))],
                    ),
                ),
                "/api/v1/namespaces/mesh-system/secrets/relay-client-tls-secret" => {
                    use base64::Engine as _;
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&pem);
                    (
                        200,
                        json!({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "relay-client-tls-secret"}, "data": {"tls.crt": b64}}),
                    )
                }
                other => (404, status(404, "NotFound", other)),
            }
        });
        let cluster = Arc::new(api.cluster());
        for which in [
            AgentCheck::Deployment,
            AgentCheck::ClientCert,
            AgentCheck::RelayAddress,
        ] {
            let f = Agent::new(
                which,
                "agent (east)",
                Arc::clone(&cluster),
                "mesh-system",
                now(),
            )
            .run(0)
            .await;
            assert_eq!(f.verdict, Verdict::Pass, "{which:?}: {f:?}");
        }
        // Deployments listed once for two checks, plus the Secret.
        assert_eq!(api.requests().len(), 2, "{:?}", api.requests());
    }

    #[tokio::test]
    async fn missing_agent_fails() {
        let api = MockApi::start(|_, path, _| {
            if path.ends_with("/deployments") {
                (200, list("DeploymentList", vec![]))
            } else {
                (404, status(404, "NotFound", "not found"))
            }
        });
        let cluster = Arc::new(api.cluster());
        let f = Agent::new(
            AgentCheck::Deployment,
            "a",
            Arc::clone(&cluster),
            "mesh-system",
            now(),
        )
        .run(0)
        .await;
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "no Deployment mesh-system/mesh-agent in context test"
        );
        let f = Agent::new(AgentCheck::ClientCert, "a", cluster, "mesh-system", now())
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Fail);
    }
}
