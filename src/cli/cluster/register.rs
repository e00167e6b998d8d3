//! `meshctl cluster register NAME`: joins a workload cluster, verified end to end.

use std::time::Duration;

use crate::cli::Context;
use crate::cli::duration::parse_duration;
use crate::cli::release::{ValuesArgs, values_input};
use crate::cluster::plan::Registration;
use crate::cluster::preflight::{self, same_cluster};
use crate::cluster::token::TokenAction;
use crate::cluster::wait::{Step, Target};
use crate::cluster::{
    self, AGENT_COMPONENT, ClusterError, REGISTRATION_COMPONENT, Side, registration_labels,
    relay_address, remote, token,
};
use crate::exit::Outcome;
use crate::kube::apply::{Applied, ApplyAction};
use crate::relay::identity::validate_cluster_name;

use super::{ContextArgs, admin_source, connect, fail, resolve_contexts};

/// Register a workload cluster: token, root CA and agent on the remote, KubernetesCluster on the
/// management cluster; then wait until the agent is connected
///
/// Pre-flight checks both clusters (reachable, server installed, name free, this cluster not
/// registered under another name, permissions) before anything is written. The relay address
/// agents dial comes from --relay-address, else from the mesh-mgmt-server Service. The agent
/// manifests are rendered at the management server's version; -f/--set/--set-string change
/// them like install's (e.g. --set namespace=NS for the agent namespace). Re-running is safe.
///
/// Examples:
///   meshctl cluster register east --mgmt-context mgmt --remote-context east
///   meshctl cluster register east --remote-context east --relay-address relay.example.com:9900
///   meshctl cluster register mgmt-cluster --self --wait=false -o json
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Name of the workload cluster (a DNS label): its relay identity
    pub name: String,

    #[command(flatten)]
    pub contexts: ContextArgs,

    /// HOST:PORT of the relay as reachable from the workload cluster [default: discovered from the
    /// mesh-mgmt-server Service]
    #[arg(long, value_name = "HOST:PORT")]
    pub relay_address: Option<String>,

    /// Allow the workload cluster to be the management cluster itself (single-cluster setups)
    #[arg(long = "self")]
    pub self_: bool,

    /// Wait until the server reports the cluster connected (--wait=false to return after writing)
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub wait: bool,

    /// How long to wait for the connection, e.g. 90s, 5m
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Read the server's relay view at HOST:PORT (e.g. a port-forward to its admin port) instead of
    /// through the Kubernetes API server's service proxy
    #[arg(long, value_name = "HOST:PORT")]
    pub mgmt_admin_address: Option<String>,

    #[command(flatten)]
    pub values: ValuesArgs,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    validate_cluster_name(&args.name).map_err(|e| fail(e.into()))?;
    if let Some(address) = &args.relay_address {
        relay_address::from_flag(address).map_err(fail)?;
    }
    let printer = ctx.printer();
    let namespace = ctx.namespace().to_owned();
    let name = args.name.clone();
    let progress = printer.progress();
    resolve_contexts(
        ctx,
        &[
            args.contexts.mgmt_context.clone(),
            args.contexts.remote_context.clone(),
        ],
    )
    .await?;
    let spinner = progress.spinner("pre-flight: connecting to both clusters");
    let mgmt = connect(ctx, args.contexts.mgmt_context.clone(), Side::Mgmt).await?;
    let remote_c = connect(ctx, args.contexts.remote_context.clone(), Side::Remote).await?;
    let is_self = same_cluster(&mgmt.identity, &remote_c.identity);
    if let Some(evidence) = is_self
        && !args.self_
    {
        return Err(fail(ClusterError::SameCluster {
            mgmt: mgmt.cluster.context.clone(),
            remote: remote_c.cluster.context.clone(),
            evidence: evidence.to_owned(),
        }));
    }
    let (mgmt_c, remote_cl) = (mgmt.cluster, remote_c.cluster);
    spinner.set_message("pre-flight: management server");
    let server = preflight::server(&mgmt_c, &namespace).await.map_err(fail)?;
    if !server.readiness.ready {
        printer.warn(format!(
            "the management server Deployment {namespace}/mesh-mgmt-server is not available ({}); agents cannot connect until it is",
            server.readiness.reason
        ));
    }
    let ca_pem = preflight::root_ca(&mgmt_c, &namespace)
        .await
        .map_err(fail)?;
    spinner.set_message("pre-flight: relay address");
    let relay = match &args.relay_address {
        Some(address) => relay_address::from_flag(address).map_err(fail)?,
        None => relay_address::discover(&mgmt_c, &namespace, is_self.is_some())
            .await
            .map_err(fail)?,
    };
    for warning in &relay.warnings {
        printer.warn(warning);
    }
    let input = values_input(&args.values, &namespace)?;
    let documents =
        remote::render_agent(&input, &name, &relay.address, &server).map_err(|e| fail(e.into()))?;
    let agent_namespace = remote::agent_namespace(&documents).unwrap_or_else(|| namespace.clone());
    let copy_ca = !(is_self.is_some() && agent_namespace == namespace);
    spinner.set_message("pre-flight: permissions and existing registrations");
    preflight::check_access(&mgmt_c, &preflight::mgmt_access(&namespace))
        .await
        .map_err(fail)?;
    preflight::check_access(&remote_cl, &preflight::remote_access(&agent_namespace))
        .await
        .map_err(fail)?;
    preflight::name_free(&mgmt_c, &namespace, &name, &remote_c.identity)
        .await
        .map_err(fail)?;
    preflight::not_registered_as_other(&remote_cl, &agent_namespace, &name)
        .await
        .map_err(fail)?;
    let state = remote::inspect(&remote_cl, &documents, &agent_namespace, copy_ca)
        .await
        .map_err(fail)?;
    if !state.unmanaged.is_empty() {
        return Err(fail(ClusterError::NotManaged {
            side: Side::Remote,
            objects: state.unmanaged,
        }));
    }
    let has_cert = remote::has_client_certificate(&remote_cl, &agent_namespace, &name)
        .await
        .map_err(fail)?;

    let version = server
        .version
        .clone()
        .unwrap_or_else(|| crate::version::VERSION.to_owned());
    let mgmt_labels = registration_labels(&name, REGISTRATION_COMPONENT, &version);
    let remote_labels = registration_labels(&name, AGENT_COMPONENT, &version);
    spinner.set_message("writing the token and the KubernetesCluster");
    let ensured = token::ensure(&mgmt_c, &namespace, &name, &mgmt_labels, has_cert)
        .await
        .map_err(fail)?;
    let mut summary = Registration {
        name: name.clone(),
        mgmt_namespace: namespace.clone(),
        agent_namespace: agent_namespace.clone(),
        relay_address: relay.clone(),
        server_version: server.version.clone(),
        token: ensured.action,
        objects: Vec::new(),
        connected: None,
    };
    summary.add(
        Side::Mgmt,
        [Applied {
            kind: "Secret".into(),
            namespace: Some(namespace.clone()),
            name: cluster::token_secret_name(&name),
            component: REGISTRATION_COMPONENT.into(),
            action: match ensured.action {
                TokenAction::Created => ApplyAction::Created,
                TokenAction::Reissued => ApplyAction::Configured,
                TokenAction::Reused | TokenAction::AlreadyUsed => ApplyAction::Unchanged,
            },
        }],
    );
    let kc = cluster::record::apply(
        &mgmt_c,
        &namespace,
        &name,
        &mgmt_labels,
        &remote_c.identity.id(),
        &agent_namespace,
    )
    .await
    .map_err(fail)?;
    summary.add(Side::Mgmt, [kc]);
    spinner.set_message("writing the root CA, the token and the agent to the workload cluster");
    if !state.namespace_exists {
        let ns_docs: Vec<_> = documents
            .iter()
            .filter(|d| d.kind == "Namespace")
            .cloned()
            .collect();
        let applied = remote::apply_agent(&remote_cl, &ns_docs, &state, &|_| {})
            .await
            .map_err(fail)?;
        summary.add(Side::Remote, applied);
    }
    let secrets = remote::copy_secrets(
        &remote_cl,
        &agent_namespace,
        copy_ca.then_some(ca_pem.as_str()),
        &ensured.token,
        &remote_labels,
    )
    .await
    .map_err(fail)?;
    summary.add(Side::Remote, secrets);
    let rest: Vec<_> = documents
        .iter()
        .filter(|d| d.kind != "Namespace")
        .cloned()
        .collect();
    let applied = remote::apply_agent(&remote_cl, &rest, &state, &|_| {})
        .await
        .map_err(fail)?;
    summary.add(Side::Remote, applied);
    spinner.finish_and_clear();

    if args.wait {
        let target = Target {
            mgmt: mgmt_c.clone(),
            remote: remote_cl.clone(),
            mgmt_namespace: namespace.clone(),
            agent_namespace: agent_namespace.clone(),
            cluster: name.clone(),
            relay_address: relay.address.clone(),
            admin: Some(admin_source(
                &mgmt_c,
                &namespace,
                args.mgmt_admin_address.as_deref(),
            )),
        };
        let waiting = printer.progress();
        let spinner = waiting.spinner("waiting for the agent");
        // Without a terminal the spinner is hidden: each new step becomes a line on stderr instead.
        let on_step = |step: &Step| {
            let text = match step {
                Step::Done => "connected, snapshot received".to_owned(),
                Step::Waiting { step, message } => format!("waiting ({step}): {message}"),
            };
            if !waiting.is_enabled() {
                printer.note(&text);
            }
            spinner.set_message(text);
        };
        let result = cluster::wait::until_connected(&target, args.timeout, &on_step).await;
        spinner.finish_and_clear();
        match result {
            Ok(_) => summary.connected = Some(true),
            Err(err) => {
                summary.connected = Some(false);
                printer.data(&summary)?;
                return Err(fail(err));
            }
        }
    }
    printer.data(&summary)?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::cluster::Command as ClusterCommand;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<super::Args, clap::Error> {
        let mut argv = vec!["meshctl", "cluster", "register"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Cluster(ClusterCommand::Register(a)) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_and_defaults() {
        let a = parse(&["east"]).unwrap();
        assert!(a.wait && !a.self_);
        assert_eq!(a.timeout, std::time::Duration::from_secs(120));
        let a = parse(&[
            "east",
            "--wait=false",
            "--self",
            "--timeout",
            "30s",
            "--set",
            "namespace=agents",
            "--remote-context",
            "r",
        ])
        .unwrap();
        assert!(!a.wait && a.self_);
        assert_eq!(a.values.set, ["namespace=agents"]);
        assert_eq!(a.contexts.remote_context.as_deref(), Some("r"));
        assert!(parse(&[]).is_err());
        assert!(parse(&["east", "--timeout", "soon"]).is_err());
    }
}
