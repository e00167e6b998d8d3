//! Licensing: license keys (Ed25519-signed compact JWS), their verification
//! against trusted issuer keys, entitlements and expiry, and issuing.
//!
//! Pure library: no file, network or clock access; callers pass in text and time.
//! See `docs/licensing.md` for the format and the commands built on this.

/// Name of the Secret holding the installed license, in the install namespace.
pub const LICENSE_SECRET_NAME: &str = "meshctl-license";

/// Data key of the license key in [`LICENSE_SECRET_NAME`].
pub const LICENSE_SECRET_KEY: &str = "license-key";

pub mod claims;
pub mod entitlements;
pub mod error;
pub mod issue;
pub mod jws;
pub mod keys;
pub mod product;
pub mod report;
pub mod trusted;
pub mod verify;

/// Signed test licenses, for this crate's tests and (feature `testing`) other crates' tests.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod testing;

pub use claims::{Claims, LicenseType};
pub use entitlements::{EXPIRY_WARNING_DAYS, Entitlements, ExpiryState};
pub use error::LicenseError;
pub use issue::{LicenseRequest, issue};
pub use keys::{IssuerKeyPair, IssuerPublicKey};
pub use product::{Module, Product};
pub use report::{CheckOptions, LicenseReport, ReportState};
pub use trusted::{KeyOrigin, TrustedIssuers};
pub use verify::{VerifiedLicense, verify, verify_at};
