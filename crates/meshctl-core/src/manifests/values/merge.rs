//! Helm's merge rules: maps merge deeply; lists and scalars are replaced by the later value.

use serde_json::{Map, Value};

/// Merges `overlay` into `base` (Helm's `mergeMaps`, used for `-f` files in order): maps merge deeply,
/// anything else in `overlay` replaces what `base` has (including `null`).
pub fn merge_into(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(base_map)), Value::Object(overlay_map)) => {
                merge_into(base_map, overlay_map)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The final values: the user's values over the defaults. Maps merge deeply, lists and scalars replace.
/// A `null` from the user clears a map or list default to empty (and is otherwise kept, which the type
/// check only allows where the default is `null` too).
pub fn coalesce(defaults: &Value, user: &Value) -> Value {
    match (defaults, user) {
        (Value::Object(default_map), Value::Object(user_map)) => {
            let mut out = default_map.clone();
            for (key, user_value) in user_map {
                let merged = match default_map.get(key) {
                    Some(default_value) => coalesce(default_value, user_value),
                    None => user_value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Object(_), Value::Null) => Value::Object(Map::new()),
        (Value::Array(_), Value::Null) => Value::Array(Vec::new()),
        (_, user) => user.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn later_files_merge_maps_and_replace_lists_and_scalars() {
        let mut base = obj(json!({"a": {"x": 1, "y": 2}, "l": [1, 2, 3], "s": "one"}));
        merge_into(
            &mut base,
            obj(json!({"a": {"y": 20, "z": 30}, "l": [9], "s": "two"})),
        );
        assert_eq!(
            Value::Object(base),
            json!({"a": {"x": 1, "y": 20, "z": 30}, "l": [9], "s": "two"})
        );
    }

    #[test]
    fn a_map_replaces_a_scalar_and_back() {
        let mut base = obj(json!({"a": "scalar", "b": {"c": 1}}));
        merge_into(&mut base, obj(json!({"a": {"m": 1}, "b": 5})));
        assert_eq!(Value::Object(base), json!({"a": {"m": 1}, "b": 5}));
    }

    #[test]
    fn coalesce_keeps_defaults_the_user_did_not_touch() {
        let defaults = json!({"image": {"repository": "r", "tag": ""}, "list": ["a"], "n": 1});
        let user = json!({"image": {"tag": "v2"}, "list": ["b", "c"]});
        assert_eq!(
            coalesce(&defaults, &user),
            json!({"image": {"repository": "r", "tag": "v2"}, "list": ["b", "c"], "n": 1})
        );
    }

    #[test]
    fn null_clears_maps_and_lists() {
        let defaults =
            json!({"resources": {"limits": {"memory": "1Gi"}}, "tolerations": [{"k": 1}]});
        let user = json!({"resources": {"limits": null}, "tolerations": null});
        assert_eq!(
            coalesce(&defaults, &user),
            json!({"resources": {"limits": {}}, "tolerations": []})
        );
    }
}
