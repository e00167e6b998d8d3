//! YAML parsing and printing for values and manifests, with serde-saphyr.

use serde_json::Value;

/// A YAML document that could not be parsed; `line`/`column` are 1-based (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}:{column}: {message}")]
pub struct YamlError {
    /// Where the text came from (a file path, or a template name).
    pub source_name: String,
    /// Line of the error.
    pub line: u64,
    /// Column of the error.
    pub column: u64,
    /// What is wrong, without the source snippet.
    pub message: String,
}

/// Parses one YAML document into a JSON value. An empty document (or one with only comments) is `null`.
pub fn parse(source_name: &str, text: &str) -> Result<Value, YamlError> {
    if is_blank(text) {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str::<Value>(text).map_err(|err| to_error(source_name, &err))
}

/// Parses a multi-document YAML stream; blank documents are dropped.
pub fn parse_multi(source_name: &str, text: &str) -> Result<Vec<Value>, YamlError> {
    if is_blank(text) {
        return Ok(Vec::new());
    }
    let docs = serde_saphyr::from_str_multiple::<Value, Vec<Value>>(text)
        .map_err(|err| to_error(source_name, &err))?;
    Ok(docs.into_iter().filter(|doc| !doc.is_null()).collect())
}

/// Writes a JSON value as block YAML (keys in the map's order; with serde_json's default maps, sorted).
/// No trailing newline.
pub fn to_string(value: &Value) -> Result<String, serde_saphyr::SerializeError> {
    let mut text = serde_saphyr::to_string(value)?;
    while text.ends_with('\n') {
        text.pop();
    }
    Ok(text)
}

/// [`to_string`] for a value placed inside a line of a template (`- {{ x | to_yaml }}`): strings
/// are never block scalars (`>` for lines over 80 characters, `|` for several lines), which are
/// valid only where the template's indentation matches theirs; they are quoted instead.
pub fn to_inline_string(value: &Value) -> Result<String, serde_saphyr::SerializeError> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    let mut text = serde_saphyr::to_string_with_options(value, options)?;
    while text.ends_with('\n') {
        text.pop();
    }
    Ok(text)
}

fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// The parser's message in the user's terms: without the location it repeats (the error is prefixed
/// with it already) and without advice meant for programmers who call the library ("set
/// DuplicateKeyPolicy in Options", "use from_str_multiple").
fn user_message(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(at) if message[at..].contains(", column ") => &message[..at],
        _ => message,
    };
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("duplicate key `{key}`: a key may appear only once in a map");
    }
    if message.starts_with("multiple YAML documents detected") {
        return "more than one YAML document (a `---` separator): expected exactly one".to_owned();
    }
    if let Some(breach) = message.strip_prefix("budget breached: ") {
        return budget_message(breach);
    }
    if let Some(rest) = message.strip_prefix("non-finite float ") {
        let number = rest.split(" rejected").next().unwrap_or(rest);
        return format!("the number {number} is out of range");
    }
    if message.starts_with("recursive references require") {
        return "an alias refers to a node that contains it (a recursive alias)".to_owned();
    }
    message.to_owned()
}

/// The parser's resource limits in the user's terms. Its message is the `Debug` form of the limit
/// that was hit (`Nodes { nodes: 250001 }`, `Depth { depth: 65 }`).
fn budget_message(breach: &str) -> String {
    let kind = breach
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    let count: String = breach
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    let what = match kind {
        "Depth" => format!("nested {count} levels deep"),
        "Nodes" => format!("{count} values, counting those aliases repeat"),
        "Aliases" => format!("{count} aliases"),
        "Anchors" => format!("{count} anchors"),
        "AliasAnchorRatio" => "too many aliases for its anchors".to_owned(),
        "MergeKeys" => format!("{count} merge keys"),
        "ScalarBytes" => "too much text".to_owned(),
        "Events" => "too many parser events".to_owned(),
        "Documents" => "too many documents".to_owned(),
        _ => "one of them".to_owned(),
    };
    format!(
        "the document exceeds the parser's limits ({what}): expected a document of reasonable size and depth, without alias bombs"
    )
}

fn to_error(source_name: &str, err: &serde_saphyr::Error) -> YamlError {
    let location = err.location();
    let message = err.without_snippet().to_string();
    // The plain message may itself start with "line X column Y"-style prefixes; keep it as is but on one line.
    let message = user_message(message.lines().next().unwrap_or_default().trim());
    YamlError {
        source_name: source_name.to_owned(),
        line: location.map(|l| l.line()).unwrap_or(0),
        column: location.map(|l| l.column()).unwrap_or(0),
        message,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parser_errors_speak_to_the_user_not_to_the_library_caller() {
        let dup = parse("values.yaml", "a: 1\na: 2\n").unwrap_err();
        assert_eq!(
            dup.to_string(),
            "values.yaml:2:1: duplicate key `a`: a key may appear only once in a map"
        );
        let multi = parse("values.yaml", "a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(
            multi.to_string(),
            "values.yaml:3:1: more than one YAML document (a `---` separator): expected exactly one"
        );
        for e in [dup, multi] {
            let text = e.to_string();
            assert!(
                !text.contains("Options") && !text.contains("from_str"),
                "{text}"
            );
            assert!(!text.contains(" at line "), "{text}");
        }
    }

    #[test]
    fn parser_limits_are_explained_not_debug_printed() {
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
        let deep = format!("a: {}1{}\n", "[".repeat(200), "]".repeat(200));
        let mut nested = "a:".to_owned();
        for level in 1..100 {
            nested.push_str(&format!("\n{}b:", " ".repeat(level)));
        }
        nested.push_str(" 1\n");
        for text in [bomb, deep.as_str(), nested.as_str(), "a: &x {b: *x}\n"] {
            let message = parse("v.yaml", text).unwrap_err().to_string();
            assert!(message.starts_with("v.yaml:"), "{message}");
            assert!(
                !message.contains('{') && !message.contains("budget") && !message.contains("weak"),
                "{message}"
            );
        }
        let message = parse("v.yaml", &nested).unwrap_err().to_string();
        assert!(
            message.contains("parser's limits (nested 65 levels deep)"),
            "{message}"
        );
        let message = parse("v.yaml", "a: 1e400\n").unwrap_err().to_string();
        assert_eq!(message, "v.yaml:1:4: the number `1e400` is out of range");
    }

    #[test]
    fn parses_scalars_like_helm_and_kubectl() {
        // YAML 1.1 booleans (`yes`) are booleans, as with Helm and kubectl (go-yaml).
        let value = parse("v.yaml", "a: yes\nb: true\nc: 3\nd: 1.5\ne: ~\nf: '3'\n").unwrap();
        assert_eq!(
            value,
            json!({"a": true, "b": true, "c": 3, "d": 1.5, "e": null, "f": "3"})
        );
    }

    #[test]
    fn blank_and_comment_only_documents_are_null() {
        assert_eq!(parse("v.yaml", "").unwrap(), Value::Null);
        assert_eq!(parse("v.yaml", "# nothing\n\n").unwrap(), Value::Null);
    }

    #[test]
    fn errors_name_the_source_line_and_column() {
        let err = parse("my-values.yaml", "a:\n  b: 1\n c: [\n").unwrap_err();
        assert_eq!(err.source_name, "my-values.yaml");
        assert!(err.line >= 2, "{err:?}");
        assert!(err.column >= 1, "{err:?}");
        assert!(err.to_string().starts_with("my-values.yaml:"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        assert!(parse("v.yaml", "a: 1\na: 2\n").is_err());
    }

    #[test]
    fn multi_document_drops_empty_documents() {
        let docs = parse_multi("t", "---\na: 1\n---\n---\nb: 2\n").unwrap();
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": 2})]);
    }

    #[test]
    fn printing_quotes_strings_that_would_change_type() {
        let text =
            to_string(&json!({"a": "yes", "b": "true", "c": "1", "d": "null", "e": "plain"}))
                .unwrap();
        let back = parse("t", &text).unwrap();
        assert_eq!(
            back,
            json!({"a": "yes", "b": "true", "c": "1", "d": "null", "e": "plain"})
        );
        assert!(!text.ends_with('\n'));
    }
}
