//! `meshctl license issue`: sign a license with an issuer private key.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::cli::Context;
use crate::exit::{ExitKind, Outcome, ResultExt as _};
use crate::license::issue::{days_after, end_of_day_utc};
use crate::license::{IssuerKeyPair, LicenseRequest, LicenseType, Module, Product, issue};
use crate::output::{Render, Style};

/// Sign a license key with an issuer private key and print it (for license issuers)
///
/// Prints only the key on stdout, so it can be redirected to a file.
///
/// Examples:
///   meshctl license issue --signing-key issuer/issuer.key.pem --licensee "Acme Corp" \
///       --products mesh,gateway --modules graphql --expires 2027-12-31 > acme.license
///   meshctl license issue --signing-key issuer/issuer.key.pem --licensee "Acme Corp" \
///       --products network --trial --days 30
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
#[command(group(clap::ArgGroup::new("expiry").required(true).args(["expires", "days"])))]
pub struct Args {
    /// Issuer private key (PKCS#8 PEM, from `license keygen`)
    #[arg(long, value_name = "FILE")]
    pub signing_key: PathBuf,

    /// Licensee (the `sub` claim)
    #[arg(long, value_name = "NAME")]
    pub licensee: String,

    /// Products to license, comma separated
    #[arg(long, value_name = "PRODUCT,...", value_delimiter = ',', required = true,
          value_parser = PossibleValuesParser::new(Product::ALL.map(Product::as_str))
              .try_map(|s| s.parse::<Product>()))]
    pub products: Vec<Product>,

    /// Modules to license, comma separated; each needs a product it extends
    #[arg(long, value_name = "MODULE,...", value_delimiter = ',',
          value_parser = PossibleValuesParser::new(Module::ALL.map(Module::as_str))
              .try_map(|s| s.parse::<Module>()))]
    pub modules: Vec<Module>,

    /// Issue a trial license (default: enterprise)
    #[arg(long)]
    pub trial: bool,

    /// Last day the license is valid, UTC (it expires at 23:59:59Z that day)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub expires: Option<Date>,

    /// Number of days the license is valid from now
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub days: Option<u32>,

    /// Most workload clusters the license allows [default: unlimited]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_clusters: Option<u32>,

    /// Issuer name (the `iss` claim)
    #[arg(long, value_name = "NAME", default_value = "meshctl")]
    pub issuer: String,
}

/// An issued license (`-o json`: `{key, kid, licensee, license_type, products, modules,
/// max_clusters, issued_at, expires_at}`). The table form is the key alone.
#[derive(Serialize)]
pub struct IssuedLicense {
    pub key: String,
    pub kid: String,
    pub licensee: String,
    pub license_type: LicenseType,
    pub products: Vec<Product>,
    pub modules: Vec<Module>,
    pub max_clusters: Option<u32>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Render for IssuedLicense {
    fn render_table(&self, _: &Style) -> String {
        format!("{}\n", self.key)
    }
}

/// The request the flags describe, issued at `now`.
pub fn request(args: &Args, now: Timestamp) -> anyhow::Result<LicenseRequest> {
    let issued_at = Timestamp::from_second(now.as_second()).exit_kind(ExitKind::Internal)?;
    let expires_at = match (args.expires, args.days) {
        (Some(date), _) => end_of_day_utc(date),
        (None, Some(days)) => days_after(issued_at, days),
        (None, None) => return Err(crate::exit::usage("give --expires DATE or --days N")),
    }
    .exit_kind(ExitKind::Usage)?;
    Ok(LicenseRequest {
        issuer: args.issuer.clone(),
        licensee: args.licensee.clone(),
        license_type: if args.trial {
            LicenseType::Trial
        } else {
            LicenseType::Enterprise
        },
        products: args.products.clone(),
        modules: args.modules.clone(),
        max_clusters: args.max_clusters,
        issued_at,
        expires_at,
    })
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let pem = crate::input::read_file(&args.signing_key, crate::input::ISSUER_PRIVATE_KEY)
        .context("--signing-key")?;
    let pair = IssuerKeyPair::from_pkcs8_pem(&pem)
        .exit_kind(ExitKind::Usage)
        .with_context(|| format!("--signing-key {}", args.signing_key.display()))?;
    let request = request(&args, Timestamp::now())?;
    let key = issue(&request, &pair)
        .exit_kind(ExitKind::Usage)
        .context("cannot issue this license")?;
    let claims = request.claims();
    ctx.printer().note(format!(
        "issued {} license for {} ({}), expires {}, signed by key {}",
        request.license_type,
        request.licensee,
        claims.products.join(", "),
        request.expires_at,
        pair.kid()
    ));
    ctx.printer().data(&IssuedLicense {
        key,
        kid: pair.kid().to_owned(),
        licensee: request.licensee,
        license_type: request.license_type,
        products: claims
            .products
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect(),
        modules: claims
            .modules
            .iter()
            .filter_map(|m| m.parse().ok())
            .collect(),
        max_clusters: request.max_clusters,
        issued_at: request.issued_at,
        expires_at: request.expires_at,
    })?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(extra: &[&str]) -> Result<Args, clap::Error> {
        let mut argv = vec!["x", "--signing-key", "k.pem", "--licensee", "Acme"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).map(|c| c.args)
    }

    #[test]
    fn flags_make_a_request() {
        let args = parse(&[
            "--products",
            "mesh,gateway",
            "--modules",
            "graphql",
            "--trial",
            "--expires",
            "2027-12-31",
            "--max-clusters",
            "4",
        ])
        .unwrap();
        let now: Timestamp = "2027-06-01T10:00:00.75Z".parse().unwrap();
        let r = request(&args, now).unwrap();
        assert_eq!(r.products, [Product::Mesh, Product::Gateway]);
        assert_eq!(r.modules, [Module::Graphql]);
        assert_eq!(r.license_type, LicenseType::Trial);
        assert_eq!(r.max_clusters, Some(4));
        assert_eq!(r.issued_at.to_string(), "2027-06-01T10:00:00Z");
        assert_eq!(r.expires_at.to_string(), "2027-12-31T23:59:59Z");
        assert_eq!(r.issuer, "meshctl");

        let args = parse(&["--products", "network", "--days", "30"]).unwrap();
        let r = request(&args, now).unwrap();
        assert_eq!(r.expires_at.to_string(), "2027-07-01T10:00:00Z");
        assert_eq!(r.license_type, LicenseType::Enterprise);
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        for extra in [
            &["--products", "istio", "--days", "1"][..],
            &["--products", "mesh"],
            &[
                "--products",
                "mesh",
                "--days",
                "1",
                "--expires",
                "2027-01-01",
            ],
            &["--products", "mesh", "--days", "0"],
            &["--products", "mesh", "--expires", "31/12/2027"],
            &["--products", "mesh", "--days", "1", "--max-clusters", "0"],
            &["--products", "mesh", "--days", "1", "--modules", "soap"],
        ] {
            assert!(parse(extra).is_err(), "{extra:?}");
        }
    }
}
