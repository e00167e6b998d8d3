//! Tera filters of the manifest templates.

use tera::{Kwargs, State, TeraResult, Value};

/// `{{ x | to_yaml }}` writes `x` as YAML (maps with sorted keys, strings quoted when needed).
/// `{{ x | to_yaml(indent=N) }}` starts a new line and indents every line by N spaces, to place a
/// map or list under a key: `labels: {{ labels | to_yaml(indent=4) }}`.
pub fn to_yaml(value: &Value, kwargs: Kwargs, _: &State) -> TeraResult<String> {
    let indent = kwargs.get::<usize>("indent")?;
    // serde_json's maps are sorted, so the output does not depend on tera's hash map order.
    let json = serde_json::to_value(value)
        .map_err(|err| tera::Error::message(format!("to_yaml: {err}")))?;
    let text = super::yaml::to_inline_string(&json)
        .map_err(|err| tera::Error::message(format!("to_yaml: {err}")))?;
    Ok(match indent {
        None => text,
        Some(width) => {
            let pad = " ".repeat(width);
            let mut out = String::with_capacity(text.len() + width * 8);
            for line in text.lines() {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&pad);
                    out.push_str(line);
                }
            }
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use tera::{Context, Tera};

    fn render(template: &str, value: serde_json::Value) -> String {
        let mut tera = Tera::new();
        tera.autoescape_on(Vec::<&str>::new());
        tera.register_filter("to_yaml", super::to_yaml);
        tera.add_raw_template("t", template).unwrap();
        let mut context = Context::new();
        context.insert("x", &value);
        tera.render("t", &context).unwrap()
    }

    fn parse(text: &str) -> serde_json::Value {
        crate::manifests::yaml::parse("t", text).unwrap()
    }

    #[test]
    fn scalars_keep_their_type() {
        for value in [
            serde_json::json!("yes"),
            serde_json::json!("1.0"),
            serde_json::json!("null"),
            serde_json::json!(3),
            serde_json::json!(true),
            serde_json::json!("a: b # c"),
        ] {
            let out = render("v: {{ x | to_yaml }}", value.clone());
            assert_eq!(parse(&out), serde_json::json!({ "v": value }), "{out}");
        }
        assert_eq!(render("v: {{ x | to_yaml }}", serde_json::json!(3)), "v: 3");
    }

    #[test]
    fn long_and_multi_line_strings_stay_inline() {
        // A flag with a long namespace in it went over 80 characters and came out as a folded
        // block scalar, which broke the list item it was in (found by the e2e tier).
        let long = format!(
            "--relay-server-san={}",
            "mesh-mgmt-server.e2e-profile-single-cluster-123456.svc.cluster.local extra words"
        );
        for value in [serde_json::json!(long), serde_json::json!("two\nlines\n")] {
            let out = render("args:\n- {{ x | to_yaml }}\n- next", value.clone());
            assert_eq!(
                parse(&out),
                serde_json::json!({ "args": [value, "next"] }),
                "{out}"
            );
        }
    }

    #[test]
    fn maps_are_sorted_and_indented() {
        let out = render(
            "spec:\n  labels: {{ x | to_yaml(indent=4) }}\n",
            serde_json::json!({"b": "2", "a": "1"}),
        );
        assert!(out.find("a:") < out.find("b:"), "{out}");
        assert!(out.contains("\n    a: "), "{out}");
        assert_eq!(
            parse(&out),
            serde_json::json!({"spec": {"labels": {"a": "1", "b": "2"}}})
        );
    }

    #[test]
    fn empty_collections_stay_valid_yaml() {
        let out = render("a: {{ x | to_yaml(indent=2) }}\n", serde_json::json!({}));
        assert_eq!(parse(&out), serde_json::json!({"a": {}}));
        let out = render("a: {{ x | to_yaml(indent=2) }}\n", serde_json::json!([]));
        assert_eq!(parse(&out), serde_json::json!({"a": []}));
    }
}
