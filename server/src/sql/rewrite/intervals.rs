//! Interval syntax PostgreSQL reads and DataFusion's planner does not, rewritten on the
//! syntax tree:
//!
//! - interval literals (`INTERVAL '1-2'`, `'1 2:03:04'::interval`, `CAST('@ 1 hour ago' AS
//!   interval)`, `INTERVAL '1 2:03:04' DAY TO SECOND`): read with PostgreSQL's rules
//!   (`crate::pg_compat::functions::interval_input`) and handed to DataFusion as the exact
//!   `<n> months <n> days <n> nanoseconds` it reads (and reads again: the rewrite may meet its
//!   own output). A literal PostgreSQL would refuse is left alone, for DataFusion's own error.
//! - `make_interval(days => 10)`: named arguments become positions, the missing ones 0
//!   (DataFusion's named arguments cannot skip a parameter).

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, DateTimeField, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    Interval, IntervalFields, TypedString, UnaryOperator, Value, ValueWithSpan,
};

use crate::pg_compat::functions::interval_input::{self, Field, Range};

/// The replacement of `expr`, if it is interval syntax of the kinds above.
pub fn replacement(expr: &Expr) -> Option<Expr> {
    match expr {
        Expr::Interval(interval) => literal(interval, false),
        // DataFusion negates `-INTERVAL '...'` by putting a `-` before the text, which would
        // negate only the first part of a canonical text: negated here instead.
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            Expr::Interval(interval) => literal(interval, true),
            _ => None,
        },
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr,
            data_type: DataType::Interval { fields, .. },
            format: None,
            ..
        } => {
            let text = string(expr)?;
            canonical(&text, fields.as_ref().and_then(range_of_fields))
        }
        Expr::TypedString(TypedString {
            data_type: DataType::Interval { fields, .. },
            value,
            ..
        }) => {
            let text = value.clone().into_string()?;
            canonical(&text, fields.as_ref().and_then(range_of_fields))
        }
        Expr::Function(_) => make_interval_positions(expr),
        _ => None,
    }
}

fn literal(interval: &Interval, negate: bool) -> Option<Expr> {
    let (text, negative) = signed_string(&interval.value)?;
    let range = match (&interval.leading_field, &interval.last_field) {
        (None, None) => None,
        (Some(leading), last) => Some(Range {
            leading: field(leading)?,
            last: match last {
                Some(last) => Some(field(last)?),
                None => None,
            },
        }),
        (None, Some(_)) => return None,
    };
    let mut value = interval_input::parse(&text, range).ok()?;
    if negative != negate {
        value.months = -value.months;
        value.days = -value.days;
        value.nanos = -value.nanos;
    }
    Some(interval_expr(value.canonical_text()))
}

fn canonical(text: &str, range: Option<Range>) -> Option<Expr> {
    let value = interval_input::parse(text, range).ok()?;
    Some(interval_expr(value.canonical_text()))
}

fn interval_expr(text: String) -> Expr {
    Expr::Interval(Interval {
        value: Box::new(Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(
            text,
        )))),
        leading_field: None,
        leading_precision: None,
        last_field: None,
        fractional_seconds_precision: None,
    })
}

fn string(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(s),
            ..
        }) => Some(s.clone()),
        _ => None,
    }
}

/// A string or number literal, and whether a unary minus stands before it.
fn signed_string(expr: &Expr) -> Option<(String, bool)> {
    match expr {
        Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(s) | Value::Number(s, false),
            ..
        }) => Some((s.clone(), false)),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => signed_string(expr).map(|(s, negative)| (s, !negative)),
        _ => None,
    }
}

fn field(field: &DateTimeField) -> Option<Field> {
    Some(match field {
        DateTimeField::Year | DateTimeField::Years => Field::Year,
        DateTimeField::Month | DateTimeField::Months => Field::Month,
        DateTimeField::Day | DateTimeField::Days => Field::Day,
        DateTimeField::Hour | DateTimeField::Hours => Field::Hour,
        DateTimeField::Minute | DateTimeField::Minutes => Field::Minute,
        DateTimeField::Second | DateTimeField::Seconds => Field::Second,
        _ => return None,
    })
}

fn range_of_fields(fields: &IntervalFields) -> Option<Range> {
    let (leading, last) = match fields {
        IntervalFields::Year => (Field::Year, None),
        IntervalFields::Month => (Field::Month, None),
        IntervalFields::Day => (Field::Day, None),
        IntervalFields::Hour => (Field::Hour, None),
        IntervalFields::Minute => (Field::Minute, None),
        IntervalFields::Second => (Field::Second, None),
        IntervalFields::YearToMonth => (Field::Year, Some(Field::Month)),
        IntervalFields::DayToHour => (Field::Day, Some(Field::Hour)),
        IntervalFields::DayToMinute => (Field::Day, Some(Field::Minute)),
        IntervalFields::DayToSecond => (Field::Day, Some(Field::Second)),
        IntervalFields::HourToMinute => (Field::Hour, Some(Field::Minute)),
        IntervalFields::HourToSecond => (Field::Hour, Some(Field::Second)),
        IntervalFields::MinuteToSecond => (Field::Minute, Some(Field::Second)),
    };
    Some(Range { leading, last })
}

/// `make_interval`'s parameters, in order.
const MAKE_INTERVAL: [&str; 7] = ["years", "months", "weeks", "days", "hours", "mins", "secs"];

fn make_interval_positions(expr: &Expr) -> Option<Expr> {
    let Expr::Function(f) = expr else {
        return None;
    };
    if super::ast::function_name(expr).as_deref() != Some("make_interval") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let named = |a: &FunctionArg| match a {
        FunctionArg::Named { name, arg, .. } => Some((name.value.clone(), arg.clone())),
        FunctionArg::ExprNamed {
            name: Expr::Identifier(name),
            arg,
            ..
        } => Some((name.value.clone(), arg.clone())),
        _ => None,
    };
    if !list.args.iter().any(|a| named(a).is_some()) {
        return None;
    }
    let zero = |i: usize| {
        let text = if i == 6 { "0.0" } else { "0" };
        FunctionArgExpr::Expr(Expr::Value(ValueWithSpan::from(Value::Number(
            text.into(),
            false,
        ))))
    };
    let mut positions: Vec<FunctionArgExpr> = (0..7).map(zero).collect();
    for (i, arg) in list.args.iter().enumerate() {
        match (arg, named(arg)) {
            (FunctionArg::Unnamed(value), _) => *positions.get_mut(i)? = value.clone(),
            (_, Some((name, value))) => {
                let at = MAKE_INTERVAL
                    .iter()
                    .position(|p| p.eq_ignore_ascii_case(&name))?;
                positions[at] = value;
            }
            _ => return None,
        }
    }
    let mut call = f.clone();
    let mut args = list.clone();
    args.args = positions.into_iter().map(FunctionArg::Unnamed).collect();
    call.args = FunctionArguments::List(args);
    Some(Expr::Function(call))
}
