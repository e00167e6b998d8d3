//! Durations on the command line: `500ms`, `30s`, `5m`, `1h`, `1h30m`, or plain seconds.

use std::time::Duration;

/// Parses a duration flag value; the error says what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let invalid = || format!("invalid duration '{text}': expected e.g. 500ms, 30s, 5m, 1h30m");
    if text.is_empty() {
        return Err(invalid());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        if digits == 0 {
            return Err(invalid());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value.saturating_mul(60)),
            "h" => Duration::from_secs(value.saturating_mul(3600)),
            _ => return Err(invalid()),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// [`parse_duration`] for flags where zero makes no sense (intervals, lifetimes): `0s` is a usage
/// error naming what was expected, not a panic later (`tokio::time::interval` panics on zero).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!(
            "must be longer than zero, got '{}': expected e.g. 500ms, 30s, 5m",
            text.trim()
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_durations_refuse_zero() {
        for zero in ["0", "0s", "0ms", "0h0m"] {
            let e = parse_positive_duration(zero).unwrap_err();
            assert!(e.contains("longer than zero"), "{zero}: {e}");
        }
        assert_eq!(parse_positive_duration("1ms"), Ok(Duration::from_millis(1)));
        assert!(
            parse_positive_duration("x")
                .unwrap_err()
                .contains("expected e.g.")
        );
    }

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
    }

    #[test]
    fn rejects_garbage_with_a_clear_message() {
        for bad in ["", "s", "5x", "-1s", "1.5s", "m5"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("expected e.g."), "{bad}: {e}");
        }
    }
}
