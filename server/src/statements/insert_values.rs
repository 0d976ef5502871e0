//! The fast path of `INSERT INTO t [(cols)] VALUES (...), ...` whose values are all literals:
//! the rows go straight to Arrow arrays, parsed like `COPY` input, without a DataFusion plan.
//!
//! Planning and optimising a 1,000-row `VALUES` list costs DataFusion tens of milliseconds
//! (a profile of the ingest benchmark showed expression simplification, tree rewrites and
//! allocation dominating), about ten times the cost of the write itself. Literal values need
//! none of it: each column's texts are cast to the column's type in one vectorised step, and
//! a value that does not parse is reported as PostgreSQL does (22P02, the value and column).
//! Anything else (expressions, parameters, `RETURNING`, `ON CONFLICT`) returns `None` and
//! takes the general path.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, RecordBatch, StringArray, new_null_array,
};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::FormatOptions;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Expr, Insert, SetExpr, Statement, TableObject, UnaryOperator, Value,
};
use oxbow_ingest::formats::bytea::parse_bytea;
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;
use crate::sql::names::{ident, object_name};

/// The rows of a literal-only VALUES list, as text (NULL as `None`), or `None` if the
/// statement is not one.
fn literal_rows(insert: &Insert) -> Option<Vec<Vec<Option<String>>>> {
    if insert.returning.is_some()
        || insert.on.is_some()
        || insert.or.is_some()
        || insert.overwrite
        || insert.partitioned.is_some()
        || !insert.assignments.is_empty()
        || insert.table_alias.is_some()
    {
        return None;
    }
    let query = insert.source.as_ref()?;
    if query.with.is_some() || query.order_by.is_some() || query.limit_clause.is_some() {
        return None;
    }
    let SetExpr::Values(values) = query.body.as_ref() else {
        return None;
    };
    values
        .rows
        .iter()
        .map(|row| row.content.iter().map(literal).collect::<Option<Vec<_>>>())
        .collect()
}

/// `Some(None)` for NULL, `Some(Some(text))` for a literal, `None` for anything else.
fn literal(expr: &Expr) -> Option<Option<String>> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Null => Some(None),
            Value::Number(n, _) => Some(Some(n.clone())),
            Value::SingleQuotedString(s) => Some(Some(s.clone())),
            Value::Boolean(b) => Some(Some(b.to_string())),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => Some(Some(format!("-{n}"))),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

pub async fn try_execute(
    statement: &Statement,
    ctx: &SessionContext,
    db: &Database,
) -> Option<Result<Response, ServerError>> {
    let Statement::Insert(insert) = statement else {
        return None;
    };
    let TableObject::TableName(table_name) = &insert.table else {
        return None;
    };
    let rows = literal_rows(insert)?;
    let name = match object_name(table_name, ctx) {
        Ok(name) => name,
        Err(e) => return Some(Err(e)),
    };
    // Not an Oxbow table (a view, a system table): let DataFusion report what it can do.
    let table = db.table(&name)?;
    Some(insert_rows(&table, insert, rows, &ctx.copied_config()).await)
}

async fn insert_rows(
    table: &oxbow_storage::OxbowTable,
    insert: &Insert,
    rows: Vec<Vec<Option<String>>>,
    session: &datafusion::execution::config::SessionConfig,
) -> Result<Response, ServerError> {
    let def = table.table().def().clone();
    let schema = table.table().schema();
    let targets: Vec<usize> = if insert.columns.is_empty() {
        (0..def.columns.len()).collect()
    } else {
        insert
            .columns
            .iter()
            .map(|c| {
                let column =
                    c.0.last()
                        .and_then(|p| p.as_ident())
                        .map(ident)
                        .unwrap_or_default();
                def.columns
                    .iter()
                    .position(|d| d.name == column)
                    .ok_or_else(|| ServerError::UndefinedColumn {
                        table: def.name.name.clone(),
                        column,
                    })
            })
            .collect::<Result<_, _>>()?
    };
    for row in &rows {
        if row.len() > targets.len() {
            return Err(ServerError::InvalidInsert(
                "INSERT has more expressions than target columns".into(),
            ));
        }
        if row.len() < targets.len() && !insert.columns.is_empty() {
            return Err(ServerError::InvalidInsert(
                "INSERT has more target columns than expressions".into(),
            ));
        }
        if row.len() != rows[0].len() {
            return Err(ServerError::InvalidInsert(
                "VALUES lists must all be the same length".into(),
            ));
        }
    }
    let n = rows.len();
    let mut columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| new_null_array(f.data_type(), n))
        .collect();
    let supplied = rows.first().map_or(0, |r| r.len());
    for (i, &position) in targets.iter().take(supplied).enumerate() {
        let field = schema.field(position);
        let texts = StringArray::from_iter(rows.iter().map(|r| r[i].as_deref()));
        columns[position] = parse_column(
            texts,
            field.data_type(),
            field.name(),
            &def.columns[position].sql_type.pg_name(),
        )?;
    }
    for (field, column) in schema.fields().iter().zip(&columns) {
        if !field.is_nullable() && column.null_count() > 0 {
            return Err(oxbow_storage::Error::NotNullViolation {
                table: def.name.name.clone(),
                column: field.name().clone(),
            }
            .into());
        }
    }
    let batch = RecordBatch::try_new(schema, columns)
        .map_err(|e| ServerError::InvalidInsert(e.to_string()))?;
    let written = table.append_in(session, vec![batch]).await?;
    Ok(Response::Execution(
        Tag::new("INSERT").with_oid(0).with_rows(written as usize),
    ))
}

/// Casts a column of texts to `data_type`; on failure names the first value that does not
/// parse.
fn parse_column(
    texts: StringArray,
    data_type: &DataType,
    column: &str,
    pg_type: &str,
) -> Result<ArrayRef, ServerError> {
    if matches!(data_type, DataType::Binary) {
        let mut values = Vec::with_capacity(texts.len());
        for text in texts.iter() {
            values.push(match text {
                None => None,
                Some(t) => Some(parse_bytea(t).ok_or_else(|| bad_value(pg_type, t, column))?),
            });
        }
        return Ok(Arc::new(BinaryArray::from_iter(values)));
    }
    let strict = CastOptions {
        safe: false,
        format_options: FormatOptions::default(),
    };
    // Arrow reads no exponent in decimal text; PostgreSQL's numeric input does (`1e12`, which
    // psycopg2 sends for `Decimal("1e12")`).
    let texts = if matches!(data_type, DataType::Decimal128(..))
        && texts.iter().flatten().any(|t| t.contains(['e', 'E']))
    {
        StringArray::from_iter(
            texts
                .iter()
                .map(|t| t.map(|t| expand_exponent(t).unwrap_or_else(|| t.to_string()))),
        )
    } else {
        texts
    };
    match cast_with_options(&texts, data_type, &strict) {
        Ok(array) => Ok(array),
        Err(_) => {
            for text in texts.iter().flatten() {
                let one = StringArray::from(vec![text]);
                if let Err(e) = cast_with_options(&one, data_type, &strict) {
                    let message = e.to_string();
                    if message.contains("too large") || message.contains("overflow") {
                        return Err(ServerError::OutOfRange(format!(
                            "value out of range for type {pg_type}: \"{text}\" (column {column})"
                        )));
                    }
                    return Err(bad_value(pg_type, text, column));
                }
            }
            Err(ServerError::InvalidInsert(format!(
                "cannot convert the values of column \"{column}\" to {pg_type}"
            )))
        }
    }
}

/// `1.5e3` written out without its exponent (`1500`), or `None` if `text` is no such number.
fn expand_exponent(text: &str) -> Option<String> {
    let text = text.trim();
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let exponent: i32 = exponent.parse().ok()?;
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
        || exponent.abs() > 1000
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    // Position of the decimal point within `digits`.
    let point = int.len() as i32 + exponent;
    let (int, frac) = if point <= 0 {
        (
            "0".to_string(),
            format!("{}{digits}", "0".repeat((-point) as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        let (i, f) = digits.split_at(point as usize);
        (i.to_string(), f.to_string())
    };
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

fn bad_value(pg_type: &str, value: &str, column: &str) -> ServerError {
    ServerError::InvalidValue {
        message: format!("invalid input syntax for type {pg_type}: \"{value}\" (column {column})"),
    }
}

#[cfg(test)]
mod tests {
    use super::expand_exponent;

    #[test]
    fn exponents_are_written_out() {
        assert_eq!(expand_exponent("1E+12").as_deref(), Some("1000000000000"));
        assert_eq!(expand_exponent("-1.25e2").as_deref(), Some("-125"));
        assert_eq!(expand_exponent("1.5e-3").as_deref(), Some("0.0015"));
        assert_eq!(expand_exponent("12.5E1").as_deref(), Some("125"));
        assert_eq!(expand_exponent("12.5"), None);
        assert_eq!(expand_exponent("xe3"), None);
    }
}
