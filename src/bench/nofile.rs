//! The open-file limit: every agent connection is a file descriptor in the server
//! (and one in the fleet process), so a run with many agents raises the soft limit up
//! to the hard limit at start.

/// The soft and hard limits before and after raising.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct NofileLimit {
    pub soft_before: Option<u64>,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// Raises the soft RLIMIT_NOFILE to at least `needed` (bounded by the hard limit).
/// `None` in a field means unlimited.
pub fn raise_nofile(needed: u64) -> NofileLimit {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    let mut after = before;
    let enough = before.current.is_none_or(|soft| soft >= needed);
    if !enough {
        let target = match before.maximum {
            None => needed,
            Some(hard) => hard.min(needed.max(before.current.unwrap_or(0))),
        };
        let mut new = before;
        new.current = Some(target);
        match setrlimit(Resource::Nofile, new) {
            Ok(()) => {
                tracing::info!(from = ?before.current, to = target, "raised the open-file limit");
                after = new;
            }
            Err(e) => tracing::warn!(error = %e, "raising the open-file limit failed"),
        }
    }
    NofileLimit {
        soft_before: before.current,
        soft: after.current,
        hard: after.maximum,
    }
}

impl NofileLimit {
    /// Whether `needed` descriptors fit.
    pub fn allows(&self, needed: u64) -> bool {
        self.soft.is_none_or(|s| s >= needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_never_lowers_and_reports_the_limit() {
        let l = raise_nofile(16);
        assert!(l.allows(16));
        assert_eq!(l.soft, l.soft_before);
        let unlimited = NofileLimit {
            soft_before: None,
            soft: None,
            hard: None,
        };
        assert!(unlimited.allows(u64::MAX));
    }
}
