//! Compact JWS (RFC 7515) in JWT form, restricted to what license keys use:
//! `header.payload.signature`, strict unpadded base64url, `alg: EdDSA`,
//! `typ: JWT`, a `kid`, and a 64-byte Ed25519 signature.
//!
//! Parsing only checks the form; it does not verify the signature or read the
//! claims (see [`super::verify`]).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::error::{HeaderProblem, LicenseError, Segment, echo};

/// Largest license key accepted, in bytes; larger input is refused before parsing.
pub const MAX_KEY_LEN: usize = 16 * 1024;

/// The only signature algorithm accepted.
pub const ALG_EDDSA: &str = "EdDSA";

/// The only token type accepted.
pub const TYP_JWT: &str = "JWT";

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// The protected header as it appears on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Signature algorithm.
    pub alg: String,
    /// Token type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Id of the issuer key that signed the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Other header parameters (only used to refuse `crit`).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A token whose form is valid but whose signature has not been checked yet.
#[derive(Debug, Clone, PartialEq)]
pub struct UnverifiedJws<'a> {
    /// Id of the key the token claims to be signed with.
    pub kid: String,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: the bytes that are signed.
    pub signing_input: &'a str,
    /// The decoded payload; untrusted until the signature is verified.
    pub payload: Vec<u8>,
    /// The decoded signature.
    pub signature: [u8; SIGNATURE_LEN],
}

fn decode(segment: Segment, text: &str) -> Result<Vec<u8>, LicenseError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| LicenseError::Base64 { segment })
}

/// Checks the outer form of a key before anything is decoded: size, emptiness,
/// segment count. Returns the trimmed key and its three segments.
fn split(input: &str) -> Result<(&str, [&str; 3]), LicenseError> {
    if input.len() > MAX_KEY_LEN {
        return Err(LicenseError::TooLarge {
            len: input.len(),
            max: MAX_KEY_LEN,
        });
    }
    let token = input.trim();
    if token.is_empty() {
        return Err(LicenseError::Empty);
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((token, [h, p, s])),
        _ => Err(LicenseError::Segments {
            found: token.split('.').count(),
        }),
    }
}

fn check_header(header_json: &[u8]) -> Result<String, LicenseError> {
    // serde_json messages may quote header content; describe the problem instead.
    let header: Header = serde_json::from_slice(header_json).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                "malformed JSON"
            }
            serde_json::error::Category::Eof => "truncated JSON",
            serde_json::error::Category::Data => {
                "not an object with string fields alg, typ and kid"
            }
        };
        LicenseError::Header(HeaderProblem::Json(format!(
            "{what} (at column {})",
            e.column()
        )))
    })?;
    if header.alg != ALG_EDDSA {
        return Err(LicenseError::UnsupportedAlg {
            alg: echo(&header.alg),
        });
    }
    if header.extra.contains_key("crit") {
        return Err(LicenseError::Header(HeaderProblem::Crit));
    }
    match header.typ.as_deref() {
        Some(TYP_JWT) => {}
        Some(other) => return Err(LicenseError::Header(HeaderProblem::Typ(echo(other)))),
        None => return Err(LicenseError::Header(HeaderProblem::MissingTyp)),
    }
    match header.kid {
        Some(kid) if !kid.trim().is_empty() => Ok(kid),
        _ => Err(LicenseError::Header(HeaderProblem::MissingKid)),
    }
}

/// Parses a compact JWS license key. Surrounding whitespace is ignored (keys
/// are often pasted with a trailing newline); anything else must be exact.
pub fn parse(input: &str) -> Result<UnverifiedJws<'_>, LicenseError> {
    let (token, [header_b64, payload_b64, signature_b64]) = split(input)?;
    let kid = check_header(&decode(Segment::Header, header_b64)?)?;
    let payload = decode(Segment::Payload, payload_b64)?;
    let signature_bytes = decode(Segment::Signature, signature_b64)?;
    let signature: [u8; SIGNATURE_LEN] =
        signature_bytes
            .as_slice()
            .try_into()
            .map_err(|_| LicenseError::SignatureLength {
                found: signature_bytes.len(),
            })?;
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    Ok(UnverifiedJws {
        kid,
        signing_input: &token[..signing_input_len],
        payload,
        signature,
    })
}

/// The signing input of a new token: `BASE64URL(header) '.' BASE64URL(payload)`.
pub fn signing_input(kid: &str, payload: &[u8]) -> Result<String, LicenseError> {
    let header = Header {
        alg: ALG_EDDSA.to_owned(),
        typ: Some(TYP_JWT.to_owned()),
        kid: Some(kid.to_owned()),
        extra: BTreeMap::new(),
    };
    let header_json = serde_json::to_vec(&header).map_err(|e| LicenseError::Encode {
        what: "header",
        reason: e.to_string(),
    })?;
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header_json),
        URL_SAFE_NO_PAD.encode(payload)
    ))
}

/// Appends the signature to a signing input, giving the compact token.
pub fn assemble(signing_input: &str, signature: &[u8; SIGNATURE_LEN]) -> String {
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn token_with_header(header: &str) -> String {
        format!(
            "{}.{}.{}",
            b64(header.as_bytes()),
            b64(b"{}"),
            b64(&[7u8; 64])
        )
    }

    fn good() -> String {
        let input = signing_input("abcd", br#"{"sub":"x"}"#).unwrap();
        assemble(&input, &[9u8; 64])
    }

    #[test]
    fn encodes_the_expected_header() {
        let input = signing_input("0123abcd", b"{}").unwrap();
        let header_b64 = input.split('.').next().unwrap();
        let header = URL_SAFE_NO_PAD.decode(header_b64).unwrap();
        assert_eq!(header, br#"{"alg":"EdDSA","typ":"JWT","kid":"0123abcd"}"#);
    }

    #[test]
    fn parses_what_it_encodes() {
        let token = good();
        let jws = parse(&token).unwrap();
        assert_eq!(jws.kid, "abcd");
        assert_eq!(jws.payload, br#"{"sub":"x"}"#);
        assert_eq!(jws.signature, [9u8; 64]);
        assert_eq!(jws.signing_input, token.rsplit_once('.').unwrap().0);
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let token = format!("  {}\n", good());
        assert_eq!(parse(&token).unwrap().kid, "abcd");
    }

    #[test]
    fn empty_and_whitespace_are_empty() {
        for input in ["", " ", "\n", "\t \r\n "] {
            assert_eq!(parse(input), Err(LicenseError::Empty), "{input:?}");
        }
    }

    #[test]
    fn huge_input_is_refused_before_parsing() {
        // Valid base64 but far too long: refused by size, not by content.
        let huge = "A".repeat(MAX_KEY_LEN + 1);
        assert_eq!(
            parse(&huge),
            Err(LicenseError::TooLarge {
                len: MAX_KEY_LEN + 1,
                max: MAX_KEY_LEN
            })
        );
        // Whitespace counts too: size is checked before trimming.
        let padded = format!("{}{}", good(), " ".repeat(MAX_KEY_LEN));
        assert!(matches!(parse(&padded), Err(LicenseError::TooLarge { .. })));
        let dots = ".".repeat(10 * MAX_KEY_LEN);
        assert!(matches!(parse(&dots), Err(LicenseError::TooLarge { .. })));
    }

    #[test]
    fn exactly_three_segments() {
        let token = good();
        let parts: Vec<&str> = token.split('.').collect();
        let two = format!("{}.{}", parts[0], parts[1]);
        assert_eq!(parse(&two), Err(LicenseError::Segments { found: 2 }));
        let four = format!("{token}.{}", parts[2]);
        assert_eq!(parse(&four), Err(LicenseError::Segments { found: 4 }));
        assert_eq!(parse("abc"), Err(LicenseError::Segments { found: 1 }));
        let trailing_dot = format!("{token}.");
        assert_eq!(
            parse(&trailing_dot),
            Err(LicenseError::Segments { found: 4 })
        );
    }

    #[test]
    fn padding_and_other_alphabets_are_refused() {
        let token = good();
        let (h, rest) = token.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        // The 64-byte signature is 86 characters: padded form adds "==".
        let cases = [
            (format!("{h}.{p}.{s}=="), Segment::Signature),
            (format!("{h}.{p}.{s}="), Segment::Signature),
            (format!("{h}=.{p}.{s}"), Segment::Header),
            (format!("{h}.{p}=.{s}"), Segment::Payload),
            (format!("{h}.{p}.{s}%3D%3D"), Segment::Signature),
            // Standard alphabet instead of URL-safe.
            (format!("{h}.{p}.+{}", &s[1..]), Segment::Signature),
            (format!("{h}.{p}./{}", &s[1..]), Segment::Signature),
            // Interior whitespace (a wrapped key).
            (
                format!("{h}.{p}.{}\n{}", &s[..40], &s[40..]),
                Segment::Signature,
            ),
        ];
        for (input, segment) in cases {
            assert_eq!(
                parse(&input),
                Err(LicenseError::Base64 { segment }),
                "{input}"
            );
        }
    }

    #[test]
    fn non_canonical_trailing_bits_are_refused() {
        let token = good();
        let (input, s) = token.rsplit_once('.').unwrap();
        // The last character of an 86-char segment carries 2 data bits and 4 zero
        // bits; a character with any of those 4 bits set is not canonical.
        let last = s.chars().last().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let idx = alphabet.find(last).unwrap();
        let sloppy = alphabet.as_bytes()[idx | 1] as char;
        assert_ne!(sloppy, last);
        let bad = format!("{input}.{}{sloppy}", &s[..s.len() - 1]);
        assert_eq!(
            parse(&bad),
            Err(LicenseError::Base64 {
                segment: Segment::Signature
            })
        );
    }

    #[test]
    fn truncated_signature_is_refused() {
        let token = good();
        // 85 characters cannot be base64 at all.
        let cut = &token[..token.len() - 1];
        assert_eq!(
            parse(cut),
            Err(LicenseError::Base64 {
                segment: Segment::Signature
            })
        );
        // 84 characters decode to 63 bytes: a short signature.
        let cut = &token[..token.len() - 2];
        assert_eq!(parse(cut), Err(LicenseError::SignatureLength { found: 63 }));
        let (input, _) = token.rsplit_once('.').unwrap();
        let empty_sig = format!("{input}.");
        assert_eq!(
            parse(&empty_sig),
            Err(LicenseError::SignatureLength { found: 0 })
        );
    }

    #[test]
    fn only_eddsa_is_accepted() {
        for alg in [
            "none", "None", "HS256", "RS256", "ES256", "eddsa", "Ed25519", "",
        ] {
            let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"k"}}"#);
            assert_eq!(
                parse(&token_with_header(&header)),
                Err(LicenseError::UnsupportedAlg { alg: alg.into() }),
                "{alg}"
            );
        }
        // alg none with an empty signature, the classic downgrade.
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(br#"{"sub":"x"}"#)
        );
        assert_eq!(
            parse(&none),
            Err(LicenseError::UnsupportedAlg { alg: "none".into() })
        );
    }

    #[test]
    fn header_must_have_typ_and_kid_and_no_crit() {
        let cases = [
            (r#"{"alg":"EdDSA","kid":"k"}"#, HeaderProblem::MissingTyp),
            (
                r#"{"alg":"EdDSA","typ":"JOSE","kid":"k"}"#,
                HeaderProblem::Typ("JOSE".into()),
            ),
            (r#"{"alg":"EdDSA","typ":"JWT"}"#, HeaderProblem::MissingKid),
            (
                r#"{"alg":"EdDSA","typ":"JWT","kid":" "}"#,
                HeaderProblem::MissingKid,
            ),
            (
                r#"{"alg":"EdDSA","typ":"JWT","kid":"k","crit":["exp"]}"#,
                HeaderProblem::Crit,
            ),
        ];
        for (header, problem) in cases {
            assert_eq!(
                parse(&token_with_header(header)),
                Err(LicenseError::Header(problem)),
                "{header}"
            );
        }
    }

    #[test]
    fn header_must_be_a_json_object() {
        for header in ["", "[]", "null", "{", r#"{"alg":5}"#, "\u{0}"] {
            assert!(
                matches!(
                    parse(&token_with_header(header)),
                    Err(LicenseError::Header(HeaderProblem::Json(_)))
                ),
                "{header:?}"
            );
        }
    }

    #[test]
    fn header_content_is_not_quoted_in_errors() {
        let long = "Q".repeat(5000);
        for header in [
            format!("\"{long}\""),
            format!(r#"{{"alg":"EdDSA","kid":["{long}"]}}"#),
        ] {
            let err = parse(&token_with_header(&header)).unwrap_err().to_string();
            assert!(!err.contains("QQQQ"), "{err}");
            assert!(err.len() < 200, "{err}");
        }
    }

    #[test]
    fn long_alg_is_shortened_in_the_error() {
        let alg = "X".repeat(1000);
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"k"}}"#);
        let err = parse(&token_with_header(&header)).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
    }
}
