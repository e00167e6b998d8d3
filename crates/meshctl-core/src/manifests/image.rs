//! Container image references: `repository[:tag][@digest]`, as the manifests render them
//! (`image.repository`, `image.tag`, `image.digest`) and as `check` and `cluster register` read them
//! back from a Deployment.

/// A parsed image reference. `repository` keeps its registry host and port
/// (`registry.local:5000/mirror/meshctl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Everything before the tag and the digest.
    pub repository: &'a str,
    /// The tag, when there is one.
    pub tag: Option<&'a str>,
    /// The digest (`sha256:...`), when there is one.
    pub digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// Splits `image` into repository, tag and digest. A `:` belongs to the tag only after the last
    /// `/` (before it, it is a registry port); the digest is what follows the first `@`.
    pub fn parse(image: &'a str) -> Self {
        let (name, digest) = match image.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (image, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(colon) => {
                let at = last_slash + colon;
                (&name[..at], Some(&name[at + 1..]))
            }
            None => (name, None),
        };
        Self {
            repository,
            tag,
            digest,
        }
    }

    /// The last path segment of the repository: `meshctl` for `ghcr.io/meshctl/meshctl`.
    pub fn name(&self) -> &'a str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(self.repository)
    }
}

/// `repository:tag`, with `@digest` appended when given: the tag stays beside the digest, so the
/// reference still says which version it is (`check` compares it with the CLI's) while the runtime
/// pulls by digest (Kubernetes ignores the tag of a `name:tag@digest` reference).
pub fn reference(repository: &str, tag: &str, digest: Option<&str>) -> String {
    match digest {
        Some(digest) => format!("{repository}:{tag}@{digest}"),
        None => format!("{repository}:{tag}"),
    }
}

/// Why a digest is not usable.
pub fn check_digest(digest: &str) -> Result<(), String> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        return Err(format!(
            "{digest:?} is not a digest: it must be sha256: followed by 64 lowercase hexadecimal digits (e.g. the digest `scripts/image.sh build` or `skopeo inspect` prints)"
        ));
    };
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "{digest:?} is not a sha256 digest: after sha256: come exactly 64 lowercase hexadecimal digits (found {})",
            hex.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_split_into_repository_tag_and_digest() {
        let cases = [
            (
                "ghcr.io/meshctl/meshctl:0.1.0",
                "ghcr.io/meshctl/meshctl",
                Some("0.1.0"),
                None,
            ),
            (
                "localhost:5000/meshctl",
                "localhost:5000/meshctl",
                None,
                None,
            ),
            (
                "localhost:5000/meshctl:v1",
                "localhost:5000/meshctl",
                Some("v1"),
                None,
            ),
            ("meshctl@sha256:abc", "meshctl", None, Some("sha256:abc")),
            (
                "reg:5000/m/meshctl:0.1.0@sha256:abc",
                "reg:5000/m/meshctl",
                Some("0.1.0"),
                Some("sha256:abc"),
            ),
            ("meshctl", "meshctl", None, None),
        ];
        for (image, repository, tag, digest) in cases {
            assert_eq!(
                ImageRef::parse(image),
                ImageRef {
                    repository,
                    tag,
                    digest
                },
                "{image}"
            );
        }
        assert_eq!(
            ImageRef::parse("reg:5000/m/meshctl:1@sha256:a").name(),
            "meshctl"
        );
        assert_eq!(ImageRef::parse("meshctl").name(), "meshctl");
    }

    #[test]
    fn a_reference_keeps_the_tag_beside_the_digest() {
        assert_eq!(reference("r/m", "1.0", None), "r/m:1.0");
        let pinned = reference("r/m", "1.0", Some(DIGEST));
        assert_eq!(pinned, format!("r/m:1.0@{DIGEST}"));
        assert_eq!(
            ImageRef::parse(&pinned),
            ImageRef {
                repository: "r/m",
                tag: Some("1.0"),
                digest: Some(DIGEST)
            }
        );
    }

    #[test]
    fn only_sha256_digests_of_64_lowercase_hex_digits_pass() {
        assert_eq!(check_digest(DIGEST), Ok(()));
        for bad in [
            "",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "sha512:0123",
            "sha256:0123",
            &DIGEST.to_uppercase().replace("SHA256", "sha256"),
            &format!("{DIGEST}0"),
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
        ] {
            assert!(check_digest(bad).is_err(), "{bad:?} passed");
        }
    }
}
