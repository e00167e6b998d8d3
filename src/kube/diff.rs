//! `install --diff`: the live object and the server-side dry run of the apply, normalised and compared
//! as YAML in unified diff form.

use serde_json::Value;

use crate::manifests::yaml;

/// Server-maintained metadata that is not part of what meshctl applies.
const VOLATILE_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
];

/// The object without status and server-maintained metadata.
pub fn normalize(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in VOLATILE_METADATA {
                metadata.remove(key);
            }
            if metadata
                .get("annotations")
                .and_then(Value::as_object)
                .is_some_and(|a| a.is_empty())
            {
                metadata.remove("annotations");
            }
        }
    }
    object
}

/// Unified diff of `live` (absent: a new object) and `planned`, or `None` when they are equal.
pub fn unified(object_name: &str, live: Option<&Value>, planned: &Value) -> Option<String> {
    let live_text = match live {
        Some(live) => yaml::to_string(&normalize(live)).unwrap_or_default() + "\n",
        None => String::new(),
    };
    let planned_text = yaml::to_string(&normalize(planned)).unwrap_or_default() + "\n";
    if live_text == planned_text {
        return None;
    }
    let diff = similar::TextDiff::from_lines(&live_text, &planned_text);
    let old_header = if live.is_some() {
        format!("live/{object_name}")
    } else {
        "/dev/null".to_owned()
    };
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&old_header, &format!("planned/{object_name}"))
        .to_string();
    Some(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_objects_have_no_diff_whatever_the_server_added() {
        let planned = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}});
        let mut live = planned.clone();
        live["metadata"]["resourceVersion"] = json!("7");
        live["metadata"]["managedFields"] = json!([{"manager": "meshctl"}]);
        live["status"] = json!({"loadBalancer": {}});
        assert_eq!(unified("Service ns/s", Some(&live), &planned), None);
    }

    #[test]
    fn a_changed_field_is_exactly_one_removed_and_one_added_line() {
        let live =
            json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}});
        let planned =
            json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 3}});
        let diff = unified("Deployment ns/d", Some(&live), &planned).unwrap();
        let changes: Vec<&str> = diff
            .lines()
            .filter(|l| {
                (l.starts_with('-') || l.starts_with('+'))
                    && !l.starts_with("---")
                    && !l.starts_with("+++")
            })
            .collect();
        assert_eq!(changes, ["-  replicas: 1", "+  replicas: 3"]);
        assert!(
            diff.starts_with("--- live/Deployment ns/d\n+++ planned/Deployment ns/d\n"),
            "{diff}"
        );
    }

    #[test]
    fn a_new_object_is_all_additions() {
        let planned = json!({"kind": "Namespace", "metadata": {"name": "x"}});
        let diff = unified("Namespace x", None, &planned).unwrap();
        assert!(diff.starts_with("--- /dev/null\n"), "{diff}");
        assert!(diff.lines().skip(3).all(|l| l.starts_with('+')), "{diff}");
    }
}
