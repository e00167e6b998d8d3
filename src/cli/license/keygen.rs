//! `meshctl license keygen`: a new issuer key pair (for license issuers).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::Context;
use crate::exit::{Outcome, usage};
use crate::license::IssuerKeyPair;
use crate::output::{Render, Style, table};

/// File name of the private key in the output directory.
pub const PRIVATE_KEY_FILE: &str = "issuer.key.pem";
/// File name of the public key in the output directory.
pub const PUBLIC_KEY_FILE: &str = "issuer.pub.pem";

/// Create a new issuer key pair for signing licenses (for license issuers)
///
/// Writes DIR/issuer.key.pem (private key, PKCS#8 PEM, mode 0600, never printed) and
/// DIR/issuer.pub.pem (public key, SPKI PEM: give it to operators for --trusted-issuer).
///
/// Example:
///   meshctl license keygen --out ./issuer
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Directory to write the key pair into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Overwrite existing key files
    #[arg(long)]
    pub force: bool,
}

/// What `keygen` made (`-o json`: `{kid, private_key, public_key}`).
#[derive(Debug, Serialize)]
pub struct KeygenReport {
    pub kid: String,
    pub private_key: PathBuf,
    pub public_key: PathBuf,
}

impl Render for KeygenReport {
    fn render_table(&self, _: &Style) -> String {
        table::key_values([
            ("Key ID", self.kid.clone()),
            (
                "Private key",
                format!("{} (mode 0600; keep it secret)", self.private_key.display()),
            ),
            ("Public key", self.public_key.display().to_string()),
        ])
    }
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let private_path = args.out.join(PRIVATE_KEY_FILE);
    let public_path = args.out.join(PUBLIC_KEY_FILE);
    if !args.force {
        for path in [&private_path, &public_path] {
            if path.exists() {
                return Err(usage(format!(
                    "{} already exists; pass --force to replace the key pair",
                    path.display()
                )));
            }
        }
    }
    create_private_dir(&args.out)
        .with_context(|| format!("creating directory {}", args.out.display()))?;

    let pair = IssuerKeyPair::generate();
    let private_pem = pair.to_pkcs8_pem()?;
    let public_pem = pair.public_key().to_spki_pem()?;
    write_new(&private_path, private_pem.as_bytes(), 0o600)
        .with_context(|| format!("writing {}", private_path.display()))?;
    write_new(&public_path, public_pem.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", public_path.display()))?;

    ctx.printer().data(&KeygenReport {
        kid: pair.kid().to_owned(),
        private_key: private_path,
        public_key: public_path,
    })?;
    Ok(Outcome::Success)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes a new file with `mode` (on Unix), replacing any existing one. The file is
/// created with its final mode, so a private key is never readable by others.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
