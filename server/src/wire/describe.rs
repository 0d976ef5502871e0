//! How result columns are described to clients: PostgreSQL's column names, type OIDs, type
//! sizes and type modifiers.
//!
//! arrow-pg describes a column from its Arrow type alone, and DataFusion names an unaliased
//! expression after its display form. Both lose what drivers key on: `varchar(20)` and `jsonb`
//! arrive as `text` with typmod -1 (pgJDBC reports them as text, psycopg2 and node-postgres do
//! not parse jsonb), the type size is 0, and `SELECT count(*)` yields a column named
//! `count(*)` where code reads `row["count"]`. This module rewrites the `RowDescription` from
//! the declared SQL types carried as field metadata (see `oxbow_catalog::SqlType::from_field`)
//! and from the statement's select list, as PostgreSQL's `FigureColname` names columns.

use std::sync::Arc;

use arrow_pg::datatypes::field_into_pg_type;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, Expr, Ident, ObjectNamePart, Query, SelectItem, SetExpr, Statement,
};
use oxbow_catalog::SqlType;
use pgwire::api::Type;
use pgwire::api::results::FieldInfo;

/// PostgreSQL's name for a result column it cannot name otherwise.
const UNNAMED: &str = "?column?";

/// The PostgreSQL type, type modifier and type size of a result column.
pub fn pg_type(field: &Field) -> (Type, i32) {
    match SqlType::from_field(field) {
        Some(sql_type @ SqlType::Varchar { .. }) => (Type::VARCHAR, sql_type.pg_typmod()),
        Some(SqlType::Jsonb) => (Type::JSONB, -1),
        Some(sql_type @ SqlType::Numeric { .. }) => (Type::NUMERIC, sql_type.pg_typmod()),
        _ => (
            field_into_pg_type(&Arc::new(field.clone())).unwrap_or(Type::TEXT),
            -1,
        ),
    }
}

/// `pg_type.typlen`: the fixed width of a type's values, -1 for variable width.
pub fn type_size(ty: &Type) -> i16 {
    match *ty {
        Type::BOOL | Type::CHAR => 1,
        Type::INT2 => 2,
        Type::INT4 | Type::FLOAT4 | Type::DATE | Type::OID | Type::REGCLASS | Type::REGTYPE => 4,
        Type::INT8 | Type::FLOAT8 | Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::TIME => 8,
        Type::INTERVAL => 16,
        Type::NAME => 64,
        _ => -1,
    }
}

/// The description of `schema`'s columns as PostgreSQL would send it, keeping each column's
/// format from `described` (what arrow-pg chose, one per column). `statement` supplies the
/// column names; `None` keeps the names DataFusion gave.
pub fn describe(
    described: &[FieldInfo],
    schema: &Schema,
    statement: Option<&Statement>,
) -> Vec<FieldInfo> {
    if described.len() != schema.fields().len() {
        return described.to_vec();
    }
    let names = statement.and_then(|s| output_names(s, described.len()));
    described
        .iter()
        .zip(schema.fields())
        .enumerate()
        .map(|(i, (info, field))| {
            let (ty, typmod) = pg_type(field);
            let name = names
                .as_ref()
                .and_then(|n| n[i].clone())
                .unwrap_or_else(|| info.name().to_string());
            // datafusion-pg-catalog's parser renames a column repeated beside `*` this way.
            let name = match name.strip_prefix("__alias_") {
                Some(original) => original.to_string(),
                None => name,
            };
            FieldInfo::new(
                name,
                info.table_id(),
                info.column_id(),
                ty.clone(),
                info.format(),
            )
            .with_format_options(Arc::clone(info.format_options()))
            .with_type_size(type_size(&ty))
            .with_type_modifier(typmod)
        })
        .collect()
}

/// The names PostgreSQL gives the `n` result columns of `statement`, where it can tell them
/// (`None` in a slot keeps DataFusion's name). `None` when the select list cannot be lined
/// up with the result columns (more than one `*`).
pub fn output_names(statement: &Statement, n: usize) -> Option<Vec<Option<String>>> {
    let Statement::Query(query) = statement else {
        return None;
    };
    let items = select_items(query)?;
    let wildcards = items
        .iter()
        .filter(|i| {
            matches!(
                i,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            )
        })
        .count();
    let named = items.len() - wildcards;
    let expanded = match wildcards {
        0 if named == n => 0,
        1 if n >= named => n - named,
        _ => return None,
    };
    let mut names = Vec::with_capacity(n);
    for item in items {
        match item {
            SelectItem::UnnamedExpr(expr) => names.push(Some(expr_name(expr).0)),
            SelectItem::ExprWithAlias { alias, .. } => names.push(Some(fold(alias))),
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                names.extend(std::iter::repeat_n(None, expanded));
            }
            // Spark's `AS (a, b)`: one item, several columns.
            SelectItem::ExprWithAliases { .. } => return None,
        }
    }
    Some(names)
}

/// The select list that names a query's columns: the leftmost SELECT of a set operation.
fn select_items(query: &Query) -> Option<&[SelectItem]> {
    let mut body = query.body.as_ref();
    loop {
        match body {
            SetExpr::Select(select) => return Some(&select.projection),
            SetExpr::Query(query) => body = query.body.as_ref(),
            SetExpr::SetOperation { left, .. } => body = left.as_ref(),
            _ => return None,
        }
    }
}

/// PostgreSQL's name for an unaliased select-list expression, and whether the name is strong
/// (a column or function name) rather than a fallback (a type name or `?column?`): a cast
/// keeps its operand's strong name and otherwise takes the type's.
fn expr_name(expr: &Expr) -> (String, bool) {
    match expr {
        Expr::Identifier(ident) => (fold(ident), true),
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(ident) => (fold(ident), true),
            None => (UNNAMED.into(), false),
        },
        Expr::Function(function) => match function.name.0.last() {
            Some(ObjectNamePart::Identifier(ident)) => (fold(ident), true),
            _ => (UNNAMED.into(), false),
        },
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr,
            data_type,
            ..
        } => match expr_name(expr) {
            (name, true) => (name, true),
            _ => (type_name(data_type), false),
        },
        Expr::TypedString(typed) => (type_name(&typed.data_type), false),
        Expr::Nested(inner) => expr_name(inner),
        Expr::Case { .. } => ("case".into(), true),
        Expr::Exists { .. } => ("exists".into(), true),
        Expr::Array(_) => ("array".into(), true),
        Expr::Tuple(_) => ("row".into(), true),
        Expr::Extract { .. } => ("extract".into(), true),
        Expr::Substring { .. } => ("substring".into(), true),
        Expr::Position { .. } => ("position".into(), true),
        Expr::Ceil { .. } => ("ceil".into(), true),
        Expr::Floor { .. } => ("floor".into(), true),
        Expr::Trim { .. } => ("btrim".into(), true),
        Expr::Overlay { .. } => ("overlay".into(), true),
        Expr::AtTimeZone { .. } => ("timezone".into(), true),
        Expr::Interval(_) => ("interval".into(), false),
        Expr::Subquery(query) => select_items(query)
            .and_then(|items| items.first())
            .map(|item| match item {
                SelectItem::UnnamedExpr(expr) => expr_name(expr),
                SelectItem::ExprWithAlias { alias, .. } => (fold(alias), true),
                _ => (UNNAMED.into(), false),
            })
            .unwrap_or((UNNAMED.into(), false)),
        _ => (UNNAMED.into(), false),
    }
}

/// The internal name PostgreSQL shows for a type in a column name (`'1'::int` is `int4`).
fn type_name(data_type: &DataType) -> String {
    let text = data_type.to_string().to_lowercase();
    let base = text.split('(').next().unwrap_or(&text).trim();
    match base {
        "int" | "integer" | "int4" => "int4",
        "bigint" | "int8" => "int8",
        "smallint" | "int2" => "int2",
        "real" | "float4" => "float4",
        "double precision" | "double" | "float" | "float8" => "float8",
        "boolean" | "bool" => "bool",
        "varchar" | "character varying" => "varchar",
        "char" | "character" => "bpchar",
        "decimal" | "numeric" => "numeric",
        "timestamp with time zone" | "timestamptz" => "timestamptz",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "time" | "time without time zone" => "time",
        other => return other.trim_matches('"').to_string(),
    }
    .to_string()
}

/// An identifier as PostgreSQL folds it: unquoted ones are lower-cased.
fn fold(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn names(sql: &str, n: usize) -> Option<Vec<Option<String>>> {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        output_names(&statement, n)
    }

    fn some(names: &[&str]) -> Option<Vec<Option<String>>> {
        Some(names.iter().map(|n| Some(n.to_string())).collect())
    }

    #[test]
    fn columns_are_named_like_postgresql() {
        assert_eq!(
            names(
                "SELECT count(*), 1, 1 + 1, lower('A'), t.Id, \"Q\" FROM t",
                6
            ),
            some(&["count", "?column?", "?column?", "lower", "id", "Q"])
        );
        assert_eq!(
            names(
                "SELECT '1'::int, x::text, CAST(NULL AS bigint), 2 AS Two",
                4
            ),
            some(&["int4", "x", "int8", "two"])
        );
        assert_eq!(
            names("SELECT CASE WHEN true THEN 1 END, (max(v)) FROM t", 2),
            some(&["case", "max"])
        );
        assert_eq!(
            names("SELECT a FROM t UNION ALL SELECT count(*) FROM u", 1),
            some(&["a"])
        );
    }

    #[test]
    fn a_wildcard_keeps_the_names_of_its_columns() {
        assert_eq!(
            names("SELECT *, count(*) FROM t", 3),
            Some(vec![None, None, Some("count".into())])
        );
        assert_eq!(names("SELECT *, * FROM t", 4), None);
        assert_eq!(names("INSERT INTO t VALUES (1)", 0), None);
    }
}
