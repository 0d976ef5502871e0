//! PostgreSQL's interval input (`interval_in`), for the interval literals a query writes:
//! `'1 day 02:03:04'`, `'1-2'` (years-months), `'1 2:03:04'` (days and a time), `'@ 1 hour
//! ago'`, ISO 8601 `'P1Y2M3DT4H5M6S'`, fractional units that cascade (`'1.5 days'` is a day and
//! 12 hours, `'1.5 months'` a month and 15 days), and the SQL range qualifiers (`INTERVAL '1
//! 2:03:04' DAY TO SECOND`, `INTERVAL '5' HOUR`), which say what a bare number is and which
//! finer fields are dropped. DataFusion's parser reads only `<number> <unit>` pairs.
//!
//! Months and days are kept apart from the time, as PostgreSQL and Arrow's `MonthDayNano` do;
//! a month that a fraction spills into is 30 days, a day 24 hours (PostgreSQL's rule).

const NANOS_PER_SECOND: f64 = 1e9;
const NANOS_PER_DAY: f64 = 86_400.0 * NANOS_PER_SECOND;

/// An interval as PostgreSQL and Arrow hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PgInterval {
    pub months: i32,
    pub days: i32,
    pub nanos: i64,
}

impl PgInterval {
    /// The interval as `<n> months <n> days <n> nanoseconds`, which DataFusion reads exactly.
    pub fn canonical_text(&self) -> String {
        format!(
            "{} months {} days {} nanoseconds",
            self.months, self.days, self.nanos
        )
    }
}

/// A field of an interval range qualifier (`YEAR`, `DAY TO SECOND`'s ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

/// A qualifier: its first field and, for `a TO b`, its last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub leading: Field,
    pub last: Option<Field>,
}

impl Range {
    /// The finest field the qualifier keeps.
    fn finest(&self) -> Field {
        self.last.unwrap_or(self.leading)
    }
}

/// Sums the parts as they are read; fractions spill into the next finer part.
#[derive(Default)]
struct Sum {
    months: f64,
    days: f64,
    nanos: f64,
}

impl Sum {
    fn add_months(&mut self, months: f64) {
        let whole = months.trunc();
        self.months += whole;
        self.add_days((months - whole) * 30.0);
    }

    fn add_days(&mut self, days: f64) {
        let whole = days.trunc();
        self.days += whole;
        self.nanos += (days - whole) * NANOS_PER_DAY;
    }

    fn add_seconds(&mut self, seconds: f64) {
        self.nanos += seconds * NANOS_PER_SECOND;
    }

    fn add(&mut self, unit: Unit, value: f64) {
        match unit {
            Unit::Months(n) => self.add_months(value * n),
            Unit::Days(n) => self.add_days(value * n),
            Unit::Seconds(n) => self.add_seconds(value * n),
        }
    }

    fn finish(self, negate: bool, range: Option<Range>) -> Result<PgInterval, String> {
        let sign = if negate { -1.0 } else { 1.0 };
        let (mut months, mut days, mut nanos) = (
            self.months * sign,
            self.days * sign,
            (self.nanos * sign).round(),
        );
        if let Some(range) = range {
            let truncate = |nanos: f64, unit_seconds: f64| {
                let unit = unit_seconds * NANOS_PER_SECOND;
                (nanos / unit).trunc() * unit
            };
            match range.finest() {
                Field::Year => {
                    months = (months / 12.0).trunc() * 12.0;
                    days = 0.0;
                    nanos = 0.0;
                }
                Field::Month => {
                    days = 0.0;
                    nanos = 0.0;
                }
                Field::Day => nanos = 0.0,
                Field::Hour => nanos = truncate(nanos, 3600.0),
                Field::Minute => nanos = truncate(nanos, 60.0),
                Field::Second => {}
            }
        }
        let fits = |v: f64, max: f64| v.abs() <= max;
        if !fits(months, i32::MAX as f64) || !fits(days, i32::MAX as f64) || !fits(nanos, 9.2e18) {
            return Err("interval out of range".into());
        }
        Ok(PgInterval {
            months: months as i32,
            days: days as i32,
            nanos: nanos as i64,
        })
    }
}

/// What one of a unit is worth, in the part it is counted in.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Months(f64),
    Days(f64),
    Seconds(f64),
}

fn unit(word: &str) -> Option<Unit> {
    Some(match word {
        "millennium" | "millennia" | "millenniums" | "mil" | "mils" => Unit::Months(12_000.0),
        "century" | "centuries" | "c" | "cent" => Unit::Months(1200.0),
        "decade" | "decades" | "dec" | "decs" => Unit::Months(120.0),
        "year" | "years" | "y" | "yr" | "yrs" => Unit::Months(12.0),
        "month" | "months" | "mon" | "mons" => Unit::Months(1.0),
        "week" | "weeks" | "w" => Unit::Days(7.0),
        "day" | "days" | "d" => Unit::Days(1.0),
        "hour" | "hours" | "h" | "hr" | "hrs" => Unit::Seconds(3600.0),
        "minute" | "minutes" | "m" | "min" | "mins" => Unit::Seconds(60.0),
        "second" | "seconds" | "s" | "sec" | "secs" => Unit::Seconds(1.0),
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => Unit::Seconds(1e-3),
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" => Unit::Seconds(1e-6),
        // Not PostgreSQL's, but the canonical text Oxbow hands DataFusion
        // (`PgInterval::canonical_text`) must read back.
        "nanosecond" | "nanoseconds" => Unit::Seconds(1e-9),
        _ => return None,
    })
}

fn field_unit(field: Field) -> Unit {
    match field {
        Field::Year => Unit::Months(12.0),
        Field::Month => Unit::Months(1.0),
        Field::Day => Unit::Days(1.0),
        Field::Hour => Unit::Seconds(3600.0),
        Field::Minute => Unit::Seconds(60.0),
        Field::Second => Unit::Seconds(1.0),
    }
}

fn number(text: &str) -> Option<f64> {
    let digits = text.trim_start_matches(['+', '-']);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    text.parse().ok()
}

/// `[+-]h:m[:s[.f]]` as seconds; `minutes_first` reads `a:b` as minutes and seconds (a
/// `MINUTE TO SECOND` range).
fn time_of(text: &str, minutes_first: bool) -> Option<f64> {
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let value = |s: &str| number(s).filter(|v| *v >= 0.0);
    let seconds = match parts.as_slice() {
        [a, b] if minutes_first => value(a)? * 60.0 + value(b)?,
        [h, m] => value(h)? * 3600.0 + value(m)? * 60.0,
        [h, m, s] => value(h)? * 3600.0 + value(m)? * 60.0 + value(s)?,
        _ => return None,
    };
    Some(sign * seconds)
}

/// `[+-]y-m`: years and months, both with the sign.
fn year_month(text: &str) -> Option<f64> {
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    let (years, months) = rest.split_once('-')?;
    let whole = |s: &str| -> Option<f64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (years, months) = (whole(years)?, whole(months)?);
    Some(sign * (years * 12.0 + months))
}

/// Splits `1day` or `10h` into the number and the word (PostgreSQL needs no space there).
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in text.split_whitespace() {
        let split = chunk
            .char_indices()
            .find(|&(i, c)| i > 0 && c.is_ascii_alphabetic())
            .map(|(i, _)| i)
            .filter(|&i| number(&chunk[..i]).is_some());
        match split {
            Some(i) => {
                out.push(chunk[..i].to_string());
                out.push(chunk[i..].to_ascii_lowercase());
            }
            None => out.push(chunk.to_ascii_lowercase()),
        }
    }
    out
}

/// Reads `text` as PostgreSQL reads an interval, under the optional range qualifier.
pub fn parse(text: &str, range: Option<Range>) -> Result<PgInterval, String> {
    let invalid = || format!("invalid input syntax for type interval: \"{text}\"");
    let trimmed = text.trim();
    let body = trimmed.strip_prefix('@').unwrap_or(trimmed).trim();
    if body.is_empty() {
        return Err(invalid());
    }
    if let Some(iso) = body.strip_prefix(['P', 'p']) {
        return iso_8601(iso).ok_or_else(invalid)?.finish(false, range);
    }
    let minutes_first = range
        == Some(Range {
            leading: Field::Minute,
            last: Some(Field::Second),
        });
    let bare_unit = range.map_or(Unit::Seconds(1.0), |r| field_unit(r.finest()));
    let tokens = tokens(body);
    let mut sum = Sum::default();
    let mut negate = false;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].as_str();
        let next = tokens.get(i + 1).map(String::as_str);
        if token == "ago" && i + 1 == tokens.len() {
            negate = true;
        } else if token.contains(':') {
            sum.add_seconds(time_of(token, minutes_first).ok_or_else(invalid)?);
        } else if let Some(months) = year_month(token) {
            sum.add_months(months);
        } else if let Some(value) = number(token) {
            match next.and_then(unit) {
                Some(unit) => {
                    sum.add(unit, value);
                    i += 1;
                }
                // `1 2:03:04`: a number before a time is days.
                None if next.is_some_and(|n| n.contains(':')) => sum.add_days(value),
                None if next.is_none() => sum.add(bare_unit, value),
                None => return Err(invalid()),
            }
        } else {
            return Err(invalid());
        }
        i += 1;
    }
    sum.finish(negate, range)
}

/// `P[nY][nM][nW][nD][T[nH][nM][nS]]` (after the `P`).
fn iso_8601(text: &str) -> Option<Sum> {
    let mut sum = Sum::default();
    let mut in_time = false;
    let mut number_start = 0;
    let mut any = false;
    for (i, c) in text.char_indices() {
        let c = c.to_ascii_uppercase();
        if c == 'T' {
            if in_time || i != number_start {
                return None;
            }
            in_time = true;
            number_start = i + 1;
            continue;
        }
        if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' {
            continue;
        }
        let value = number(&text[number_start..i])?;
        let unit = match (in_time, c) {
            (false, 'Y') => Unit::Months(12.0),
            (false, 'M') => Unit::Months(1.0),
            (false, 'W') => Unit::Days(7.0),
            (false, 'D') => Unit::Days(1.0),
            (true, 'H') => Unit::Seconds(3600.0),
            (true, 'M') => Unit::Seconds(60.0),
            (true, 'S') => Unit::Seconds(1.0),
            _ => return None,
        };
        sum.add(unit, value);
        any = true;
        number_start = i + 1;
    }
    (any && number_start == text.len()).then_some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(months: i32, days: i32, seconds: f64) -> PgInterval {
        PgInterval {
            months,
            days,
            nanos: (seconds * 1e9).round() as i64,
        }
    }

    #[test]
    fn reads_postgresql_interval_forms() {
        let cases = [
            ("1 day", iv(0, 1, 0.0)),
            ("2 hours 30 minutes", iv(0, 0, 9000.0)),
            ("1 year 2 months", iv(14, 0, 0.0)),
            ("-3 days", iv(0, -3, 0.0)),
            ("00:00:01.5", iv(0, 0, 1.5)),
            ("1-2", iv(14, 0, 0.0)),
            ("01:00", iv(0, 0, 3600.0)),
            ("1 2:03:04", iv(0, 1, 7384.0)),
            ("3 4:05", iv(0, 3, 4.0 * 3600.0 + 300.0)),
            ("P1Y2M3DT4H5M6S", iv(14, 3, 4.0 * 3600.0 + 306.0)),
            ("PT1.5S", iv(0, 0, 1.5)),
            ("@ 1 hour ago", iv(0, 0, -3600.0)),
            ("1.5 days", iv(0, 1, 43_200.0)),
            ("1.5 months", iv(1, 15, 0.0)),
            ("1.5 years", iv(18, 0, 0.0)),
            ("-1 day +02:00:00", iv(0, -1, 7200.0)),
            ("1day 10h", iv(0, 1, 36_000.0)),
            ("2 weeks", iv(0, 14, 0.0)),
            ("90", iv(0, 0, 90.0)),
            ("1 mon -1 hour", iv(1, 0, -3600.0)),
            ("-2 months 3 days -1500000000 nanoseconds", iv(-2, 3, -1.5)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text, None), Ok(want), "{text}");
        }
    }

    #[test]
    fn a_range_says_what_a_bare_number_is_and_drops_finer_fields() {
        let range = |leading, last| Some(Range { leading, last });
        let day_to_second = range(Field::Day, Some(Field::Second));
        assert_eq!(parse("1 2:03:04", day_to_second), Ok(iv(0, 1, 7384.0)));
        assert_eq!(parse("5", range(Field::Hour, None)), Ok(iv(0, 0, 18_000.0)));
        assert_eq!(parse("5", range(Field::Month, None)), Ok(iv(5, 0, 0.0)));
        assert_eq!(
            parse("01:30", range(Field::Minute, Some(Field::Second))),
            Ok(iv(0, 0, 90.0))
        );
        assert_eq!(
            parse("1 day 02:30:00", range(Field::Day, None)),
            Ok(iv(0, 1, 0.0))
        );
        assert_eq!(
            parse("2 hours 30 minutes", range(Field::Hour, None)),
            Ok(iv(0, 0, 7200.0))
        );
        assert_eq!(
            parse("1-2", range(Field::Year, Some(Field::Month))),
            Ok(iv(14, 0, 0.0))
        );
    }

    #[test]
    fn refuses_what_postgresql_refuses() {
        for bad in [
            "",
            "abc",
            "1 fortnight",
            "1 day ago ago",
            "P",
            "1:2:3:4",
            "P1H",
        ] {
            assert!(parse(bad, None).is_err(), "{bad}");
        }
    }
}
