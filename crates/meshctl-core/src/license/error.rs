//! The one error type of the licensing library.
//!
//! Messages name at most a key id (`kid`) and claim values; they never contain
//! the license key text or any key material.

use std::fmt;

/// Which of the three segments of a compact JWS a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The protected header (first segment).
    Header,
    /// The claims (second segment).
    Payload,
    /// The signature (third segment).
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

/// Why a protected header was refused (other than its `alg`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderProblem {
    /// The header is not a JSON object of the expected shape.
    #[error("not a valid JSON header: {0}")]
    Json(String),
    /// `typ` is present but is not `JWT`.
    #[error("typ must be \"JWT\", found {0:?}")]
    Typ(String),
    /// `typ` is absent.
    #[error("typ is missing (expected \"JWT\")")]
    MissingTyp,
    /// `kid` is absent or empty.
    #[error("kid is missing: a license key must name the issuer key that signed it")]
    MissingKid,
    /// The header declares critical extensions, which we do not implement.
    #[error("crit extensions are not supported")]
    Crit,
}

/// Everything that can go wrong when reading, verifying or issuing a license.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    /// The key is empty or only whitespace.
    #[error("license key is empty")]
    Empty,
    /// The key is longer than any license we issue; it was not parsed.
    #[error("license key is too large: {len} bytes (at most {max} allowed)")]
    TooLarge {
        /// Length of the input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A compact JWS has exactly three dot-separated segments.
    #[error(
        "license key is malformed: expected 3 dot-separated segments (header.payload.signature), found {found}"
    )]
    Segments {
        /// How many segments the input had.
        found: usize,
    },
    /// A segment is not strict unpadded base64url.
    #[error("license key is malformed: the {segment} segment is not unpadded base64url")]
    Base64 {
        /// The offending segment.
        segment: Segment,
    },
    /// The protected header was refused.
    #[error("license key header is invalid: {0}")]
    Header(HeaderProblem),
    /// The header names an algorithm other than EdDSA (e.g. `none`, `HS256`).
    #[error("license key uses unsupported algorithm {alg:?}: only EdDSA (Ed25519) is accepted")]
    UnsupportedAlg {
        /// The algorithm named in the header (shortened if long).
        alg: String,
    },
    /// The signature does not have the length of an Ed25519 signature.
    #[error("license key signature has {found} bytes, an Ed25519 signature has 64")]
    SignatureLength {
        /// Decoded signature length.
        found: usize,
    },
    /// No trusted issuer has this key id.
    #[error(
        "license key was signed by an unknown issuer key (kid {kid:?}); add its public key with --trusted-issuer or MESHCTL_TRUSTED_ISSUERS if you trust it"
    )]
    UnknownKid {
        /// The key id from the header (shortened if long).
        kid: String,
    },
    /// The signature does not verify: the key was altered or not signed by that issuer.
    #[error(
        "license key signature is invalid (kid {kid:?}): the key was altered or not signed by this issuer"
    )]
    BadSignature {
        /// The key id the signature was checked against.
        kid: String,
    },
    /// The claims are not a JSON object of the expected shape.
    #[error("license claims are invalid: {0}")]
    Claims(String),
    /// A required string claim is empty.
    #[error("license claim {name:?} is empty")]
    EmptyClaim {
        /// Claim name.
        name: &'static str,
    },
    /// A name to be signed (issuer, licensee) that no report could print as it is.
    #[error(
        "license claim {name:?} must be at most {max} characters without control characters (newlines, tabs, escapes)"
    )]
    UnprintableName {
        /// Claim name.
        name: &'static str,
        /// The longest name accepted.
        max: usize,
    },
    /// A timestamp claim is outside the representable range.
    #[error("license claim {name:?} is out of range: {value}")]
    TimeOutOfRange {
        /// Claim name.
        name: &'static str,
        /// Its value in seconds since the epoch.
        value: i64,
    },
    /// `exp` is not after `iat`.
    #[error("license expires ({exp}) before or when it is issued ({iat})")]
    ExpBeforeIat {
        /// Issued at, RFC 3339.
        iat: String,
        /// Expires at, RFC 3339.
        exp: String,
    },
    /// The license lists no product.
    #[error("license grants no product (expected at least one of mesh, gateway, network)")]
    NoProducts,
    /// A product name is not one we know.
    #[error("unknown product {name:?} (known: mesh, gateway, network)")]
    UnknownProduct {
        /// The name as written.
        name: String,
    },
    /// A module name is not one we know.
    #[error("unknown module {name:?} (known: graphql)")]
    UnknownModule {
        /// The name as written.
        name: String,
    },
    /// A module is granted without any product it extends.
    #[error("module {module} requires one of the products it extends ({needs}), none is licensed")]
    ModuleWithoutProduct {
        /// The module.
        module: String,
        /// The products it extends, comma separated.
        needs: String,
    },
    /// `max_clusters` is zero.
    #[error("license claim \"max_clusters\" must be at least 1")]
    ZeroMaxClusters,
    /// The license is not valid yet (`iat` is in the future).
    #[error("license is not valid yet: issued at {issued_at}")]
    NotYetValid {
        /// Issued at, RFC 3339.
        issued_at: String,
    },
    /// The license has expired.
    #[error("license expired at {expired_at}")]
    Expired {
        /// Expires at, RFC 3339.
        expired_at: String,
    },
    /// A private key could not be read.
    #[error("invalid issuer private key: {reason}")]
    PrivateKey {
        /// What was wrong (never the key itself).
        reason: String,
    },
    /// A public key could not be read.
    #[error("invalid issuer public key: {reason}")]
    PublicKey {
        /// What was wrong (never the key itself).
        reason: String,
    },
    /// Encoding a key or token failed.
    #[error("could not encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// Longest attacker-controlled string (kid, alg) we repeat in an error message.
const MAX_ECHO: usize = 64;

/// Longest message from a parser (which may quote claim values) we repeat.
const MAX_ECHO_LONG: usize = 200;

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// Shortens an attacker-controlled string (kid, alg, name) for an error message.
pub(crate) fn echo(s: &str) -> String {
    shorten(s, MAX_ECHO)
}

/// Shortens a parser message that may quote signed claim values.
pub(crate) fn echo_long(s: &str) -> String {
    shorten(s, MAX_ECHO_LONG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_shortens_long_strings() {
        assert_eq!(echo("abc"), "abc");
        let long = "x".repeat(500);
        let shown = echo(&long);
        assert_eq!(shown.chars().count(), MAX_ECHO + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn messages_are_clear() {
        let e = LicenseError::TooLarge {
            len: 20000,
            max: 16384,
        };
        assert_eq!(
            e.to_string(),
            "license key is too large: 20000 bytes (at most 16384 allowed)"
        );
        let e = LicenseError::Base64 {
            segment: Segment::Signature,
        };
        assert!(e.to_string().contains("signature segment"));
        let e = LicenseError::UnsupportedAlg { alg: "none".into() };
        assert!(e.to_string().contains("\"none\""));
    }
}
