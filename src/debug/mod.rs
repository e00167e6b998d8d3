//! `meshctl debug report`: a support bundle of an installation. Pure parts ([`redact`], the
//! [`bundle`] writer) are separate from the collection against the clusters ([`collect`]).

pub mod bundle;
pub mod collect;
pub mod redact;
