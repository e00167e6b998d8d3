//! The products a license unlocks and the modules that extend them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::LicenseError;

/// A product of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    /// Service mesh (driven through Istio).
    Mesh,
    /// API gateway (driven through Istio gateways).
    Gateway,
    /// Network policy (driven through Cilium).
    Network,
}

impl Product {
    /// All products, in display order.
    pub const ALL: [Product; 3] = [Product::Mesh, Product::Gateway, Product::Network];

    /// The name used in license claims and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Mesh => "mesh",
            Product::Gateway => "gateway",
            Product::Network => "network",
        }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Product {
    type Err = LicenseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Product::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| LicenseError::UnknownProduct {
                name: super::error::echo(s),
            })
    }
}

/// An add-on that extends one or more products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    /// GraphQL APIs; extends Gateway and Mesh.
    Graphql,
}

impl Module {
    /// All modules.
    pub const ALL: [Module; 1] = [Module::Graphql];

    /// The name used in license claims and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Module::Graphql => "graphql",
        }
    }

    /// The products this module extends; a license must grant at least one of them.
    pub fn extends(self) -> &'static [Product] {
        match self {
            Module::Graphql => &[Product::Gateway, Product::Mesh],
        }
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Module {
    type Err = LicenseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Module::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| LicenseError::UnknownModule {
                name: super::error::echo(s),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_round_trip_through_names() {
        for p in Product::ALL {
            assert_eq!(p.as_str().parse::<Product>().unwrap(), p);
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
        }
    }

    #[test]
    fn unknown_product_is_named_in_the_error() {
        let err = "Mesh".parse::<Product>().unwrap_err();
        assert_eq!(
            err,
            LicenseError::UnknownProduct {
                name: "Mesh".into()
            }
        );
        assert!(err.to_string().contains("known: mesh, gateway, network"));
    }

    #[test]
    fn graphql_extends_gateway_and_mesh() {
        assert_eq!(
            Module::Graphql.extends(),
            &[Product::Gateway, Product::Mesh]
        );
        assert_eq!("graphql".parse::<Module>().unwrap(), Module::Graphql);
        assert!(matches!(
            "soap".parse::<Module>(),
            Err(LicenseError::UnknownModule { .. })
        ));
    }
}
