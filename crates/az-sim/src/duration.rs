//! Simulated durations as people write them in directives and scenario files:
//! `500ms`, `90s`, `5m`, `1h`, `1h30m`, or a bare number of seconds.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration '{0}': write a number with a unit, e.g. 500ms, 90s, 5m, 1h or 1h30m")]
pub struct DurationError(pub String);

/// Seconds of simulated time.
pub fn parse_seconds(text: &str) -> Result<f64, DurationError> {
    let bad = || DurationError(text.to_string());
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return if secs.is_finite() && secs >= 0.0 {
            Ok(secs)
        } else {
            Err(bad())
        };
    }
    let mut total = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// A duration field of the scenario file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimDuration(pub f64);

impl<'de> serde::Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 30s, 5m or 1h")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SimDuration, E> {
                parse_seconds(v).map(SimDuration).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SimDuration, E> {
                Ok(SimDuration(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SimDuration, E> {
                if v < 0 {
                    return Err(E::custom(DurationError(v.to_string())));
                }
                Ok(SimDuration(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SimDuration, E> {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(E::custom(DurationError(v.to_string())));
                }
                Ok(SimDuration(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_seconds("90s"), Ok(90.0));
        assert_eq!(parse_seconds("5m"), Ok(300.0));
        assert_eq!(parse_seconds("1h30m"), Ok(5400.0));
        assert_eq!(parse_seconds("500ms"), Ok(0.5));
        assert_eq!(parse_seconds("20"), Ok(20.0));
        assert_eq!(parse_seconds("1.5m"), Ok(90.0));
        assert!(parse_seconds("5 minutes").is_err());
        assert!(parse_seconds("m").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("").is_err());
    }
}
