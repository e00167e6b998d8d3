//! Reading what the user hands meshctl (files named on the command line or in the environment, and
//! stdin) with a size cap per kind of input, so that `-f /dev/zero` is an error and not an OOM.
//!
//! Every such read goes through [`read_file`] or [`read_bounded`]: they read at most one byte more than
//! the limit (`take(limit + 1)`), never the whole input first. Exit codes: an input that is too large or
//! not text is wrong content, like a malformed one of its kind, so it gets the exit kind of its
//! [`InputLimit`] (2, a usage error, for what the user supplies: values, keys, CA certificates, tokens;
//! 3 for the kubeconfig, part of the environment like the cluster it names); a file that cannot be
//! opened or read is an environment error (3), as `exit.rs` says for unreadable files.

use std::io::Read;
use std::path::Path;

use meshctl_core::exit_kind::ExitKind;

/// A kind of input: what it is called, how large it may be, what it should contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimit {
    /// What messages call it: "values file".
    pub what: &'static str,
    /// Largest accepted size in bytes.
    pub max_bytes: u64,
    /// What it should contain: "a YAML map of values".
    pub expected: &'static str,
    /// Exit kind when the content is too large or not text.
    pub exit: ExitKind,
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// `-f/--values` files (the defaults, every key documented, are about 6 KiB).
pub const VALUES_FILE: InputLimit = InputLimit {
    what: "values file",
    max_bytes: 4 * MIB,
    expected: "a YAML map of values (see templates/values.yaml)",
    exit: ExitKind::Usage,
};

/// A license key from `--key-file` (a file or stdin) or `serve mgmt-server --license-file`
/// (the key itself is limited to 16 KiB; the verifier says so).
pub const LICENSE_KEY: InputLimit = InputLimit {
    what: "license key",
    max_bytes: 64 * KIB,
    expected: "a license key (one line of text starting with eyJ)",
    exit: ExitKind::Usage,
};

/// An issuer public key (`--trusted-issuer`, `MESHCTL_TRUSTED_ISSUERS`).
pub const ISSUER_PUBLIC_KEY: InputLimit = InputLimit {
    what: "trusted issuer key",
    max_bytes: 64 * KIB,
    expected: "an Ed25519 public key in SPKI PEM (BEGIN PUBLIC KEY)",
    exit: ExitKind::Usage,
};

/// An issuer private key (`license issue --signing-key`).
pub const ISSUER_PRIVATE_KEY: InputLimit = InputLimit {
    what: "signing key",
    max_bytes: 64 * KIB,
    expected: "an Ed25519 private key in PKCS#8 PEM (BEGIN PRIVATE KEY)",
    exit: ExitKind::Usage,
};

/// A kubeconfig meshctl reads itself (`--kubeconfig FILE`); embedded certificates of many
/// clusters fit easily.
pub const KUBECONFIG: InputLimit = InputLimit {
    what: "kubeconfig",
    max_bytes: 16 * MIB,
    expected: "a kubeconfig (YAML)",
    exit: ExitKind::Environment,
};

/// PEM CA certificates (`serve agent --ca-file`).
pub const CA_CERTIFICATES: InputLimit = InputLimit {
    what: "CA certificate file",
    max_bytes: MIB,
    expected: "PEM certificates (BEGIN CERTIFICATE)",
    exit: ExitKind::Usage,
};

/// A relay bootstrap token (`serve agent --token-file`).
pub const BOOTSTRAP_TOKEN: InputLimit = InputLimit {
    what: "bootstrap token file",
    max_bytes: 64 * KIB,
    expected: "a bootstrap token (one line of text)",
    exit: ExitKind::Usage,
};

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The input is larger than its limit.
    #[error(
        "{} {name} is larger than the limit of {}: expected {}",
        .limit.what, human_bytes(.limit.max_bytes), .limit.expected
    )]
    TooLarge { name: String, limit: InputLimit },
    /// The input is not UTF-8 text.
    #[error("{} {name} is not UTF-8 text: expected {}", .limit.what, .limit.expected)]
    NotText { name: String, limit: InputLimit },
    /// The input could not be opened or read.
    #[error("cannot read {} {name}", .limit.what)]
    Read {
        name: String,
        limit: InputLimit,
        #[source]
        source: std::io::Error,
    },
}

impl InputError {
    /// The exit kind this error must produce (see the module documentation).
    pub fn exit_kind(&self) -> ExitKind {
        match self {
            Self::TooLarge { limit, .. } | Self::NotText { limit, .. } => limit.exit,
            Self::Read { .. } => ExitKind::Environment,
        }
    }

    /// The I/O error kind when the input could not be read (`NotFound` for a missing file).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Self::Read { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// Reads the text file at `path`, at most `limit.max_bytes` of it.
pub fn read_file(path: &Path, limit: InputLimit) -> Result<String, InputError> {
    let name = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(file) => read_bounded(file, &name, limit),
        Err(source) => Err(InputError::Read {
            name,
            limit,
            source,
        }),
    }
}

/// Reads stdin as text, at most `limit.max_bytes` of it.
pub fn read_stdin(limit: InputLimit) -> Result<String, InputError> {
    read_bounded(std::io::stdin().lock(), "stdin", limit)
}

/// Reads `reader` (called `name` in messages) as text, at most `limit.max_bytes` of it: never more
/// than one byte over the limit is read.
pub fn read_bounded(
    reader: impl Read,
    name: &str,
    limit: InputLimit,
) -> Result<String, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Read {
            name: name.to_owned(),
            limit,
            source,
        })?;
    if bytes.len() as u64 > limit.max_bytes {
        return Err(InputError::TooLarge {
            name: name.to_owned(),
            limit,
        });
    }
    String::from_utf8(bytes).map_err(|_| InputError::NotText {
        name: name.to_owned(),
        limit,
    })
}

/// `4 MiB`, `64 KiB`, `100 bytes`.
fn human_bytes(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::exit_kind_of;

    const TINY: InputLimit = InputLimit {
        what: "test file",
        max_bytes: 100,
        expected: "a few bytes",
        exit: ExitKind::Usage,
    };

    /// A reader that never ends, like `/dev/zero`, and counts what was read from it.
    struct Endless(u64);

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            buf.fill(b'a');
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
    }

    #[test]
    fn the_limit_is_inclusive() {
        assert_eq!(
            read_bounded(&[b'A'; 100][..], "x", TINY).unwrap().len(),
            100
        );
        let err = read_bounded(&[b'A'; 101][..], "x", TINY).unwrap_err();
        assert!(matches!(err, InputError::TooLarge { .. }), "{err:?}");
    }

    #[test]
    fn an_endless_input_is_refused_after_reading_just_over_the_limit() {
        let mut endless = Endless(0);
        let err = read_bounded(&mut endless, "/dev/zero", VALUES_FILE).unwrap_err();
        assert_eq!(
            err.to_string(),
            "values file /dev/zero is larger than the limit of 4 MiB: expected a YAML map of values (see templates/values.yaml)"
        );
        assert!(
            endless.0 <= VALUES_FILE.max_bytes + 64 * 1024,
            "{}",
            endless.0
        );
    }

    #[test]
    fn exit_kinds_follow_the_kind_of_input() {
        let big = anyhow::Error::new(read_bounded(&[0u8; 101][..], "x", TINY).unwrap_err());
        assert_eq!(exit_kind_of(&big), ExitKind::Usage);
        let kubeconfig = InputError::TooLarge {
            name: "k".into(),
            limit: KUBECONFIG,
        };
        assert_eq!(
            exit_kind_of(&anyhow::Error::new(kubeconfig)),
            ExitKind::Environment
        );
        let binary = read_bounded(&[0xff, 0xfe][..], "x", TINY).unwrap_err();
        assert!(matches!(binary, InputError::NotText { .. }), "{binary:?}");
        assert_eq!(exit_kind_of(&anyhow::Error::new(binary)), ExitKind::Usage);
        let missing = read_file(Path::new("/nonexistent/values.yaml"), VALUES_FILE).unwrap_err();
        assert_eq!(missing.io_kind(), Some(std::io::ErrorKind::NotFound));
        assert!(missing.to_string().contains("/nonexistent/values.yaml"));
        assert_eq!(
            exit_kind_of(&anyhow::Error::new(missing)),
            ExitKind::Environment
        );
    }

    #[test]
    fn sizes_are_shown_in_their_unit() {
        assert_eq!(human_bytes(4 * MIB), "4 MiB");
        assert_eq!(human_bytes(64 * KIB), "64 KiB");
        assert_eq!(human_bytes(100), "100 bytes");
    }
}
