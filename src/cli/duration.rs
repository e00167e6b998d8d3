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

/// [`parse_duration`] within `min..=max`; the error names both bounds.
pub fn parse_duration_within(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < min || duration > max {
        return Err(format!(
            "must be between {} and {}, got '{}'",
            describe(min),
            describe(max),
            text.trim()
        ));
    }
    Ok(duration)
}

/// A duration the way the flags take it (`15m`, `8760h`, `30s`).
pub fn describe(d: Duration) -> String {
    let secs = d.as_secs();
    if secs > 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs > 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if d.subsec_millis() == 0 {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
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
    fn bounded_durations_name_their_bounds() {
        let (min, max) = (Duration::from_secs(900), Duration::from_secs(8760 * 3600));
        assert_eq!(
            parse_duration_within("1h", min, max),
            Ok(Duration::from_secs(3600))
        );
        for bad in ["0s", "1s", "14m", "999999h"] {
            let e = parse_duration_within(bad, min, max).unwrap_err();
            assert_eq!(e, format!("must be between 15m and 8760h, got '{bad}'"));
        }
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
