//! The Dockerfile and the daemonless image build (scripts/image.sh) put the same things in the image:
//! the Dockerfile's final stage is the root filesystem `scripts/image.sh rootfs` assembles and nothing
//! else, with the user, entrypoint, environment, working directory and labels the script writes into
//! the OCI configuration; and that root filesystem holds what the binary loads and nothing more.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One Dockerfile instruction: keyword (upper case) and the rest of its logical line.
#[derive(Debug, Clone, PartialEq)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The instructions of a Dockerfile, stage by stage (each starting with its FROM); comments dropped,
/// continuation lines joined. Instructions before the first FROM (global ARGs) are left out.
fn stages(text: &str) -> Vec<Vec<Instruction>> {
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            logical.push(std::mem::take(&mut current));
        }
    }
    assert!(
        current.is_empty(),
        "the Dockerfile ends inside a continuation line"
    );
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    for line in logical {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let instruction = Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_owned(),
        };
        if instruction.keyword == "FROM" {
            stages.push(vec![instruction]);
        } else if let Some(stage) = stages.last_mut() {
            stage.push(instruction);
        }
    }
    stages
}

/// `KEY=VALUE KEY2="VALUE 2"` (ENV and LABEL) as a map; quotes removed.
fn key_values(args: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = args.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .unwrap_or_else(|| panic!("no KEY=VALUE in {rest:?}"));
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .unwrap_or_else(|| panic!("unterminated quote in {args:?}"));
            (&quoted[..end], &quoted[end + 1..])
        } else {
            after.split_once(char::is_whitespace).unwrap_or((after, ""))
        };
        out.insert(key.trim().to_owned(), value.to_owned());
        rest = after.trim_start();
    }
    out
}

fn dockerfile() -> Vec<Vec<Instruction>> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("read Dockerfile");
    stages(&text)
}

fn final_stage(stages: &[Vec<Instruction>]) -> &[Instruction] {
    stages.last().expect("the Dockerfile has a FROM")
}

fn script() -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/image.sh"));
    cmd
}

#[test]
fn the_final_stage_is_the_scripts_root_filesystem_and_nothing_else() {
    let stages = dockerfile();
    assert!(stages.len() >= 2, "a multi-stage Dockerfile: {stages:?}");
    let last = final_stage(&stages);
    assert_eq!(
        last[0].args, "scratch",
        "the final stage starts from scratch"
    );
    let build = &stages[stages.len() - 2];
    let build_name = build[0]
        .args
        .rsplit_once(" AS ")
        .or_else(|| build[0].args.rsplit_once(" as "))
        .map(|(_, name)| name.trim().to_owned())
        .expect("the build stage is named (FROM ... AS NAME)");

    // No RUN (no shell there), no ADD, no other COPY: only what the script assembled.
    let allowed = [
        "ARG",
        "COPY",
        "ENV",
        "WORKDIR",
        "USER",
        "LABEL",
        "ENTRYPOINT",
        "EXPOSE",
    ];
    for instruction in &last[1..] {
        assert!(
            allowed.contains(&instruction.keyword.as_str()),
            "the final stage may not {} ({}): every file of the image comes from scripts/image.sh rootfs",
            instruction.keyword,
            instruction.args
        );
    }
    let copies: Vec<&Instruction> = last.iter().filter(|i| i.keyword == "COPY").collect();
    assert_eq!(
        copies.len(),
        1,
        "exactly one COPY in the final stage: {copies:?}"
    );
    assert_eq!(copies[0].args, format!("--from={build_name} /rootfs/ /"));

    // The build stage makes /rootfs with the script, from the release binary.
    let runs: Vec<&str> = build
        .iter()
        .filter(|i| i.keyword == "RUN")
        .map(|i| i.args.as_str())
        .collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("cargo build --release --locked")
                && r.contains("scripts/image.sh rootfs /rootfs target/release/meshctl")),
        "the build stage runs cargo build --release --locked and scripts/image.sh rootfs /rootfs target/release/meshctl: {runs:?}"
    );
}

#[test]
fn the_dockerfile_states_the_configuration_the_script_writes() {
    let out = script()
        .arg("config")
        .output()
        .expect("run scripts/image.sh");
    assert!(
        out.status.success(),
        "scripts/image.sh config failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config: Value = serde_json::from_slice(&out.stdout).expect("the config is JSON");

    let stages = dockerfile();
    let last = final_stage(&stages);
    let one = |keyword: &str| -> &str {
        let found: Vec<&Instruction> = last.iter().filter(|i| i.keyword == keyword).collect();
        assert_eq!(
            found.len(),
            1,
            "one {keyword} in the final stage: {found:?}"
        );
        &found[0].args
    };

    assert_eq!(one("USER"), config["User"].as_str().unwrap());
    assert_eq!(one("WORKDIR"), config["WorkingDir"].as_str().unwrap());
    let entrypoint: Value =
        serde_json::from_str(one("ENTRYPOINT")).expect("ENTRYPOINT in exec (JSON) form");
    assert_eq!(entrypoint, config["Entrypoint"]);

    let docker_env: BTreeSet<String> = last
        .iter()
        .filter(|i| i.keyword == "ENV")
        .flat_map(|i| key_values(&i.args))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let script_env: BTreeSet<String> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(docker_env, script_env, "ENV");

    let docker_labels: BTreeMap<String, String> = last
        .iter()
        .filter(|i| i.keyword == "LABEL")
        .flat_map(|i| key_values(&i.args))
        .collect();
    let script_labels: BTreeMap<String, String> = config["Labels"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(docker_labels, script_labels, "LABEL");
    for key in [
        "org.opencontainers.image.version",
        "org.opencontainers.image.revision",
        "org.opencontainers.image.source",
        "org.opencontainers.image.licenses",
    ] {
        assert!(script_labels.contains_key(key), "label {key}");
    }
    assert_eq!(
        script_labels["org.opencontainers.image.licenses"],
        env!("CARGO_PKG_LICENSE")
    );
}

/// The absolute paths of the shared objects `ldd` names for `binary` (the loader included).
fn shared_objects(binary: &Path) -> BTreeSet<String> {
    let out = Command::new("ldd").arg(binary).output().expect("run ldd");
    assert!(out.status.success(), "ldd {}", binary.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, right)) => right.trim(),
                None => line.trim(),
            };
            let path = path.split(" (0x").next()?.trim();
            path.starts_with('/').then(|| path.to_owned())
        })
        .collect()
}

fn walk(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = format!("/{}", path.strip_prefix(base).unwrap().display());
        if path.is_dir() && !path.is_symlink() {
            out.insert(format!("{rel}/"));
            walk(&path, base, out);
        } else {
            out.insert(rel);
        }
    }
}

#[test]
fn the_root_filesystem_holds_what_meshctl_loads_and_nothing_else() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_meshctl"));
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    let out = script()
        .arg("rootfs")
        .arg(&rootfs)
        .arg(&binary)
        .output()
        .expect("run scripts/image.sh");
    assert!(
        out.status.success(),
        "scripts/image.sh rootfs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let libraries = shared_objects(&binary);
    assert!(
        !libraries.is_empty(),
        "ldd names no shared object of {}",
        binary.display()
    );
    let mut files: BTreeSet<String> = [
        "/usr/local/bin/meshctl",
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/passwd",
        "/etc/group",
        "/etc/nsswitch.conf",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    files.extend(libraries.iter().cloned());
    let mut expected: BTreeSet<String> = BTreeSet::new();
    for file in &files {
        expected.insert(file.clone());
        let mut parent = Path::new(file).parent();
        while let Some(p) = parent.filter(|p| *p != Path::new("/")) {
            expected.insert(format!("{}/", p.display()));
            parent = p.parent();
        }
    }
    expected.extend(["/tmp/", "/proc/", "/sys/", "/dev/"].map(String::from));

    let mut found = BTreeSet::new();
    walk(&rootfs, &rootfs, &mut found);
    assert_eq!(
        found, expected,
        "the image's files: the binary, its shared objects, CA certificates, passwd/group/nsswitch.conf and empty mount points"
    );

    use std::os::unix::fs::PermissionsExt;
    let tmp_mode = std::fs::metadata(rootfs.join("tmp"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        tmp_mode & 0o7777,
        0o1777,
        "/tmp is world-writable and sticky"
    );
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("nonroot:x:65532:65532:")),
        "{passwd}"
    );
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap();
    assert!(group.lines().any(|l| l == "nonroot:x:65532:"), "{group}");

    // The copied loader and libraries alone run the copied binary.
    let loader = libraries
        .iter()
        .find(|l| l.contains("ld-linux"))
        .expect("a dynamic loader among the shared objects");
    let library_path: BTreeSet<String> = libraries
        .iter()
        .filter_map(|l| Path::new(l).parent())
        .map(|p| {
            rootfs
                .join(p.strip_prefix("/").unwrap())
                .display()
                .to_string()
        })
        .collect();
    let run = Command::new(rootfs.join(loader.trim_start_matches('/')))
        .arg("--library-path")
        .arg(library_path.into_iter().collect::<Vec<_>>().join(":"))
        .arg(rootfs.join("usr/local/bin/meshctl"))
        .args(["version", "-o", "json"])
        .env_clear()
        .output()
        .expect("run the image's loader");
    assert!(
        run.status.success(),
        "meshctl through the image's loader and libraries: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let version: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(version["client"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_parser_reads_continuations_and_quotes() {
    let stages = stages(
        "ARG X=1\nFROM a AS b\n# c\nRUN x \\\n  && y\nFROM scratch\nLABEL a=\"b c\" \\\n d=e\n",
    );
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0][1].args, "x  && y");
    assert_eq!(
        key_values(&stages[1][1].args),
        BTreeMap::from([("a".into(), "b c".into()), ("d".into(), "e".into())])
    );
}
