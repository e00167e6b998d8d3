//! Checks user values against the defaults: every key must exist in the defaults (outside free-form maps)
//! and every value must have the type of its default.

use std::fmt;

use serde_json::Value;

use super::path::KeyPath;
use super::suggest;

/// Keys whose maps are free-form (Kubernetes objects or label maps passed through as they are).
/// A map whose default is empty (`{}`) is free-form too.
pub const FREE_FORM_KEYS: &[&str] = &[
    "resources",
    "nodeSelector",
    "affinity",
    "annotations",
    "podAnnotations",
    "extraLabels",
    "extraAnnotations",
];

/// Lists whose default is empty but whose elements must be single-line strings (the templates use
/// them as names).
pub const STRING_LIST_KEYS: &[&str] = &["image.pullSecrets", "mgmtServer.relay.serverSans"];

/// Where a layer of user values came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A `-f` file.
    File(String),
    /// A `--set` expression.
    Set(String),
    /// A `--set-string` expression.
    SetString(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(name) => write!(f, "{name}"),
            Self::Set(expr) => write!(f, "--set {}", super::set::shown(expr)),
            Self::SetString(expr) => write!(f, "--set-string {}", super::set::shown(expr)),
        }
    }
}

/// What is wrong with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The key does not exist in the defaults.
    UnknownKey {
        /// The nearest known key, if one is close.
        suggestion: Option<String>,
    },
    /// The value's type differs from the default's.
    WrongType {
        /// Type of the default.
        expected: &'static str,
        /// Type found.
        found: &'static str,
    },
    /// A string the templates write on one line contains a control character (a newline, a tab...).
    ControlCharacter {
        /// The first control character found.
        character: char,
    },
    /// The value has the right type but breaks the key's constraint (`schema`).
    NotAllowed {
        /// What the constraint expects.
        expected: String,
        /// The value found, as JSON.
        found: String,
    },
}

/// One problem in user values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The full key, `--set` syntax.
    pub path: KeyPath,
    /// Where the value came from.
    pub origin: Origin,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ProblemKind::UnknownKey { suggestion } => {
                write!(f, "unknown values key {} (from {})", self.path, self.origin)?;
                if let Some(suggestion) = suggestion {
                    write!(f, "; did you mean {suggestion}?")?;
                }
                Ok(())
            }
            ProblemKind::WrongType { expected, found } => {
                write!(
                    f,
                    "values key {} must be {expected}, got {found} (from {})",
                    self.path, self.origin
                )?;
                match (&self.origin, *expected) {
                    (Origin::Set(_), "a string") => {
                        write!(f, "; use --set-string to pass it as a string")
                    }
                    (Origin::File(_), "a string") => {
                        write!(f, "; quote the value to make it a string")
                    }
                    _ => Ok(()),
                }
            }
            ProblemKind::NotAllowed { expected, found } => write!(
                f,
                "values key {} must be {expected}, got {found} (from {})",
                self.path, self.origin
            ),
            ProblemKind::ControlCharacter { character } => write!(
                f,
                "values key {} must be a single line without control characters, found U+{:04X} (from {})",
                self.path,
                u32::from(*character),
                self.origin
            ),
        }
    }
}

/// Every problem of `user` (one layer of values) against `defaults`, in key order.
pub fn check(defaults: &Value, user: &Value, origin: &Origin) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut known = Vec::new();
    collect_known(defaults, &KeyPath::default(), &mut known);
    walk(
        defaults,
        user,
        &KeyPath::default(),
        origin,
        &known,
        &mut problems,
    );
    problems
}

fn is_free_form(default: &Value, path: &KeyPath) -> bool {
    match default {
        Value::Object(map) if map.is_empty() => true,
        Value::Object(_) => {
            path.last_key()
                .is_some_and(|key| FREE_FORM_KEYS.contains(&key))
                && !matches!(path.0.last(), Some(super::path::Segment::Index(_)))
        }
        _ => false,
    }
}

fn collect_known(default: &Value, path: &KeyPath, out: &mut Vec<String>) {
    if let Value::Object(map) = default {
        if !path.0.is_empty() && is_free_form(default, path) {
            return;
        }
        for (key, value) in map {
            let child = path.key(key);
            out.push(child.to_string());
            collect_known(value, &child, out);
        }
    }
}

fn walk(
    default: &Value,
    user: &Value,
    path: &KeyPath,
    origin: &Origin,
    known: &[String],
    problems: &mut Vec<Problem>,
) {
    let wrong = |problems: &mut Vec<Problem>| {
        problems.push(Problem {
            path: path.clone(),
            origin: origin.clone(),
            kind: ProblemKind::WrongType {
                expected: type_name(default),
                found: type_name(user),
            },
        });
    };
    match (default, user) {
        (Value::Null, _) => {}
        // `null` clears a list or a free-form map; a structured map (`mgmtServer`) the templates need.
        (Value::Array(_), Value::Null) => {}
        (Value::Object(_), Value::Null) => {
            if !is_free_form(default, path) {
                wrong(problems);
            }
        }
        (Value::Object(default_map), Value::Object(user_map)) => {
            if is_free_form(default, path) {
                return;
            }
            for (key, user_value) in user_map {
                let child = path.key(key);
                match default_map.get(key) {
                    Some(default_value) => {
                        walk(default_value, user_value, &child, origin, known, problems)
                    }
                    None => {
                        let full = child.to_string();
                        let suggestion = suggest::nearest(&full, known.iter().map(String::as_str));
                        problems.push(unknown(child, origin, suggestion));
                    }
                }
            }
        }
        (Value::Array(default_list), Value::Array(user_list)) => {
            let string_list = Value::String(String::new());
            let element_default = default_list.first().or_else(|| {
                STRING_LIST_KEYS
                    .contains(&path.to_string().as_str())
                    .then_some(&string_list)
            });
            if let Some(element_default) = element_default {
                for (index, element) in user_list.iter().enumerate() {
                    if !element.is_null() {
                        walk(
                            element_default,
                            element,
                            &path.index(index),
                            origin,
                            known,
                            problems,
                        );
                    }
                }
            }
        }
        (Value::Bool(_), Value::Bool(_)) => {}
        (Value::String(_), Value::String(text)) => {
            if let Some(character) = text.chars().find(|c| c.is_control()) {
                problems.push(Problem {
                    path: path.clone(),
                    origin: origin.clone(),
                    kind: ProblemKind::ControlCharacter { character },
                });
            }
        }
        (Value::Number(d), Value::Number(u)) => {
            if is_integer(d) && !is_integer(u) {
                wrong(problems);
            }
        }
        _ => wrong(problems),
    }
}

fn unknown(path: KeyPath, origin: &Origin, suggestion: Option<&str>) -> Problem {
    Problem {
        path,
        origin: origin.clone(),
        kind: ProblemKind::UnknownKey {
            suggestion: suggestion.map(str::to_owned),
        },
    }
}

fn is_integer(number: &serde_json::Number) -> bool {
    number.is_i64() || number.is_u64()
}

/// The type of a value as error messages name it.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if is_integer(n) => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn defaults() -> Value {
        json!({
            "image": {"repository": "r", "tag": "", "pullSecrets": []},
            "mgmtServer": {"replicas": 1, "resources": {"requests": {"cpu": "100m"}}, "sans": ["a"]},
            "redis": {"enabled": false},
            "ratio": 0.5,
            "nodeSelector": {},
            "tolerations": [],
            "anything": null
        })
    }

    fn problems(user: Value) -> Vec<String> {
        check(&defaults(), &user, &Origin::File("my.yaml".into()))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn accepts_valid_values() {
        let user = json!({
            "image": {"tag": "v1", "pullSecrets": ["s"]},
            "mgmtServer": {"replicas": 3, "resources": {"limits": {"memory": "1Gi"}}, "sans": ["x", "y"]},
            "ratio": 2,
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "anything": {"deep": [1]}
        });
        assert_eq!(problems(user), Vec::<String>::new());
    }

    #[test]
    fn unknown_keys_name_the_full_key_and_suggest() {
        assert_eq!(
            problems(json!({"mgmtServer": {"replica": 2}})),
            [
                "unknown values key mgmtServer.replica (from my.yaml); did you mean mgmtServer.replicas?"
            ]
        );
        assert_eq!(
            problems(json!({"replicas": 2})),
            ["unknown values key replicas (from my.yaml); did you mean mgmtServer.replicas?"]
        );
        assert_eq!(
            problems(json!({"zzz": 1})),
            ["unknown values key zzz (from my.yaml)"]
        );
    }

    #[test]
    fn wrong_types_name_key_and_expected_type() {
        assert_eq!(
            problems(json!({"mgmtServer": {"replicas": "three"}})),
            ["values key mgmtServer.replicas must be an integer, got a string (from my.yaml)"]
        );
        assert_eq!(
            problems(json!({"redis": {"enabled": "yes"}})),
            ["values key redis.enabled must be a boolean, got a string (from my.yaml)"]
        );
        assert_eq!(
            problems(json!({"image": {"tag": 2}})),
            [
                "values key image.tag must be a string, got an integer (from my.yaml); quote the value to make it a string"
            ]
        );
        assert_eq!(
            problems(json!({"mgmtServer": {"replicas": 1.5}})),
            ["values key mgmtServer.replicas must be an integer, got a number (from my.yaml)"]
        );
        assert_eq!(
            problems(json!({"mgmtServer": {"sans": ["ok", 3]}})),
            [
                "values key mgmtServer.sans[1] must be a string, got an integer (from my.yaml); quote the value to make it a string"
            ]
        );
        assert_eq!(
            problems(json!({"image": "r:v1"})),
            ["values key image must be a map, got a string (from my.yaml)"]
        );
        assert_eq!(
            problems(json!({"tolerations": {"a": 1}})),
            ["values key tolerations must be a list, got a map (from my.yaml)"]
        );
    }

    #[test]
    fn set_origin_hints_at_set_string() {
        let found = check(
            &defaults(),
            &json!({"image": {"tag": 2}}),
            &Origin::Set("image.tag=2".into()),
        );
        assert_eq!(
            found[0].to_string(),
            r#"values key image.tag must be a string, got an integer (from --set "image.tag=2"); use --set-string to pass it as a string"#
        );
    }

    #[test]
    fn null_is_allowed_for_maps_and_lists_only() {
        assert!(
            problems(json!({"tolerations": null, "mgmtServer": {"resources": null}})).is_empty()
        );
        assert_eq!(
            problems(json!({"mgmtServer": {"replicas": null}})),
            ["values key mgmtServer.replicas must be an integer, got null (from my.yaml)"]
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        assert_eq!(
            problems(json!({"a": 1, "b": 2, "redis": {"enabled": 1}})).len(),
            3
        );
    }
}
