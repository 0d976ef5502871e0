//! `information_schema` shaped like PostgreSQL's, as views over `pg_catalog`.
//!
//! DataFusion's own `information_schema` names types the Arrow way (`Int32`, `Utf8View`,
//! `Decimal128(12, 3)`), counts `ordinal_position` from 0, has no `udt_name`, and lacks the
//! constraint views: Grafana's column picker, Power BI's navigator, Metabase's field sync and
//! node-postgres users read `columns`; Metabase and Power BI join `table_constraints`,
//! `key_column_usage` and `referential_constraints`. These views derive everything from
//! `pg_catalog` (and so from the corrected `pg_attribute`), which keeps the two views of the
//! catalog consistent. DataFusion's version is switched off so that the name resolves here;
//! its `df_settings` (the session's `datafusion.*` options) is kept.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, Session};
use datafusion::datasource::{MemTable, TableProvider, TableType, ViewTable};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

pub const SCHEMA: &str = "information_schema";

/// The PostgreSQL type categories `columns` reports sizes for, by `pg_type.typname`.
const COLUMNS: &str = "
SELECT current_database() AS table_catalog,
       n.nspname AS table_schema,
       c.relname AS table_name,
       a.attname AS column_name,
       CAST(a.attnum AS INT) AS ordinal_position,
       CAST(NULL AS VARCHAR) AS column_default,
       CASE WHEN a.attnotnull AND c.relkind IN ('r', 'p') THEN 'NO' ELSE 'YES' END AS is_nullable,
       format_type(a.atttypid, CAST(NULL AS INT)) AS data_type,
       CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 0
            THEN a.atttypmod - 4 END AS character_maximum_length,
       CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 0 THEN (a.atttypmod - 4) * 4
            WHEN t.typname IN ('text', 'varchar', 'bpchar') THEN 1073741824 END
           AS character_octet_length,
       CASE t.typname WHEN 'int2' THEN 16 WHEN 'int4' THEN 32 WHEN 'int8' THEN 64
                      WHEN 'float4' THEN 24 WHEN 'float8' THEN 53
                      WHEN 'numeric' THEN CASE WHEN a.atttypmod > 0
                                               THEN ((a.atttypmod - 4) / 65536) % 65536 END
       END AS numeric_precision,
       CASE WHEN t.typname IN ('int2', 'int4', 'int8', 'float4', 'float8') THEN 2
            WHEN t.typname = 'numeric' THEN 10 END AS numeric_precision_radix,
       CASE WHEN t.typname IN ('int2', 'int4', 'int8') THEN 0
            WHEN t.typname = 'numeric' AND a.atttypmod > 0 THEN (a.atttypmod - 4) % 65536
       END AS numeric_scale,
       CASE WHEN t.typname = 'date' THEN 0
            WHEN t.typname IN ('timestamp', 'timestamptz', 'time', 'timetz', 'interval') THEN 6
       END AS datetime_precision,
       CAST(NULL AS VARCHAR) AS interval_type,
       CAST(NULL AS INT) AS interval_precision,
       CAST(NULL AS VARCHAR) AS character_set_catalog,
       CAST(NULL AS VARCHAR) AS character_set_schema,
       CAST(NULL AS VARCHAR) AS character_set_name,
       CAST(NULL AS VARCHAR) AS collation_catalog,
       CAST(NULL AS VARCHAR) AS collation_schema,
       CAST(NULL AS VARCHAR) AS collation_name,
       CAST(NULL AS VARCHAR) AS domain_catalog,
       CAST(NULL AS VARCHAR) AS domain_schema,
       CAST(NULL AS VARCHAR) AS domain_name,
       current_database() AS udt_catalog,
       'pg_catalog' AS udt_schema,
       t.typname AS udt_name,
       CAST(a.attnum AS VARCHAR) AS dtd_identifier,
       'NO' AS is_self_referencing,
       'NO' AS is_identity,
       CAST(NULL AS VARCHAR) AS identity_generation,
       'NEVER' AS is_generated,
       CAST(NULL AS VARCHAR) AS generation_expression,
       CASE WHEN c.relkind = 'r' THEN 'YES' ELSE 'NO' END AS is_updatable
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'p', 'm', 'f')";

const TABLES: &str = "
SELECT current_database() AS table_catalog,
       n.nspname AS table_schema,
       c.relname AS table_name,
       CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN'
            ELSE CASE WHEN n.nspname LIKE 'pg_temp%' THEN 'LOCAL TEMPORARY' ELSE 'BASE TABLE' END
       END AS table_type,
       CAST(NULL AS VARCHAR) AS self_referencing_column_name,
       CAST(NULL AS VARCHAR) AS reference_generation,
       CAST(NULL AS VARCHAR) AS user_defined_type_catalog,
       CAST(NULL AS VARCHAR) AS user_defined_type_schema,
       CAST(NULL AS VARCHAR) AS user_defined_type_name,
       CASE WHEN c.relkind IN ('r', 'p') THEN 'YES' ELSE 'NO' END AS is_insertable_into,
       'NO' AS is_typed,
       CAST(NULL AS VARCHAR) AS commit_action
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'p', 'm', 'f')";

const VIEWS: &str = "
SELECT current_database() AS table_catalog,
       n.nspname AS table_schema,
       c.relname AS table_name,
       pg_get_viewdef(CAST(c.oid AS BIGINT)) AS view_definition,
       'NONE' AS check_option,
       'NO' AS is_updatable,
       'NO' AS is_insertable_into,
       'NO' AS is_trigger_updatable,
       'NO' AS is_trigger_deletable,
       'NO' AS is_trigger_insertable_into
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v'";

const SCHEMATA: &str = "
SELECT current_database() AS catalog_name,
       n.nspname AS schema_name,
       'oxbow' AS schema_owner,
       CAST(NULL AS VARCHAR) AS default_character_set_catalog,
       CAST(NULL AS VARCHAR) AS default_character_set_schema,
       CAST(NULL AS VARCHAR) AS default_character_set_name,
       CAST(NULL AS VARCHAR) AS sql_path
FROM pg_catalog.pg_namespace n";

/// Constraints as `pg_constraint` has them (`p` primary key, `u` unique, `f` foreign key,
/// `c` check), joined to their table.
const TABLE_CONSTRAINTS: &str = "
SELECT current_database() AS constraint_catalog,
       n.nspname AS constraint_schema,
       con.conname AS constraint_name,
       current_database() AS table_catalog,
       n.nspname AS table_schema,
       c.relname AS table_name,
       CASE con.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE'
                        WHEN 'f' THEN 'FOREIGN KEY' WHEN 'c' THEN 'CHECK' END AS constraint_type,
       'NO' AS is_deferrable,
       'NO' AS initially_deferred,
       'YES' AS enforced,
       CAST(NULL AS VARCHAR) AS nulls_distinct
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype IN ('p', 'u', 'f', 'c')";

/// The columns of key constraints, one row per column, from the index behind each
/// constraint (`pg_index.indkey`, whose positions give `ordinal_position`).
const KEY_COLUMN_USAGE: &str = "
SELECT current_database() AS constraint_catalog,
       n.nspname AS constraint_schema,
       con.conname AS constraint_name,
       current_database() AS table_catalog,
       n.nspname AS table_schema,
       c.relname AS table_name,
       a.attname AS column_name,
       CAST(array_position(i.indkey, a.attnum) AS INT) AS ordinal_position,
       CAST(NULL AS INT) AS position_in_unique_constraint
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_index i ON i.indexrelid = con.conindid
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND array_has(i.indkey, a.attnum)
WHERE con.contype IN ('p', 'u')";

/// Oxbow has no foreign keys: the view exists, with PostgreSQL's columns, and is empty.
const REFERENTIAL_CONSTRAINTS: &str = "
SELECT CAST(NULL AS VARCHAR) AS constraint_catalog,
       CAST(NULL AS VARCHAR) AS constraint_schema,
       CAST(NULL AS VARCHAR) AS constraint_name,
       CAST(NULL AS VARCHAR) AS unique_constraint_catalog,
       CAST(NULL AS VARCHAR) AS unique_constraint_schema,
       CAST(NULL AS VARCHAR) AS unique_constraint_name,
       CAST(NULL AS VARCHAR) AS match_option,
       CAST(NULL AS VARCHAR) AS update_rule,
       CAST(NULL AS VARCHAR) AS delete_rule
WHERE false";

const CHARACTER_SETS: &str = "
SELECT CAST(NULL AS VARCHAR) AS character_set_catalog,
       CAST(NULL AS VARCHAR) AS character_set_schema,
       'UTF8' AS character_set_name,
       'UCS' AS character_repertoire,
       'UTF8' AS form_of_use,
       current_database() AS default_collate_catalog,
       'pg_catalog' AS default_collate_schema,
       'C.UTF-8' AS default_collate_name";

/// `df_settings`: DataFusion's settings of the querying session (name, value, description),
/// which DataFusion's own information_schema had and which tools use to read
/// `datafusion.*` options (`SET` changes them per session, so they are read at scan time).
#[derive(Debug)]
struct DfSettings {
    schema: SchemaRef,
}

impl DfSettings {
    fn new() -> Self {
        Self {
            schema: Arc::new(Schema::new(vec![
                Field::new("name", DataType::Utf8, false),
                Field::new("value", DataType::Utf8, true),
                Field::new("description", DataType::Utf8, true),
            ])),
        }
    }
}

#[async_trait]
impl TableProvider for DfSettings {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let entries = state.config_options().entries();
        let batch = RecordBatch::try_new(
            Arc::clone(&self.schema),
            vec![
                Arc::new(StringArray::from_iter_values(
                    entries.iter().map(|e| e.key.clone()),
                )),
                Arc::new(StringArray::from_iter(
                    entries.iter().map(|e| e.value.clone()),
                )),
                Arc::new(StringArray::from_iter_values(
                    entries.iter().map(|e| e.description),
                )),
            ],
        )?;
        MemTable::try_new(Arc::clone(&self.schema), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// Plans the views against `ctx` (whose `pg_catalog` must be in place) and returns the schema.
pub async fn schema(
    ctx: &SessionContext,
    db: Arc<oxbow_storage::Database>,
) -> Result<Arc<dyn SchemaProvider>> {
    let schema = MemorySchemaProvider::new();
    for (name, sql) in [
        ("columns", COLUMNS),
        ("tables", TABLES),
        ("views", VIEWS),
        ("schemata", SCHEMATA),
        ("table_constraints", TABLE_CONSTRAINTS),
        ("key_column_usage", KEY_COLUMN_USAGE),
        ("referential_constraints", REFERENTIAL_CONSTRAINTS),
        ("character_sets", CHARACTER_SETS),
    ] {
        let plan = ctx.sql(sql).await?.into_unoptimized_plan();
        schema.register_table(
            name.to_string(),
            Arc::new(ViewTable::new(plan, Some(sql.to_string()))),
        )?;
    }
    schema.register_table("df_settings".to_string(), Arc::new(DfSettings::new()))?;
    let grants = Arc::new(super::table_grants::TableGrants::new(db));
    schema.register_table("table_privileges".to_string(), Arc::clone(&grants) as _)?;
    schema.register_table("role_table_grants".to_string(), grants)?;
    Ok(Arc::new(schema))
}
