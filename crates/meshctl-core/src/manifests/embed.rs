//! The `templates/` directory, compiled into the binary: installing needs no download (air-gapped).

use std::borrow::Cow;

use rust_embed::RustEmbed;

/// Every file under `templates/`.
#[derive(RustEmbed)]
#[folder = "../../templates/"]
struct Templates;

/// Path of the defaults file inside `templates/`.
pub const VALUES_FILE: &str = "values.yaml";
/// Folder of the generated CRDs inside `templates/`.
pub const CRD_DIR: &str = "crds/";
/// Suffix of tera templates.
pub const TEMPLATE_SUFFIX: &str = ".yaml.tera";

/// An embedded file: its path under `templates/` and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedFile {
    /// Path relative to `templates/`, `/`-separated.
    pub path: String,
    /// UTF-8 contents.
    pub text: String,
}

/// Text of an embedded file, `None` when absent or not UTF-8.
pub fn file(path: &str) -> Option<String> {
    let data = Templates::get(path)?.data;
    match data {
        Cow::Borrowed(bytes) => std::str::from_utf8(bytes).ok().map(str::to_owned),
        Cow::Owned(bytes) => String::from_utf8(bytes).ok(),
    }
}

/// The defaults file.
pub fn values_yaml() -> Option<String> {
    file(VALUES_FILE)
}

/// Embedded files whose path starts with `prefix` and ends with `suffix`, sorted by path.
pub fn files(prefix: &str, suffix: &str) -> Vec<EmbeddedFile> {
    let mut paths: Vec<String> = Templates::iter()
        .filter(|path| path.starts_with(prefix) && path.ends_with(suffix))
        .map(|path| path.into_owned())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| file(&path).map(|text| EmbeddedFile { path, text }))
        .collect()
}

/// The tera templates, sorted by path.
pub fn templates() -> Vec<EmbeddedFile> {
    files("", TEMPLATE_SUFFIX)
}

/// The generated CRD files, sorted by path.
pub fn crds() -> Vec<EmbeddedFile> {
    files(CRD_DIR, ".yaml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_values_templates_and_crds() {
        assert!(values_yaml().is_some_and(|text| text.contains("mgmtServer")));
        assert!(
            templates()
                .iter()
                .any(|t| t.path == "mgmt-server/deployment.yaml.tera")
        );
        let crds = crds();
        assert_eq!(crds.len(), crate::api::crds::all().len());
        assert!(crds.windows(2).all(|w| w[0].path < w[1].path));
    }
}
