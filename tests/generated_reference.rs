//! The committed completions, CLI reference and man pages match the CLI definitions.
//! Regenerate with `cargo run -- x generate-reference` (or UPDATE_GENERATED=1 cargo test).

use std::path::Path;

#[test]
fn generated_files_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("UPDATE_GENERATED").is_some();
    let mut stale = Vec::new();
    for file in
        meshctl::reference::generated_files(<meshctl::cli::Cli as clap::CommandFactory>::command())
    {
        let path = root.join(&file.path);
        if std::fs::read(&path).ok().as_deref() == Some(file.contents.as_slice()) {
            continue;
        }
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &file.contents).unwrap();
        } else {
            stale.push(file.path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files (run `cargo run -- x generate-reference`): {stale:?}"
    );
}

#[test]
fn every_visible_command_has_a_reference_page() {
    let files =
        meshctl::reference::generated_files(<meshctl::cli::Cli as clap::CommandFactory>::command());
    for page in [
        "docs/cli/meshctl.md",
        "docs/cli/meshctl_version.md",
        "docs/cli/meshctl_completion.md",
        "docs/man/meshctl-version.1",
    ] {
        assert!(
            files.iter().any(|f| f.path == Path::new(page)),
            "{page} missing"
        );
    }
    assert!(
        !files
            .iter()
            .any(|f| f.path.to_string_lossy().contains("generate-reference")),
        "hidden commands stay out of the reference"
    );
}
