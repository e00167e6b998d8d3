//! The license the translation is gated by: read from a file, an environment variable or the
//! `meshctl-license` Secret, verified like `license check`, re-read periodically (so a replaced
//! license, an expiring one or a removed one takes effect without a restart), and handed to the
//! translation task as [`EntitlementView`] changes.
//!
//! No license ever seen: [`EntitlementView::none`]. A license removed, or replaced by an invalid one,
//! after a valid one: [`EntitlementView::expired`] with no products (docs/translation.md): what was
//! translated stays in place, nothing new is translated.
//!
//! The same reads feed what the relay announces to agents in `Welcome.entitlements`
//! ([`EntitlementsFeed`], [`crate::relay::entitlements`]): products, modules, expiry and state of
//! the license as last read. The protocol has no message for changing them on an open stream, so an
//! agent learns of a reloaded license when its stream next opens.

use crate::license::{TrustedIssuers, verify};
use crate::relay::entitlements::AnnouncedEntitlements;
use crate::server::platform_source::{LICENSE, SourceEvent};
use crate::translate::{EntitlementView, InputChange};
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use k8s_openapi::api::core::v1::Secret;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Time allowed for one read of the Secret.
const SECRET_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the license key is read from.
#[derive(Clone)]
pub enum LicenseLocation {
    /// No license configured.
    None,
    /// A file holding the key (whitespace around it is ignored).
    File(PathBuf),
    /// A key given directly (e.g. from `MESHCTL_LICENSE_KEY`).
    Literal(Arc<Zeroizing<String>>),
    /// A Secret's data key in a namespace.
    Secret {
        client: kube::Client,
        namespace: String,
        name: String,
        key: String,
    },
}

impl std::fmt::Debug for LicenseLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::File(p) => f.debug_tuple("File").field(p).finish(),
            Self::Literal(_) => f.write_str("Literal(<redacted>)"),
            Self::Secret {
                namespace,
                name,
                key,
                ..
            } => f
                .debug_struct("Secret")
                .field("namespace", namespace)
                .field("name", name)
                .field("key", key)
                .finish_non_exhaustive(),
        }
    }
}

impl LicenseLocation {
    /// Describes the location for logs (never the key).
    pub fn describe(&self) -> String {
        match self {
            Self::None => "no license configured".into(),
            Self::File(p) => format!("file {}", p.display()),
            Self::Literal(_) => "a key given on start".into(),
            Self::Secret {
                namespace,
                name,
                key,
                ..
            } => format!("Secret {namespace}/{name} key {key}"),
        }
    }

    /// Reads the key: `Ok(None)` when there is none (no file, no Secret, no such data key).
    pub async fn read(&self) -> Result<Option<Zeroizing<String>>, String> {
        match self {
            Self::None => Ok(None),
            Self::Literal(k) => Ok(Some(Zeroizing::new(k.as_str().to_owned()))),
            Self::File(path) => match crate::input::read_file(path, crate::input::LICENSE_KEY) {
                Ok(text) => Ok(Some(Zeroizing::new(text))),
                Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(None),
                Err(e) => Err(crate::output::error_chain(&e)),
            },
            Self::Secret {
                client,
                namespace,
                name,
                key,
            } => {
                let api: kube::Api<Secret> = kube::Api::namespaced(client.clone(), namespace);
                let secret = tokio::time::timeout(SECRET_READ_TIMEOUT, api.get_opt(name))
                    .await
                    .map_err(|_| format!("reading Secret {namespace}/{name} timed out"))?
                    .map_err(|e| format!("reading Secret {namespace}/{name}: {e}"))?;
                Ok(secret
                    .and_then(|s| s.data)
                    .and_then(|mut d| d.remove(key))
                    .map(|v| Zeroizing::new(String::from_utf8_lossy(&v.0).into_owned())))
            }
        }
    }
}

/// What one read of the license found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseRead {
    /// No license is configured or present.
    Missing,
    /// A license that verified, with the view at the time of reading.
    Valid(EntitlementView),
    /// A license that did not verify (the reason, never the key).
    Invalid(String),
}

/// Verifies a key read from `location` into a [`LicenseRead`].
pub fn evaluate(key: Option<&str>, trusted: &TrustedIssuers, now: jiff::Timestamp) -> LicenseRead {
    read_license(key, trusted, now).0
}

/// Verifies a key read from `location`: the [`LicenseRead`] for translation and what the relay
/// announces to agents.
pub fn read_license(
    key: Option<&str>,
    trusted: &TrustedIssuers,
    now: jiff::Timestamp,
) -> (LicenseRead, AnnouncedEntitlements) {
    match key.map(str::trim) {
        None | Some("") => (LicenseRead::Missing, AnnouncedEntitlements::missing()),
        Some(k) => match verify(k, trusted) {
            Ok(license) => (
                LicenseRead::Valid(EntitlementView::from_license(license.entitlements(), now)),
                AnnouncedEntitlements::from_license(license.entitlements(), now),
            ),
            Err(e) => (
                LicenseRead::Invalid(e.to_string()),
                AnnouncedEntitlements::invalid(),
            ),
        },
    }
}

/// The receiving end of what sessions announce in `Welcome.entitlements`. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct EntitlementsFeed {
    rx: Option<watch::Receiver<Option<AnnouncedEntitlements>>>,
}

/// The sending end, held by the [`LicenseSource`].
#[derive(Debug)]
pub struct EntitlementsPublisher {
    tx: watch::Sender<Option<AnnouncedEntitlements>>,
}

/// A connected publisher and feed; the feed has nothing until the first publish.
pub fn entitlements_feed() -> (EntitlementsPublisher, EntitlementsFeed) {
    let (tx, rx) = watch::channel(None);
    (
        EntitlementsPublisher { tx },
        EntitlementsFeed { rx: Some(rx) },
    )
}

impl EntitlementsPublisher {
    /// Replaces what is announced; returns whether it changed.
    pub fn publish(&self, announced: AnnouncedEntitlements) -> bool {
        self.tx.send_if_modified(|current| {
            if current.as_ref() == Some(&announced) {
                false
            } else {
                *current = Some(announced);
                true
            }
        })
    }
}

impl EntitlementsFeed {
    /// A feed that announces nothing (a server without a license source: it checks no license).
    pub fn none() -> Self {
        Self::default()
    }

    /// What is announced now, or `None` before the license was first read (or for
    /// [`Self::none`]).
    pub fn current(&self) -> Option<AnnouncedEntitlements> {
        self.rx.as_ref().and_then(|rx| rx.borrow().clone())
    }

    /// A receiver of every later change (`None` for [`Self::none`]); what it holds now counts as
    /// seen.
    pub fn changes(&self) -> Option<watch::Receiver<Option<AnnouncedEntitlements>>> {
        self.rx.as_ref().map(|rx| {
            let mut rx = rx.clone();
            rx.borrow_and_update();
            rx
        })
    }

    /// The `Welcome.entitlements` entries. Waits at most `wait` for the first read of the license,
    /// so that an agent connecting while the server starts does not get an empty list for the whole
    /// life of its stream; empty if there is still nothing to announce.
    pub async fn entries(&self, wait: Duration) -> Vec<String> {
        let Some(rx) = &self.rx else {
            return Vec::new();
        };
        let mut rx = rx.clone();
        if let Ok(Ok(v)) = tokio::time::timeout(wait, rx.wait_for(Option::is_some)).await {
            return v.as_ref().map(|a| a.encode()).unwrap_or_default();
        }
        let current = rx.borrow().clone();
        current.map(|a| a.encode()).unwrap_or_default()
    }
}

/// Turns successive reads into the view the translator uses (pure).
#[derive(Debug, Default, Clone)]
pub struct LicenseTracker {
    had_valid: bool,
    current: Option<EntitlementView>,
}

impl LicenseTracker {
    /// The view after `read`, and whether it differs from the previous one.
    pub fn observe(&mut self, read: &LicenseRead) -> (EntitlementView, bool) {
        let view = match read {
            LicenseRead::Valid(v) => {
                self.had_valid = true;
                v.clone()
            }
            LicenseRead::Missing | LicenseRead::Invalid(_) if self.had_valid => {
                EntitlementView::expired([])
            }
            LicenseRead::Missing | LicenseRead::Invalid(_) => EntitlementView::none(),
        };
        let changed = self.current.as_ref() != Some(&view);
        self.current = Some(view.clone());
        (view, changed)
    }
}

/// Reads the license every `interval` and sends the view whenever it changes.
pub struct LicenseSource {
    pub location: LicenseLocation,
    pub trusted: TrustedIssuers,
    pub interval: Duration,
    /// Where the relay's announcement to agents is published (`None`: not announced).
    pub announce: Option<EntitlementsPublisher>,
}

impl std::fmt::Debug for LicenseSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseSource")
            .field("location", &self.location)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl LicenseSource {
    /// Runs until `cancel` or until the receiver is gone. The first read is sent at once.
    pub async fn run(self, events: mpsc::Sender<SourceEvent>, cancel: CancellationToken) {
        let mut tracker = LicenseTracker::default();
        let mut last_read: Option<LicenseRead> = None;
        let mut synced = false;
        let mut ticker = tokio::time::interval(self.interval.max(Duration::from_millis(50)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let where_ = self.location.describe();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let key = match self.location.read().await {
                Ok(k) => k,
                Err(e) => {
                    // Unreadable is not "removed": keep the current view.
                    tracing::warn!(license = %where_, error = %e, "cannot read the license; keeping the current one");
                    continue;
                }
            };
            let (read, announced) = read_license(
                key.as_ref().map(|k| k.as_str()),
                &self.trusted,
                jiff::Timestamp::now(),
            );
            if let Some(publisher) = &self.announce {
                publisher.publish(announced);
            }
            let (view, changed) = tracker.observe(&read);
            if last_read.as_ref() != Some(&read) {
                match &read {
                    LicenseRead::Missing => {
                        tracing::warn!(license = %where_, "no license: product resources are UNLICENSED")
                    }
                    LicenseRead::Invalid(reason) => {
                        tracing::warn!(license = %where_, %reason, "the license is invalid")
                    }
                    LicenseRead::Valid(v) if v.is_expired() => tracing::warn!(
                        license = %where_,
                        "the license has expired: the configuration translated before stays in place, changes are not translated"
                    ),
                    LicenseRead::Valid(v) => {
                        let products: Vec<&str> = v.products().iter().map(|p| p.as_str()).collect();
                        tracing::info!(license = %where_, products = %products.join(","), "license loaded");
                    }
                }
                last_read = Some(read);
            }
            if changed {
                let event = SourceEvent::Changes(vec![InputChange::Entitlements(view)]);
                if events.send(event).await.is_err() {
                    return;
                }
            }
            if !synced {
                synced = true;
                if events.send(SourceEvent::Synced(LICENSE)).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::license::Product;
    use crate::license::testing::key_from_fresh_issuer;
    use crate::relay::entitlements::AnnouncedState;

    /// A key valid now for a day for `products`, and the issuers that trust it.
    fn license(products: &[Product]) -> (String, TrustedIssuers) {
        key_from_fresh_issuer(
            products,
            &[],
            jiff::Timestamp::now(),
            jiff::SignedDuration::from_hours(24),
        )
    }

    #[test]
    fn none_until_valid_then_expired_when_removed_or_invalid() {
        let mut t = LicenseTracker::default();
        assert_eq!(
            t.observe(&LicenseRead::Missing),
            (EntitlementView::none(), true)
        );
        assert_eq!(
            t.observe(&LicenseRead::Invalid("bad".into())),
            (EntitlementView::none(), false)
        );
        let valid = EntitlementView::licensed([Product::Mesh]);
        assert_eq!(
            t.observe(&LicenseRead::Valid(valid.clone())),
            (valid.clone(), true)
        );
        assert_eq!(
            t.observe(&LicenseRead::Valid(valid.clone())),
            (valid, false)
        );
        assert_eq!(
            t.observe(&LicenseRead::Invalid("bad".into())),
            (EntitlementView::expired([]), true)
        );
        assert_eq!(
            t.observe(&LicenseRead::Missing),
            (EntitlementView::expired([]), false)
        );
    }

    #[test]
    fn evaluate_verifies_against_the_trusted_issuers() {
        let (key, trusted) = license(&[Product::Mesh]);
        let now = jiff::Timestamp::now();
        assert!(matches!(
            evaluate(Some(&key), &TrustedIssuers::empty(), now),
            LicenseRead::Invalid(_)
        ));
        let LicenseRead::Valid(v) = evaluate(Some(&format!("{key}\n")), &trusted, now) else {
            panic!("expected a valid license");
        };
        assert_eq!(v, EntitlementView::licensed([Product::Mesh]));
        let later = now + jiff::SignedDuration::from_hours(48);
        let LicenseRead::Valid(v) = evaluate(Some(&key), &trusted, later) else {
            panic!("expected an authentic license");
        };
        assert!(v.is_expired());
        assert_eq!(evaluate(Some("  \n"), &trusted, now), LicenseRead::Missing);
    }

    #[tokio::test]
    async fn a_feed_without_a_source_announces_nothing_at_once() {
        assert!(
            EntitlementsFeed::none()
                .entries(Duration::from_secs(60))
                .await
                .is_empty()
        );
        let (_publisher, feed) = entitlements_feed();
        assert!(feed.entries(Duration::from_millis(10)).await.is_empty());
    }

    #[test]
    fn debug_redacts_a_literal_key() {
        let l = LicenseLocation::Literal(Arc::new(Zeroizing::new("secret-key".into())));
        assert!(!format!("{l:?}").contains("secret-key"));
    }

    #[tokio::test]
    async fn a_file_license_is_sent_and_reloaded() {
        let (key, trusted) = license(&[Product::Mesh, Product::Network]);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("license");
        let (tx, mut rx) = mpsc::channel(4);
        let cancel = CancellationToken::new();
        let (publisher, feed) = entitlements_feed();
        assert_eq!(feed.current(), None);
        let task = tokio::spawn(
            LicenseSource {
                location: LicenseLocation::File(path.clone()),
                trusted,
                interval: Duration::from_millis(10),
                announce: Some(publisher),
            }
            .run(tx, cancel.clone()),
        );
        let mut next = async || loop {
            match rx.recv().await {
                Some(SourceEvent::Synced(_)) => continue,
                Some(SourceEvent::Changes(c)) => match c.as_slice() {
                    [InputChange::Entitlements(v)] => return v.clone(),
                    other => panic!("unexpected {other:?}"),
                },
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(next().await, EntitlementView::none());
        assert_eq!(feed.current(), Some(AnnouncedEntitlements::missing()));
        assert_eq!(feed.entries(Duration::ZERO).await, ["license:none"]);
        std::fs::write(&path, &key).unwrap();
        assert_eq!(
            next().await,
            EntitlementView::licensed([Product::Mesh, Product::Network])
        );
        let announced = feed.current().unwrap();
        assert_eq!(announced.license, AnnouncedState::ExpiringSoon);
        assert!(announced.grants("mesh") && announced.grants("network"));
        assert!(!announced.grants("gateway"));
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(next().await, EntitlementView::expired([]));
        assert_eq!(feed.current(), Some(AnnouncedEntitlements::invalid()));
        cancel.cancel();
        task.await.unwrap();
    }
}
