//! `meshctl check`: diagnostics of an installation (or, with `--pre`, of a cluster before
//! install), grouped by category with hints. The engine and the checks live in `crate::check`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::check::engine::{Plan, RunOptions};
use crate::check::junit::to_junit;
use crate::check::license_source::SecretLicenseSource;
use crate::check::license_verifier::TrustedIssuersVerifier;
use crate::check::plan::{self, LicenseInput, PostInstall, RelayInput};
use crate::check::relay_source::{AdminAddressSource, ServiceProxySource};
use crate::check::{ClusterAccess, Report};
use crate::cli::Context;
use crate::cli::agents::AgentTargets;
use crate::cli::duration::parse_duration;
use crate::cli::license::trust::TrustArgs;
use crate::exit::{ExitKind, Outcome, ResultExt, classify};
use crate::kube::KubeTarget;
use crate::output::OutputFormat;

/// Port of the management server's admin HTTP API (DESIGN.md §2).
pub use crate::cluster::ADMIN_PORT;
/// Pause between two attempts of a retried check.
const RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// Diagnose an installation, or with --pre a cluster before install
///
/// Checks the Kubernetes API and version, the CRDs, the installed Deployments and pods, the
/// license, the relay (every registered cluster connected) and the status of every platform
/// resource, and prints a hint for each problem. Each check is described in
/// docs/troubleshooting.md#<check-id>.
///
/// Examples:
///   meshctl check
///   meshctl check --pre
///   meshctl check --remote-context east --remote-context west
///   meshctl check --wait 0s -o json
///   meshctl check --junit check-report.xml --fail-on-warnings
///   meshctl check -o junit > check-report.xml
///
/// Exit codes: 0 all checks passed (warnings allowed), 1 a check failed (or warned, with
/// --fail-on-warnings), 3 the Kubernetes API server did not answer or refused the credentials.
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Check that the cluster can take an install (API, permissions, version, conflicts, LoadBalancer)
    #[arg(long, conflicts_with_all = ["mgmt_admin_address", "remote_context"])]
    pub pre: bool,

    /// Retry checks that can still become healthy for up to this long (0s: run each check once)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub wait: Duration,

    /// Timeout of each call to an API server, the admin API or DNS
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Exit 1 when a check warns, not only when one fails
    #[arg(long)]
    pub fail_on_warnings: bool,

    /// Reach the management server admin API at HOST:PORT (e.g. a port-forward) instead of
    /// through the Kubernetes API server's service proxy
    #[arg(long, value_name = "HOST:PORT")]
    pub mgmt_admin_address: Option<String>,

    #[command(flatten)]
    pub agents: AgentTargets,

    /// Also write a JUnit XML report to PATH for CI systems ('-': to stdout, instead of the report)
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,

    #[command(flatten)]
    pub trust: TrustArgs,
}

/// A cluster for the checks; a client that cannot be built is reported by the
/// `kubernetes-api` check rather than aborting the run. A kubeconfig file that does not exist is
/// not a finding about a cluster but a mistake in how meshctl was called: an environment error
/// (exit 3) with one message naming the file, when the file was named (`--kubeconfig`,
/// `KUBECONFIG`) or when there is nothing else to check (no `--mgmt-admin-address`).
async fn cluster_access(
    target: &KubeTarget,
    label: String,
    timeout: Duration,
    other_source: bool,
) -> anyhow::Result<ClusterAccess> {
    let client = match target.client().await {
        Ok(client) => Ok(client),
        Err(e)
            if e.is_missing_named_kubeconfig() || (e.is_missing_kubeconfig() && !other_source) =>
        {
            return Err(classify(ExitKind::Environment, e));
        }
        Err(e) => Err(crate::output::error_chain(&e)),
    };
    let access = ClusterAccess::new(label, client, timeout);
    Ok(match target.cluster_url().await {
        Ok(url) => access.with_server(url),
        Err(_) => access,
    })
}

fn build_plan(
    args: &Args,
    ctx: &Context,
    mgmt: Arc<ClusterAccess>,
    remotes: Vec<Arc<ClusterAccess>>,
) -> anyhow::Result<Plan> {
    let namespace = ctx.namespace();
    let plan = if args.pre {
        plan::pre_install(mgmt, namespace)
    } else {
        let relay = match &args.mgmt_admin_address {
            Some(address) => RelayInput {
                source: Arc::new(AdminAddressSource::new(address.clone(), args.timeout)),
                via_kubernetes_api: false,
            },
            None => RelayInput {
                source: Arc::new(ServiceProxySource::new(
                    Arc::clone(&mgmt),
                    namespace,
                    crate::cluster::ADMIN_SERVICE,
                    ADMIN_PORT,
                )),
                via_kubernetes_api: true,
            },
        };
        let verifier = TrustedIssuersVerifier::new(args.trust.load()?);
        let license = LicenseInput {
            source: Arc::new(SecretLicenseSource::new(
                Arc::clone(&mgmt),
                namespace,
                Arc::new(verifier),
            )),
            via_kubernetes_api: true,
        };
        plan::post_install(PostInstall {
            namespace: namespace.to_string(),
            cluster: mgmt,
            relay,
            license: Some(license),
            remotes,
            agent_namespace: args.agents.namespace(namespace),
            now: jiff::Timestamp::now(),
        })
    };
    plan.exit_kind(ExitKind::Internal)
        .context("assembling the checks")
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let mgmt_label = ctx
        .kube()
        .context()
        .map_or_else(|| "current context".to_string(), str::to_string);
    let admin_address = args.mgmt_admin_address.is_some() && !args.pre;
    let mgmt = Arc::new(cluster_access(ctx.kube(), mgmt_label, args.timeout, admin_address).await?);
    let mut remotes = Vec::new();
    for context in &args.agents.remote_context {
        let target = ctx.kube().with_context(Some(context.clone()));
        remotes.push(Arc::new(
            cluster_access(&target, context.clone(), args.timeout, admin_address).await?,
        ));
    }
    let plan = build_plan(&args, ctx, mgmt, remotes)?;

    let printer = ctx.printer();
    let spinner = printer.progress().spinner(format!(
        "running {} checks (waiting up to {} for those that can still pass)",
        plan.len(),
        crate::check::cluster::humanize(args.wait)
    ));
    let run = plan
        .run(RunOptions {
            wait: args.wait,
            retry_interval: RETRY_INTERVAL,
        })
        .await;
    spinner.finish_and_clear();

    let report = Report::new(&run, args.fail_on_warnings);
    let junit_file = args.junit.as_deref().filter(|p| p.as_os_str() != "-");
    let junit_on_stdout = printer.options().format == OutputFormat::Junit
        || args.junit.is_some() && junit_file.is_none();
    if junit_on_stdout {
        printer
            .raw(to_junit(&report, args.fail_on_warnings).as_bytes())
            .context("writing the JUnit report")?;
    } else {
        printer.data(&report).context("writing the check report")?;
    }
    if let Some(path) = junit_file {
        std::fs::write(path, to_junit(&report, args.fail_on_warnings))
            .with_context(|| format!("writing the JUnit report to {}", path.display()))
            .exit_kind(ExitKind::Environment)?;
    }
    if let Some(api) = report.unreachable_api() {
        // The report is out (CI reads it); the exit code says the environment, not the platform,
        // is what failed.
        return Err(classify(
            ExitKind::Environment,
            anyhow::anyhow!("{}", api.message),
        ))
        .context("the Kubernetes API server cannot be used");
    }
    Ok(if report.success {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<super::Args, clap::Error> {
        let mut argv = vec!["meshctl", "check"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Check(a) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.wait, std::time::Duration::from_secs(60));
        assert_eq!(a.timeout, std::time::Duration::from_secs(10));
        assert!(!a.pre && !a.fail_on_warnings);
        let a = parse(&[
            "--wait=0s",
            "--remote-context",
            "east",
            "--remote-context",
            "west",
            "--junit",
            "-",
        ])
        .unwrap();
        assert_eq!(a.wait, std::time::Duration::ZERO);
        assert_eq!(a.agents.remote_context, ["east", "west"]);
        assert!(parse(&["--pre", "--remote-context", "east"]).is_err());
        assert_eq!(
            parse(&["--remote-context", "east", "--agent-namespace", "agents"])
                .unwrap()
                .agents
                .agent_namespace
                .as_deref(),
            Some("agents")
        );
        // Without a remote context there is no agent to look for.
        assert!(parse(&["--agent-namespace", "agents"]).is_err());
        assert!(parse(&["--wait", "soon"]).is_err());
    }
}
