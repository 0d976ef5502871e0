//! PostgreSQL's date/time format patterns (`YYYY-MM-DD HH24:MI:SS`, `FMMonth DDth`, `"T"`),
//! for `to_char(timestamp, text)`, `to_date(text, text)` and `to_timestamp(text, text)`.
//!
//! DataFusion's functions of the same names take chrono's `%Y-%m-%d`, so a pattern written for
//! PostgreSQL came back as its own text (`to_char(d, 'YYYY')` gave `YYYY`): every dashboard and
//! dbt model that formats dates got nonsense without an error. The pattern is tokenized once per
//! distinct pattern text into [`Piece`]s, then each value is written or read piece by piece with
//! PostgreSQL's padding rules (`Month` is blank-padded to 9, `FM` drops padding, `TH` adds an
//! ordinal suffix).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// One element of a pattern: a field, or text copied as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    Field {
        field: Field,
        /// `FM`: no padding (numbers without leading zeros, names without trailing blanks).
        fill_mode: bool,
        /// `TH` / `th`: an ordinal suffix, upper or lower case.
        ordinal: Option<Case>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Upper,
    Capitalized,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Hour24,
    Hour12,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    SecondsOfDay,
    Meridiem {
        case: Case,
        dots: bool,
    },
    Year4,
    Year3,
    Year2,
    Year1,
    IsoYear,
    Era {
        case: Case,
        dots: bool,
    },
    MonthName(Case),
    MonthAbbrev(Case),
    Month,
    DayName(Case),
    DayAbbrev(Case),
    DayOfYear,
    IsoDayOfYear,
    Day,
    /// `D`: day of the week, Sunday = 1.
    Weekday,
    /// `ID`: ISO day of the week, Monday = 1.
    IsoWeekday,
    WeekOfMonth,
    WeekOfYear,
    IsoWeek,
    Century,
    Julian,
    Quarter,
    RomanMonth(Case),
    TzName(Case),
    TzHours,
    TzMinutes,
    TzOffset,
}

/// Keywords in the order they must be tried: a longer one before any of its prefixes.
const KEYWORDS: &[(&str, Field)] = &[
    ("HH24", Field::Hour24),
    ("HH12", Field::Hour12),
    ("HH", Field::Hour12),
    ("MI", Field::Minute),
    ("SSSSS", Field::SecondsOfDay),
    ("SSSS", Field::SecondsOfDay),
    ("SS", Field::Second),
    ("MS", Field::Millisecond),
    ("US", Field::Microsecond),
    (
        "A.M.",
        Field::Meridiem {
            case: Case::Upper,
            dots: true,
        },
    ),
    (
        "a.m.",
        Field::Meridiem {
            case: Case::Lower,
            dots: true,
        },
    ),
    (
        "P.M.",
        Field::Meridiem {
            case: Case::Upper,
            dots: true,
        },
    ),
    (
        "p.m.",
        Field::Meridiem {
            case: Case::Lower,
            dots: true,
        },
    ),
    (
        "AM",
        Field::Meridiem {
            case: Case::Upper,
            dots: false,
        },
    ),
    (
        "am",
        Field::Meridiem {
            case: Case::Lower,
            dots: false,
        },
    ),
    (
        "PM",
        Field::Meridiem {
            case: Case::Upper,
            dots: false,
        },
    ),
    (
        "pm",
        Field::Meridiem {
            case: Case::Lower,
            dots: false,
        },
    ),
    (
        "B.C.",
        Field::Era {
            case: Case::Upper,
            dots: true,
        },
    ),
    (
        "b.c.",
        Field::Era {
            case: Case::Lower,
            dots: true,
        },
    ),
    (
        "A.D.",
        Field::Era {
            case: Case::Upper,
            dots: true,
        },
    ),
    (
        "a.d.",
        Field::Era {
            case: Case::Lower,
            dots: true,
        },
    ),
    (
        "BC",
        Field::Era {
            case: Case::Upper,
            dots: false,
        },
    ),
    (
        "bc",
        Field::Era {
            case: Case::Lower,
            dots: false,
        },
    ),
    (
        "AD",
        Field::Era {
            case: Case::Upper,
            dots: false,
        },
    ),
    (
        "ad",
        Field::Era {
            case: Case::Lower,
            dots: false,
        },
    ),
    ("IYYY", Field::IsoYear),
    ("YYYY", Field::Year4),
    ("YYY", Field::Year3),
    ("YY", Field::Year2),
    ("Y", Field::Year1),
    ("MONTH", Field::MonthName(Case::Upper)),
    ("Month", Field::MonthName(Case::Capitalized)),
    ("month", Field::MonthName(Case::Lower)),
    ("MON", Field::MonthAbbrev(Case::Upper)),
    ("Mon", Field::MonthAbbrev(Case::Capitalized)),
    ("mon", Field::MonthAbbrev(Case::Lower)),
    ("MM", Field::Month),
    ("DAY", Field::DayName(Case::Upper)),
    ("Day", Field::DayName(Case::Capitalized)),
    ("day", Field::DayName(Case::Lower)),
    ("DY", Field::DayAbbrev(Case::Upper)),
    ("Dy", Field::DayAbbrev(Case::Capitalized)),
    ("dy", Field::DayAbbrev(Case::Lower)),
    ("DDD", Field::DayOfYear),
    ("IDDD", Field::IsoDayOfYear),
    ("DD", Field::Day),
    ("D", Field::Weekday),
    ("ID", Field::IsoWeekday),
    ("WW", Field::WeekOfYear),
    ("W", Field::WeekOfMonth),
    ("IW", Field::IsoWeek),
    ("CC", Field::Century),
    ("J", Field::Julian),
    ("Q", Field::Quarter),
    ("RM", Field::RomanMonth(Case::Upper)),
    ("rm", Field::RomanMonth(Case::Lower)),
    ("TZH", Field::TzHours),
    ("TZM", Field::TzMinutes),
    ("TZ", Field::TzName(Case::Upper)),
    ("tz", Field::TzName(Case::Lower)),
    ("OF", Field::TzOffset),
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const ROMAN: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];

/// Splits a pattern into pieces. Anything that is not a keyword is literal text; `"..."` quotes
/// literal text and `\"` is a literal quote, as in PostgreSQL.
pub fn parse_pattern(pattern: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let mut chars = after.char_indices();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            literal.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => literal.push(c),
                }
            }
            rest = &after[end.min(after.len())..];
            continue;
        }
        if let Some(after) = rest.strip_prefix('\\') {
            if let Some(c) = after.chars().next() {
                literal.push(c);
                rest = &after[c.len_utf8()..];
            } else {
                rest = after;
            }
            continue;
        }
        let (fill_mode, body) = match rest.strip_prefix("FM").or_else(|| rest.strip_prefix("fm")) {
            Some(body) => (true, body),
            None => (false, rest),
        };
        if let Some((keyword, field)) = KEYWORDS.iter().find(|(k, _)| body.starts_with(k)) {
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            let mut after = &body[keyword.len()..];
            let ordinal = if let Some(a) = after.strip_prefix("TH") {
                after = a;
                Some(Case::Upper)
            } else if let Some(a) = after.strip_prefix("th") {
                after = a;
                Some(Case::Lower)
            } else {
                None
            };
            pieces.push(Piece::Field {
                field: *field,
                fill_mode,
                ordinal,
            });
            rest = after;
            continue;
        }
        let c = rest.chars().next().expect("rest is not empty");
        literal.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    pieces
}

/// The zone a value is written in: its offset east of UTC and its name (`UTC`, `+05:30`).
#[derive(Debug, Clone)]
pub struct Zone {
    pub offset_seconds: i32,
    pub name: String,
}

impl Zone {
    pub fn utc() -> Self {
        Zone {
            offset_seconds: 0,
            name: "UTC".into(),
        }
    }
}

fn cased(text: &str, case: Case) -> String {
    match case {
        Case::Upper => text.to_uppercase(),
        Case::Lower => text.to_lowercase(),
        Case::Capitalized => text.to_string(),
    }
}

fn ordinal_suffix(n: i64, case: Case) -> &'static str {
    let suffix = match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    match (case, suffix) {
        (Case::Lower, s) => s,
        (_, "st") => "ST",
        (_, "nd") => "ND",
        (_, "rd") => "RD",
        _ => "TH",
    }
}

fn number(n: i64, width: usize, fill_mode: bool) -> String {
    if fill_mode || width == 0 {
        n.to_string()
    } else if n < 0 {
        format!("-{:0width$}", -n, width = width)
    } else {
        format!("{n:0width$}")
    }
}

/// `value` (a wall-clock time in `zone`) written with `pieces`.
pub fn format(value: NaiveDateTime, zone: &Zone, pieces: &[Piece]) -> String {
    let mut out = String::new();
    for piece in pieces {
        let (field, fill_mode, ordinal) = match piece {
            Piece::Literal(text) => {
                out.push_str(text);
                continue;
            }
            Piece::Field {
                field,
                fill_mode,
                ordinal,
            } => (*field, *fill_mode, *ordinal),
        };
        let year = value.year();
        // PostgreSQL writes BC years as positive numbers with a BC marker; year 0 is 1 BC.
        let display_year = if year <= 0 { 1 - year } else { year } as i64;
        let numeric = |n: i64, width: usize| -> String {
            let mut s = number(n, width, fill_mode);
            if let Some(case) = ordinal {
                s.push_str(ordinal_suffix(n, case));
            }
            s
        };
        let named = |name: &str, case: Case, width: usize| -> String {
            let text = cased(name, case);
            if fill_mode {
                text
            } else {
                format!("{text:<width$}")
            }
        };
        let hour12 = match value.hour() % 12 {
            0 => 12,
            h => h,
        } as i64;
        let text = match field {
            Field::Hour24 => numeric(value.hour() as i64, 2),
            Field::Hour12 => numeric(hour12, 2),
            Field::Minute => numeric(value.minute() as i64, 2),
            Field::Second => numeric(value.second() as i64, 2),
            Field::Millisecond => numeric((value.nanosecond() / 1_000_000) as i64, 3),
            Field::Microsecond => numeric((value.nanosecond() / 1_000) as i64, 6),
            Field::SecondsOfDay => numeric(value.num_seconds_from_midnight() as i64, 0),
            Field::Meridiem { case, dots } => {
                let pm = value.hour() >= 12;
                let text = match (pm, dots) {
                    (false, false) => "AM",
                    (true, false) => "PM",
                    (false, true) => "A.M.",
                    (true, true) => "P.M.",
                };
                cased(text, case)
            }
            Field::Year4 => numeric(display_year, 4),
            Field::Year3 => numeric(display_year % 1000, 3),
            Field::Year2 => numeric(display_year % 100, 2),
            Field::Year1 => numeric(display_year % 10, 1),
            Field::IsoYear => numeric(value.iso_week().year() as i64, 4),
            Field::Era { case, dots } => {
                let text = match (year <= 0, dots) {
                    (false, false) => "AD",
                    (true, false) => "BC",
                    (false, true) => "A.D.",
                    (true, true) => "B.C.",
                };
                cased(text, case)
            }
            Field::MonthName(case) => named(MONTHS[value.month0() as usize], case, 9),
            Field::MonthAbbrev(case) => cased(&MONTHS[value.month0() as usize][..3], case),
            Field::Month => numeric(value.month() as i64, 2),
            Field::DayName(case) => named(
                DAYS[value.weekday().num_days_from_sunday() as usize],
                case,
                9,
            ),
            Field::DayAbbrev(case) => cased(
                &DAYS[value.weekday().num_days_from_sunday() as usize][..3],
                case,
            ),
            Field::DayOfYear => numeric(value.ordinal() as i64, 3),
            Field::IsoDayOfYear => {
                let week = value.iso_week().week() as i64;
                let day = value.weekday().number_from_monday() as i64;
                numeric((week - 1) * 7 + day, 3)
            }
            Field::Day => numeric(value.day() as i64, 2),
            Field::Weekday => numeric(value.weekday().number_from_sunday() as i64, 0),
            Field::IsoWeekday => numeric(value.weekday().number_from_monday() as i64, 0),
            Field::WeekOfMonth => numeric(((value.day() - 1) / 7 + 1) as i64, 0),
            Field::WeekOfYear => numeric(((value.ordinal() - 1) / 7 + 1) as i64, 2),
            Field::IsoWeek => numeric(value.iso_week().week() as i64, 2),
            Field::Century => {
                let century = if year > 0 {
                    (year as i64 - 1) / 100 + 1
                } else {
                    -((-(year as i64)) / 100 + 1)
                };
                numeric(century, 2)
            }
            Field::Julian => numeric(julian_day(value.date()), 0),
            Field::Quarter => numeric(value.month0() as i64 / 3 + 1, 0),
            Field::RomanMonth(case) => named(ROMAN[value.month0() as usize], case, 4),
            Field::TzName(case) => cased(&zone.name, case),
            Field::TzHours => {
                let hours = zone.offset_seconds / 3600;
                let sign = if zone.offset_seconds < 0 { '-' } else { '+' };
                format!("{sign}{:02}", hours.abs())
            }
            Field::TzMinutes => format!("{:02}", (zone.offset_seconds.abs() / 60) % 60),
            Field::TzOffset => {
                let sign = if zone.offset_seconds < 0 { '-' } else { '+' };
                let abs = zone.offset_seconds.abs();
                if abs % 3600 == 0 {
                    format!("{sign}{:02}", abs / 3600)
                } else {
                    format!("{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60)
                }
            }
        };
        out.push_str(&text);
    }
    out
}

/// The Julian day number (days since 4714-11-24 BC, proleptic Gregorian), as `J` writes it.
fn julian_day(date: NaiveDate) -> i64 {
    date.num_days_from_ce() as i64 + 1_721_425
}

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
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_micro_opt(h, mi, s, us)
            .unwrap()
    }

    fn fmt(value: NaiveDateTime, pattern: &str) -> String {
        format(value, &Zone::utc(), &parse_pattern(pattern))
    }

    #[test]
    fn patterns_write_as_postgres_does() {
        let t = at(2024, 2, 29, 13, 4, 5, 123_456);
        assert_eq!(fmt(t, "YYYY-MM-DD HH24:MI:SS"), "2024-02-29 13:04:05");
        assert_eq!(fmt(t, "DD/MM/YY"), "29/02/24");
        assert_eq!(fmt(t, "HH12:MI AM"), "01:04 PM");
        assert_eq!(fmt(t, "Mon DD, YYYY"), "Feb 29, 2024");
        assert_eq!(fmt(t, "Day"), "Thursday ");
        assert_eq!(fmt(t, "FMDay, FMMonth FMDDth"), "Thursday, February 29th");
        assert_eq!(
            fmt(t, "YYYY-MM-DD\"T\"HH24:MI:SS.US"),
            "2024-02-29T13:04:05.123456"
        );
        assert_eq!(fmt(t, "MS"), "123");
        assert_eq!(fmt(t, "Q CC DDD IW D ID"), "1 21 060 09 5 4");
        assert_eq!(fmt(t, "MONTH|month"), "FEBRUARY |february ");
        assert_eq!(fmt(t, "RM"), "II  ");
        assert_eq!(
            fmt(t, "YYYY-MM-DD HH24:MI:SS TZ OF"),
            "2024-02-29 13:04:05 UTC +00"
        );
        assert_eq!(
            fmt(at(2024, 1, 1, 0, 0, 0, 0), "HH12 am DDth J"),
            "12 am 01st 2460311"
        );
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
