//! Fuzzes values resolution (`-f` files, `--set`, `--set-string`) with arbitrary input, and the
//! rendering of whatever it accepts.
//!
//! Invariants: nothing panics or overflows the stack; every refusal names its input (the file
//! name, or the flag); values that resolve either render or are refused as the user's mistake
//! (`ManifestError::Values`/`Invalid`, `RenderError::MissingValue`/`InvalidValue`: exit 2), never
//! as a template failure (exit 4, "a bug in meshctl").

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use meshctl_core::manifests::values::{ValuesInput, embedded_defaults, resolve};
use meshctl_core::manifests::{self, ManifestError, Profile, RenderError, RenderOptions};
use serde_json::Value;

const FILE: &str = "fuzz-values.yaml";

fn defaults() -> &'static Value {
    static DEFAULTS: OnceLock<Value> = OnceLock::new();
    DEFAULTS.get_or_init(|| embedded_defaults().expect("the embedded defaults parse"))
}

/// Resolves `input`; on success renders it, on failure checks the message names `name`.
fn check(input: &ValuesInput, name: &str) {
    match resolve(defaults(), input) {
        Ok(values) => {
            assert!(values.is_object(), "resolved values are not a map");
            let profile = match values.to_string().len() % 3 {
                0 => Profile::Mgmt,
                1 => Profile::Agent,
                _ => Profile::SingleCluster,
            };
            match manifests::build(input, &RenderOptions::new(profile)) {
                Ok(_)
                | Err(ManifestError::Values(_) | ManifestError::Invalid(_))
                | Err(ManifestError::Render(
                    RenderError::MissingValue { .. } | RenderError::InvalidValue { .. },
                )) => {}
                Err(other) => panic!("accepted values fail to render (exit 4): {other}"),
            }
        }
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.contains(name),
                "the message does not name {name}: {message}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(
        &ValuesInput {
            files: vec![(FILE.to_owned(), text.to_owned())],
            ..ValuesInput::default()
        },
        FILE,
    );
    // The same bytes as one expression of each flag (`--set` is also a prefix of `--set-string`).
    check(
        &ValuesInput {
            set: vec![text.to_owned()],
            ..ValuesInput::default()
        },
        "--set",
    );
    check(
        &ValuesInput {
            set_string: vec![text.to_owned()],
            ..ValuesInput::default()
        },
        "--set-string",
    );
});
