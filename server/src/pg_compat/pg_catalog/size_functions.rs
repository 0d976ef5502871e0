//! `pg_relation_size`, `pg_table_size`, `pg_total_relation_size`, `pg_indexes_size`,
//! `pg_database_size` and `pg_size_pretty`: the sizes psql's `\dt+` and `\l+`, pgAdmin and
//! DBeaver show, where datafusion-pg-catalog's stubs answer 0 for everything.
//!
//! A table's size is what it holds now: the data files of its current Delta version (what the
//! lake tier reads) and the Arrow bytes of its hot rows not yet flushed. Files kept only for
//! time travel and the WAL are not counted (PostgreSQL does not count its WAL either). A view
//! is 0 bytes; Oxbow keeps no index files, so `pg_indexes_size` is 0. An OID that names no
//! relation gives NULL, as in PostgreSQL; a name that names none is 42P01.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr_fn::SimpleScalarUDF;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Signature, Volatility};
use oxbow_catalog::{DEFAULT_SCHEMA, ObjectName};
use oxbow_storage::Database;

use super::RelationOids;
use crate::error::ServerError;

/// What a size function measures of a relation.
#[derive(Clone, Copy)]
enum Measure {
    /// The relation's data (`pg_relation_size`, `pg_table_size`, `pg_total_relation_size`).
    Data,
    /// Its indexes: none are stored.
    Indexes,
}

/// The size functions, to register over the library's stubs.
pub fn size_functions(db: Arc<Database>, relations: RelationOids) -> Vec<ScalarUDF> {
    let mut functions: Vec<ScalarUDF> = [
        ("pg_relation_size", Measure::Data),
        ("pg_table_size", Measure::Data),
        ("pg_total_relation_size", Measure::Data),
        ("pg_indexes_size", Measure::Indexes),
    ]
    .into_iter()
    .map(|(name, measure)| relation_size(name, measure, Arc::clone(&db), relations.clone()))
    .collect();
    functions.push(database_size(db));
    functions.push(size_pretty());
    functions
}

fn failed(e: impl Into<ServerError>) -> DataFusionError {
    DataFusionError::External(Box::new(e.into()))
}

/// Bytes of the open table `name` (0 for a view or a table that could not be opened).
fn table_bytes(db: &Database, name: &ObjectName) -> u64 {
    db.open_tables()
        .iter()
        .find(|t| t.def().name == *name)
        .map_or(0, |t| t.delta_bytes() + t.hot_stats().bytes as u64)
}

/// The relation a text argument names (`t`, `s.t`, `"db".s.t`): must exist.
fn named(db: &Database, text: &str) -> Result<ObjectName> {
    let parts: Vec<String> = text
        .split('.')
        .map(|p| {
            let p = p.trim();
            match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => p.to_ascii_lowercase(),
            }
        })
        .collect();
    let name = match parts.as_slice() {
        [name] => ObjectName::new(DEFAULT_SCHEMA, name.as_str()),
        [schema, name] | [_, schema, name] => ObjectName::new(schema.as_str(), name.as_str()),
        _ => {
            return Err(failed(ServerError::InvalidParameterValue(format!(
                "invalid name syntax: \"{text}\""
            ))));
        }
    };
    let catalog = db.catalog();
    if catalog.table(&name).map_err(failed)?.is_some()
        || catalog.view(&name).map_err(failed)?.is_some()
    {
        Ok(name)
    } else {
        Err(failed(oxbow_catalog::Error::RelationNotFound(text.into())))
    }
}

fn relation_size(
    name: &'static str,
    measure: Measure,
    db: Arc<Database>,
    relations: RelationOids,
) -> ScalarUDF {
    let evaluate = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let all_scalars = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let Some(relation) = arrays.first() else {
            return Err(DataFusionError::Plan(format!("{name} takes a relation")));
        };
        let size_of = |object: Option<ObjectName>| match (object, measure) {
            (None, _) => None,
            (Some(_), Measure::Indexes) => Some(0),
            (Some(name), Measure::Data) => Some(table_bytes(&db, &name) as i64),
        };
        let sizes: Int64Array = if relation.data_type().is_integer() {
            let oids = datafusion::arrow::compute::cast(relation, &DataType::Int64)?;
            let oids = oids.as_primitive::<Int64Type>();
            let known = relations.read().expect("relations lock");
            (0..oids.len())
                .map(|i| {
                    size_of(
                        oids.is_valid(i)
                            .then(|| known.get(&oids.value(i)).cloned())?,
                    )
                })
                .collect()
        } else {
            let names = datafusion::arrow::compute::cast(relation, &DataType::Utf8)?;
            let names = names.as_string::<i32>();
            let mut sizes = Vec::with_capacity(names.len());
            for i in 0..names.len() {
                sizes.push(match names.is_valid(i) {
                    true => size_of(Some(named(&db, names.value(i))?)),
                    false => None,
                });
            }
            sizes.into_iter().collect()
        };
        crate::pg_compat::functions::columnar(Arc::new(sizes), all_scalars)
    };
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        name,
        Signature::variadic_any(Volatility::Volatile),
        DataType::Int64,
        Arc::new(evaluate),
    ))
}

/// `pg_database_size(name | oid)`: every table of the one database.
fn database_size(db: Arc<Database>) -> ScalarUDF {
    let evaluate = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let all_scalars = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let Some(database) = arrays.first() else {
            return Err(DataFusionError::Plan(
                "pg_database_size takes a database".into(),
            ));
        };
        let total: i64 = db
            .open_tables()
            .iter()
            .map(|t| (t.delta_bytes() + t.hot_stats().bytes as u64) as i64)
            .sum();
        let sizes: Int64Array = (0..database.len())
            .map(|i| database.is_valid(i).then_some(total))
            .collect();
        crate::pg_compat::functions::columnar(Arc::new(sizes), all_scalars)
    };
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "pg_database_size",
        Signature::variadic_any(Volatility::Volatile),
        DataType::Int64,
        Arc::new(evaluate),
    ))
}

/// `pg_size_pretty(bigint)`: PostgreSQL's own rounding (`dbsize.c`): bytes below 10 kB, then
/// each unit while the value is below 20 of it, rounded half away from zero.
pub fn pretty(bytes: i64) -> String {
    const UNITS: [(&str, i64, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    let mut size = bytes;
    for (i, (name, limit, round, bits)) in UNITS.iter().enumerate() {
        let Some((_, _, next_round, next_bits)) = UNITS.get(i + 1) else {
            return format!("{} {name}", if *round { half_rounded(size) } else { size });
        };
        if size.abs() < *limit {
            return format!("{} {name}", if *round { half_rounded(size) } else { size });
        }
        let shift = next_bits - bits - u32::from(*next_round) + u32::from(*round);
        size /= 1i64 << shift;
    }
    unreachable!("the last unit returns")
}

fn size_pretty() -> ScalarUDF {
    let evaluate = |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let all_scalars = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let Some(bytes) = arrays.first() else {
            return Err(DataFusionError::Plan("pg_size_pretty takes a size".into()));
        };
        let bytes = datafusion::arrow::compute::cast(bytes, &DataType::Int64)?;
        let bytes = bytes.as_primitive::<Int64Type>();
        let text: StringArray = (0..bytes.len())
            .map(|i| bytes.is_valid(i).then(|| pretty(bytes.value(i))))
            .collect();
        crate::pg_compat::functions::columnar(Arc::new(text) as ArrayRef, all_scalars)
    };
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "pg_size_pretty",
        Signature::any(1, Volatility::Immutable),
        DataType::Utf8,
        Arc::new(evaluate),
    ))
}

#[cfg(test)]
mod tests {
    use super::pretty;

    #[test]
    fn sizes_print_as_postgresql_prints_them() {
        // Values and answers from PostgreSQL 15's `SELECT pg_size_pretty(n)`.
        for (bytes, text) in [
            (0, "0 bytes"),
            (10239, "10239 bytes"),
            (10240, "10 kB"),
            (10752, "11 kB"),
            (20971007, "20 MB"),
            (20971520, "20 MB"),
            (1_000_000_000, "954 MB"),
            (1 << 40, "1024 GB"),
            (-10240, "-10 kB"),
            (i64::MAX, "8192 PB"),
        ] {
            assert_eq!(pretty(bytes), text, "{bytes}");
        }
    }
}
