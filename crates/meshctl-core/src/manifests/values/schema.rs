//! The values' schema, derived from `templates/values.yaml` itself: the types and defaults come from
//! the values, the descriptions from the comment above each key, and the constraints from
//! `# @schema ...` lines in that comment:
//!
//! - `# @schema enum: A, B, C` — one of these strings;
//! - `# @schema range: MIN..MAX` — an integer within the bounds (inclusive);
//! - `# @schema format: dns-label` — empty, or a DNS label (RFC 1123: lowercase letters, digits and
//!   `-`, at most 63 characters); `format: duration` — a Prometheus duration (`15s`, `1h30m`, `7d`);
//! - `# @schema required` — not empty.
//!
//! [`Schema::check`] holds user values to the constraints (the type checks are `check`'s), and
//! [`Schema::json_schema`] writes the JSON Schema published as `templates/values.schema.json` for
//! editors and CI (`x generate-reference` keeps it current).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::check::{FREE_FORM_KEYS, Origin, Problem, ProblemKind, STRING_LIST_KEYS};
use super::path::{KeyPath, Segment};
use crate::manifests::render::is_dns_label;

/// One key's constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    Enum(Vec<String>),
    Range { min: i64, max: i64 },
    DnsLabel,
    Duration,
    Required,
}

impl Constraint {
    /// What the constraint expects, for messages.
    pub fn expected(&self) -> String {
        match self {
            Self::Enum(options) => format!("one of {}", options.join(", ")),
            Self::Range { min, max } => format!("an integer from {min} to {max}"),
            Self::DnsLabel => "a DNS label (lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit)".to_owned(),
            Self::Duration => "a duration such as 15s, 5m, 1h30m or 7d".to_owned(),
            Self::Required => "a value that is not empty".to_owned(),
        }
    }

    fn allows(&self, value: &Value) -> bool {
        match (self, value) {
            (Self::Enum(options), Value::String(s)) => options.iter().any(|o| o == s),
            (Self::Range { min, max }, Value::Number(n)) => {
                n.as_i64().is_some_and(|n| (*min..=*max).contains(&n))
            }
            (Self::DnsLabel, Value::String(s)) => s.is_empty() || is_dns_label(s),
            (Self::Duration, Value::String(s)) => is_duration(s),
            (Self::Required, Value::String(s)) => !s.is_empty(),
            // wrong types are `check`'s to report
            _ => true,
        }
    }

    fn write_json(&self, out: &mut Map<String, Value>) {
        match self {
            Self::Enum(options) => {
                out.insert("enum".into(), json!(options));
            }
            Self::Range { min, max } => {
                out.insert("minimum".into(), json!(min));
                out.insert("maximum".into(), json!(max));
            }
            Self::DnsLabel => {
                out.insert(
                    "pattern".into(),
                    json!("^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"),
                );
                out.insert("maxLength".into(), json!(63));
            }
            Self::Duration => {
                out.insert("pattern".into(), json!("^([0-9]+(ms|s|m|h|d|w|y))+$"));
            }
            Self::Required => {
                out.insert("minLength".into(), json!(1));
            }
        }
    }
}

/// A `# @schema` line that cannot be read (a bug in `templates/values.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("templates/values.yaml line {line}: {message}")]
pub struct SchemaError {
    pub line: usize,
    pub message: String,
}

/// Descriptions and constraints by key (`a.b.c`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    descriptions: BTreeMap<String, String>,
    constraints: BTreeMap<String, Vec<Constraint>>,
}

impl Schema {
    /// Reads the comments of a values file written in block style (two-space indentation), as
    /// `templates/values.yaml` is.
    pub fn from_values_yaml(text: &str) -> Result<Self, SchemaError> {
        let mut schema = Self::default();
        let mut comment: Vec<String> = Vec::new();
        let mut tags: Vec<(usize, String)> = Vec::new();
        // (indentation, key) of the enclosing maps
        let mut stack: Vec<(usize, String)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let trimmed = line.trim_start();
            if trimmed.is_empty() {
                comment.clear();
                tags.clear();
                continue;
            }
            if let Some(text) = trimmed.strip_prefix('#') {
                let text = text.trim();
                match text.strip_prefix("@schema") {
                    Some(tag) => tags.push((number, tag.trim().to_owned())),
                    None => comment.push(text.to_owned()),
                }
                continue;
            }
            let indent = line.len() - trimmed.len();
            let Some((key, _)) = trimmed.split_once(':') else {
                comment.clear();
                tags.clear();
                continue;
            };
            if key.starts_with('-') || key.contains(' ') {
                comment.clear();
                tags.clear();
                continue;
            }
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            let path = stack
                .iter()
                .map(|(_, k)| k.as_str())
                .chain(std::iter::once(key))
                .collect::<Vec<_>>()
                .join(".");
            stack.push((indent, key.to_owned()));
            if !comment.is_empty() {
                schema.descriptions.insert(path.clone(), comment.join(" "));
            }
            for (line, tag) in tags.drain(..) {
                let constraint =
                    parse_tag(&tag).map_err(|message| SchemaError { line, message })?;
                schema
                    .constraints
                    .entry(path.clone())
                    .or_default()
                    .push(constraint);
            }
            comment.clear();
        }
        Ok(schema)
    }

    /// The constraints of `key` (`a.b.c`).
    pub fn constraints(&self, key: &str) -> &[Constraint] {
        self.constraints.get(key).map_or(&[], Vec::as_slice)
    }

    /// Every constraint `user` (one layer of values) breaks, in key order.
    pub fn check(&self, user: &Value, origin: &Origin) -> Vec<Problem> {
        let mut problems = Vec::new();
        self.walk(user, &KeyPath::default(), origin, &mut problems);
        problems
    }

    fn walk(&self, value: &Value, path: &KeyPath, origin: &Origin, out: &mut Vec<Problem>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    self.walk(child, &path.key(key), origin, out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(item, &path.index(i), origin, out);
                }
            }
            leaf => {
                let Some(key) = plain_key(path) else { return };
                for constraint in self.constraints(&key) {
                    if !constraint.allows(leaf) {
                        out.push(Problem {
                            path: path.clone(),
                            origin: origin.clone(),
                            kind: ProblemKind::NotAllowed {
                                expected: constraint.expected(),
                                found: leaf.to_string(),
                            },
                        });
                    }
                }
            }
        }
    }

    /// The JSON Schema (draft 2020-12) of values files whose defaults are `defaults`.
    pub fn json_schema(&self, defaults: &Value) -> Value {
        let mut root = self.node(defaults, "");
        root.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert("title".into(), json!("meshctl values"));
        root.insert(
            "description".into(),
            json!("Values of the manifests meshctl installs (templates/values.yaml); generated by `meshctl x generate-reference`."),
        );
        Value::Object(root)
    }

    fn node(&self, default: &Value, key: &str) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(d) = self.descriptions.get(key) {
            out.insert("description".into(), json!(d));
        }
        let last = key.rsplit('.').next().unwrap_or(key);
        match default {
            Value::Object(map) => {
                let free_form = map.is_empty() || FREE_FORM_KEYS.contains(&last);
                out.insert("type".into(), json!(["object", "null"]));
                if !free_form {
                    let properties: Map<String, Value> = map
                        .iter()
                        .map(|(k, v)| {
                            let child = if key.is_empty() {
                                k.clone()
                            } else {
                                format!("{key}.{k}")
                            };
                            (k.clone(), Value::Object(self.node(v, &child)))
                        })
                        .collect();
                    out.insert("type".into(), json!("object"));
                    out.insert("properties".into(), Value::Object(properties));
                    out.insert("additionalProperties".into(), json!(false));
                }
            }
            Value::Array(items) => {
                out.insert("type".into(), json!(["array", "null"]));
                if STRING_LIST_KEYS.contains(&key) {
                    out.insert("items".into(), json!({"type": "string"}));
                } else if let Some(first) = items.first() {
                    out.insert("items".into(), Value::Object(self.node(first, "")));
                }
            }
            Value::String(_) => {
                out.insert("type".into(), json!("string"));
            }
            Value::Bool(_) => {
                out.insert("type".into(), json!("boolean"));
            }
            Value::Number(n) if n.is_i64() || n.is_u64() => {
                out.insert("type".into(), json!("integer"));
            }
            Value::Number(_) => {
                out.insert("type".into(), json!("number"));
            }
            Value::Null => {}
        }
        for constraint in self.constraints(key) {
            constraint.write_json(&mut out);
        }
        if !matches!(default, Value::Object(_)) {
            out.insert("default".into(), default.clone());
        }
        out
    }
}

/// `a.b.c` for a path of map keys only; `None` inside a list (no constraint applies there).
fn plain_key(path: &KeyPath) -> Option<String> {
    let mut keys = Vec::new();
    for segment in &path.0 {
        match segment {
            Segment::Key(k) => keys.push(k.as_str()),
            Segment::Index(_) => return None,
        }
    }
    Some(keys.join("."))
}

fn parse_tag(tag: &str) -> Result<Constraint, String> {
    let (name, argument) = match tag.split_once(':') {
        Some((n, a)) => (n.trim(), a.trim()),
        None => (tag.trim(), ""),
    };
    match name {
        "enum" => {
            let options: Vec<String> = argument
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
            if options.is_empty() {
                return Err("@schema enum: needs options".into());
            }
            Ok(Constraint::Enum(options))
        }
        "range" => {
            let parsed = argument
                .split_once("..")
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
            match parsed {
                Some((min, max)) if min <= max => Ok(Constraint::Range { min, max }),
                _ => Err(format!(
                    "@schema range: expected MIN..MAX, got {argument:?}"
                )),
            }
        }
        "format" => match argument {
            "dns-label" => Ok(Constraint::DnsLabel),
            "duration" => Ok(Constraint::Duration),
            other => Err(format!("@schema format: unknown format {other:?}")),
        },
        "required" => Ok(Constraint::Required),
        other => Err(format!("unknown @schema tag {other:?}")),
    }
}

/// A Prometheus duration: one or more `<number><unit>` with units ms, s, m, h, d, w, y.
fn is_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# The namespace.
# @schema format: dns-label
# @schema required
namespace: mesh-system

image:
  # Pull policy.
  # @schema enum: Always, IfNotPresent, Never
  pullPolicy: IfNotPresent
  pullSecrets: []
server:
  ports:
    # The port.
    # @schema range: 1..65535
    relay: 9900
  # @schema format: duration
  every: 15s
";

    fn origin() -> Origin {
        Origin::Set("x".into())
    }

    #[test]
    fn constraints_and_descriptions_come_from_the_comments() {
        let s = Schema::from_values_yaml(TEXT).unwrap();
        assert_eq!(
            s.constraints("image.pullPolicy"),
            &[Constraint::Enum(vec![
                "Always".into(),
                "IfNotPresent".into(),
                "Never".into()
            ])]
        );
        assert_eq!(
            s.constraints("server.ports.relay"),
            &[Constraint::Range { min: 1, max: 65535 }]
        );
        assert_eq!(
            s.constraints("namespace"),
            &[Constraint::DnsLabel, Constraint::Required]
        );
        assert_eq!(s.constraints("server.every"), &[Constraint::Duration]);
        assert_eq!(
            s.descriptions.get("server.ports.relay").map(String::as_str),
            Some("The port.")
        );
    }

    #[test]
    fn values_breaking_a_constraint_are_problems_naming_key_and_expectation() {
        let s = Schema::from_values_yaml(TEXT).unwrap();
        let user = json!({"image": {"pullPolicy": "Sometimes"}, "server": {"ports": {"relay": 0}, "every": "soon"}, "namespace": ""});
        let problems: Vec<String> = s
            .check(&user, &origin())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            [
                "values key image.pullPolicy must be one of Always, IfNotPresent, Never, got \"Sometimes\" (from --set \"x\")",
                "values key namespace must be a value that is not empty, got \"\" (from --set \"x\")",
                "values key server.every must be a duration such as 15s, 5m, 1h30m or 7d, got \"soon\" (from --set \"x\")",
                "values key server.ports.relay must be an integer from 1 to 65535, got 0 (from --set \"x\")",
            ]
        );
        let good = json!({"image": {"pullPolicy": "Never"}, "server": {"ports": {"relay": 65535}, "every": "1h30m"}, "namespace": "ns-1"});
        assert!(s.check(&good, &origin()).is_empty());
        assert_eq!(
            s.check(&json!({"server": {"ports": {"relay": 99999}}}), &origin())
                .len(),
            1
        );
        assert_eq!(s.check(&json!({"namespace": "Bad_NS"}), &origin()).len(), 1);
    }

    #[test]
    fn the_json_schema_carries_types_defaults_and_constraints() {
        let s = Schema::from_values_yaml(TEXT).unwrap();
        let defaults: Value = crate::manifests::yaml::parse("t", TEXT).unwrap();
        let schema = s.json_schema(&defaults);
        let policy = &schema["properties"]["image"]["properties"]["pullPolicy"];
        assert_eq!(policy["type"], "string");
        assert_eq!(policy["default"], "IfNotPresent");
        assert_eq!(policy["enum"], json!(["Always", "IfNotPresent", "Never"]));
        assert_eq!(policy["description"], "Pull policy.");
        let relay = &schema["properties"]["server"]["properties"]["ports"]["properties"]["relay"];
        assert_eq!(
            (relay["minimum"].clone(), relay["maximum"].clone()),
            (json!(1), json!(65535))
        );
        assert_eq!(schema["properties"]["image"]["additionalProperties"], false);
        assert_eq!(schema["properties"]["namespace"]["minLength"], 1);
    }

    #[test]
    fn unreadable_tags_name_their_line() {
        let err = Schema::from_values_yaml("# @schema range: 10..1\nport: 5\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(Schema::from_values_yaml("# @schema colour: red\nx: 1\n").is_err());
    }

    #[test]
    fn durations() {
        for ok in ["15s", "1h30m", "7d", "500ms", "1y"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "15", "s", "1.5h", "15 s", "-1s"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }
}
