//! Runs checks: categories concurrently, checks inside a category in order, dependants of a
//! fatal failure skipped, retryable failures retried until `--wait` runs out.

use std::time::Duration;

use futures::future::{BoxFuture, join_all};
use tokio::sync::watch;
use tokio::time::Instant;

use super::model::{CheckRecord, CheckResult, CheckSpec, Finding, Severity, Verdict};

/// One diagnostic. `run` is called once per attempt (0, 1, ...); data it reads through the
/// shared caches is fetched again only for a later attempt.
pub trait Check: Send + Sync {
    fn spec(&self) -> &CheckSpec;
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding>;
}

/// How a run waits for checks that can become healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Retry failing retryable checks until this much time has passed since the run started.
    pub wait: Duration,
    /// Pause between two attempts of one check.
    pub retry_interval: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(60),
            retry_interval: Duration::from_secs(2),
        }
    }
}

/// A set of checks that cannot be run as declared (a bug in how the plan was assembled).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("check '{id}' appears twice in category '{category}'")]
    Duplicate { category: String, id: &'static str },
    #[error("check '{id}' depends on '{dependency}', which is not part of this run")]
    UnknownDependency {
        id: &'static str,
        dependency: &'static str,
    },
    #[error(
        "check '{id}' depends on '{dependency}', which exists in several categories and not in its own"
    )]
    AmbiguousDependency {
        id: &'static str,
        dependency: &'static str,
    },
    #[error(
        "check '{id}' depends on '{dependency}', which comes after it in category '{category}'"
    )]
    LaterInCategory {
        category: String,
        id: &'static str,
        dependency: &'static str,
    },
    #[error(
        "check '{id}' would wait for itself (through its dependencies and the order of its category)"
    )]
    Cycle { id: &'static str },
}

/// Checks with their dependencies resolved, grouped by category in first-seen order.
pub struct Plan {
    checks: Vec<Box<dyn Check>>,
    dependencies: Vec<Vec<usize>>,
    /// Per check, the checks whose failure ends its retries (`CheckSpec::retry_while`).
    retry_gates: Vec<Vec<usize>>,
    categories: Vec<(String, Vec<usize>)>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.checks.iter().map(|c| c.spec().id).collect();
        f.debug_struct("Plan")
            .field("checks", &ids)
            .finish_non_exhaustive()
    }
}

impl Plan {
    pub fn new(checks: Vec<Box<dyn Check>>) -> Result<Self, PlanError> {
        let mut categories: Vec<(String, Vec<usize>)> = Vec::new();
        for (index, check) in checks.iter().enumerate() {
            let spec = check.spec();
            let position = match categories.iter().position(|(n, _)| *n == spec.category) {
                Some(p) => p,
                None => {
                    categories.push((spec.category.clone(), Vec::new()));
                    categories.len() - 1
                }
            };
            let members = &mut categories[position].1;
            if members.iter().any(|&m| checks[m].spec().id == spec.id) {
                return Err(PlanError::Duplicate {
                    category: spec.category.clone(),
                    id: spec.id,
                });
            }
            members.push(index);
        }
        let mut dependencies = Vec::with_capacity(checks.len());
        for (index, check) in checks.iter().enumerate() {
            let spec = check.spec();
            let mut resolved = Vec::new();
            for &dependency in &spec.depends_on {
                resolved.push(resolve(&checks, index, dependency)?);
            }
            dependencies.push(resolved);
        }
        let mut retry_gates = Vec::with_capacity(checks.len());
        for (index, check) in checks.iter().enumerate() {
            let mut resolved = Vec::new();
            for &gate in &check.spec().retry_while {
                match resolve(&checks, index, gate) {
                    Ok(found) => resolved.push(found),
                    // A gate that is not part of this run (e.g. a plan without `install`) gates
                    // nothing.
                    Err(PlanError::UnknownDependency { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            retry_gates.push(resolved);
        }
        // A check also waits for the one before it in its category, and before a retry for its
        // gates to settle: a cycle through those edges would deadlock the run just as well.
        let mut waits_for = dependencies.clone();
        for (index, gates) in retry_gates.iter().enumerate() {
            waits_for[index].extend(gates);
        }
        for (_, members) in &categories {
            for pair in members.windows(2) {
                waits_for[pair[1]].push(pair[0]);
            }
        }
        find_cycle(&checks, &waits_for)?;
        Ok(Self {
            checks,
            dependencies,
            retry_gates,
            categories,
        })
    }

    pub fn len(&self) -> usize {
        self.checks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// The ids of the checks, in plan order.
    pub fn ids(&self) -> Vec<&'static str> {
        self.checks.iter().map(|c| c.spec().id).collect()
    }

    /// Runs every check and returns the records grouped by category, in plan order.
    pub async fn run(&self, options: RunOptions) -> RunResult {
        let started = Instant::now();
        let deadline = started + options.wait;
        let (senders, receivers): (Vec<_>, Vec<_>) = self
            .checks
            .iter()
            .map(|_| watch::channel(None::<Settled>))
            .unzip();
        let categories = join_all(self.categories.iter().map(|(name, members)| {
            let senders = &senders;
            let receivers = &receivers;
            async move {
                let mut records = Vec::with_capacity(members.len());
                for &index in members {
                    let (record, settled) = self.run_one(index, receivers, deadline, options).await;
                    senders[index].send_replace(Some(settled));
                    records.push(record);
                }
                (name.clone(), records)
            }
        }))
        .await;
        RunResult {
            categories,
            duration: started.elapsed(),
        }
    }

    async fn run_one(
        &self,
        index: usize,
        receivers: &[watch::Receiver<Option<Settled>>],
        deadline: Instant,
        options: RunOptions,
    ) -> (CheckRecord, Settled) {
        let check = &self.checks[index];
        let spec = check.spec().clone();
        for &dependency in &self.dependencies[index] {
            let mut receiver = receivers[dependency].clone();
            let outcome = receiver
                .wait_for(Option::is_some)
                .await
                .map(|r| *r)
                .ok()
                .flatten();
            let dependency_spec = self.checks[dependency].spec();
            let root = match outcome {
                Some(Settled::Skipped { root }) => Some(root),
                Some(Settled::Ran(CheckResult::Failed))
                    if dependency_spec.severity == Severity::Fatal =>
                {
                    Some(dependency)
                }
                Some(Settled::Ran(_)) => None,
                None => Some(dependency),
            };
            if let Some(root) = root {
                let root_spec = self.checks[root].spec();
                let record = CheckRecord {
                    message: format!("skipped because {} failed", root_spec.id),
                    hint: Some(format!(
                        "fix {} first (see {})",
                        root_spec.id,
                        root_spec.docs()
                    )),
                    spec,
                    result: CheckResult::Skipped,
                    duration: Duration::ZERO,
                    attempts: 0,
                };
                return (record, Settled::Skipped { root });
            }
        }
        let started = Instant::now();
        let mut attempt = 0;
        let finding = loop {
            let finding = check.run(attempt).await;
            attempt += 1;
            let now = Instant::now();
            if finding.verdict != Verdict::Fail
                || finding.permanent
                || !spec.retryable
                || now >= deadline
                || self.gate_failed(index, receivers, deadline).await
            {
                break finding;
            }
            let now = Instant::now();
            if now >= deadline {
                break finding;
            }
            tracing::debug!(check = spec.id, attempt, message = %finding.message, "retrying");
            tokio::time::sleep(options.retry_interval.min(deadline - now)).await;
        };
        let result = CheckResult::from_finding(finding.verdict, spec.severity);
        let record = CheckRecord {
            result,
            message: finding.message,
            hint: finding.hint,
            spec,
            duration: started.elapsed(),
            attempts: attempt,
        };
        (record, Settled::Ran(result))
    }

    /// Whether one of the retry gates of check `index` failed or was skipped, so that waiting
    /// cannot make it pass. Waits (until `deadline`) for the gates to settle first.
    async fn gate_failed(
        &self,
        index: usize,
        receivers: &[watch::Receiver<Option<Settled>>],
        deadline: Instant,
    ) -> bool {
        for &gate in &self.retry_gates[index] {
            let mut receiver = receivers[gate].clone();
            let settled =
                tokio::time::timeout_at(deadline, receiver.wait_for(Option::is_some)).await;
            let outcome = match settled {
                Ok(Ok(r)) => *r,
                // The wait ran out (the caller stops retrying anyway) or the run is over.
                Ok(Err(_)) | Err(_) => return false,
            };
            if matches!(
                outcome,
                Some(Settled::Ran(CheckResult::Failed) | Settled::Skipped { .. })
            ) {
                let gate_id = self.checks[gate].spec().id;
                tracing::debug!(
                    check = self.checks[index].spec().id,
                    gate = gate_id,
                    "not retrying: {gate_id} failed"
                );
                return true;
            }
        }
        false
    }
}

/// How a check ended, as its dependants see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Ran(CheckResult),
    /// Skipped; `root` is the index of the fatal check whose failure caused it.
    Skipped {
        root: usize,
    },
}

/// Records of a run, grouped by category.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub categories: Vec<(String, Vec<CheckRecord>)>,
    pub duration: Duration,
}

fn resolve(
    checks: &[Box<dyn Check>],
    index: usize,
    dependency: &'static str,
) -> Result<usize, PlanError> {
    let spec = checks[index].spec();
    let same_category = checks
        .iter()
        .position(|c| c.spec().id == dependency && c.spec().category == spec.category);
    if let Some(found) = same_category {
        if found > index {
            return Err(PlanError::LaterInCategory {
                category: spec.category.clone(),
                id: spec.id,
                dependency,
            });
        }
        if found == index {
            return Err(PlanError::Cycle { id: spec.id });
        }
        return Ok(found);
    }
    let mut matches = checks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.spec().id == dependency);
    match (matches.next(), matches.next()) {
        (Some((found, _)), None) => Ok(found),
        (None, _) => Err(PlanError::UnknownDependency {
            id: spec.id,
            dependency,
        }),
        (Some(_), Some(_)) => Err(PlanError::AmbiguousDependency {
            id: spec.id,
            dependency,
        }),
    }
}

fn find_cycle(checks: &[Box<dyn Check>], dependencies: &[Vec<usize>]) -> Result<(), PlanError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(node: usize, dependencies: &[Vec<usize>], marks: &mut [Mark]) -> Result<(), usize> {
        match marks[node] {
            Mark::Done => return Ok(()),
            Mark::Active => return Err(node),
            Mark::New => {}
        }
        marks[node] = Mark::Active;
        for &next in &dependencies[node] {
            visit(next, dependencies, marks)?;
        }
        marks[node] = Mark::Done;
        Ok(())
    }
    let mut marks = vec![Mark::New; checks.len()];
    for node in 0..checks.len() {
        visit(node, dependencies, &mut marks).map_err(|n| PlanError::Cycle {
            id: checks[n].spec().id,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use futures::FutureExt;

    use super::*;

    /// A scripted check: sleeps, then returns the next finding of its script (the last one repeats).
    struct Scripted {
        spec: CheckSpec,
        sleep: Duration,
        script: Vec<Finding>,
        calls: Arc<AtomicU32>,
        log: Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl Check for Scripted {
        fn spec(&self) -> &CheckSpec {
            &self.spec
        }
        fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
            async move {
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("start {}", self.spec.id));
                tokio::time::sleep(self.sleep).await;
                self.calls.fetch_add(1, Ordering::SeqCst);
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("end {}", self.spec.id));
                let i = (attempt as usize).min(self.script.len() - 1);
                self.script[i].clone()
            }
            .boxed()
        }
    }

    struct Builder {
        log: Arc<std::sync::Mutex<Vec<String>>>,
        checks: Vec<Box<dyn Check>>,
        calls: Vec<(&'static str, Arc<AtomicU32>)>,
    }

    impl Builder {
        fn new() -> Self {
            Self {
                log: Arc::default(),
                checks: Vec::new(),
                calls: Vec::new(),
            }
        }
        fn add(&mut self, spec: CheckSpec, sleep_s: u64, script: Vec<Finding>) -> &mut Self {
            let calls = Arc::new(AtomicU32::new(0));
            self.calls.push((spec.id, Arc::clone(&calls)));
            self.checks.push(Box::new(Scripted {
                spec,
                sleep: Duration::from_secs(sleep_s),
                script,
                calls,
                log: Arc::clone(&self.log),
            }));
            self
        }
        fn calls(&self, id: &str) -> u32 {
            self.calls
                .iter()
                .find(|(i, _)| *i == id)
                .unwrap()
                .1
                .load(Ordering::SeqCst)
        }
        fn plan(&mut self) -> Plan {
            Plan::new(std::mem::take(&mut self.checks)).unwrap()
        }
    }

    fn spec(id: &'static str, category: &str, severity: Severity) -> CheckSpec {
        CheckSpec::new(id, category, "test check", severity)
    }

    fn result_of(run: &RunResult, id: &str) -> CheckRecord {
        run.categories
            .iter()
            .flat_map(|(_, r)| r)
            .find(|r| r.spec.id == id)
            .unwrap()
            .clone()
    }

    fn no_wait() -> RunOptions {
        RunOptions {
            wait: Duration::ZERO,
            retry_interval: Duration::from_secs(2),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn categories_run_concurrently_and_checks_in_order() {
        let mut b = Builder::new();
        b.add(
            spec("a1", "a", Severity::Error),
            10,
            vec![Finding::pass("ok")],
        )
        .add(
            spec("a2", "a", Severity::Error),
            10,
            vec![Finding::pass("ok")],
        )
        .add(
            spec("b1", "b", Severity::Error),
            10,
            vec![Finding::pass("ok")],
        );
        let plan = b.plan();
        let run = plan.run(no_wait()).await;
        // a1 then a2 in sequence (20 s), b1 alongside (10 s): 20 s of (paused) tokio time.
        assert_eq!(run.duration, Duration::from_secs(20));
        let log = b.log.lock().unwrap().clone();
        let pos = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(pos("end a1") < pos("start a2"), "{log:?}");
        assert!(pos("start b1") < pos("end a1"), "{log:?}");
        let names: Vec<&str> = run.categories.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_failure_skips_dependants_across_categories_transitively() {
        let mut b = Builder::new();
        b.add(
            spec("api", "api", Severity::Fatal),
            1,
            vec![Finding::fail("unreachable", "fix it")],
        )
        .add(
            spec("crds", "crds", Severity::Error).depends_on(&["api"]),
            0,
            vec![Finding::pass("ok")],
        )
        .add(
            spec("config", "crds", Severity::Error).depends_on(&["crds"]),
            0,
            vec![Finding::pass("ok")],
        )
        .add(
            spec("other", "other", Severity::Error),
            0,
            vec![Finding::pass("ok")],
        );
        let plan = b.plan();
        let run = plan.run(no_wait()).await;
        assert_eq!(result_of(&run, "api").result, CheckResult::Failed);
        let crds = result_of(&run, "crds");
        assert_eq!(crds.result, CheckResult::Skipped);
        assert_eq!(crds.message, "skipped because api failed");
        assert_eq!(crds.attempts, 0);
        let config = result_of(&run, "config");
        assert_eq!(config.result, CheckResult::Skipped);
        assert_eq!(config.message, "skipped because api failed");
        assert_eq!(
            config.hint.as_deref(),
            Some("fix api first (see docs/troubleshooting.md#api)")
        );
        assert_eq!(result_of(&run, "other").result, CheckResult::Passed);
        assert_eq!(b.calls("crds"), 0);
        assert_eq!(b.calls("config"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_non_fatal_failure_does_not_skip_dependants() {
        let mut b = Builder::new();
        b.add(
            spec("crds", "c", Severity::Error),
            0,
            vec![Finding::fail("missing", "install")],
        )
        .add(
            spec("config", "c", Severity::Error).depends_on(&["crds"]),
            0,
            vec![Finding::pass("ok")],
        );
        let run = b.plan().run(no_wait()).await;
        assert_eq!(result_of(&run, "config").result, CheckResult::Passed);
    }

    #[tokio::test(start_paused = true)]
    async fn retryable_checks_are_retried_until_they_pass() {
        let mut b = Builder::new();
        let fail = Finding::fail("not ready", "wait");
        b.add(
            spec("deploy", "install", Severity::Error).retryable(),
            0,
            vec![fail.clone(), fail.clone(), Finding::pass("ready")],
        );
        let plan = b.plan();
        let options = RunOptions {
            wait: Duration::from_secs(60),
            retry_interval: Duration::from_secs(2),
        };
        let run = plan.run(options).await;
        let record = result_of(&run, "deploy");
        assert_eq!(record.result, CheckResult::Passed);
        assert_eq!(record.attempts, 3);
        assert_eq!(run.duration, Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_when_the_wait_runs_out() {
        let mut b = Builder::new();
        b.add(
            spec("deploy", "install", Severity::Error).retryable(),
            1,
            vec![Finding::fail("not ready", "wait")],
        );
        let plan = b.plan();
        let options = RunOptions {
            wait: Duration::from_secs(10),
            retry_interval: Duration::from_secs(3),
        };
        let run = plan.run(options).await;
        let record = result_of(&run, "deploy");
        assert_eq!(record.result, CheckResult::Failed);
        // Runs at 0, 4, 8 (each takes 1 s): the third ends at 9 s, then a last 1 s pause
        // (what is left of the wait) and a fourth run ending at 11 s.
        assert_eq!(record.attempts, 4);
        assert_eq!(run.duration, Duration::from_secs(11));
    }

    #[tokio::test(start_paused = true)]
    async fn non_retryable_and_zero_wait_run_once() {
        let mut b = Builder::new();
        b.add(
            spec("once", "x", Severity::Error),
            0,
            vec![Finding::fail("bad", "fix")],
        )
        .add(
            spec("retry", "y", Severity::Error).retryable(),
            0,
            vec![Finding::fail("bad", "fix")],
        );
        let plan = b.plan();
        let run = plan
            .run(RunOptions {
                wait: Duration::from_secs(30),
                retry_interval: Duration::from_secs(1),
            })
            .await;
        assert_eq!(result_of(&run, "once").attempts, 1);
        assert!(result_of(&run, "retry").attempts > 1);
        let mut b = Builder::new();
        b.add(
            spec("retry", "y", Severity::Error).retryable(),
            0,
            vec![Finding::fail("bad", "fix")],
        );
        let run = b.plan().run(no_wait()).await;
        assert_eq!(result_of(&run, "retry").attempts, 1);
        let mut b = Builder::new();
        b.add(
            spec("retry", "y", Severity::Error).retryable(),
            0,
            vec![Finding::fail("no credentials", "fix").permanent()],
        );
        let run = b
            .plan()
            .run(RunOptions {
                wait: Duration::from_secs(30),
                retry_interval: Duration::from_secs(1),
            })
            .await;
        assert_eq!(result_of(&run, "retry").attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_retry_gate_makes_a_failure_final() {
        let mut b = Builder::new();
        let fail = Finding::fail("not there", "install it");
        b.add(
            spec("install", "install", Severity::Fatal),
            1,
            vec![Finding::fail("nothing installed", "meshctl install")],
        )
        .add(
            spec("crds", "crds", Severity::Error)
                .retryable()
                .retry_while(&["install"]),
            0,
            vec![fail.clone(), Finding::pass("appeared")],
        )
        .add(
            spec("api", "api", Severity::Fatal),
            0,
            vec![Finding::pass("ok")],
        )
        .add(
            spec("deploy", "deploy", Severity::Error)
                .retryable()
                .retry_while(&["api", "not-in-this-run"]),
            0,
            vec![fail.clone(), fail, Finding::pass("ready")],
        );
        let plan = b.plan();
        let run = plan
            .run(RunOptions {
                wait: Duration::from_secs(60),
                retry_interval: Duration::from_secs(2),
            })
            .await;
        // Nothing installed: crds reports its first finding, not retried for 60 s, not skipped.
        let crds = result_of(&run, "crds");
        assert_eq!(crds.result, CheckResult::Failed);
        assert_eq!(crds.attempts, 1);
        assert_eq!(b.calls("crds"), 1);
        // A gate that passed (or is not part of the run) lets the retries go on.
        let deploy = result_of(&run, "deploy");
        assert_eq!(deploy.result, CheckResult::Passed);
        assert_eq!(deploy.attempts, 3);
        assert_eq!(run.duration, Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn warning_severity_failures_are_warnings() {
        let mut b = Builder::new();
        b.add(
            spec("lb", "pre", Severity::Warning),
            0,
            vec![Finding::fail("unknown", "explain")],
        );
        let run = b.plan().run(no_wait()).await;
        assert_eq!(result_of(&run, "lb").result, CheckResult::Warning);
    }

    #[test]
    fn invalid_plans_are_rejected() {
        let mut b = Builder::new();
        b.add(spec("a", "x", Severity::Error), 0, vec![Finding::pass("")])
            .add(spec("a", "x", Severity::Error), 0, vec![Finding::pass("")]);
        assert!(matches!(
            Plan::new(std::mem::take(&mut b.checks)),
            Err(PlanError::Duplicate { .. })
        ));

        b.add(
            spec("a", "x", Severity::Error).depends_on(&["nope"]),
            0,
            vec![Finding::pass("")],
        );
        assert!(matches!(
            Plan::new(std::mem::take(&mut b.checks)),
            Err(PlanError::UnknownDependency { .. })
        ));

        b.add(
            spec("a", "x", Severity::Error).depends_on(&["b"]),
            0,
            vec![Finding::pass("")],
        )
        .add(spec("b", "x", Severity::Error), 0, vec![Finding::pass("")]);
        assert!(matches!(
            Plan::new(std::mem::take(&mut b.checks)),
            Err(PlanError::LaterInCategory { .. })
        ));

        b.add(
            spec("a", "x", Severity::Error).depends_on(&["b"]),
            0,
            vec![Finding::pass("")],
        )
        .add(
            spec("b", "y", Severity::Error).depends_on(&["a"]),
            0,
            vec![Finding::pass("")],
        );
        assert!(matches!(
            Plan::new(std::mem::take(&mut b.checks)),
            Err(PlanError::Cycle { .. })
        ));

        b.add(
            spec("api", "x", Severity::Error),
            0,
            vec![Finding::pass("")],
        )
        .add(
            spec("api", "y", Severity::Error),
            0,
            vec![Finding::pass("")],
        )
        .add(
            spec("c", "z", Severity::Error).depends_on(&["api"]),
            0,
            vec![Finding::pass("")],
        );
        assert!(matches!(
            Plan::new(std::mem::take(&mut b.checks)),
            Err(PlanError::AmbiguousDependency { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn same_id_in_two_categories_resolves_within_each() {
        let mut b = Builder::new();
        b.add(
            spec("agent-api", "agent: east", Severity::Fatal),
            0,
            vec![Finding::fail("down", "fix")],
        )
        .add(
            spec("agent-deployment", "agent: east", Severity::Error).depends_on(&["agent-api"]),
            0,
            vec![Finding::pass("ok")],
        )
        .add(
            spec("agent-api", "agent: west", Severity::Fatal),
            0,
            vec![Finding::pass("ok")],
        )
        .add(
            spec("agent-deployment", "agent: west", Severity::Error).depends_on(&["agent-api"]),
            0,
            vec![Finding::pass("ok")],
        );
        let run = b.plan().run(no_wait()).await;
        assert_eq!(run.categories[0].1[1].result, CheckResult::Skipped);
        assert_eq!(run.categories[1].1[1].result, CheckResult::Passed);
    }
}
