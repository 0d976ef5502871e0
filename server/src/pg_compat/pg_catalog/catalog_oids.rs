//! PostgreSQL's fixed OIDs for its catalog tables.
//!
//! datafusion-pg-catalog hands every relation, its own `pg_catalog` tables included, an OID
//! from a counter (16384 and up). PostgreSQL's catalog tables have OIDs fixed at `initdb`
//! (`pg_class` is 1259 in every cluster), and clients hard-code them: pgJDBC's
//! `ResultSetMetaData` (which Tableau calls) looks up `pg_class`, `pg_namespace` and
//! `pg_description` columns by `attrelid IN (1259, 2615, 2609)`, and the library's static
//! `pg_description` rows already use `classoid = 1259`. The overlay gives the catalog tables
//! their PostgreSQL OIDs wherever the library's dynamic ones appear: `pg_class.oid` (so
//! `'pg_class'::regclass` too, which reads it) and `pg_attribute.attrelid`.
//!
//! Invariant: every OID here is below 16384, so none can collide with a counter OID.

use std::collections::HashMap;

use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::error::Result;

use super::{oids, strings};

/// `pg_namespace.oid` of `pg_catalog` (the library keeps PostgreSQL's).
pub(super) const PG_CATALOG_NAMESPACE: i64 = 11;

/// The catalog tables with an OID fixed by PostgreSQL (`src/include/catalog/pg_*.h`).
/// Views (`pg_tables`, `pg_roles`, `pg_settings`, ...) get OIDs at `initdb` that differ
/// between versions, so they keep the library's.
const FIXED: &[(&str, i64)] = &[
    ("pg_default_acl", 826),
    ("pg_tablespace", 1213),
    ("pg_shdepend", 1214),
    ("pg_type", 1247),
    ("pg_attribute", 1249),
    ("pg_proc", 1255),
    ("pg_class", 1259),
    ("pg_authid", 1260),
    ("pg_auth_members", 1261),
    ("pg_database", 1262),
    ("pg_foreign_server", 1417),
    ("pg_user_mapping", 1418),
    ("pg_sequence", 2224),
    ("pg_foreign_data_wrapper", 2328),
    ("pg_shdescription", 2396),
    ("pg_aggregate", 2600),
    ("pg_am", 2601),
    ("pg_amop", 2602),
    ("pg_amproc", 2603),
    ("pg_attrdef", 2604),
    ("pg_cast", 2605),
    ("pg_constraint", 2606),
    ("pg_conversion", 2607),
    ("pg_depend", 2608),
    ("pg_description", 2609),
    ("pg_index", 2610),
    ("pg_inherits", 2611),
    ("pg_language", 2612),
    ("pg_largeobject", 2613),
    ("pg_namespace", 2615),
    ("pg_opclass", 2616),
    ("pg_operator", 2617),
    ("pg_rewrite", 2618),
    ("pg_statistic", 2619),
    ("pg_trigger", 2620),
    ("pg_opfamily", 2753),
    ("pg_db_role_setting", 2964),
    ("pg_largeobject_metadata", 2995),
    ("pg_extension", 3079),
    ("pg_foreign_table", 3118),
    ("pg_policy", 3256),
    ("pg_partitioned_table", 3350),
    ("pg_statistic_ext", 3381),
    ("pg_init_privs", 3394),
    ("pg_collation", 3456),
    ("pg_event_trigger", 3466),
    ("pg_enum", 3501),
    ("pg_range", 3541),
    ("pg_transform", 3576),
    ("pg_shseclabel", 3592),
    ("pg_seclabel", 3596),
    ("pg_ts_dict", 3600),
    ("pg_ts_parser", 3601),
    ("pg_ts_config", 3602),
    ("pg_ts_template", 3764),
    ("pg_replication_origin", 6000),
    ("pg_subscription", 6100),
    ("pg_publication", 6104),
];

/// PostgreSQL's OID of the catalog table `name`, if it has a fixed one.
pub(super) fn fixed_oid(name: &str) -> Option<i64> {
    FIXED.iter().find(|(n, _)| *n == name).map(|(_, oid)| *oid)
}

/// The library's OID of each catalog table in `classes` (batches of its `pg_class`), mapped
/// to PostgreSQL's.
pub(super) fn remap(classes: &[RecordBatch]) -> Result<HashMap<i64, i64>> {
    let mut map = HashMap::new();
    for batch in classes {
        let rows = oids(batch, "oid")?
            .into_iter()
            .zip(strings(batch, "relname")?)
            .zip(oids(batch, "relnamespace")?);
        for ((oid, name), namespace) in rows {
            if let (Some(oid), Some(name), Some(PG_CATALOG_NAMESPACE)) = (oid, name, namespace)
                && let Some(fixed) = fixed_oid(&name)
            {
                map.insert(oid, fixed);
            }
        }
    }
    Ok(map)
}

/// `batch` with the OIDs in `column` replaced through `map` (others unchanged).
pub(super) fn apply(
    batch: RecordBatch,
    column: &str,
    map: &HashMap<i64, i64>,
) -> Result<RecordBatch> {
    if map.is_empty() {
        return Ok(batch);
    }
    let schema = batch.schema();
    let Ok(index) = schema.index_of(column) else {
        return Ok(batch);
    };
    let remapped: Int64Array = oids(&batch, column)?
        .into_iter()
        .map(|oid| oid.map(|o| map.get(&o).copied().unwrap_or(o)))
        .collect();
    let mut columns = batch.columns().to_vec();
    columns[index] = cast(&remapped, schema.field(index).data_type())?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// `batches` with [`apply`] done to each.
pub(super) fn apply_all(
    batches: Vec<RecordBatch>,
    column: &str,
    map: &HashMap<i64, i64>,
) -> Result<Vec<RecordBatch>> {
    batches.into_iter().map(|b| apply(b, column, map)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn classes() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("oid", DataType::Int32, false),
            Field::new("relname", DataType::Utf8, false),
            Field::new("relnamespace", DataType::Int32, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![16400, 16401, 16402])),
                Arc::new(StringArray::from(vec!["pg_class", "orders", "pg_class"])),
                Arc::new(Int32Array::from(vec![11, 2200, 2200])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn only_pg_catalog_tables_get_fixed_oids() {
        let map = remap(&[classes()]).unwrap();
        // A user table that happens to be called pg_class keeps its OID.
        assert_eq!(map, HashMap::from([(16400, 1259)]));
        let batch = apply(classes(), "oid", &map).unwrap();
        assert_eq!(
            oids(&batch, "oid").unwrap(),
            vec![Some(1259), Some(16401), Some(16402)]
        );
        assert_eq!(batch.column(0).data_type(), &DataType::Int32);
    }

    #[test]
    fn fixed_oids_are_below_the_counter_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for (_, oid) in FIXED {
            assert!(*oid < 16384);
            assert!(seen.insert(*oid));
        }
    }
}
