//! The standing bad-input corpus (issue 17): every case under `tests/corpus/<kind>/` runs the
//! meshctl binary on one bad input and must end with the documented exit code (README.md, "Exit
//! codes are stable for CI"), a message that contains the expected text and names the input (the
//! file, stdin, the flag or the values key), no panic, and within a memory limit (1 GiB of address
//! space: an allocation failure aborts the process or leaks "out of memory" into the message, and
//! either fails the case). CSRs, which no command reads, go to the relay CA directly.
//!
//! Each kind has a manifest, `tests/corpus/<kind>/cases.jsonl`: one JSON object per line (lines
//! starting with `#` and blank lines are comments). The format and how to add a case are in
//! docs/testing.md.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde::Deserialize;

/// Address space the child may map (`ulimit -v`, KiB): 1 GiB.
const MEMORY_LIMIT_KIB: u64 = 1024 * 1024;

/// The longest a case may run.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

/// One line of a command manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Unique within its kind; names a generated input file.
    name: String,
    /// The input: a file in the kind's directory, or an absolute path used as is (`/dev/zero`).
    #[serde(default)]
    file: Option<String>,
    /// The input, generated at run time (too large to check in): written to `<tmp>/<name>`.
    #[serde(default)]
    generate: Option<Generate>,
    /// The command line after `meshctl`; `{file}` is the input's path, `{text}` a generated
    /// input's content (for expressions too long to keep in the manifest).
    args: Vec<String>,
    /// `"file"`: the input is piped to stdin (and the message must name stdin).
    #[serde(default)]
    stdin: Option<String>,
    /// Environment for the command; `{file}` is the input's path.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// The documented exit code.
    exit: i32,
    /// Text stderr must contain; `{file}` is the input's path.
    expect: String,
    /// What stderr must name: by default the input's file name (`stdin` when piped). Required
    /// when the case has no input file (the flag or the values key).
    #[serde(default)]
    names: Option<String>,
}

/// An input generated at run time: `prefix`, then `repeat` `times` times, then `suffix`.
/// `repeat` is text, or bytes as `hex:00ff`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Generate {
    #[serde(default)]
    prefix: String,
    repeat: String,
    times: usize,
    #[serde(default)]
    suffix: String,
}

impl Generate {
    fn bytes(&self) -> Vec<u8> {
        let unit = match self.repeat.strip_prefix("hex:") {
            Some(hex) => hex::decode(hex).unwrap(),
            None => self.repeat.clone().into_bytes(),
        };
        let mut bytes = self.prefix.clone().into_bytes();
        bytes.extend(unit.repeat(self.times));
        bytes.extend(self.suffix.as_bytes());
        bytes
    }
}

fn corpus_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind)
}

/// Reads `tests/corpus/<kind>/cases.jsonl`, checking that names are unique and every file exists.
fn load<T: for<'de> Deserialize<'de>>(kind: &str, name_of: impl Fn(&T) -> &str) -> Vec<T> {
    let path = corpus_dir(kind).join("cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut cases: Vec<T> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let case: T = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), number + 1));
        assert!(
            cases.iter().all(|c| name_of(c) != name_of(&case)),
            "{}:{}: case {} appears twice",
            path.display(),
            number + 1,
            name_of(&case)
        );
        cases.push(case);
    }
    assert!(!cases.is_empty(), "{} has no cases", path.display());
    cases
}

/// The environment every case starts from: nothing of the developer's (no kubeconfig, no
/// license key, no log filter, an empty home).
fn meshctl(home: &Path) -> Command {
    let binary = assert_cmd::cargo::cargo_bin("meshctl");
    let mut cmd = Command::new("sh");
    // `ulimit -v` caps the address space; glibc reserves 64 MiB per malloc arena, so the number
    // of arenas is capped too, to keep the limit about the heap rather than about the cores.
    // A piped input is the file itself (`CORPUS_STDIN`), not its contents read by the test first
    // (`/dev/zero` never ends).
    cmd.arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB} || exit 125; \
             if [ -n \"$CORPUS_STDIN\" ]; then exec \"$0\" \"$@\" < \"$CORPUS_STDIN\"; fi; \
             exec \"$0\" \"$@\""
        ))
        .arg(binary)
        .env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env_remove("MESHCTL_LICENSE_KEY")
        .env_remove("MESHCTL_TRUSTED_ISSUERS")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HOME", home)
        .env("MALLOC_ARENA_MAX", "2")
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .timeout(CASE_TIMEOUT);
    cmd
}

/// Runs one case; `Err` says every way it failed.
fn run_case(kind: &str, case: &Case, scratch: &Path) -> Result<(), String> {
    let input: Option<PathBuf> = match (&case.file, &case.generate) {
        (Some(_), Some(_)) => return Err("has both file and generate".into()),
        (Some(file), None) if file.starts_with('/') => Some(PathBuf::from(file)),
        (Some(file), None) => {
            let path = corpus_dir(kind).join(file);
            if !path.exists() {
                return Err(format!("its file {} does not exist", path.display()));
            }
            Some(path)
        }
        (None, Some(generate)) => {
            let path = scratch.join(&case.name);
            std::fs::write(&path, generate.bytes()).unwrap();
            Some(path)
        }
        (None, None) => None,
    };
    let input_text = input
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let generated = case
        .generate
        .as_ref()
        .map(|g| String::from_utf8_lossy(&g.bytes()).into_owned())
        .unwrap_or_default();
    let fill = |s: &str| {
        s.replace("{file}", &input_text)
            .replace("{text}", &generated)
    };
    let piped = match case.stdin.as_deref() {
        None => false,
        Some("file") if input.is_some() => true,
        Some(other) => return Err(format!("stdin {other:?}: expected \"file\" with an input")),
    };
    let names = match (&case.names, &input) {
        (Some(names), _) => fill(names),
        (None, Some(_)) if piped => "stdin".to_owned(),
        (None, Some(path)) => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        (None, None) => return Err("no input file, so `names` is required".into()),
    };

    let home = scratch.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = meshctl(&home);
    cmd.args(case.args.iter().map(|a| fill(a)));
    for (key, value) in &case.env {
        cmd.env(key, fill(value));
    }
    if piped {
        cmd.env("CORPUS_STDIN", input.as_ref().unwrap());
    } else {
        cmd.env_remove("CORPUS_STDIN");
    }
    let out = cmd.output().map_err(|e| format!("did not run: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);

    let mut problems = Vec::new();
    match out.status.code() {
        Some(code) if code == case.exit => {}
        Some(code) => problems.push(format!("exit code {code}, expected {}", case.exit)),
        None => problems.push(format!(
            "killed ({:?}): the memory limit of {} MiB, a timeout of {CASE_TIMEOUT:?} or a crash",
            out.status,
            MEMORY_LIMIT_KIB / 1024
        )),
    }
    let expect = fill(&case.expect);
    if !stderr.contains(&expect) {
        problems.push(format!("stderr does not contain {expect:?}"));
    }
    if !stderr.contains(&names) {
        problems.push(format!("stderr does not name the input ({names:?})"));
    }
    for output in [&stderr, &stdout] {
        for sign in [
            "panicked",
            "internal error",
            "memory allocation of",
            "out of memory",
            "stack overflow",
        ] {
            if output.contains(sign) {
                problems.push(format!("output contains {sign:?}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  --- stderr ---\n{}",
            problems.join("; "),
            stderr.chars().take(2000).collect::<String>()
        ))
    }
}

/// Runs every case of a kind; fails listing each failing case.
fn run_kind(kind: &str) {
    let cases = load::<Case>(kind, |c| &c.name);
    let mut failures = Vec::new();
    for case in &cases {
        let scratch = tempfile::tempdir().unwrap();
        if let Err(why) = run_case(kind, case, scratch.path()) {
            failures.push(format!(
                "tests/corpus/{kind}/cases.jsonl: case {}: {why}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {kind} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn values_files() {
    run_kind("values");
}

#[test]
fn set_expressions() {
    run_kind("set");
}

#[test]
fn license_keys() {
    run_kind("license");
}

#[test]
fn kubeconfigs() {
    run_kind("kubeconfig");
}

/// The runner itself can fail: a wrong exit code, a message it does not contain, a message that
/// does not name the input, and an input that is not there are each reported.
#[test]
fn the_runner_reports_wrong_expectations() {
    let scratch = tempfile::tempdir().unwrap();
    let good = Case {
        name: "binary".into(),
        file: None,
        generate: Some(Generate {
            prefix: String::new(),
            repeat: "hex:fffe00".into(),
            times: 10,
            suffix: String::new(),
        }),
        args: ["install", "--dry-run", "-f", "{file}"]
            .map(String::from)
            .to_vec(),
        stdin: None,
        env: BTreeMap::new(),
        exit: 2,
        expect: "values file {file} is not UTF-8 text".into(),
        names: None,
    };
    run_case("values", &good, scratch.path()).unwrap();
    let wrong_exit = Case {
        exit: 3,
        ..good.clone()
    };
    let why = run_case("values", &wrong_exit, scratch.path()).unwrap_err();
    assert!(why.contains("exit code 2, expected 3"), "{why}");
    let wrong_text = Case {
        expect: "is larger than".into(),
        ..good.clone()
    };
    let why = run_case("values", &wrong_text, scratch.path()).unwrap_err();
    assert!(why.contains("does not contain"), "{why}");
    let unnamed = Case {
        names: Some("--values".into()),
        ..good.clone()
    };
    let why = run_case("values", &unnamed, scratch.path()).unwrap_err();
    assert!(why.contains("does not name the input"), "{why}");
    let missing = Case {
        generate: None,
        file: Some("no-such-case.yaml".into()),
        ..good
    };
    let why = run_case("values", &missing, scratch.path()).unwrap_err();
    assert!(why.contains("does not exist"), "{why}");
}

/// The memory limit holds: under it, a 1.5 GiB buffer cannot be had.
#[test]
fn the_memory_limit_applies_to_the_child() {
    let limited = |command: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v {MEMORY_LIMIT_KIB} && {command}"))
            .output()
            .unwrap()
    };
    let out = limited("ulimit -v");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        MEMORY_LIMIT_KIB.to_string()
    );
    assert!(
        limited("dd if=/dev/zero of=/dev/null bs=1M count=1")
            .status
            .success()
    );
    let out = limited("dd if=/dev/zero of=/dev/null bs=1536M count=1");
    assert!(!out.status.success(), "{out:?}");
}

/// A line of `tests/corpus/csr/cases.jsonl`: a CSR file the relay CA must refuse, saying why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsrCase {
    name: String,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    generate: Option<Generate>,
    /// Text the error must contain; `null` for a CSR that must be accepted.
    expect: Option<String>,
}

/// CSRs reach the CA only through the relay (an agent's `Register`/`Renew`); no command reads
/// one, so the corpus goes to `CertAuthority::issue_client_cert` itself.
#[test]
fn certificate_signing_requests() {
    use meshctl::relay::pki;

    let now = time::OffsetDateTime::now_utc();
    let material = pki::generate(&pki::default_server_sans(), now).unwrap();
    let ca = pki::CertAuthority::from_material(&material).unwrap();
    // The control: a CSR of the agent's own kind is accepted.
    let agent = pki::generate_agent_key("c1").unwrap();
    ca.issue_client_cert("c1", &agent.csr_der, pki::DEFAULT_CLIENT_CERT_TTL, now)
        .unwrap();

    let cases = load::<CsrCase>("csr", |c| &c.name);
    let mut failures = Vec::new();
    for case in &cases {
        let der = match (&case.file, &case.generate) {
            (Some(file), None) => std::fs::read(corpus_dir("csr").join(file)).unwrap(),
            (None, Some(generate)) => generate.bytes(),
            _ => panic!("csr case {}: exactly one of file and generate", case.name),
        };
        let issued = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ca.issue_client_cert("c1", &der, pki::DEFAULT_CLIENT_CERT_TTL, now)
        }));
        let problem = match (issued, &case.expect) {
            (Err(_), _) => Some("panicked".to_owned()),
            (Ok(Ok(_)), None) => None,
            (Ok(Ok(_)), Some(expect)) => {
                Some(format!("accepted; expected an error with {expect:?}"))
            }
            (Ok(Err(e)), None) => Some(format!("refused ({e}); expected it accepted")),
            (Ok(Err(e)), Some(expect)) => {
                let message = e.to_string();
                if !message.contains("certificate signing request") {
                    Some(format!(
                        "{message:?} does not name the certificate signing request"
                    ))
                } else if !message.contains(expect.as_str()) {
                    Some(format!("{message:?} does not contain {expect:?}"))
                } else if message.len() > 400 {
                    Some(format!("overlong message ({} characters)", message.len()))
                } else {
                    None
                }
            }
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "tests/corpus/csr/cases.jsonl: case {}: {problem}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} csr cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
