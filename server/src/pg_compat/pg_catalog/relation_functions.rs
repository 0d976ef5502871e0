//! Functions that answer from the relation an OID names: `pg_get_viewdef`, `pg_get_indexdef`,
//! `pg_table_is_visible`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use oxbow_storage::Database;

use super::RelationOids;
use super::keys::INDEX_OID_OFFSET;

/// `pg_get_viewdef(view [, pretty])`: the query of a view, by the OID `pg_class` gave it
/// (SQLAlchemy's `get_view_definition`, DBeaver's view editor). NULL for other relations.
pub fn pg_get_viewdef(
    db: Arc<Database>,
    relations: RelationOids,
) -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Signature, TypeSignature, Volatility};

    let lookup = move |oid: Option<i64>| -> Option<String> {
        let name = relations
            .read()
            .expect("relations lock")
            .get(&oid?)?
            .clone();
        if name.schema == "pg_catalog" {
            return system_view_definition(&name.name).map(str::to_string);
        }
        let view = db.catalog().view(&name).ok()??;
        Some(format!(" {};", view.query.trim().trim_end_matches(';')))
    };
    let udf = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args[..1])?;
        let oids = datafusion::arrow::compute::cast(&arrays[0], &DataType::Int64)?;
        let oids = oids.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let defs: StringArray = (0..oids.len())
            .map(|i| lookup(oids.is_valid(i).then(|| oids.value(i))))
            .collect();
        Ok(if matches!(args[0], ColumnarValue::Scalar(_)) {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&defs, 0)?)
        } else {
            ColumnarValue::Array(Arc::new(defs))
        })
    };
    datafusion::logical_expr::ScalarUDF::from(
        datafusion::logical_expr::expr_fn::SimpleScalarUDF::new_with_signature(
            "pg_get_viewdef",
            Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Int64]),
                    TypeSignature::Exact(vec![DataType::Int64, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
            DataType::Utf8,
            Arc::new(udf),
        ),
    )
}

/// PostgreSQL 16's definitions (`pg_get_viewdef` output) of the system views the library
/// provides as tables and tools open (DBeaver's and pgAdmin's view editors).
fn system_view_definition(view: &str) -> Option<&'static str> {
    Some(match view {
        "pg_tables" => concat!(
            " SELECT n.nspname AS schemaname,\n    c.relname AS tablename,\n",
            "    pg_get_userbyid(c.relowner) AS tableowner,\n    t.spcname AS tablespace,\n",
            "    c.relhasindex AS hasindexes,\n    c.relhasrules AS hasrules,\n",
            "    c.relhastriggers AS hastriggers,\n    c.relrowsecurity AS rowsecurity\n",
            "   FROM ((pg_class c\n     LEFT JOIN pg_namespace n ON ((n.oid = c.relnamespace)))\n",
            "     LEFT JOIN pg_tablespace t ON ((t.oid = c.reltablespace)))\n",
            "  WHERE (c.relkind = ANY (ARRAY['r'::\"char\", 'p'::\"char\"]));"
        ),
        "pg_views" => concat!(
            " SELECT n.nspname AS schemaname,\n    c.relname AS viewname,\n",
            "    pg_get_userbyid(c.relowner) AS viewowner,\n",
            "    pg_get_viewdef(c.oid) AS definition\n",
            "   FROM (pg_class c\n     LEFT JOIN pg_namespace n ON ((n.oid = c.relnamespace)))\n",
            "  WHERE (c.relkind = 'v'::\"char\");"
        ),
        "pg_matviews" => concat!(
            " SELECT n.nspname AS schemaname,\n    c.relname AS matviewname,\n",
            "    pg_get_userbyid(c.relowner) AS matviewowner,\n    t.spcname AS tablespace,\n",
            "    c.relhasindex AS hasindexes,\n    c.relispopulated AS ispopulated,\n",
            "    pg_get_viewdef(c.oid) AS definition\n",
            "   FROM ((pg_class c\n     LEFT JOIN pg_namespace n ON ((n.oid = c.relnamespace)))\n",
            "     LEFT JOIN pg_tablespace t ON ((t.oid = c.reltablespace)))\n",
            "  WHERE (c.relkind = 'm'::\"char\");"
        ),
        _ => return None,
    })
}

/// `pg_get_indexdef(index [, column, pretty])`: for a primary key's index, its `CREATE INDEX`
/// (column 0) or the name of its `column`-th key column (pgJDBC `getIndexInfo`, SQLAlchemy
/// `get_indexes`). NULL for an OID that is no key index.
pub fn pg_get_indexdef(
    db: Arc<Database>,
    relations: RelationOids,
) -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Signature, TypeSignature, Volatility};

    let lookup = move |oid: i64, column: i64| -> Option<String> {
        let table = relations
            .read()
            .expect("relations lock")
            .get(&(oid - INDEX_OID_OFFSET))?
            .clone();
        let def = db.table(&table)?.table().def().clone();
        if def.primary_key.is_empty() {
            return None;
        }
        if column == 0 {
            return Some(format!(
                "CREATE UNIQUE INDEX {}_pkey ON {}.{} USING btree ({})",
                table.name,
                table.schema,
                table.name,
                def.primary_key.join(", ")
            ));
        }
        def.primary_key
            .get(usize::try_from(column - 1).ok()?)
            .cloned()
    };
    let udf = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let oids = datafusion::arrow::compute::cast(&arrays[0], &DataType::Int64)?;
        let oids = oids.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let columns = match arrays.get(1) {
            Some(c) => Some(datafusion::arrow::compute::cast(c, &DataType::Int64)?),
            None => None,
        };
        let defs: StringArray = (0..oids.len())
            .map(|i| {
                let column = columns.as_ref().map_or(0, |c| {
                    let c = c.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                    if c.is_valid(i) { c.value(i) } else { 0 }
                });
                oids.is_valid(i)
                    .then(|| lookup(oids.value(i), column))
                    .flatten()
            })
            .collect();
        Ok(
            if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&defs, 0)?)
            } else {
                ColumnarValue::Array(Arc::new(defs))
            },
        )
    };
    datafusion::logical_expr::ScalarUDF::from(
        datafusion::logical_expr::expr_fn::SimpleScalarUDF::new_with_signature(
            "pg_get_indexdef",
            Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Int64]),
                    TypeSignature::Exact(vec![DataType::Int64, DataType::Int64, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
            DataType::Utf8,
            Arc::new(udf),
        ),
    )
}

/// `pg_table_is_visible(oid)`: whether an unqualified name finds the relation, that is,
/// whether its schema is the session's current one (`SET search_path`) or `pg_catalog`.
/// SQLAlchemy's default-schema `get_table_names` and psql's `\dt` filter with it. NULL for an
/// OID that names no relation, as in PostgreSQL.
#[derive(Debug)]
struct TableIsVisible {
    relations: RelationOids,
    signature: datafusion::logical_expr::Signature,
}

impl PartialEq for TableIsVisible {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.relations, &other.relations)
    }
}

impl Eq for TableIsVisible {}

impl std::hash::Hash for TableIsVisible {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "pg_table_is_visible".hash(state);
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for TableIsVisible {
    fn name(&self) -> &str {
        "pg_table_is_visible"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(
        &self,
        _args: &[datafusion::arrow::datatypes::DataType],
    ) -> Result<datafusion::arrow::datatypes::DataType> {
        Ok(datafusion::arrow::datatypes::DataType::Boolean)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> Result<datafusion::logical_expr::ColumnarValue> {
        use datafusion::arrow::array::BooleanArray;
        use datafusion::arrow::datatypes::{DataType, Int64Type};
        use datafusion::logical_expr::ColumnarValue;

        let current = args.config_options.catalog.default_schema.as_str();
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let oids = datafusion::arrow::compute::cast(&arrays[0], &DataType::Int64)?;
        let oids = oids.as_primitive::<Int64Type>();
        let relations = self.relations.read().expect("relations lock");
        let visible: BooleanArray = (0..oids.len())
            .map(|i| {
                let oid = oids.is_valid(i).then(|| oids.value(i))?;
                // A key's index lives in its table's schema.
                let name = relations
                    .get(&oid)
                    .or_else(|| relations.get(&(oid - INDEX_OID_OFFSET)))?;
                Some(name.schema == current || name.schema == "pg_catalog")
            })
            .collect();
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&visible, 0)?)
        } else {
            ColumnarValue::Array(Arc::new(visible))
        })
    }
}

pub fn pg_table_is_visible(relations: RelationOids) -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{Signature, Volatility};

    datafusion::logical_expr::ScalarUDF::new_from_impl(TableIsVisible {
        relations,
        signature: Signature::uniform(
            1,
            vec![DataType::Int64, DataType::Int32, DataType::UInt32],
            Volatility::Stable,
        ),
    })
}
