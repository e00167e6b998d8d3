//! What a support bundle must never carry: Secret values, secret-looking environment values and
//! flags, passwords in URLs. Applied to every object and log before it is added to a bundle.

use serde_json::Value;

/// Stands in for a removed value.
pub const REDACTED: &str = "<redacted>";

/// Annotation holding a whole previous object (for a Secret: its data).
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Name parts that mark an environment variable or flag as holding a secret.
const SECRET_WORDS: [&str; 6] = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL"];

/// Drops `metadata.managedFields` (noise) and the last-applied annotation (a copy of the
/// object, Secret data included).
pub fn strip_noise(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove(LAST_APPLIED);
        }
    }
}

/// A Secret keeps its metadata, type and key names; every value becomes `<redacted: N bytes>`.
pub fn secret(object: &mut Value) {
    strip_noise(object);
    if let Some(data) = object.get_mut("data").and_then(Value::as_object_mut) {
        for value in data.values_mut() {
            // Base64 of N bytes is 4 * ceil(N / 3) characters, minus the padding.
            let encoded = value.as_str().unwrap_or_default();
            let padding = encoded.chars().rev().take_while(|c| *c == '=').count();
            let bytes = (encoded.len() / 4 * 3).saturating_sub(padding);
            *value = Value::String(format!("<redacted: {bytes} bytes>"));
        }
    }
    if let Some(data) = object.get_mut("stringData").and_then(Value::as_object_mut) {
        for value in data.values_mut() {
            let bytes = value.as_str().map_or(0, str::len);
            *value = Value::String(format!("<redacted: {bytes} bytes>"));
        }
    }
}

/// A Deployment, Pod or other workload: literal values of secret-looking environment variables,
/// values of secret-looking `--flag=value` arguments and passwords in URLs are redacted.
pub fn workload(object: &mut Value) {
    strip_noise(object);
    let pod_spec = if object.get("kind").and_then(Value::as_str) == Some("Pod") {
        object.get_mut("spec")
    } else {
        object.pointer_mut("/spec/template/spec")
    };
    let Some(spec) = pod_spec else { return };
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers {
            container_spec(container);
        }
    }
}

fn container_spec(container: &mut Value) {
    for list in ["command", "args"] {
        if let Some(args) = container.get_mut(list).and_then(Value::as_array_mut) {
            let mut previous_flag_secret = false;
            for arg in args.iter_mut() {
                let Some(text) = arg.as_str() else { continue };
                let redacted = if previous_flag_secret {
                    REDACTED.to_owned()
                } else {
                    argument(text)
                };
                previous_flag_secret = text.starts_with("--")
                    && !text.contains('=')
                    && is_secret_flag(text.trim_start_matches('-'));
                *arg = Value::String(redacted);
            }
        }
    }
    if let Some(env) = container.get_mut("env").and_then(Value::as_array_mut) {
        for var in env {
            let secret = var
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(is_secret_env);
            if let Some(value) = var.get_mut("value") {
                let text = value.as_str().unwrap_or_default();
                *value = Value::String(if secret {
                    REDACTED.to_owned()
                } else {
                    urls_in_text(text)
                });
            }
        }
    }
}

/// `--name=value` with a secret-looking name loses its value; URLs lose their passwords.
fn argument(arg: &str) -> String {
    if let Some((flag, _)) = arg.split_once('=')
        && flag.starts_with('-')
        && is_secret_flag(flag.trim_start_matches('-'))
    {
        return format!("{flag}={REDACTED}");
    }
    urls_in_text(arg)
}

/// Whether an environment variable's name says it holds a secret. Names of files, paths and
/// Secrets (`TOKEN_FILE`, `LICENSE_SECRET_NAME`) say where a secret is, not what it is.
pub fn is_secret_env(name: &str) -> bool {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    let refers = ["_FILE", "_PATH", "_DIR", "_SECRET_NAME"];
    !refers.iter().any(|r| upper.ends_with(r)) && SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// meshctl's own flags that name a Secret or a key of one, not a secret value.
const MESHCTL_REFERENCE_FLAGS: [&str; 3] = ["license-secret", "license-secret-key", "token-secret"];

/// Whether a flag (without its dashes) says it holds a secret: as for environment variables,
/// except meshctl's flags that name a Secret (`--license-secret`, `--token-secret`, ...).
pub fn is_secret_flag(flag: &str) -> bool {
    !MESHCTL_REFERENCE_FLAGS.contains(&flag.to_ascii_lowercase().as_str()) && is_secret_env(flag)
}

/// Every `scheme://user:password@host` in `text` with the password replaced.
pub fn urls_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace or quote.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at_sign) => {
                let userinfo = &authority[..at_sign];
                match userinfo.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:{REDACTED}")),
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at_sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_keep_their_keys_and_sizes_only() {
        let mut s = json!({"kind": "Secret", "metadata": {"name": "meshctl-license",
            "managedFields": [{"manager": "meshctl"}],
            "annotations": {LAST_APPLIED: "{\"data\":{\"license-key\":\"c2VjcmV0\"}}", "keep": "me"}},
            "type": "Opaque",
            "data": {"license-key": "c2VjcmV0", "empty": ""},
            "stringData": {"token": "abc"}});
        secret(&mut s);
        assert_eq!(
            s,
            json!({"kind": "Secret", "metadata": {"name": "meshctl-license", "annotations": {"keep": "me"}},
                "type": "Opaque",
                "data": {"license-key": "<redacted: 6 bytes>", "empty": "<redacted: 0 bytes>"},
                "stringData": {"token": "<redacted: 3 bytes>"}})
        );
    }

    #[test]
    fn workloads_lose_secret_values_but_keep_references() {
        let mut d = json!({"kind": "Deployment", "metadata": {"name": "mesh-mgmt-server"},
        "spec": {"template": {"spec": {"containers": [{"name": "server",
            "args": ["serve", "mgmt-server", "--redis-url=redis://:hunter2@mesh-redis:6379",
                     "--license-secret=meshctl-license", "--api-token", "tok-123",
                     "--token-file=/var/run/token"],
            "env": [
                {"name": "MESHCTL_LICENSE_KEY", "value": "eyJsaWNlbnNl"},
                {"name": "MESHCTL_REDIS_URL", "value": "redis://u:pw@h:1/0"},
                {"name": "RUST_LOG", "value": "info"},
                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}
            ]}]}}}});
        workload(&mut d);
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            c["args"],
            json!([
                "serve",
                "mgmt-server",
                "--redis-url=redis://:<redacted>@mesh-redis:6379",
                "--license-secret=meshctl-license",
                "--api-token",
                "<redacted>",
                "--token-file=/var/run/token"
            ])
        );
        assert_eq!(c["env"][0]["value"], "<redacted>");
        assert_eq!(c["env"][1]["value"], "redis://u:<redacted>@h:1/0");
        assert_eq!(c["env"][2]["value"], "info");
        assert_eq!(c["env"][3]["valueFrom"]["secretKeyRef"]["name"], "db");
        let text = d.to_string();
        for secret in ["hunter2", "tok-123", "eyJsaWNlbnNl", ":pw@"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn pods_are_redacted_too() {
        let mut p = json!({"kind": "Pod", "spec": {"containers": [{"name": "a",
            "env": [{"name": "API_TOKEN", "value": "t0ken"}]}]}});
        workload(&mut p);
        assert_eq!(p["spec"]["containers"][0]["env"][0]["value"], "<redacted>");
    }

    #[test]
    fn secret_names() {
        for name in [
            "MESHCTL_LICENSE_KEY",
            "PASSWORD",
            "API_TOKEN",
            "CLIENT_SECRET",
            "AWS_CREDENTIALS",
        ] {
            assert!(is_secret_env(name), "{name}");
        }
        for name in [
            "TOKEN_FILE",
            "LICENSE_SECRET_NAME",
            "TOKEN_PATH",
            "RUST_LOG",
            "POD_NAMESPACE",
        ] {
            assert!(!is_secret_env(name), "{name}");
        }
        for flag in [
            "password",
            "api-token",
            "license-key",
            "client-secret-value",
        ] {
            assert!(is_secret_flag(flag), "{flag}");
        }
        for flag in [
            "token-file",
            "license-secret",
            "license-secret-key",
            "token-secret",
            "namespace",
        ] {
            assert!(!is_secret_flag(flag), "{flag}");
        }
    }

    #[test]
    fn other_programs_secret_keys_are_secrets() {
        for name in ["AWS_SECRET_KEY", "DJANGO_SECRET_KEY"] {
            assert!(is_secret_env(name), "{name}");
        }
        assert!(is_secret_flag("client-secret"));
        assert!(is_secret_flag("oauth-client-secret"));
        let mut p = json!({"kind": "Pod", "spec": {"ephemeralContainers": [{"name": "debug",
            "env": [{"name": "API_TOKEN", "value": "t0ken"}]}]}});
        workload(&mut p);
        assert_eq!(
            p["spec"]["ephemeralContainers"][0]["env"][0]["value"],
            "<redacted>"
        );
    }

    #[test]
    fn passwords_in_text() {
        assert_eq!(
            urls_in_text(
                "connecting to redis://admin:s3cret@redis:6379/0 and https://example.com/x"
            ),
            "connecting to redis://admin:<redacted>@redis:6379/0 and https://example.com/x"
        );
        assert_eq!(urls_in_text("rediss://user@h"), "rediss://user@h");
        assert_eq!(urls_in_text("no urls here"), "no urls here");
        assert_eq!(urls_in_text("x://a:b@"), "x://a:<redacted>@");
    }
}
