//! Man pages (section 1) under `docs/man/`, one per command.

use std::path::Path;

use super::{GeneratedFile, visible_commands};

pub(super) fn pages(root: &clap::Command) -> Vec<GeneratedFile> {
    visible_commands(root)
        .into_iter()
        .map(|(path, cmd)| {
            let name = path.join("-");
            let cmd = cmd.clone().name(name.clone()).bin_name(path.join(" "));
            let mut buf = Vec::new();
            // Rendering into memory cannot fail for I/O reasons.
            let _ = clap_mangen::Man::new(cmd).render(&mut buf);
            GeneratedFile {
                path: Path::new("docs/man").join(format!("{name}.1")),
                contents: buf,
            }
        })
        .collect()
}
