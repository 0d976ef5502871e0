//! Parameters of `INSERT ... VALUES ($1, ...)` described with the declared type of the column
//! each one fills, where the Arrow type alone would say `text`: `varchar` (1043) and `jsonb`
//! (3802), as PostgreSQL describes them (asyncpg's `PreparedStatement.get_parameters()`, and
//! drivers that choose their encoding from the description).
//!
//! A client told `jsonb` may send the value in jsonb's binary format, which is the text after
//! a version byte (1); [`strip_jsonb_versions`] removes the byte before the value is decoded
//! as the text Oxbow stores.

use std::collections::HashMap;

use bytes::Bytes;
use datafusion::logical_expr::{DmlStatement, LogicalPlan, WriteOp};
use datafusion::sql::sqlparser::ast::{Expr, Insert, SetExpr, Statement, Value, ValueWithSpan};
use oxbow_catalog::SqlType;
use pgwire::api::Type;
use pgwire::api::portal::Format;

/// The declared type of each parameter (0-based) that fills a `varchar` or `jsonb` column and
/// whose type the client left to the server (`client_types`, from `Parse`: a type the client
/// named is the one it encodes with, and is kept).
pub fn declared(
    statement: &Statement,
    plan: &LogicalPlan,
    client_types: &[Option<Type>],
) -> HashMap<usize, SqlType> {
    let mut declared = HashMap::new();
    let (
        Statement::Insert(Insert {
            columns,
            source: Some(source),
            ..
        }),
        LogicalPlan::Dml(DmlStatement {
            target,
            op: WriteOp::Insert(_),
            ..
        }),
    ) = (statement, plan)
    else {
        return declared;
    };
    let SetExpr::Values(values) = source.body.as_ref() else {
        return declared;
    };
    let schema = target.schema();
    let field_at = |position: usize| {
        if columns.is_empty() {
            schema.fields().get(position).cloned()
        } else {
            let name = crate::sql::names::ident(columns.get(position)?.0.last()?.as_ident()?);
            schema.field_with_name(&name).ok().map(|f| f.clone().into())
        }
    };
    for row in &values.rows {
        for (position, expr) in row.iter().enumerate() {
            let Expr::Value(ValueWithSpan {
                value: Value::Placeholder(placeholder),
                ..
            }) = expr
            else {
                continue;
            };
            let Some(index) = placeholder
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| n.checked_sub(1))
            else {
                continue;
            };
            let named_by_client = client_types
                .get(index)
                .is_some_and(|t| t.as_ref().is_some_and(|t| *t != Type::UNKNOWN));
            if named_by_client {
                continue;
            }
            if let Some(sql_type @ (SqlType::Varchar { .. } | SqlType::Jsonb)) =
                field_at(position).and_then(|f| SqlType::from_field(&f))
            {
                declared.insert(index, sql_type);
            }
        }
    }
    declared
}

/// `parameters` (as DataFusion typed them) with the declared types of [`declared`].
pub fn describe(mut parameters: Vec<Type>, declared: &HashMap<usize, SqlType>) -> Vec<Type> {
    for (index, sql_type) in declared {
        if let Some(parameter) = parameters.get_mut(*index) {
            *parameter = match sql_type {
                SqlType::Jsonb => Type::JSONB,
                _ => Type::VARCHAR,
            };
        }
    }
    parameters
}

/// The values of `jsonb` parameters sent in binary form, without their version byte; `None`
/// when there is none to strip.
pub fn strip_jsonb_versions(
    parameters: &[Option<Bytes>],
    format: &Format,
    declared: &HashMap<usize, SqlType>,
) -> Option<Vec<Option<Bytes>>> {
    let binary_jsonb = |index: usize| {
        matches!(declared.get(&index), Some(SqlType::Jsonb))
            && format.is_binary(index)
            && parameters[index]
                .as_ref()
                .is_some_and(|v| v.first() == Some(&1))
    };
    if !(0..parameters.len()).any(binary_jsonb) {
        return None;
    }
    Some(
        parameters
            .iter()
            .enumerate()
            .map(|(index, value)| match value {
                Some(v) if binary_jsonb(index) => Some(v.slice(1..)),
                other => other.clone(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_jsonb_loses_its_version_byte_and_nothing_else_changes() {
        let declared =
            HashMap::from([(1, SqlType::Jsonb), (2, SqlType::Varchar { max_len: None })]);
        let parameters = vec![
            Some(Bytes::from_static(b"\x00\x00\x00\x01")),
            Some(Bytes::from_static(b"\x01{\"a\":1}")),
            Some(Bytes::from_static(b"\x01x")),
        ];
        let stripped =
            strip_jsonb_versions(&parameters, &Format::UnifiedBinary, &declared).unwrap();
        assert_eq!(stripped[0], parameters[0]);
        assert_eq!(stripped[1].as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(stripped[2], parameters[2]);
        assert!(strip_jsonb_versions(&parameters, &Format::UnifiedText, &declared).is_none());
    }
}
