//! Reading text with a PostgreSQL date/time pattern ([`super::datetime_format`]'s pieces), for
//! `to_date(text, text)` and `to_timestamp(text, text)`: writing and reading share the pattern
//! language but not their rules (reading is lenient about digits, blanks and case).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

use super::datetime_format::{DAYS, Field, MONTHS, Piece, ROMAN};

/// What [`parse`] read: a wall-clock time, and an offset when the input named one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    pub value: NaiveDateTime,
    pub offset_seconds: Option<i32>,
}

/// Reads `input` with `pieces`, as `to_timestamp(text, text)` does: numbers may have fewer
/// digits than their field (PostgreSQL's default, non-`FX` mode), names match in any case,
/// and a literal or a blank in the pattern skips one character of input (any character).
/// Fields the pattern lacks default to January 1 of year 1 at midnight, as in PostgreSQL.
pub fn parse(input: &str, pieces: &[Piece]) -> Result<Parsed, String> {
    let mut year: Option<i64> = None;
    let mut bc = false;
    let mut month: u32 = 1;
    let mut day: u32 = 1;
    let mut day_of_year: Option<u32> = None;
    let mut hour: u32 = 0;
    let mut pm: Option<bool> = None;
    let mut minute: u32 = 0;
    let mut second: u32 = 0;
    let mut micros: u32 = 0;
    let mut offset: Option<i32> = None;
    let mut tz_hours: Option<i32> = None;
    let mut rest = input;

    for (index, piece) in pieces.iter().enumerate() {
        // A year written right before another field (`YYYYMMDD`) has exactly four digits.
        let year_digits = match pieces.get(index + 1) {
            Some(Piece::Field { .. }) => 4,
            _ => 9,
        };
        let (field, ordinal) = match piece {
            Piece::Literal(text) => {
                // Each character of a literal skips one input character, whatever it is, and
                // blanks in the input are skipped before a field (PostgreSQL's lenient mode).
                for _ in text.chars() {
                    if let Some(c) = rest.chars().next() {
                        if c.is_ascii_digit() || c.is_alphabetic() {
                            break;
                        }
                        rest = &rest[c.len_utf8()..];
                    }
                }
                continue;
            }
            Piece::Field { field, ordinal, .. } => (*field, *ordinal),
        };
        rest = rest.trim_start();
        let take_number = |rest: &mut &str, max_digits: usize| -> Result<i64, String> {
            let s = *rest;
            let negative = s.starts_with('-');
            let digits_start = usize::from(negative);
            let len = s[digits_start..]
                .chars()
                .take(max_digits)
                .take_while(|c| c.is_ascii_digit())
                .count();
            if len == 0 {
                return Err(format!(
                    "invalid value \"{}\" for the pattern",
                    first_word(s)
                ));
            }
            let n: i64 = s[digits_start..digits_start + len]
                .parse()
                .map_err(|e| format!("{e}"))?;
            *rest = &s[digits_start + len..];
            Ok(if negative { -n } else { n })
        };
        let take_name =
            |rest: &mut &str, names: &[&str], prefix: Option<usize>| -> Result<usize, String> {
                let lower = rest.to_lowercase();
                for (i, name) in names.iter().enumerate() {
                    let name = match prefix {
                        Some(n) => &name[..n],
                        None => name,
                    };
                    if lower.starts_with(&name.to_lowercase()) {
                        *rest = &rest[name.len()..];
                        return Ok(i);
                    }
                }
                Err(format!(
                    "invalid value \"{}\" for the pattern",
                    first_word(rest)
                ))
            };
        match field {
            Field::Hour24 => hour = take_number(&mut rest, 2)? as u32,
            Field::Hour12 => hour = take_number(&mut rest, 2)? as u32,
            Field::Minute => minute = take_number(&mut rest, 2)? as u32,
            Field::Second => second = take_number(&mut rest, 2)? as u32,
            Field::Millisecond => {
                let before = rest.len();
                let n = take_number(&mut rest, 3)?;
                let digits = before - rest.len();
                micros = (n * 10_i64.pow(3 - digits as u32) * 1000) as u32;
            }
            Field::Microsecond => {
                let before = rest.len();
                let n = take_number(&mut rest, 6)?;
                let digits = before - rest.len();
                micros = (n * 10_i64.pow(6 - digits as u32)) as u32;
            }
            Field::SecondsOfDay => {
                let n = take_number(&mut rest, 5)?;
                hour = (n / 3600) as u32;
                minute = ((n / 60) % 60) as u32;
                second = (n % 60) as u32;
            }
            Field::Meridiem { .. } => {
                let lower = rest.to_lowercase();
                let (is_pm, len) = if lower.starts_with("p.m.") {
                    (true, 4)
                } else if lower.starts_with("a.m.") {
                    (false, 4)
                } else if lower.starts_with("pm") {
                    (true, 2)
                } else if lower.starts_with("am") {
                    (false, 2)
                } else {
                    return Err(format!("invalid value \"{}\" for AM/PM", first_word(rest)));
                };
                pm = Some(is_pm);
                rest = &rest[len..];
            }
            Field::Year4 | Field::IsoYear => year = Some(take_number(&mut rest, year_digits)?),
            Field::Year3 => year = Some(2000 + take_number(&mut rest, 3)?),
            Field::Year2 => {
                // PostgreSQL: two-digit years are the nearest to 2020 (70-99 are 19xx).
                let n = take_number(&mut rest, 2)?;
                year = Some(if n < 70 { 2000 + n } else { 1900 + n });
            }
            Field::Year1 => year = Some(2000 + take_number(&mut rest, 1)?),
            Field::Era { .. } => {
                let lower = rest.to_lowercase();
                for (text, is_bc) in [("b.c.", true), ("a.d.", false), ("bc", true), ("ad", false)]
                {
                    if lower.starts_with(text) {
                        bc = is_bc;
                        rest = &rest[text.len()..];
                        break;
                    }
                }
            }
            Field::MonthName(_) => month = take_name(&mut rest, &MONTHS, None)? as u32 + 1,
            Field::MonthAbbrev(_) => month = take_name(&mut rest, &MONTHS, Some(3))? as u32 + 1,
            Field::Month => month = take_number(&mut rest, 2)? as u32,
            Field::RomanMonth(_) => {
                // Longest numeral first, so that VIII is not read as V.
                let mut order: Vec<usize> = (0..12).collect();
                order.sort_by_key(|&i| std::cmp::Reverse(ROMAN[i].len()));
                let upper = rest.to_uppercase();
                let i = order
                    .into_iter()
                    .find(|&i| upper.starts_with(ROMAN[i]))
                    .ok_or_else(|| format!("invalid value \"{}\" for RM", first_word(rest)))?;
                rest = &rest[ROMAN[i].len()..];
                month = i as u32 + 1;
            }
            Field::DayName(_) => {
                take_name(&mut rest, &DAYS, None)?;
            }
            Field::DayAbbrev(_) => {
                take_name(&mut rest, &DAYS, Some(3))?;
            }
            Field::DayOfYear | Field::IsoDayOfYear => {
                day_of_year = Some(take_number(&mut rest, 3)? as u32)
            }
            Field::Day => day = take_number(&mut rest, 2)? as u32,
            Field::Weekday | Field::IsoWeekday | Field::Quarter | Field::WeekOfMonth => {
                take_number(&mut rest, 1)?;
            }
            Field::WeekOfYear | Field::IsoWeek | Field::Century => {
                take_number(&mut rest, 2)?;
            }
            Field::Julian => {
                let j = take_number(&mut rest, 9)?;
                let date = NaiveDate::from_num_days_from_ce_opt((j - 1_721_425) as i32)
                    .ok_or_else(|| format!("Julian day {j} is out of range"))?;
                year = Some(date.year() as i64);
                month = date.month();
                day = date.day();
            }
            Field::TzHours => tz_hours = Some(take_number(&mut rest, 2)? as i32),
            Field::TzMinutes => {
                let m = take_number(&mut rest, 2)? as i32;
                let h = tz_hours.unwrap_or(0);
                offset = Some(h * 3600 + h.signum().max(if h == 0 { 1 } else { -1 }) * m * 60);
            }
            Field::TzName(_) | Field::TzOffset => {
                let (parsed, len) = parse_offset(rest)?;
                offset = Some(parsed);
                rest = &rest[len..];
            }
        }
        if ordinal.is_some() {
            let lower = rest.to_lowercase();
            if ["st", "nd", "rd", "th"]
                .iter()
                .any(|s| lower.starts_with(s))
            {
                rest = &rest[2..];
            }
        }
    }
    if let (Some(h), None) = (tz_hours, offset) {
        offset = Some(h * 3600);
    }
    if let Some(is_pm) = pm {
        if hour > 12 || hour == 0 {
            return Err(format!("hour \"{hour}\" is invalid for the 12-hour clock"));
        }
        hour = match (hour, is_pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, true) => h + 12,
            (h, false) => h,
        };
    }
    let mut year = year.unwrap_or(1);
    if bc {
        year = 1 - year;
    }
    let year = i32::try_from(year).map_err(|_| format!("year {year} is out of range"))?;
    let date = match day_of_year {
        Some(doy) => NaiveDate::from_yo_opt(year, doy),
        None => NaiveDate::from_ymd_opt(year, month, day),
    }
    .ok_or_else(|| "date/time field value out of range".to_string())?;
    let time = if hour == 24 && minute == 0 && second == 0 && micros == 0 {
        NaiveTime::MIN
    } else {
        NaiveTime::from_hms_micro_opt(hour, minute, second, micros)
            .ok_or_else(|| "date/time field value out of range".to_string())?
    };
    let mut value = date.and_time(time);
    if hour == 24 {
        value += chrono::Duration::days(1);
    }
    Ok(Parsed {
        value,
        offset_seconds: offset,
    })
}

fn first_word(s: &str) -> &str {
    let end = s
        .char_indices()
        .find(|(_, c)| c.is_whitespace())
        .map_or(s.len(), |(i, _)| i);
    &s[..end.min(20)]
}

/// `Z`, `UTC`, `GMT`, `+05`, `-0530`, `+05:30` at the start of `s`: the offset and its length.
fn parse_offset(s: &str) -> Result<(i32, usize), String> {
    let upper = s.to_uppercase();
    for name in ["UTC", "GMT", "Z"] {
        if upper.starts_with(name) {
            return Ok((0, name.len()));
        }
    }
    let sign = match s.chars().next() {
        Some('+') => 1,
        Some('-') => -1,
        _ => return Err(format!("invalid time zone \"{}\"", first_word(s))),
    };
    let digits: String = s[1..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .collect();
    let plain: String = digits.chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match plain.len() {
        1 | 2 => (plain.parse::<i32>().unwrap_or(0), 0),
        3 | 4 => (
            plain[..plain.len() - 2].parse::<i32>().unwrap_or(0),
            plain[plain.len() - 2..].parse::<i32>().unwrap_or(0),
        ),
        _ => return Err(format!("invalid time zone \"{}\"", first_word(s))),
    };
    Ok((sign * (h * 3600 + m * 60), 1 + digits.len()))
}

#[cfg(test)]
mod tests {
    use super::super::datetime_format::parse_pattern;
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_micro_opt(h, mi, s, us)
            .unwrap()
    }

    #[test]
    fn patterns_read_as_postgres_does() {
        let p = |input: &str, pattern: &str| parse(input, &parse_pattern(pattern)).map(|p| p.value);
        assert_eq!(
            p("2024-03-15", "YYYY-MM-DD"),
            Ok(at(2024, 3, 15, 0, 0, 0, 0))
        );
        assert_eq!(
            p("15/03/2024", "DD/MM/YYYY"),
            Ok(at(2024, 3, 15, 0, 0, 0, 0))
        );
        assert_eq!(
            p("2024-03-15 10:11:12.5", "YYYY-MM-DD HH24:MI:SS.MS"),
            Ok(at(2024, 3, 15, 10, 11, 12, 500_000))
        );
        assert_eq!(
            p("5 Mar 2024 7:05 pm", "DD Mon YYYY HH:MI AM"),
            Ok(at(2024, 3, 5, 19, 5, 0, 0))
        );
        assert_eq!(
            p("March 5th, 99", "Month DDth, YY"),
            Ok(at(1999, 3, 5, 0, 0, 0, 0))
        );
        assert_eq!(p("2024060", "YYYYDDD"), Ok(at(2024, 2, 29, 0, 0, 0, 0)));
        assert!(p("2024-02-30", "YYYY-MM-DD").is_err());
        assert!(p("xx", "YYYY").is_err());
        let with_zone = parse(
            "2024-03-15 10:00 +05:30",
            &parse_pattern("YYYY-MM-DD HH24:MI OF"),
        )
        .unwrap();
        assert_eq!(with_zone.offset_seconds, Some(5 * 3600 + 30 * 60));
    }
}
