//! Rotation of the relay server's certificate: issued again by the signing CA once two thirds of
//! its lifetime have passed (as agents renew theirs) or when it lacks a name the server is asked
//! to serve, stored in the PKI store, and served from the next handshake on without a restart.
//! Checked at start and then periodically, so a server that runs for years never serves an
//! expired certificate.

use crate::relay::pki::{CertAuthority, PkiMaterial, ServerCertDue, server_cert_due};
use crate::relay::tls::ServerCertificate;
use crate::server::metrics::RelayMetrics;
use crate::server::pki_store::{PkiStore, PkiStoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why a rotation failed; the old certificate stays in use.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("reading the server certificate: {0}")]
    Read(#[source] crate::relay::pki::PkiError),
    #[error("issuing a new server certificate: {0}")]
    Issue(#[source] crate::relay::pki::PkiError),
    #[error("storing the new server certificate: {0}")]
    Store(#[from] PkiStoreError),
    #[error("serving the new server certificate: {0}")]
    Serve(#[source] crate::relay::tls::TlsError),
}

/// Rotates `material`'s server certificate when it is due for `sans` at `now`: a new one is
/// issued (with the names it had and those asked for), stored, and put in `material`. Returns
/// why it was rotated, `None` when it was not due.
pub async fn rotate_if_due(
    store: &dyn PkiStore,
    ca: &CertAuthority,
    material: &mut PkiMaterial,
    sans: &[String],
    now: time::OffsetDateTime,
) -> Result<Option<ServerCertDue>, RotationError> {
    let Some(due) = server_cert_due(&material.server_cert_pem, sans, now.unix_timestamp())
        .map_err(RotationError::Read)?
    else {
        return Ok(None);
    };
    let mut names = crate::relay::pki::dns_sans_pem(&material.server_cert_pem).unwrap_or_default();
    for s in sans {
        if !names.contains(s) {
            names.push(s.clone());
        }
    }
    let (cert, key) = ca
        .issue_server_cert(&names, now)
        .map_err(RotationError::Issue)?;
    store.replace_server_cert(&cert, &key).await?;
    material.server_cert_pem = cert;
    material.server_key_pem = key;
    Ok(Some(due))
}

/// What [`keep_rotated`] works with.
pub struct Rotator {
    pub store: Arc<dyn PkiStore>,
    pub ca: Arc<CertAuthority>,
    pub sans: Vec<String>,
    pub serving: Arc<ServerCertificate>,
    pub metrics: Arc<RelayMetrics>,
}

/// Sets the expiry gauge from `material`'s server certificate.
pub fn record_expiry(metrics: &RelayMetrics, material: &PkiMaterial) {
    if let Ok((_, not_after)) = crate::relay::pki::validity_pem(&material.server_cert_pem) {
        metrics.server_cert_not_after.set(not_after);
    }
}

/// Re-checks every `every` until `shutdown`, rotating and serving the new certificate when due.
pub async fn keep_rotated(
    r: Rotator,
    mut material: PkiMaterial,
    every: Duration,
    shutdown: CancellationToken,
) {
    let Rotator {
        store,
        ca,
        sans,
        serving,
        metrics,
    } = r;
    record_expiry(&metrics, &material);
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = time::OffsetDateTime::now_utc();
        match rotate_if_due(store.as_ref(), &ca, &mut material, &sans, now).await {
            Ok(None) => {}
            Ok(Some(due)) => match serving.replace(&material) {
                Ok(()) => {
                    record_expiry(&metrics, &material);
                    tracing::info!(?due, "relay server certificate rotated");
                }
                Err(e) => {
                    tracing::error!(error = %RotationError::Serve(e), "relay server certificate rotated in the store but not served")
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "relay server certificate rotation failed; retrying at the next check")
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::relay::pki::{default_server_sans, generate, validity_der, validity_pem};
    use crate::relay::tls::server_config_rotating;
    use crate::server::pki_store::MemoryPkiStore;

    /// A PKI made 500 days ago: its two-year server certificate is past two thirds of its life.
    async fn aged() -> (MemoryPkiStore, PkiMaterial) {
        let then = time::OffsetDateTime::now_utc() - time::Duration::days(500);
        let m = generate(&default_server_sans(), then).unwrap();
        let store = MemoryPkiStore::default();
        store.create(&m).await.unwrap();
        (store, m)
    }

    #[tokio::test]
    async fn a_running_server_rotates_and_serves_the_new_certificate() {
        let (store, m) = aged().await;
        let (_, serving) = server_config_rotating(&m, Arc::new(|_: &str| false)).unwrap();
        let (_, old_end) = validity_pem(&m.server_cert_pem).unwrap();
        let shutdown = CancellationToken::new();
        let metrics = Arc::new(RelayMetrics::new());
        let task = tokio::spawn(keep_rotated(
            Rotator {
                store: Arc::new(store.clone()),
                ca: Arc::new(CertAuthority::from_material(&m).unwrap()),
                sans: default_server_sans(),
                serving: serving.clone(),
                metrics: metrics.clone(),
            },
            m.clone(),
            Duration::from_millis(20),
            shutdown.clone(),
        ));
        let mut served_end = old_end;
        for _ in 0..250 {
            served_end = validity_der(&serving.chain()[0]).unwrap().1;
            if served_end != old_end {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        shutdown.cancel();
        task.await.unwrap();
        assert!(
            served_end > old_end + 400 * 86_400,
            "still serving the old certificate"
        );
        assert_eq!(metrics.server_cert_not_after.get(), served_end);
        let stored = store.load().await.unwrap().unwrap();
        assert_eq!(validity_pem(&stored.server_cert_pem).unwrap().1, served_end);
        // the CAs were not touched
        assert_eq!(stored.root_ca_pem, m.root_ca_pem);
        assert_eq!(stored.signing_ca_pem, m.signing_ca_pem);
    }

    #[tokio::test]
    async fn a_fresh_certificate_with_every_name_is_left_alone() {
        let m = generate(&default_server_sans(), time::OffsetDateTime::now_utc()).unwrap();
        let store = MemoryPkiStore::default();
        store.create(&m).await.unwrap();
        let ca = CertAuthority::from_material(&m).unwrap();
        let mut material = m.clone();
        let now = time::OffsetDateTime::now_utc();
        let due = rotate_if_due(&store, &ca, &mut material, &default_server_sans(), now)
            .await
            .unwrap();
        assert_eq!(due, None);
        assert_eq!(material, m);
        // asked for a name it lacks: issued again with the old names and the new one
        let mut sans = default_server_sans();
        sans.push("relay.example.com".into());
        let due = rotate_if_due(&store, &ca, &mut material, &sans, now)
            .await
            .unwrap();
        assert!(matches!(due, Some(ServerCertDue::MissingSans(_))));
        let names = crate::relay::pki::dns_sans_pem(&material.server_cert_pem).unwrap();
        assert!(names.contains(&"relay.example.com".to_string()));
        assert!(names.contains(&"localhost".to_string()));
    }
}
