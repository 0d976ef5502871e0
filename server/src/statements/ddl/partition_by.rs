//! `CREATE TABLE ... PARTITION BY (day(ts))`: the Delta partition columns of a table.
//!
//! Accepted: a list (or one item) of plain columns (`country`) and time buckets of a
//! `timestamp`/`timestamptz` column: `hour(ts)`, `day(ts)`, `month(ts)`. A bucket becomes a
//! Delta generated column `<column>_<bucket>` (`ts_day`, a `date`), which other Delta readers
//! see as an ordinary partition column; Oxbow's own queries do not show it, and a filter on
//! `ts` prunes by it. PostgreSQL's declarative partitioning (`PARTITION BY RANGE (ts)`,
//! `PARTITION OF`) is refused with 0A000: Oxbow has no child tables.
//!
//! sqlparser reads the clause after `WITH (...)`: `CREATE TABLE t (...) WITH (...) PARTITION
//! BY (day(ts))`.

use datafusion::sql::sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments};
use oxbow_catalog::{ColumnDef, PartitionColumn, PartitionTransform, SqlType};

use crate::error::ServerError;
use crate::sql::names::ident;

pub fn partition_by(
    expr: &Expr,
    columns: &[ColumnDef],
) -> Result<Vec<PartitionColumn>, ServerError> {
    let items: Vec<&Expr> = match expr {
        Expr::Nested(inner) => vec![inner.as_ref()],
        Expr::Tuple(list) => list.iter().collect(),
        other => vec![other],
    };
    let mut partitions: Vec<PartitionColumn> = Vec::new();
    for item in items {
        let partition = one(item, columns)?;
        if partitions
            .iter()
            .any(|p| p.delta_name() == partition.delta_name())
        {
            return Err(ServerError::Unsupported(format!(
                "partition {} given twice",
                partition.sql()
            )));
        }
        if columns
            .iter()
            .any(|c| partition.is_derived() && c.name == partition.delta_name())
        {
            return Err(ServerError::Unsupported(format!(
                "PARTITION BY {}: the table already has a column \"{}\", the name of its partition column",
                partition.sql(),
                partition.delta_name()
            )));
        }
        partitions.push(partition);
    }
    Ok(partitions)
}

fn one(item: &Expr, columns: &[ColumnDef]) -> Result<PartitionColumn, ServerError> {
    let unsupported = || {
        ServerError::Unsupported(format!(
            "PARTITION BY {item} (a column, or hour(col), day(col), month(col) of a timestamp column)"
        ))
    };
    let (source, transform) = match item {
        Expr::Identifier(i) => (ident(i), PartitionTransform::Identity),
        Expr::Function(f) => {
            let name = f
                .name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .ok_or_else(unsupported)?;
            let transform =
                PartitionTransform::from_function(&ident(name)).ok_or_else(unsupported)?;
            let FunctionArguments::List(list) = &f.args else {
                return Err(unsupported());
            };
            match list.args.as_slice() {
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(i)))] => {
                    (ident(i), transform)
                }
                _ => return Err(unsupported()),
            }
        }
        _ => return Err(unsupported()),
    };
    let column =
        columns
            .iter()
            .find(|c| c.name == source)
            .ok_or_else(|| ServerError::UndefinedColumn {
                table: "(new table)".into(),
                column: source.clone(),
            })?;
    match transform {
        PartitionTransform::Identity => {
            if matches!(
                column.sql_type,
                SqlType::Real | SqlType::DoublePrecision | SqlType::Bytea | SqlType::Jsonb
            ) {
                return Err(ServerError::Unsupported(format!(
                    "PARTITION BY a {} column (\"{source}\")",
                    column.sql_type.pg_name()
                )));
            }
        }
        _ => {
            if !matches!(column.sql_type, SqlType::Timestamp | SqlType::TimestampTz) {
                return Err(ServerError::InvalidTypeModifier(format!(
                    "PARTITION BY {item}: \"{source}\" must be a timestamp or timestamptz column"
                )));
            }
        }
    }
    Ok(PartitionColumn { source, transform })
}
