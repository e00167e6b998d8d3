//! Which issuer keys a command trusts: the built-in ones, `--trusted-issuer FILE`
//! (repeatable) and `MESHCTL_TRUSTED_ISSUERS` (files separated by `:`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::exit::{ExitKind, ResultExt as _};
use crate::license::{KeyOrigin, TrustedIssuers};

/// Environment variable naming extra trusted issuer public key files, separated by `:`.
pub const TRUSTED_ISSUERS_ENV: &str = "MESHCTL_TRUSTED_ISSUERS";

#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrustArgs {
    /// Also trust the issuer public key (SPKI PEM) in FILE; repeatable. MESHCTL_TRUSTED_ISSUERS
    /// adds more: a list of files separated by ':'
    #[arg(long = "trusted-issuer", value_name = "FILE")]
    pub trusted_issuers: Vec<PathBuf>,
}

impl TrustArgs {
    /// The built-in keys plus those named by the flags and the environment.
    pub fn load(&self) -> anyhow::Result<TrustedIssuers> {
        load(
            &self.trusted_issuers,
            std::env::var_os(TRUSTED_ISSUERS_ENV).as_deref(),
        )
    }
}

/// The built-in keys, then `files` (origin `file:`), then the files listed in `env` (origin `env:`).
pub fn load(files: &[PathBuf], env: Option<&OsStr>) -> anyhow::Result<TrustedIssuers> {
    let mut trusted = TrustedIssuers::builtin().exit_kind(ExitKind::Internal)?;
    for path in files {
        add_file(
            &mut trusted,
            path,
            KeyOrigin::File(path.clone()),
            "--trusted-issuer",
        )?;
    }
    for path in env.map(env_paths).unwrap_or_default() {
        add_file(
            &mut trusted,
            &path,
            KeyOrigin::Env(path.clone()),
            TRUSTED_ISSUERS_ENV,
        )?;
    }
    Ok(trusted)
}

/// The paths in a `MESHCTL_TRUSTED_ISSUERS` value; empty entries are skipped.
pub fn env_paths(value: &OsStr) -> Vec<PathBuf> {
    std::env::split_paths(value)
        .filter(|p| !p.as_os_str().is_empty())
        .collect()
}

fn add_file(
    trusted: &mut TrustedIssuers,
    path: &Path,
    origin: KeyOrigin,
    from: &str,
) -> anyhow::Result<()> {
    let pem = crate::input::read_file(path, crate::input::ISSUER_PUBLIC_KEY)
        .with_context(|| from.to_owned())?;
    trusted
        .add_pem(&pem, origin)
        .exit_kind(ExitKind::Usage)
        .with_context(|| format!("trusted issuer key {} ({from})", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::exit_kind_of;
    use crate::license::IssuerKeyPair;

    fn key_file(dir: &Path, name: &str) -> (PathBuf, String) {
        let pair = IssuerKeyPair::generate();
        let path = dir.join(name);
        std::fs::write(&path, pair.public_key().to_spki_pem().unwrap()).unwrap();
        (path, pair.kid().to_owned())
    }

    #[test]
    fn env_value_is_split_on_colons() {
        assert_eq!(
            env_paths(OsStr::new("/a.pem::/b c.pem:")),
            [PathBuf::from("/a.pem"), PathBuf::from("/b c.pem")]
        );
        assert!(env_paths(OsStr::new("")).is_empty());
    }

    #[test]
    fn files_and_env_are_added_with_their_origin() {
        let dir = tempfile::tempdir().unwrap();
        let (a, kid_a) = key_file(dir.path(), "a.pem");
        let (b, kid_b) = key_file(dir.path(), "b.pem");
        let (c, kid_c) = key_file(dir.path(), "c.pem");
        let env = std::env::join_paths([&b, &c]).unwrap();
        let trusted = load(std::slice::from_ref(&a), Some(&env)).unwrap();
        let summary = trusted.summary();
        let origin_of = |kid: &str| {
            summary
                .iter()
                .find(|s| s.kid == kid)
                .unwrap()
                .origin
                .to_string()
        };
        assert_eq!(origin_of(&kid_a), format!("file:{}", a.display()));
        assert_eq!(origin_of(&kid_b), format!("env:{}", b.display()));
        assert_eq!(origin_of(&kid_c), format!("env:{}", c.display()));
        assert_eq!(summary[0].origin, KeyOrigin::Builtin);
    }

    #[test]
    fn a_missing_file_is_an_environment_error() {
        let e = load(&[PathBuf::from("/nonexistent/issuer.pem")], None).unwrap_err();
        assert_eq!(exit_kind_of(&e), ExitKind::Environment);
        assert!(
            format!("{e:#}").contains("/nonexistent/issuer.pem"),
            "{e:#}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_public_key_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private.pem");
        let pair = IssuerKeyPair::generate();
        std::fs::write(&path, pair.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
        let e = load(&[], Some(path.as_os_str())).unwrap_err();
        assert_eq!(exit_kind_of(&e), ExitKind::Usage);
        let text = format!("{e:#}");
        assert!(text.contains("MESHCTL_TRUSTED_ISSUERS"), "{text}");
        assert!(!text.contains("PRIVATE KEY-----\n"), "{text}");
    }

    #[test]
    fn oversized_files_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.pem");
        std::fs::write(&path, vec![b'A'; 64 * 1024 + 1]).unwrap();
        let e = load(std::slice::from_ref(&path), None).unwrap_err();
        assert_eq!(exit_kind_of(&e), ExitKind::Usage);
        let text = format!("{e:#}");
        assert!(text.contains("limit of 64 KiB"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }
}
