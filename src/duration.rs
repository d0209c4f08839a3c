//! Durations as every face accepts them: `kubectl lbip --timeout/--request-timeout` and the
//! Ansible module's `timeout` read the same syntax, so a value copied from one works in the
//! other.
//!
//! The syntax is Go's `time.ParseDuration` (what kubectl's `--request-timeout` takes) for the
//! units that make sense here, plus kubectl's bare integer meaning seconds:
//! `90`, `90s`, `2m`, `1h`, `1m30s`, `1.5m`, `500ms`, `2h45m`. Units are case-sensitive as in Go
//! (`m` is minutes; there is no `M`). No sign, no days.

use std::time::Duration;

/// The units, longest spelling first so that `ms` is not read as `m` + `s`.
const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3600 * 1_000_000_000),
];

const EXAMPLES: &str = "e.g. 90, 90s, 2m, 1m30s, 500ms";

/// Parses a duration (see the module docs). The error says what is wrong and shows examples.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = |why: &str| format!("`{text}` is not a duration: {why} ({EXAMPLES})");
    if t.is_empty() {
        return Err(bad("it is empty"));
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = t.parse().map_err(|_| bad("the number is too large"))?;
        return Ok(Duration::from_secs(secs));
    }
    let mut nanos: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() {
            return Err(bad("expected a number before each unit"));
        }
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
            return Err(bad(&format!("`{number}` is not a number")));
        }
        let Some((unit, scale)) = UNITS.iter().find(|(u, _)| after.starts_with(u)) else {
            let unit: String = after.chars().take_while(|c| !c.is_ascii_digit()).collect();
            return Err(if unit.is_empty() {
                bad(&format!("`{number}` has no unit"))
            } else {
                bad(&format!("unknown unit `{unit}` (use h, m, s or ms)"))
            });
        };
        let too_large = || bad("it is too large");
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let mut part = whole.checked_mul(*scale).ok_or_else(too_large)?;
        // Fractions are exact to the nanosecond (digits beyond that are dropped, as in Go).
        let mut place = *scale;
        for digit in fraction.bytes().map(|b| u128::from(b - b'0')) {
            place /= 10;
            part += digit * place;
        }
        nanos = nanos.checked_add(part).ok_or_else(too_large)?;
        rest = &after[unit.len()..];
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| bad("it is too large"))?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_and_go_spellings_are_read() {
        for (text, want) in [
            ("45", Duration::from_secs(45)),
            ("0", Duration::ZERO),
            ("60s", Duration::from_secs(60)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1m30s", Duration::from_secs(90)),
            ("2h45m", Duration::from_secs(9900)),
            ("1.5m", Duration::from_secs(90)),
            (".5s", Duration::from_millis(500)),
            ("500ms", Duration::from_millis(500)),
            ("1s500ms", Duration::from_millis(1500)),
            ("250us", Duration::from_micros(250)),
            ("10ns", Duration::from_nanos(10)),
            (" 90s ", Duration::from_secs(90)),
        ] {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_durations_say_why() {
        for (text, why) in [
            ("", "it is empty"),
            ("soon", "expected a number before each unit"),
            ("5d", "unknown unit `d` (use h, m, s or ms)"),
            ("5M", "unknown unit `M`"),
            ("m", "expected a number before each unit"),
            ("1m30", "`30` has no unit"),
            ("1..5s", "`1..5` is not a number"),
            (".s", "`.` is not a number"),
            ("-5s", "expected a number before each unit"),
            ("99999999999999999999999h", "it is too large"),
            ("99999999999999999999999", "the number is too large"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.contains("e.g. 90, 90s, 2m"), "{text}: {err}");
        }
    }
}
