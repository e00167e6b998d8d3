//! Where a license key comes from: `--key`, `--key-file` (`-` is stdin) or
//! `MESHCTL_LICENSE_KEY`; commands that can also fall back to the cluster's Secret.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::input::{self, LICENSE_KEY};

/// Environment variable holding a license key.
pub const LICENSE_KEY_ENV: &str = "MESHCTL_LICENSE_KEY";

/// A secret given on the command line; never shown by `Debug`.
#[derive(Clone)]
pub struct SecretText(String);

impl FromStr for SecretText {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeyArgs {
    /// The license key (visible in the process list: prefer --key-file or MESHCTL_LICENSE_KEY)
    #[arg(
        long,
        value_name = "KEY",
        conflicts_with = "key_file",
        visible_alias = "license-key"
    )]
    pub key: Option<SecretText>,

    /// Read the license key from FILE ('-' reads stdin)
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

/// Where a key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Flag,
    File(PathBuf),
    Stdin,
    Env,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Flag => f.write_str("--key"),
            KeySource::File(path) => write!(f, "--key-file {}", path.display()),
            KeySource::Stdin => f.write_str("stdin"),
            KeySource::Env => f.write_str(LICENSE_KEY_ENV),
        }
    }
}

/// A license key and where it came from. `Debug` never shows the key.
pub struct LocalKey {
    pub key: String,
    pub source: KeySource,
}

impl fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl KeyArgs {
    /// The key from `--key`, `--key-file` or `MESHCTL_LICENSE_KEY`, in that order;
    /// `None` when none is given.
    pub fn resolve(&self) -> anyhow::Result<Option<LocalKey>> {
        self.resolve_with_env(std::env::var(LICENSE_KEY_ENV).ok())
    }

    fn resolve_with_env(&self, env: Option<String>) -> anyhow::Result<Option<LocalKey>> {
        if let Some(SecretText(key)) = &self.key {
            return Ok(Some(LocalKey {
                key: key.clone(),
                source: KeySource::Flag,
            }));
        }
        if let Some(path) = &self.key_file {
            if path.as_os_str() == "-" {
                return Ok(Some(LocalKey {
                    key: input::read_stdin(LICENSE_KEY)?,
                    source: KeySource::Stdin,
                }));
            }
            let key = input::read_file(path, LICENSE_KEY)?;
            return Ok(Some(LocalKey {
                key,
                source: KeySource::File(path.clone()),
            }));
        }
        Ok(env.filter(|v| !v.trim().is_empty()).map(|key| LocalKey {
            key,
            source: KeySource::Env,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{ExitKind, exit_kind_of};

    #[test]
    fn flag_wins_then_file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k");
        std::fs::write(&file, "from-file\n").unwrap();
        let env = Some("from-env".to_owned());

        let args = KeyArgs {
            key: Some("from-flag".parse().unwrap()),
            key_file: None,
        };
        let k = args.resolve_with_env(env.clone()).unwrap().unwrap();
        assert_eq!((k.key.as_str(), k.source), ("from-flag", KeySource::Flag));

        let args = KeyArgs {
            key: None,
            key_file: Some(file.clone()),
        };
        let k = args.resolve_with_env(env.clone()).unwrap().unwrap();
        assert_eq!(k.key, "from-file\n");
        assert_eq!(k.source, KeySource::File(file));

        let k = KeyArgs::default().resolve_with_env(env).unwrap().unwrap();
        assert_eq!((k.key.as_str(), k.source), ("from-env", KeySource::Env));

        assert!(KeyArgs::default().resolve_with_env(None).unwrap().is_none());
        assert!(
            KeyArgs::default()
                .resolve_with_env(Some(" ".into()))
                .unwrap()
                .is_none()
        );
    }

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        key: KeyArgs,
    }

    #[test]
    fn license_key_is_another_name_of_key() {
        use clap::Parser as _;
        let cli = Cli::try_parse_from(["x", "--license-key", "eyJk"]).unwrap();
        let k = cli.key.resolve_with_env(None).unwrap().unwrap();
        assert_eq!((k.key.as_str(), k.source), ("eyJk", KeySource::Flag));
        assert!(Cli::try_parse_from(["x", "--license-key", "k", "--key-file", "f"]).is_err());
        assert!(Cli::try_parse_from(["x", "--license-key", "k", "--key", "k"]).is_err());
    }

    #[test]
    fn unreadable_file_is_an_environment_error() {
        let args = KeyArgs {
            key: None,
            key_file: Some("/nonexistent/license".into()),
        };
        let e = args.resolve_with_env(None).unwrap_err();
        assert_eq!(exit_kind_of(&e), ExitKind::Environment);
    }

    #[test]
    fn oversized_key_file_is_a_usage_error_naming_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.license");
        std::fs::write(&file, vec![b'e'; 64 * 1024 + 1]).unwrap();
        let args = KeyArgs {
            key: None,
            key_file: Some(file.clone()),
        };
        let e = args.resolve_with_env(None).unwrap_err();
        assert_eq!(exit_kind_of(&e), ExitKind::Usage);
        let text = format!("{e:#}");
        assert!(text.contains(&file.display().to_string()), "{text}");
        assert!(text.contains("limit of 64 KiB"), "{text}");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let args = KeyArgs {
            key: Some("eyJsecret".parse().unwrap()),
            key_file: None,
        };
        assert!(!format!("{args:?}").contains("eyJsecret"));
        let local = LocalKey {
            key: "eyJsecret".into(),
            source: KeySource::Env,
        };
        assert!(!format!("{local:?}").contains("eyJsecret"));
    }
}
