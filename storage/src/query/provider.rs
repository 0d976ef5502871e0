//! [`OxbowTable`]: the DataFusion `TableProvider` of an Oxbow table, spanning both tiers.
//!
//! A scan reads its statement's [`TableSnapshot`](crate::table::TableSnapshot) of the table
//! (the Delta snapshot and the hot batches above its `txn` version, captured by the first scan
//! of the table in the statement: [`StatementSnapshots`]) and unions a Delta scan (deltalake's own
//! provider: file pruning by statistics, projection and filter pushdown into Parquet) with a
//! [`HotScanExec`] over the hot batches that the time filters do not rule out. Writes become
//! a [`DmlExec`] that runs when the plan is executed.

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::not_impl_err;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::union::UnionExec;

use super::{DmlExec, DmlOp, MergeSpec, StatementSnapshots};
use crate::hot::HotScanExec;
use crate::hot::prune::{overlaps, time_bounds, time_unit};
use crate::keyed::ShadowFilterExec;
use crate::write::transaction::{self, TransactionWrites};
use crate::{Appender, Table};
use datafusion::common::{DFSchemaRef, TableReference};
use datafusion::logical_expr::dml::MergeIntoClause;

#[derive(Debug)]
pub struct OxbowTable {
    table: Arc<Table>,
    appender: Arc<Appender>,
    /// The table's schema with each column's declared SQL type in its field metadata
    /// (`varchar(20)`, `jsonb`), which projections carry to the result columns.
    described: SchemaRef,
}

impl OxbowTable {
    pub fn new(table: Arc<Table>, appender: Arc<Appender>) -> Self {
        let described = describe(&table);
        Self {
            table,
            appender,
            described,
        }
    }

    pub fn table(&self) -> &Arc<Table> {
        &self.table
    }

    /// A materialized view only ever adds partial aggregates, so it cannot take a row back:
    /// `DELETE` and `UPDATE` of a table with views are refused (0A000), naming the views;
    /// `TRUNCATE` empties the views too.
    fn refuse_under_views(&self, statement: &str) -> Result<()> {
        self.refuse_state_table(statement)?;
        let views = self.appender.rollups().of_source(&self.table.def().id);
        if views.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = views.iter().map(|r| r.view.to_string()).collect();
        not_impl_err!(
            "{statement} on table {}, which materialized view {} aggregates (views only add rows; drop the view or TRUNCATE both)",
            self.table.def().name,
            names.join(", ")
        )
    }

    /// The partial aggregates of a materialized view are written by Oxbow alone: a row added
    /// or removed by hand would make the view wrong for good.
    fn refuse_state_table(&self, statement: &str) -> Result<()> {
        if self.table.def().name.schema == oxbow_catalog::ROLLUP_SCHEMA {
            return not_impl_err!(
                "{statement} on {}, which holds the partial aggregates of a materialized view (REFRESH MATERIALIZED VIEW rebuilds them)",
                self.table.def().name
            );
        }
        Ok(())
    }

    /// The write path of this table (keyed writes: `ON CONFLICT`, sources).
    pub fn appender(&self) -> &Arc<Appender> {
        &self.appender
    }

    /// The hot tier's memory budget in bytes (the cap of a COPY's buffered input).
    pub fn hot_memory_limit(&self) -> usize {
        self.appender.hot_memory_limit()
    }

    /// Appends the rows of one statement through the WAL, whatever the session's
    /// transaction block (`CREATE TABLE ... AS`, which commits on its own).
    pub async fn append(&self, batches: Vec<arrow::array::RecordBatch>) -> crate::Result<u64> {
        self.appender.append(&self.table, batches).await
    }

    /// Appends the rows of one statement (INSERT and COPY) of the session with `config`:
    /// through the WAL, or held by its open transaction block ([`transaction`]).
    pub async fn append_in(
        &self,
        config: &datafusion::execution::config::SessionConfig,
        batches: Vec<arrow::array::RecordBatch>,
    ) -> crate::Result<u64> {
        transaction::append(config, &self.table, &self.appender, batches).await
    }
}

/// The physical schema of `table` with the declared types of its columns as field metadata.
fn describe(table: &Table) -> SchemaRef {
    let schema = table.schema();
    let fields = schema
        .fields()
        .iter()
        .map(|field| {
            let declared = table
                .def()
                .columns
                .iter()
                .find(|c| &c.name == field.name())
                .and_then(|c| c.sql_type.field_metadata());
            match declared {
                Some(metadata) => Arc::new(field.as_ref().clone().with_metadata(metadata)),
                None => Arc::clone(field),
            }
        })
        .collect::<Vec<_>>();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The projection into `actual` (the Delta snapshot's schema) that reads the columns of
/// `planned` that `projection` names, if the two schemas differ; `None` when they agree and
/// `projection` applies as it is.
fn by_name(
    planned: &SchemaRef,
    actual: &SchemaRef,
    projection: Option<&Vec<usize>>,
) -> Result<Option<Vec<usize>>> {
    let agree = planned.fields().len() == actual.fields().len()
        && planned
            .fields()
            .iter()
            .zip(actual.fields())
            .all(|(a, b)| a.name() == b.name());
    if agree {
        return Ok(None);
    }
    let wanted: Vec<usize> = match projection {
        Some(p) => p.clone(),
        None => (0..planned.fields().len()).collect(),
    };
    wanted
        .into_iter()
        .map(|i| Ok(actual.index_of(planned.field(i).name())?))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// DML predicates arrive qualified with the table name; deltalake resolves columns against the
/// bare table schema.
fn bare_predicate(filters: Vec<Expr>) -> Option<Expr> {
    conjunction(filters.into_iter().map(unnormalize_col))
}

#[async_trait]
impl TableProvider for OxbowTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.described)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Both tiers prune with filters but neither guarantees them: DataFusion re-applies.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let snapshot = StatementSnapshots::of(&self.table);
        snapshot
            .delta
            .update_datafusion_session(state)
            .map_err(|e| crate::Error::delta(&self.table.def().name, e))?;
        // The scan takes its Parquet settings from the session. Without one deltalake pushes
        // every filter into the Parquet decoder as a row filter, which DataFusion leaves off
        // by default because it is slower for all but very selective filters (TPC-H Q6 took
        // 1.8x plain DataFusion on the same files); `SET
        // datafusion.execution.parquet.pushdown_filters = true` still turns it on.
        let mut provider = snapshot.delta.table_provider();
        if let Some(session) = state.as_any().downcast_ref::<SessionState>() {
            provider = provider.with_session(Arc::new(session.clone()));
        }
        let tiers = super::TierScan::of(state.config());
        let delta_provider = provider.await?;
        let schema = Arc::clone(&self.described);
        // A keyed table's Delta rows whose key a hot change shadows are filtered out, which
        // needs the key columns (added to the projection, dropped again by the filter) and no
        // limit below the filter.
        let shadow = snapshot
            .keyed
            .as_ref()
            .filter(|view| !view.shadow.is_empty() && tiers.reads_lake());
        let (scanned, shadow_columns) = match shadow {
            Some(view) => {
                let all: Vec<usize> = (0..schema.fields().len()).collect();
                let wanted = projection.cloned().unwrap_or(all);
                let mut scanned = wanted.clone();
                for key in view.codec.indices() {
                    if !scanned.contains(key) {
                        scanned.push(*key);
                    }
                }
                let keys: Vec<usize> = view
                    .codec
                    .indices()
                    .iter()
                    .map(|k| scanned.iter().position(|c| c == k).expect("added above"))
                    .collect();
                let output: Vec<usize> = (0..wanted.len()).collect();
                (Some(scanned), Some((keys, output)))
            }
            None => (projection.cloned(), None),
        };
        // After `ADD COLUMN` a plan made against the old provider may meet the new snapshot
        // (or the reverse): columns are then matched by name, never by position.
        let delta_projection = by_name(&schema, &delta_provider.schema(), scanned.as_ref())?;
        // A filter on a time-partitioned column also names its bucket column (`ts_day`), which
        // delta-rs prunes partitions by (`crate::lake::partition_pruning`).
        let def = self.table.def();
        let mut lake_filters = filters.to_vec();
        lake_filters.extend(crate::lake::partition_pruning::derived_filters(
            &def,
            &self.table.schema(),
            filters,
        ));
        let delta_limit = if shadow.is_some() { None } else { limit };
        let delta_plan = delta_provider
            .scan(
                state,
                delta_projection.as_ref().or(scanned.as_ref()),
                &lake_filters,
                delta_limit,
            )
            .await?;
        let delta_plan: Arc<dyn ExecutionPlan> = match (shadow, shadow_columns) {
            (Some(view), Some((keys, output))) => Arc::new(ShadowFilterExec::try_new(
                delta_plan,
                view.codec.clone(),
                Arc::clone(&view.shadow),
                view.high,
                keys,
                output,
            )?),
            _ => delta_plan,
        };
        // One tier only (`TierScan`): the other side reads no rows, at the same snapshot.
        let delta_plan: Arc<dyn ExecutionPlan> = if tiers.reads_lake() {
            delta_plan
        } else {
            Arc::new(datafusion::physical_plan::empty::EmptyExec::new(
                delta_plan.schema(),
            ))
        };

        let (low, high) = match self.table.time_index() {
            Some(i) => {
                let field = schema.field(i);
                match time_unit(field.data_type()) {
                    Some(unit) => time_bounds(filters, field.name(), unit),
                    None => (None, None),
                }
            }
            None => (None, None),
        };
        // Rows this session's open transaction block wrote are its hot rows too.
        let held = TransactionWrites::of(state.config())
            .map(|block| block.held(&self.table.def().id))
            .unwrap_or_default();
        let total = snapshot.hot.len() + held.len();
        let keyed_high = snapshot.keyed.as_ref().map(|view| view.high);
        // A keyed table's point lookup takes its hot rows from the key index.
        let looked_up = match tiers.reads_hot() {
            true => super::key_lookup::hot_rows(&self.table, &snapshot, filters),
            false => None,
        };
        let key_lookup = looked_up.is_some();
        let from_tier: Vec<Result<arrow::array::RecordBatch>> = match looked_up {
            Some(rows) => rows.into_iter().map(Ok).collect(),
            None => snapshot
                .hot
                .iter()
                .filter(|_| tiers.reads_hot())
                .filter(|b| overlaps(b, low, high))
                .map(|b| match keyed_high {
                    // A keyed table's older versions are left out (see `crate::keyed`).
                    Some(keyed_high) => Ok(b.visible(keyed_high)?),
                    None => Ok(b.batch.clone()),
                })
                .collect(),
        };
        let hot = from_tier
            .into_iter()
            .chain(held.into_iter().filter(|_| tiers.reads_hot()).map(Ok))
            .map(|batch: Result<arrow::array::RecordBatch>| {
                let batch = crate::hot::reshape::fit(&batch?, &schema)?;
                match projection {
                    Some(p) => Ok(batch.project(p)?),
                    None => Ok(batch),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let hot_schema = match projection {
            Some(p) => Arc::new(schema.project(p)?),
            None => schema,
        };
        let hot_plan = Arc::new(
            HotScanExec::new(self.table.def().name.to_string(), hot_schema, hot, total)
                .with_key_lookup(key_lookup),
        );
        UnionExec::try_new(vec![delta_plan, hot_plan])
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if insert_op != InsertOp::Append {
            return not_impl_err!("{insert_op} is not supported on Oxbow tables");
        }
        self.refuse_state_table("INSERT")?;
        Ok(Arc::new(DmlExec::new(
            Arc::clone(&self.table),
            Arc::clone(&self.appender),
            DmlOp::Append { input },
        )))
    }

    async fn delete_from(
        &self,
        _state: &dyn Session,
        filters: Vec<Expr>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.refuse_under_views("DELETE")?;
        Ok(Arc::new(DmlExec::new(
            Arc::clone(&self.table),
            Arc::clone(&self.appender),
            DmlOp::Delete {
                predicate: bare_predicate(filters),
            },
        )))
    }

    async fn update(
        &self,
        _state: &dyn Session,
        assignments: Vec<(String, Expr)>,
        filters: Vec<Expr>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.refuse_under_views("UPDATE")?;
        let assignments = assignments
            .into_iter()
            .map(|(column, value)| (column, unnormalize_col(value)))
            .collect();
        Ok(Arc::new(DmlExec::new(
            Arc::clone(&self.table),
            Arc::clone(&self.appender),
            DmlOp::Update {
                assignments,
                predicate: bare_predicate(filters),
            },
        )))
    }

    /// `MERGE INTO` a keyed table ([`super::keyed_merge`]). A table without an enforced key
    /// has nothing to match rows by: refused (0A000).
    async fn merge_into(
        &self,
        _state: &dyn Session,
        source: Arc<dyn ExecutionPlan>,
        merge_schema: DFSchemaRef,
        on: Expr,
        clauses: Vec<MergeIntoClause>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !self.table.is_keyed() {
            return not_impl_err!(
                "MERGE INTO a table without a PRIMARY KEY (table {})",
                self.table.def().name
            );
        }
        let width = self.described.fields().len();
        let qualifier = |i: usize| merge_schema.qualified_field(i).0.cloned();
        let Some(target) = qualifier(0) else {
            return not_impl_err!("MERGE INTO with an unqualified target");
        };
        let sources: Vec<Option<TableReference>> = (width..merge_schema.fields().len())
            .map(qualifier)
            .collect();
        let source_name = match sources.first() {
            Some(Some(first)) if sources.iter().all(|q| q.as_ref() == Some(first)) => first.clone(),
            _ => {
                return not_impl_err!(
                    "MERGE INTO ... USING a source without one name (give it an alias)"
                );
            }
        };
        let spec = MergeSpec {
            target,
            source: source_name,
            on,
            clauses,
        };
        Ok(Arc::new(DmlExec::new(
            Arc::clone(&self.table),
            Arc::clone(&self.appender),
            DmlOp::Merge { source, spec },
        )))
    }
}
