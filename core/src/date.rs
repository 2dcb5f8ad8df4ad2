//! Calendar dates as events and records write them, `YYYY-MM-DD`: the one parser behind the
//! rules' dates (`due_on`, within the years of [`crate::rules::YEAR_MIN`]..=
//! [`crate::rules::YEAR_MAX`]) and the store's business dates (`occurred_on`, 1900..=2200).

use std::ops::RangeInclusive;

/// The year, month and day of `text` when it is exactly `YYYY-MM-DD` (ASCII digits, no sign)
/// and a real calendar date with its year in `years`.
pub fn parse_date(text: &str, years: RangeInclusive<u32>) -> Option<(u32, u32, u32)> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = digits(text.get(..4)?)?;
    let month = digits(text.get(5..7)?)?;
    let day = digits(text.get(8..)?)?;
    (years.contains(&year) && is_calendar_date(year, month, day)).then_some((year, month, day))
}

/// Whether `day` is a day of `month` (1..=12) of `year` in the proleptic Gregorian calendar.
pub fn is_calendar_date(year: u32, month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day)
}

/// Only ASCII digits (`u32::from_str` would also take a sign).
pub(crate) fn digits(text: &str) -> Option<u32> {
    let all_digits = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    all_digits.then(|| text.parse().ok()).flatten()
}

// `u32::is_multiple_of` needs Rust 1.87; the workspace promises 1.80.
#[allow(clippy::manual_is_multiple_of)]
fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_only_when_real_and_in_range() {
        assert_eq!(parse_date("2024-02-29", 2000..=2100), Some((2024, 2, 29)));
        assert_eq!(parse_date("2023-02-29", 2000..=2100), None);
        assert_eq!(parse_date("1900-02-29", 1900..=2200), None);
        assert_eq!(parse_date("2000-02-29", 1900..=2200), Some((2000, 2, 29)));
        assert_eq!(parse_date("1999-12-31", 2000..=2100), None);
        assert_eq!(parse_date("2026-13-01", 2000..=2100), None);
        assert_eq!(parse_date("2026-04-31", 2000..=2100), None);
        assert_eq!(parse_date("+026-01-01", 0..=9999), None);
        assert_eq!(parse_date("2026-1-011", 2000..=2100), None);
        assert_eq!(parse_date("2026-01-01 ", 2000..=2100), None);
    }
}
