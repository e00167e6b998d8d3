//! The license the management server announces to its agents in `Welcome.entitlements`
//! (a list of strings on the wire, docs/relay.md "Entitlements").
//!
//! Agents never verify licenses (docs/licensing.md): the server verifies its license and tells each
//! agent, when the stream opens, what it found. Entries are `prefix:value`:
//!
//! | entry | meaning |
//! |---|---|
//! | `license:<state>` | `valid`, `expiring_soon`, `expired`, `not_yet_valid` (of a verified license), `none` (no license), `invalid` (a license that did not verify) |
//! | `product:<name>` | a product the license grants (`mesh`, `gateway`, `network`) |
//! | `module:<name>` | a module the license grants (`graphql`) |
//! | `expires:<RFC 3339>` | when the license expires (UTC) |
//!
//! An empty list means the server announced nothing (a server that does not translate and so has
//! no license to check, or an older server). Unknown entries are ignored, so later servers may add
//! some; product and module names are kept as strings for the same reason.
//!
//! An agent shows the state as `unknown` when it has none to show: the list had no `license:`
//! entry, or one with a state this build does not know. `unknown` is never sent; it is not
//! `none` (the server said it has no license), and nothing of the license is known with it.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::license::{Entitlements, ExpiryState};

const LICENSE: &str = "license";
const PRODUCT: &str = "product";
const MODULE: &str = "module";
const EXPIRES: &str = "expires";
/// Entries read from one Welcome; the rest are ignored (a license names a handful).
const MAX_ENTRIES: usize = 64;

/// The state of the server's license as announced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnouncedState {
    /// Nothing announced (see the module documentation) or a state this build does not know.
    #[default]
    Unknown,
    /// No license is configured or present.
    None,
    /// A license is present but did not verify.
    Invalid,
    /// A verified license, valid for more than 30 days.
    Valid,
    /// A verified license expiring within 30 days.
    ExpiringSoon,
    /// A verified license past its expiry: nothing new is translated.
    Expired,
    /// A verified license issued in the future.
    NotYetValid,
}

impl AnnouncedState {
    /// The wire name, also the agent's `state` label (`unknown` is never sent: see the module
    /// documentation).
    pub fn as_str(self) -> &'static str {
        match self {
            AnnouncedState::Unknown => "unknown",
            AnnouncedState::None => "none",
            AnnouncedState::Invalid => "invalid",
            AnnouncedState::Valid => ExpiryState::Valid.as_str(),
            AnnouncedState::ExpiringSoon => "expiring_soon",
            AnnouncedState::Expired => ExpiryState::Expired.as_str(),
            AnnouncedState::NotYetValid => ExpiryState::NotYetValid.as_str(),
        }
    }

    /// Every state, as an agent shows it (`/api/v1/license`, `meshctl_agent_license_info{state}`):
    /// the six a server announces, and `unknown` when it announced none this build knows.
    pub const ALL: [AnnouncedState; 7] = [
        AnnouncedState::Unknown,
        AnnouncedState::None,
        AnnouncedState::Invalid,
        AnnouncedState::Valid,
        AnnouncedState::ExpiringSoon,
        AnnouncedState::Expired,
        AnnouncedState::NotYetValid,
    ];

    fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .filter(|st| *st != AnnouncedState::Unknown)
            .find(|st| st.as_str() == s)
            .unwrap_or(AnnouncedState::Unknown)
    }

    /// Whether the server translates new configuration under this license.
    pub fn is_usable(self) -> bool {
        matches!(self, AnnouncedState::Valid | AnnouncedState::ExpiringSoon)
    }
}

impl From<ExpiryState> for AnnouncedState {
    fn from(s: ExpiryState) -> Self {
        match s {
            ExpiryState::Valid => AnnouncedState::Valid,
            ExpiryState::ExpiringSoon { .. } => AnnouncedState::ExpiringSoon,
            ExpiryState::Expired => AnnouncedState::Expired,
            ExpiryState::NotYetValid => AnnouncedState::NotYetValid,
        }
    }
}

/// The entitlements of `Welcome.entitlements`, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AnnouncedEntitlements {
    /// The license's state.
    pub license: AnnouncedState,
    /// Products the license grants (whether or not it is usable now).
    pub products: BTreeSet<String>,
    /// Modules the license grants.
    pub modules: BTreeSet<String>,
    /// When the license expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<jiff::Timestamp>,
}

impl AnnouncedEntitlements {
    /// No license configured or present.
    pub fn missing() -> Self {
        Self {
            license: AnnouncedState::None,
            ..Self::default()
        }
    }

    /// A license that did not verify (nothing of it is announced).
    pub fn invalid() -> Self {
        Self {
            license: AnnouncedState::Invalid,
            ..Self::default()
        }
    }

    /// A verified license as it stands at `now`.
    pub fn from_license(license: &Entitlements, now: jiff::Timestamp) -> Self {
        Self {
            license: license.expiry_state(now).into(),
            products: license.products().map(|p| p.as_str().to_owned()).collect(),
            modules: license.modules().map(|m| m.as_str().to_owned()).collect(),
            expires_at: Some(license.expires_at()),
        }
    }

    /// Whether the license is usable now and grants `product` (a name such as `mesh`).
    pub fn grants(&self, product: &str) -> bool {
        self.license.is_usable() && self.products.contains(product)
    }

    /// The wire entries, in a stable order. Nothing for an unknown state.
    pub fn encode(&self) -> Vec<String> {
        if self.license == AnnouncedState::Unknown {
            return Vec::new();
        }
        let mut out = vec![format!("{LICENSE}:{}", self.license.as_str())];
        out.extend(self.products.iter().map(|p| format!("{PRODUCT}:{p}")));
        out.extend(self.modules.iter().map(|m| format!("{MODULE}:{m}")));
        if let Some(t) = self.expires_at {
            out.push(format!("{EXPIRES}:{t}"));
        }
        out
    }

    /// Decodes wire entries; unknown or malformed entries, and any beyond the first 64, are
    /// ignored.
    pub fn decode<S: AsRef<str>>(entries: &[S]) -> Self {
        let mut out = Self::default();
        for entry in entries.iter().take(MAX_ENTRIES) {
            let Some((prefix, value)) = entry.as_ref().split_once(':') else {
                continue;
            };
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match prefix {
                LICENSE => out.license = AnnouncedState::parse(value),
                PRODUCT => {
                    out.products.insert(value.to_owned());
                }
                MODULE => {
                    out.modules.insert(value.to_owned());
                }
                EXPIRES => out.expires_at = value.parse().ok(),
                _ => {}
            }
        }
        out
    }

    /// Products joined with commas, for logs (`-` for none).
    pub fn products_text(&self) -> String {
        join_or_dash(&self.products)
    }

    /// Modules joined with commas, for logs (`-` for none).
    pub fn modules_text(&self) -> String {
        join_or_dash(&self.modules)
    }
}

fn join_or_dash(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "-".into()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(",")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::license::testing::key_from_fresh_issuer;
    use crate::license::{Module, Product, verify};

    fn verified(products: &[Product], modules: &[Module], now: jiff::Timestamp) -> Entitlements {
        let (key, trusted) = key_from_fresh_issuer(
            products,
            modules,
            now,
            jiff::SignedDuration::from_hours(24 * 90),
        );
        verify(&key, &trusted).unwrap().entitlements().clone()
    }

    #[test]
    fn a_license_round_trips_through_the_wire() {
        let now = jiff::Timestamp::now();
        let license = verified(&[Product::Network, Product::Mesh], &[Module::Graphql], now);
        let announced = AnnouncedEntitlements::from_license(&license, now);
        let wire = announced.encode();
        assert_eq!(wire[0], "license:valid");
        assert_eq!(wire[1..3], ["product:mesh", "product:network"]);
        assert_eq!(wire[3], "module:graphql");
        assert!(wire[4].starts_with("expires:"), "{wire:?}");
        let decoded = AnnouncedEntitlements::decode(&wire);
        assert_eq!(decoded, announced);
        assert!(decoded.grants("mesh"));
        assert!(!decoded.grants("gateway"));
    }

    #[test]
    fn state_follows_the_clock() {
        let now = jiff::Timestamp::now();
        let license = verified(&[Product::Mesh], &[], now);
        let soon = now + jiff::SignedDuration::from_hours(24 * 80);
        let a = AnnouncedEntitlements::from_license(&license, soon);
        assert_eq!(a.license, AnnouncedState::ExpiringSoon);
        assert!(a.grants("mesh"));
        let later = now + jiff::SignedDuration::from_hours(24 * 91);
        let a = AnnouncedEntitlements::from_license(&license, later);
        assert_eq!(a.license, AnnouncedState::Expired);
        assert!(!a.grants("mesh"), "an expired license grants nothing new");
        assert_eq!(AnnouncedEntitlements::decode(&a.encode()), a);
    }

    #[test]
    fn missing_invalid_and_unknown() {
        assert_eq!(AnnouncedEntitlements::missing().encode(), ["license:none"]);
        assert_eq!(
            AnnouncedEntitlements::invalid().encode(),
            ["license:invalid"]
        );
        assert!(AnnouncedEntitlements::default().encode().is_empty());
        let none: [&str; 0] = [];
        assert_eq!(
            AnnouncedEntitlements::decode(&none),
            AnnouncedEntitlements::default()
        );
    }

    #[test]
    fn decoding_is_lenient() {
        let d = AnnouncedEntitlements::decode(&[
            "license:valid",
            "product:mesh",
            "product:teleport",
            "product:",
            "mesh",
            "quota:7",
            "expires:not-a-time",
        ]);
        assert_eq!(d.license, AnnouncedState::Valid);
        assert_eq!(
            d.products.iter().map(String::as_str).collect::<Vec<_>>(),
            ["mesh", "teleport"]
        );
        assert_eq!(d.expires_at, None);
        assert_eq!(
            AnnouncedEntitlements::decode(&["license:later"]).license,
            AnnouncedState::Unknown
        );
        let many: Vec<String> = (0..1000).map(|i| format!("product:p{i}")).collect();
        assert_eq!(AnnouncedEntitlements::decode(&many).products.len(), 64);
    }
}
