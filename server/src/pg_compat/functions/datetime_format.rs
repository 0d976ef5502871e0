//! PostgreSQL's date/time format patterns (`YYYY-MM-DD HH24:MI:SS`, `FMMonth DDth`, `"T"`),
//! for `to_char(timestamp, text)`, `to_date(text, text)` and `to_timestamp(text, text)`.
//!
//! DataFusion's functions of the same names take chrono's `%Y-%m-%d`, so a pattern written for
//! PostgreSQL came back as its own text (`to_char(d, 'YYYY')` gave `YYYY`): every dashboard and
//! dbt model that formats dates got nonsense without an error. The pattern is tokenized once per
//! distinct pattern text into [`Piece`]s, then each value is written or read piece by piece with
//! PostgreSQL's padding rules (`Month` is blank-padded to 9, `FM` drops padding, `TH` adds an
//! ordinal suffix).

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

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

pub(super) const MONTHS: [&str; 12] = [
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
pub(super) const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
pub(super) const ROMAN: [&str; 12] = [
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
}
