//! `INSERT ... ON CONFLICT (key) DO NOTHING | DO UPDATE SET ... [WHERE ...]` on keyed tables,
//! as PostgreSQL runs it.
//!
//! DataFusion does not plan `ON CONFLICT`, so the statement is planned without it (which gives
//! the rows to insert, in the table's columns) and the conflict is decided here under the
//! table's key lock: rows whose key is free are inserted; for `DO UPDATE`, each conflicting
//! row's `SET` expressions are evaluated over the existing row (named by the table or its
//! alias) and the proposed one (`EXCLUDED`), and the result replaces the existing row. All of
//! it is one WAL transaction. Unqualified columns in `SET` and `WHERE` are the existing row's,
//! as in PostgreSQL.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, filter_record_batch, take_record_batch};
use datafusion::arrow::datatypes::Schema;
use datafusion::common::DFSchema;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, ConflictTarget, DoUpdate, Expr as SqlExpr, Ident, Insert, OnConflict,
    OnConflictAction, OnInsert, Statement, TableObject, Value, visit_expressions,
    visit_expressions_mut,
};
use oxbow_storage::keyed::OnConflict as KeyedConflict;
use oxbow_storage::{Appender, Database, OxbowTable};
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;
use crate::sql::names::{ident, object_name};

/// Runs `statement` if it is an `INSERT ... ON CONFLICT` (or refuses MySQL's `ON DUPLICATE
/// KEY UPDATE`); `None` for any other statement.
/// `params` are the bound values of the extended protocol (`None` in a simple query): they
/// may stand for the inserted values, not in `SET` or `WHERE`.
pub async fn try_execute(
    statement: &Statement,
    params: Option<&ParamValues>,
    ctx: &SessionContext,
    db: &Database,
) -> Option<Result<Response, ServerError>> {
    let Statement::Insert(insert) = statement else {
        return None;
    };
    match &insert.on {
        Some(OnInsert::OnConflict(on)) => Some(execute(insert, on, params, ctx, db).await),
        Some(OnInsert::DuplicateKeyUpdate(_)) => Some(Err(ServerError::Unsupported(
            "ON DUPLICATE KEY UPDATE (use ON CONFLICT ... DO UPDATE)".into(),
        ))),
        Some(_) => Some(Err(ServerError::Unsupported(format!(
            "INSERT clause {insert}"
        )))),
        None => None,
    }
}

/// Whether `statement` is one [`try_execute`] answers.
pub fn is_own(statement: &Statement) -> bool {
    matches!(statement, Statement::Insert(insert) if insert.on.is_some())
}

/// The plan of the statement without its `ON CONFLICT` clause, which is what the extended
/// protocol describes (the types of its parameters come from the table's columns).
pub async fn plan_for_parse(
    statement: &Statement,
    ctx: &SessionContext,
) -> Result<LogicalPlan, ServerError> {
    let Statement::Insert(insert) = statement else {
        return Err(ServerError::Unsupported(format!("{statement}")));
    };
    let mut plain = insert.clone();
    plain.on = None;
    // The alias names the existing row in `DO UPDATE`; DataFusion plans no INSERT alias.
    plain.table_alias = None;
    Ok(ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(Statement::Insert(plain))))
        .await?)
}

/// Whether `expr` holds a `$n` parameter.
fn has_placeholder(expr: &SqlExpr) -> bool {
    visit_expressions(expr, |e| match e {
        SqlExpr::Value(v) if matches!(v.value, Value::Placeholder(_)) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

async fn execute(
    insert: &Insert,
    on: &OnConflict,
    params: Option<&ParamValues>,
    ctx: &SessionContext,
    db: &Database,
) -> Result<Response, ServerError> {
    if insert.returning.is_some() {
        return Err(ServerError::Unsupported(
            "RETURNING with ON CONFLICT".into(),
        ));
    }
    let TableObject::TableName(table_name) = &insert.table else {
        return Err(ServerError::Unsupported(format!(
            "INSERT INTO {}",
            insert.table
        )));
    };
    let name = object_name(table_name, ctx)?;
    let table = db
        .table(&name)
        .ok_or_else(|| oxbow_catalog::Error::RelationNotFound(name.to_string()))?;
    check_target(&table, on)?;
    if let OnConflictAction::DoUpdate(update) = &on.action
        && (update.assignments.iter().any(|a| has_placeholder(&a.value))
            || update.selection.as_ref().is_some_and(has_placeholder))
    {
        return Err(ServerError::Unsupported(
            "parameters in ON CONFLICT DO UPDATE SET or WHERE (use EXCLUDED.column)".into(),
        ));
    }
    let mut plain = insert.clone();
    plain.on = None;
    // The alias names the existing row in `DO UPDATE`; DataFusion plans no INSERT alias.
    plain.table_alias = None;
    let mut plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(Statement::Insert(plain))))
        .await?;
    if let Some(params) = params {
        plan = plan.replace_params_with_values(params)?;
    }
    let LogicalPlan::Dml(dml) = plan else {
        return Err(ServerError::Unsupported(
            "this form of INSERT with ON CONFLICT".into(),
        ));
    };
    let batches = ctx
        .execute_logical_plan(dml.input.as_ref().clone())
        .await?
        .collect()
        .await?;
    let rows = match &on.action {
        OnConflictAction::DoNothing => {
            oxbow_storage::write_held(&ctx.copied_config()).await?;
            table
                .appender()
                .write_keyed(table.table(), batches, KeyedConflict::Nothing)
                .await?
        }
        OnConflictAction::DoUpdate(update) => {
            oxbow_storage::write_held(&ctx.copied_config()).await?;
            let alias = insert
                .table_alias
                .as_ref()
                .map(|a| ident(&a.alias))
                .unwrap_or_else(|| name.name.clone());
            do_update(&table, batches, update, &alias, ctx).await?
        }
    };
    Ok(Response::Execution(
        Tag::new("INSERT").with_oid(0).with_rows(rows as usize),
    ))
}

/// The conflict target must be the table's key (by its columns in any order, or by its
/// constraint name `<table>_pkey`); `DO NOTHING` may omit it.
fn check_target(table: &OxbowTable, on: &OnConflict) -> Result<(), ServerError> {
    let def = table.table().def();
    if !def.is_keyed() {
        return Err(ServerError::NoConflictTarget(
            if def.primary_key.is_empty() {
                String::new()
            } else {
                " (the table was created before primary keys were enforced)".into()
            },
        ));
    }
    match &on.conflict_target {
        None if matches!(on.action, OnConflictAction::DoNothing) => Ok(()),
        None => Err(ServerError::InvalidInsert(
            "ON CONFLICT DO UPDATE requires inference specification or constraint name".into(),
        )),
        Some(ConflictTarget::Columns(columns)) => {
            let mut named: Vec<String> = columns.iter().map(ident).collect();
            let mut key = def.primary_key.clone();
            named.sort();
            named.dedup();
            key.sort();
            if named == key {
                Ok(())
            } else {
                Err(ServerError::NoConflictTarget(String::new()))
            }
        }
        Some(ConflictTarget::OnConstraint(constraint)) => {
            let given = constraint
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(ident)
                .unwrap_or_default();
            if given == format!("{}_pkey", def.name.name) {
                Ok(())
            } else {
                Err(ServerError::InvalidInsert(format!(
                    "constraint \"{given}\" for table \"{}\" does not exist",
                    def.name.name
                )))
            }
        }
    }
}

async fn do_update(
    table: &Arc<OxbowTable>,
    batches: Vec<RecordBatch>,
    update: &DoUpdate,
    alias: &str,
    ctx: &SessionContext,
) -> Result<u64, ServerError> {
    let storage = table.table();
    let schema = storage.schema();
    let key = &storage.def().primary_key;
    let mut assignments: Vec<(usize, SqlExpr)> = Vec::new();
    for assignment in &update.assignments {
        let AssignmentTarget::ColumnName(target) = &assignment.target else {
            return Err(ServerError::Unsupported(
                "SET (a, b) = ... in ON CONFLICT".into(),
            ));
        };
        let column = target
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(ident)
            .unwrap_or_default();
        let index = schema
            .index_of(&column)
            .map_err(|_| ServerError::UndefinedColumn {
                table: storage.def().name.name.clone(),
                column: column.clone(),
            })?;
        if key.contains(&column) {
            return Err(ServerError::Unsupported(
                "changing a key column in ON CONFLICT DO UPDATE".into(),
            ));
        }
        assignments.push((index, qualify(&assignment.value, alias)));
    }
    let Some(batches) = Appender::prepare(storage, batches)? else {
        return Ok(0);
    };
    let proposed =
        concat_batches(&schema, &batches).map_err(datafusion::error::DataFusionError::from)?;
    let guard = storage.lock_keys().await;
    let keys = storage.keys_of(&proposed)?;
    let mut seen = std::collections::HashSet::new();
    if !keys.iter().all(|k| seen.insert(k)) {
        return Err(oxbow_storage::Error::CardinalityViolation.into());
    }
    let (current, at) = storage.current_rows(&guard, &proposed).await?;
    let free = BooleanArray::from(at.iter().map(|a| a.is_none()).collect::<Vec<_>>());
    let inserts =
        filter_record_batch(&proposed, &free).map_err(datafusion::error::DataFusionError::from)?;
    let conflicting: Vec<u32> = (0..proposed.num_rows() as u32)
        .filter(|i| at[*i as usize].is_some())
        .collect();
    let existing: Vec<u32> = conflicting
        .iter()
        .map(|i| at[*i as usize].expect("conflicting") as u32)
        .collect();
    let excluded = take_record_batch(&proposed, &UInt32Array::from(conflicting))
        .map_err(datafusion::error::DataFusionError::from)?;
    let existing = take_record_batch(&current, &UInt32Array::from(existing))
        .map_err(datafusion::error::DataFusionError::from)?;
    let updated = if existing.num_rows() == 0 {
        None
    } else {
        Some(evaluate(
            &schema,
            existing,
            excluded,
            &assignments,
            update.selection.as_ref(),
            alias,
            ctx,
        )?)
    };
    let mut upserts = vec![inserts];
    let mut rows = upserts[0].num_rows() as u64;
    if let Some(updated) = updated
        && let Some(mut prepared) = Appender::prepare(storage, vec![updated])?
    {
        rows += prepared.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        upserts.append(&mut prepared);
    }
    table
        .appender()
        .write_changes(&guard, storage, Vec::new(), upserts)
        .await?;
    Ok(rows)
}

/// The updated rows: each column its `SET` expression or the existing value, for the rows
/// whose `WHERE` (if any) holds.
fn evaluate(
    schema: &Arc<Schema>,
    existing: RecordBatch,
    excluded: RecordBatch,
    assignments: &[(usize, SqlExpr)],
    selection: Option<&SqlExpr>,
    alias: &str,
    ctx: &SessionContext,
) -> Result<RecordBatch, ServerError> {
    let target = DFSchema::try_from_qualified_schema(alias, schema)?;
    let proposed = DFSchema::try_from_qualified_schema("excluded", schema)?;
    let mut both = target.clone();
    both.merge(&proposed);
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .chain(schema.fields().iter())
        .cloned()
        .collect();
    let columns: Vec<_> = existing
        .columns()
        .iter()
        .chain(excluded.columns())
        .cloned()
        .collect();
    let input = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(datafusion::error::DataFusionError::from)?;
    let mut out = existing.columns().to_vec();
    for (index, value) in assignments {
        let expr = ctx.parse_sql_expr(&value.to_string(), &both)?;
        let physical = ctx.create_physical_expr(expr, &both)?;
        let value = physical.evaluate(&input)?.into_array(input.num_rows())?;
        let field = schema.field(*index);
        out[*index] = if value.data_type() == field.data_type() {
            value
        } else {
            datafusion::arrow::compute::cast(&value, field.data_type())
                .map_err(datafusion::error::DataFusionError::from)?
        };
    }
    let updated = RecordBatch::try_new(Arc::clone(schema), out)
        .map_err(datafusion::error::DataFusionError::from)?;
    let Some(selection) = selection else {
        return Ok(updated);
    };
    let expr = ctx.parse_sql_expr(&qualify(selection, alias).to_string(), &both)?;
    let physical = ctx.create_physical_expr(expr, &both)?;
    let keep = physical.evaluate(&input)?.into_array(input.num_rows())?;
    let keep = keep
        .as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| {
            ServerError::InvalidInsert("the WHERE of ON CONFLICT DO UPDATE must be boolean".into())
        })?;
    // NULL counts as false, as in a WHERE.
    let keep = match keep.null_count() {
        0 => keep.clone(),
        _ => datafusion::arrow::compute::prep_null_mask_filter(keep),
    };
    Ok(filter_record_batch(&updated, &keep).map_err(datafusion::error::DataFusionError::from)?)
}

/// `expr` with every unqualified column qualified by `alias` (the existing row's name), which
/// is how PostgreSQL resolves them in `ON CONFLICT DO UPDATE`.
fn qualify(expr: &SqlExpr, alias: &str) -> SqlExpr {
    let mut expr = expr.clone();
    let _ = visit_expressions_mut(&mut expr, |e| {
        if let SqlExpr::Identifier(column) = e {
            *e = SqlExpr::CompoundIdentifier(vec![Ident::with_quote('"', alias), column.clone()]);
        }
        ControlFlow::<()>::Continue(())
    });
    expr
}
