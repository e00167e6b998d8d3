//! "Did you mean ...?" for unknown values keys.

/// Levenshtein distance between two strings, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The candidate nearest to `unknown`: the closest by (case-insensitive) edit distance when it is close
/// enough, else one whose last segment equals the unknown key's last segment.
pub fn nearest<'a>(
    unknown: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let unknown_lower = unknown.to_lowercase();
    let unknown_last = last_segment(&unknown_lower).to_owned();
    let limit = (unknown.chars().count() / 4).max(2);
    let mut best: Option<(usize, &str)> = None;
    let mut same_last: Option<(usize, &str)> = None;
    for candidate in candidates {
        let lower = candidate.to_lowercase();
        let distance = edit_distance(&unknown_lower, &lower);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
        if last_segment(&lower) == unknown_last && same_last.is_none_or(|(d, _)| distance < d) {
            same_last = Some((distance, candidate));
        }
    }
    best.or(same_last).map(|(_, candidate)| candidate)
}

fn last_segment(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn suggests_typos_case_and_misplaced_keys() {
        let keys = [
            "mgmtServer.replicas",
            "mgmtServer.resources",
            "agent.relayAddress",
            "redis.enabled",
            "image.tag",
        ];
        assert_eq!(
            nearest("mgmtServer.replica", keys),
            Some("mgmtServer.replicas")
        );
        assert_eq!(
            nearest("mgmtserver.replicas", keys),
            Some("mgmtServer.replicas")
        );
        assert_eq!(nearest("redis.enable", keys), Some("redis.enabled"));
        assert_eq!(nearest("relayAddress", keys), Some("agent.relayAddress"));
        assert_eq!(nearest("completely.different", keys), None);
    }
}
