//! install.sh: help, argument errors, and a polite refusal without cargo. (A full install
//! builds a release binary; it is exercised by hand and documented in README.md.)
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn install_sh() -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/install.sh"));
    cmd
}

#[test]
fn help_describes_the_options() {
    let out = install_sh().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for word in ["--prefix", "--shell", "$HOME/.local"] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
}

#[test]
fn unknown_argument_is_a_usage_error() {
    let out = install_sh().arg("--frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument '--frobnicate'"));
}

#[test]
fn refuses_politely_without_cargo() {
    if ["/usr/bin/cargo", "/bin/cargo"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
    {
        eprintln!("skipped: cargo is installed system-wide, so a PATH without it cannot be built");
        return;
    }
    let out = install_sh().env("PATH", "/usr/bin:/bin").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cargo was not found"), "{err}");
}
