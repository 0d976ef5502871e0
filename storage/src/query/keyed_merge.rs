//! `MERGE INTO` a keyed table, as PostgreSQL 15+ runs it. DataFusion plans the statement and
//! hands the provider the source plan, the `ON` condition and the `WHEN` clauses
//! ([`crate::query::OxbowTable`]'s `merge_into`); this module executes them.
//!
//! Under the table's key lock, the current rows (a fresh snapshot of both tiers) are joined
//! with the source rows on `ON` (an outer join that keeps what the clauses need). Each joined
//! row fires the first clause whose kind (matched, not matched, not matched by source) and
//! condition hold. Updates become upserts of the new row, deletes become deleted keys,
//! inserts go through the same conflict check as INSERT (23505 for a key that exists). All of
//! it is one WAL transaction, like UPDATE and DELETE: durable, visible at once, no flush.
//!
//! Not built: `UPDATE` of a key column (refused with 0A000), `DO NOTHING`, `RETURNING`.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int32Array, RecordBatch, new_null_array};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::MemTable;
use datafusion::common::{Column, DFSchema, JoinType, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::execution::config::SessionConfig;
use datafusion::logical_expr::dml::{MergeIntoAction, MergeIntoClause, MergeIntoClauseKind};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, lit, when};
use datafusion::prelude::SessionContext;

use super::OxbowTable;
use crate::keyed::{Key, OnConflict, change};
use crate::{Appender, Error, Result, Table};

/// Marks a joined row as having a target (current) row.
const TARGET_MARK: &str = "__oxbow_merge_target";
/// Marks a joined row as having a source row.
const SOURCE_MARK: &str = "__oxbow_merge_source";

/// What a MERGE is given by the planner.
#[derive(Debug, Clone)]
pub struct MergeSpec {
    /// The name the statement's expressions qualify target columns with.
    pub target: TableReference,
    /// The name they qualify source columns with.
    pub source: TableReference,
    pub on: Expr,
    pub clauses: Vec<MergeIntoClause>,
}

/// Runs `spec` with the `source` rows against `table`. Returns the number of rows inserted,
/// updated and deleted.
pub(super) async fn merge(
    table: &Arc<Table>,
    appender: &Arc<Appender>,
    config: &SessionConfig,
    spec: MergeSpec,
    source_schema: SchemaRef,
    source: Vec<RecordBatch>,
) -> Result<u64> {
    let schema = table.schema();
    let codec = table.key_codec().expect("MERGE runs on keyed tables only");
    for clause in &spec.clauses {
        if let MergeIntoAction::Update(assignments) = &clause.action
            && let Some((column, _)) = assignments.iter().find(|(c, _)| codec.names().contains(c))
        {
            return Err(Error::Unsupported(format!(
                "MERGE ... UPDATE SET of the key column \"{column}\""
            )));
        }
    }
    let guard = table.lock_keys().await;
    let ctx = SessionContext::new_with_config(config.clone());
    let current = Arc::new(OxbowTable::new(Arc::clone(table), Arc::clone(appender)));
    let target_plan =
        LogicalPlanBuilder::scan(spec.target.clone(), provider_as_source(current), None)?
            .project(marked(&schema, &spec.target, TARGET_MARK))?
            .build()?;
    let memory = Arc::new(MemTable::try_new(Arc::clone(&source_schema), vec![source])?);
    let source_plan =
        LogicalPlanBuilder::scan(spec.source.clone(), provider_as_source(memory), None)?
            .project(marked(&source_schema, &spec.source, SOURCE_MARK))?
            .build()?;
    let by_source = spec
        .clauses
        .iter()
        .any(|c| c.kind == MergeIntoClauseKind::NotMatchedBySource);
    let join = if by_source {
        JoinType::Full
    } else {
        JoinType::Right
    };
    let joined = LogicalPlanBuilder::from(target_plan)
        .join_on(source_plan, join, vec![spec.on.clone()])?
        .build()?;
    let joined_schema = Arc::clone(joined.schema());
    let batches = ctx.execute_logical_plan(joined).await?.collect().await?;

    let fired_expr = fired(&spec.clauses)?;
    let mut deletes = Vec::new();
    let mut updates = Vec::new();
    let mut inserts = Vec::new();
    // A target row may be updated or deleted once per statement (PostgreSQL's 21000).
    let mut touched: HashSet<Key> = HashSet::new();
    let mut rows = 0u64;
    for batch in batches.iter().filter(|b| b.num_rows() > 0) {
        let fired = evaluate(&ctx, &joined_schema, &fired_expr, batch)?;
        let fired = fired
            .as_any()
            .downcast_ref::<Int32Array>()
            .ok_or_else(|| Error::Unsupported("MERGE clause selection".into()))?;
        for (i, clause) in spec.clauses.iter().enumerate() {
            let mask: BooleanArray = fired.iter().map(|f| Some(f == Some(i as i32))).collect();
            if mask.true_count() == 0 {
                continue;
            }
            let chosen = filter_record_batch(batch, &mask).map_err(arrow_error)?;
            rows += chosen.num_rows() as u64;
            let target_columns = |values: &dyn Fn(&str) -> Expr| -> Result<RecordBatch> {
                let columns = schema
                    .fields()
                    .iter()
                    .map(|f| {
                        let value = evaluate(&ctx, &joined_schema, &values(f.name()), &chosen)?;
                        fitted(value, f.data_type())
                    })
                    .collect::<Result<Vec<_>>>()?;
                RecordBatch::try_new(Arc::clone(&schema), columns).map_err(arrow_error)
            };
            let target_column =
                |name: &str| Expr::Column(Column::new(Some(spec.target.clone()), name));
            if clause.kind == MergeIntoClauseKind::Matched
                || clause.kind == MergeIntoClauseKind::NotMatchedBySource
            {
                let keys = codec
                    .names()
                    .iter()
                    .map(|k| evaluate(&ctx, &joined_schema, &target_column(k), &chosen))
                    .collect::<Result<Vec<_>>>()?;
                for key in codec.encode_columns(&keys)? {
                    if !touched.insert(key) {
                        return Err(Error::MergeCardinalityViolation);
                    }
                }
            }
            match &clause.action {
                MergeIntoAction::Update(assignments) => {
                    updates.push(target_columns(&|name| match assignments
                        .iter()
                        .find(|(c, _)| c == name)
                    {
                        Some((_, value)) => value.clone(),
                        None => target_column(name),
                    })?);
                }
                MergeIntoAction::Delete => {
                    let keys = codec
                        .names()
                        .iter()
                        .map(|k| evaluate(&ctx, &joined_schema, &target_column(k), &chosen))
                        .collect::<Result<Vec<_>>>()?;
                    deletes.push(change::delete_batch(&codec, keys)?);
                }
                MergeIntoAction::Insert { columns, values } => {
                    let names: Vec<&str> = if columns.is_empty() {
                        schema.fields().iter().map(|f| f.name().as_str()).collect()
                    } else {
                        columns.iter().map(String::as_str).collect()
                    };
                    inserts.push(target_columns(
                        &|name| match names.iter().position(|c| *c == name) {
                            Some(at) => values
                                .get(at)
                                .cloned()
                                .unwrap_or(lit(datafusion::common::ScalarValue::Null)),
                            None => lit(datafusion::common::ScalarValue::Null),
                        },
                    )?);
                }
            }
        }
    }
    let updates = Appender::prepare(table, updates)?.unwrap_or_default();
    let inserts = match Appender::prepare(table, inserts)? {
        Some(inserts) => {
            let rule = crate::write::keyed::default_on_conflict(table);
            let rule = if rule == OnConflict::Replace {
                rule
            } else {
                OnConflict::Error
            };
            table.resolve(&guard, inserts, rule)?
        }
        None => Vec::new(),
    };
    let upserts: Vec<RecordBatch> = updates.into_iter().chain(inserts).collect();
    appender
        .write_changes(&guard, table, deletes, upserts)
        .await?;
    Ok(rows)
}

/// Every column of `schema` under `qualifier`, and a `true` column named `mark`.
fn marked(schema: &SchemaRef, qualifier: &TableReference, mark: &str) -> Vec<Expr> {
    schema
        .fields()
        .iter()
        .map(|f| Expr::Column(Column::new(Some(qualifier.clone()), f.name())))
        .chain(std::iter::once(lit(true).alias(mark)))
        .collect()
}

/// The index of the clause each joined row fires (NULL: none): the first whose kind and
/// condition hold, as PostgreSQL evaluates `WHEN` clauses in order.
fn fired(clauses: &[MergeIntoClause]) -> Result<Expr> {
    let mark = |name| Expr::Column(Column::from_name(name));
    let target = || mark(TARGET_MARK).is_not_null();
    let source = || mark(SOURCE_MARK).is_not_null();
    let no_target = || mark(TARGET_MARK).is_null();
    let no_source = || mark(SOURCE_MARK).is_null();
    let mut whens = Vec::with_capacity(clauses.len());
    for (i, clause) in clauses.iter().enumerate() {
        let kind = match clause.kind {
            MergeIntoClauseKind::Matched => target().and(source()),
            MergeIntoClauseKind::NotMatchedBySource => target().and(no_source()),
            // `NotMatched` and `NotMatchedByTarget` are the same clause.
            _ => source().and(no_target()),
        };
        let when = match &clause.predicate {
            Some(predicate) => kind.and(predicate.clone().is_true()),
            None => kind,
        };
        whens.push((when, lit(i as i32)));
    }
    let mut whens = whens.into_iter();
    let (first, then) = whens.next().expect("MERGE has a WHEN clause");
    let mut builder = when(first, then);
    for (when, then) in whens {
        builder = builder.when(when, then);
    }
    Ok(builder.otherwise(lit(datafusion::common::ScalarValue::Int32(None)))?)
}

fn evaluate(
    ctx: &SessionContext,
    schema: &DFSchema,
    expr: &Expr,
    batch: &RecordBatch,
) -> Result<ArrayRef> {
    let physical = ctx.create_physical_expr(expr.clone(), schema)?;
    Ok(physical.evaluate(batch)?.into_array(batch.num_rows())?)
}

/// `value` as the column's type (MERGE values are coerced by the planner, NULLs are not typed).
fn fitted(value: ArrayRef, data_type: &DataType) -> Result<ArrayRef> {
    if value.data_type() == data_type {
        return Ok(value);
    }
    if value.data_type() == &DataType::Null {
        return Ok(new_null_array(data_type, value.len()));
    }
    cast(&value, data_type).map_err(arrow_error)
}

fn arrow_error(e: arrow::error::ArrowError) -> Error {
    Error::DataFusion(e.into())
}
