//! Values: the documented defaults (`templates/values.yaml`), `-f` files and `--set`/`--set-string`,
//! combined with Helm's rules and checked against the defaults.
//!
//! Order (Helm's): every `-f` file in the order given (later wins), then every `--set`, then every
//! `--set-string`. Each layer is checked on its own so that errors name the file or flag they came from.

pub mod check;
pub mod merge;
pub mod path;
pub mod schema;
pub mod set;
pub mod suggest;

use std::fmt;

use serde_json::{Map, Value};

use self::check::{Origin, Problem};
use self::set::{SetKind, SetSyntaxError};
use super::yaml::{self, YamlError};

/// The user's values, as given on the command line (file contents already read by the caller).
#[derive(Debug, Clone, Default)]
pub struct ValuesInput {
    /// `-f` files: (name for messages, contents), in command-line order.
    pub files: Vec<(String, String)>,
    /// `--set` expressions, in order.
    pub set: Vec<String>,
    /// `--set-string` expressions, in order.
    pub set_string: Vec<String>,
}

/// Why values could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    /// A values file is not valid YAML.
    #[error("values file {0}")]
    Yaml(#[from] YamlError),
    /// A values file's top level is not a map.
    #[error("values file {source_name}: the top level must be a map of keys, found {found}")]
    NotAMap {
        /// File name.
        source_name: String,
        /// What was found instead.
        found: &'static str,
    },
    /// A `--set`/`--set-string` expression is malformed.
    #[error(transparent)]
    Set(#[from] SetSyntaxError),
    /// Unknown keys or wrong types.
    #[error("{}", ProblemList(.0))]
    Invalid(Vec<Problem>),
    /// The embedded defaults are broken (a bug in this build).
    #[error("embedded templates/values.yaml is invalid: {0}")]
    Defaults(String),
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Parses the text of `templates/values.yaml` (or a test's replacement) into the defaults tree.
pub fn parse_defaults(text: &str) -> Result<Value, ValuesError> {
    let value = yaml::parse("templates/values.yaml", text)
        .map_err(|err| ValuesError::Defaults(err.to_string()))?;
    match value {
        Value::Object(_) => Ok(value),
        other => Err(ValuesError::Defaults(format!(
            "top level is {}",
            check::type_name(&other)
        ))),
    }
}

/// The schema of the embedded defaults (constraints and descriptions from its comments).
pub fn embedded_schema() -> Result<schema::Schema, ValuesError> {
    let text = super::embed::values_yaml()
        .ok_or_else(|| ValuesError::Defaults("file missing from the build".to_owned()))?;
    schema::Schema::from_values_yaml(&text).map_err(|e| ValuesError::Defaults(e.to_string()))
}

/// `templates/values.schema.json`: the JSON Schema of values files, generated from the embedded
/// defaults (published for editors and CI; `x generate-reference` keeps the file current).
pub fn embedded_json_schema() -> Result<String, ValuesError> {
    let schema = embedded_schema()?.json_schema(&embedded_defaults()?);
    serde_json::to_string_pretty(&schema)
        .map(|text| text + "\n")
        .map_err(|e| ValuesError::Defaults(e.to_string()))
}

/// The embedded defaults.
pub fn embedded_defaults() -> Result<Value, ValuesError> {
    let text = super::embed::values_yaml()
        .ok_or_else(|| ValuesError::Defaults("file missing from the build".to_owned()))?;
    parse_defaults(&text)
}

/// Resolves the final values: user layers checked against and coalesced onto `defaults`.
pub fn resolve(defaults: &Value, input: &ValuesInput) -> Result<Value, ValuesError> {
    let user = user_values(defaults, input)?;
    Ok(merge::coalesce(defaults, &Value::Object(user)))
}

/// The user's own values tree (files, then `--set`, then `--set-string`), every layer checked.
pub fn user_values(
    defaults: &Value,
    input: &ValuesInput,
) -> Result<Map<String, Value>, ValuesError> {
    let schema = embedded_schema()?;
    let mut problems = Vec::new();
    let mut user = Map::new();
    for (name, text) in &input.files {
        let layer = match yaml::parse(name, text)? {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(ValuesError::NotAMap {
                    source_name: name.clone(),
                    found: check::type_name(&other),
                });
            }
        };
        let layer = Value::Object(layer);
        let origin = Origin::File(name.clone());
        problems.extend(check::check(defaults, &layer, &origin));
        problems.extend(schema.check(&layer, &origin));
        if let Value::Object(layer) = layer {
            merge::merge_into(&mut user, layer);
        }
    }
    let sets = input
        .set
        .iter()
        .map(|e| (e, SetKind::Typed))
        .chain(input.set_string.iter().map(|e| (e, SetKind::String)));
    for (expression, kind) in sets {
        let layer = set::parse(expression, kind)?;
        let origin = match kind {
            SetKind::Typed => Origin::Set(expression.clone()),
            SetKind::String => Origin::SetString(expression.clone()),
        };
        let layer = Value::Object(layer);
        problems.extend(check::check(defaults, &layer, &origin));
        problems.extend(schema.check(&layer, &origin));
        set::parse_into(expression, kind, &mut user)?;
    }
    if problems.is_empty() {
        Ok(user)
    } else {
        Err(ValuesError::Invalid(problems))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn defaults() -> Value {
        parse_defaults(
            "image:\n  repository: r\n  tag: \"\"\nmgmtServer:\n  replicas: 1\n  sans: []\n  resources:\n    limits:\n      memory: 1Gi\nredis:\n  enabled: false\n",
        )
        .unwrap()
    }

    fn input(files: &[(&str, &str)], set: &[&str], set_string: &[&str]) -> ValuesInput {
        ValuesInput {
            files: files
                .iter()
                .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
                .collect(),
            set: set.iter().map(|s| (*s).to_owned()).collect(),
            set_string: set_string.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn no_input_gives_the_defaults() {
        assert_eq!(
            resolve(&defaults(), &ValuesInput::default()).unwrap(),
            defaults()
        );
    }

    #[test]
    fn files_in_order_then_set_then_set_string() {
        let values = resolve(
            &defaults(),
            &input(
                &[
                    ("a.yaml", "mgmtServer:\n  replicas: 2\n  sans: [x]\n"),
                    ("b.yaml", "mgmtServer:\n  replicas: 3\n"),
                ],
                &["image.tag=v1", "redis.enabled=true"],
                &["image.tag=2"],
            ),
        )
        .unwrap();
        assert_eq!(values["mgmtServer"]["replicas"], json!(3));
        assert_eq!(values["mgmtServer"]["sans"], json!(["x"]));
        assert_eq!(
            values["mgmtServer"]["resources"],
            json!({"limits": {"memory": "1Gi"}})
        );
        assert_eq!(values["image"], json!({"repository": "r", "tag": "2"}));
        assert_eq!(values["redis"]["enabled"], json!(true));
    }

    #[test]
    fn set_list_index_applies_to_lists_from_files() {
        let values = resolve(
            &defaults(),
            &input(
                &[("a.yaml", "mgmtServer:\n  sans: [x, y]\n")],
                &["mgmtServer.sans[1]=z"],
                &[],
            ),
        )
        .unwrap();
        assert_eq!(values["mgmtServer"]["sans"], json!(["x", "z"]));
    }

    #[test]
    fn set_null_clears_a_map_default() {
        let values = resolve(
            &defaults(),
            &input(&[], &["mgmtServer.resources.limits=null"], &[]),
        )
        .unwrap();
        assert_eq!(values["mgmtServer"]["resources"], json!({"limits": {}}));
    }

    #[test]
    fn yaml_error_names_file_line_and_column() {
        let err = resolve(
            &defaults(),
            &input(&[("bad.yaml", "mgmtServer:\n  replicas: [1,\n")], &[], &[]),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("values file bad.yaml:"), "{text}");
        let ValuesError::Yaml(yaml) = err else {
            panic!("{text}")
        };
        assert!(yaml.line >= 2, "{yaml:?}");
    }

    #[test]
    fn top_level_must_be_a_map() {
        let err = resolve(
            &defaults(),
            &input(&[("list.yaml", "- a\n- b\n")], &[], &[]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "values file list.yaml: the top level must be a map of keys, found a list"
        );
    }

    #[test]
    fn empty_file_is_fine() {
        assert!(
            resolve(
                &defaults(),
                &input(&[("empty.yaml", "# nothing\n")], &[], &[])
            )
            .is_ok()
        );
    }

    #[test]
    fn set_syntax_error_is_reported() {
        let err = resolve(&defaults(), &input(&[], &["image.tag"], &[])).unwrap_err();
        assert!(matches!(err, ValuesError::Set(_)), "{err}");
        assert!(err.to_string().starts_with("--set \"image.tag\""), "{err}");
    }

    #[test]
    fn problems_from_every_layer_are_reported_together() {
        let err = resolve(
            &defaults(),
            &input(
                &[("a.yaml", "imag:\n  tag: x\n")],
                &["mgmtServer.replicas=many"],
                &["redis.enabled=true"],
            ),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown values key imag (from a.yaml); did you mean image?\n\
             values key mgmtServer.replicas must be an integer, got a string (from --set \"mgmtServer.replicas=many\")\n\
             values key redis.enabled must be a boolean, got a string (from --set-string \"redis.enabled=true\")"
        );
    }

    #[test]
    fn set_typed_int_for_a_string_key_suggests_set_string() {
        let err = resolve(&defaults(), &input(&[], &["image.tag=2"], &[])).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("use --set-string to pass it as a string"),
            "{err}"
        );
    }
}
