//! The DataFusion session every connection starts from: Oxbow's catalog as the only database,
//! `pg_catalog` and `information_schema` beside it, and PostgreSQL-flavoured functions.
//!
//! Each connection gets its own copy of this session (`SET` changes only that connection);
//! the catalog inside is shared, so DDL on one connection is seen by all.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use oxbow_catalog::ObjectName;
use oxbow_storage::{Database, OxbowCatalogProvider, SnapshotPerStatement};
use tracing::{error, warn};

use crate::error::ServerError;
use crate::pg_compat::pg_catalog::{
    LoginUsers, PgCatalogOverlay, RelationOids, pg_get_indexdef, pg_get_viewdef,
    pg_table_is_visible, privilege_functions,
};
use crate::pg_compat::{DATABASE_NAME, version_banner};
use crate::statements::plan_view;

/// Builds the template session and registers the stored views in it.
pub async fn base_context(
    db: Arc<Database>,
    users: LoginUsers,
) -> Result<SessionContext, ServerError> {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(DATABASE_NAME, oxbow_catalog::DEFAULT_SCHEMA)
        .with_create_default_catalog_and_schema(false)
        // Oxbow's own, PostgreSQL-shaped information_schema is registered below.
        .with_information_schema(false);
    // With no session time zone DataFusion types `now()` and `'...'::timestamptz` as timestamps
    // without time zone, so drivers got naive datetimes (psycopg2) or refused aware ones
    // (asyncpg parameters). Oxbow stores timestamptz in UTC, and so is the session's zone.
    config.options_mut().execution.time_zone = Some(oxbow_catalog::types::UTC.to_string());
    let mut ctx = with_snapshot_per_statement(with_first_analyzer_rule(
        SessionContext::new_with_config(config),
        Arc::new(crate::sql::analyzer::boolean_literals::BooleanLiterals),
    ));
    // Interval `*`, `/` and comparisons, planned as each operator is built.
    datafusion::execution::FunctionRegistry::register_expr_planner(
        &mut ctx,
        Arc::new(crate::sql::interval_operators::IntervalOperators::default()),
    )?;
    ctx.register_catalog(
        DATABASE_NAME,
        Arc::new(OxbowCatalogProvider::new(Arc::clone(&db))),
    );
    datafusion_pg_catalog::pg_catalog::setup_pg_catalog(&ctx, DATABASE_NAME, EmptyContextProvider)
        .map_err(|e| ServerError::DataFusion(*e))?;
    let catalog = ctx
        .catalog(DATABASE_NAME)
        .expect("the catalog registered above");
    let relations = RelationOids::default();
    let users_for_functions = Arc::clone(&users);
    if let Some(pg_catalog) = catalog.schema("pg_catalog") {
        catalog.register_schema(
            "pg_catalog",
            Arc::new(PgCatalogOverlay::new(
                pg_catalog,
                Arc::clone(&db),
                Arc::clone(&relations),
                users,
            )),
        )?;
    }
    ctx.register_udf(pg_get_viewdef(Arc::clone(&db), Arc::clone(&relations)));
    ctx.register_udf(pg_get_indexdef(Arc::clone(&db), Arc::clone(&relations)));
    ctx.register_udf(pg_table_is_visible(Arc::clone(&relations)));
    for function in
        crate::pg_compat::pg_catalog::size_functions(Arc::clone(&db), Arc::clone(&relations))
    {
        ctx.register_udf(function);
    }
    for function in privilege_functions(Arc::clone(&db), relations, users_for_functions) {
        ctx.register_udf(function);
    }
    ctx.register_udf(crate::pg_compat::functions::json_build_object(
        "json_build_object",
    ));
    ctx.register_udf(crate::pg_compat::functions::json_build_object(
        "jsonb_build_object",
    ));
    oxbow_ingest::functions::register(&ctx);
    ctx.register_udf(crate::pg_compat::functions::pg_typeof());
    ctx.register_udf(crate::pg_compat::functions::pg_get_expr());
    ctx.register_udf(crate::pg_compat::functions::expandarray());
    ctx.register_udf(crate::pg_compat::functions::concat_elements::concat_elements());
    ctx.register_udf(crate::pg_compat::functions::set_config());
    // Oxbow keeps no comments (psql's \dt+, \dn+ and \l+ show a Description column).
    for no_comment in ["col_description", "obj_description", "shobj_description"] {
        ctx.register_udf(crate::pg_compat::functions::constant(
            no_comment,
            ScalarValue::Utf8(None),
        ));
    }
    // Oxbow has no SQL-standard function bodies (psql's `\\df+` reads them).
    ctx.register_udf(crate::pg_compat::functions::constant(
        "pg_get_function_sqlbody",
        ScalarValue::Utf8(None),
    ));
    ctx.register_udf(crate::pg_compat::functions::constant(
        "pg_collation_is_visible",
        ScalarValue::Boolean(Some(true)),
    ));
    // Every type is in pg_catalog, which is always on the search path (SQLAlchemy's domain and
    // enum reflection, which Superset runs, filters with it).
    ctx.register_udf(crate::pg_compat::functions::constant(
        "pg_type_is_visible",
        ScalarValue::Boolean(Some(true)),
    ));
    // A connection's temporary tables are not in pg_namespace, so no schema listed there is
    // another session's temporary schema (dbt's catalog query asks), and the session's own
    // has no OID: 0, which PostgreSQL answers for a session without one.
    ctx.register_udf(crate::pg_compat::functions::constant(
        "pg_is_other_temp_schema",
        ScalarValue::Boolean(Some(false)),
    ));
    ctx.register_udf(create_udf(
        "pg_my_temp_schema",
        vec![],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(|_| Ok(ColumnarValue::Scalar(ScalarValue::Int32(Some(0))))),
    ));
    datafusion_pg_functions::register_all(&mut ctx);
    for function in crate::pg_compat::functions::intervals::functions()
        .into_iter()
        .chain(crate::pg_compat::functions::make_timestamp::functions())
        .chain([crate::pg_compat::functions::at_time_zone::at_time_zone()])
    {
        ctx.register_udf(function);
    }
    // PostgreSQL's pattern forms of to_char/to_date/to_timestamp and EXTRACT's extra fields,
    // each wrapping DataFusion's function of the same name for the forms it keeps.
    let existing = |name: &str| {
        datafusion::execution::FunctionRegistry::udf(&ctx, name)
            .ok()
            .map(|f| f.as_ref().clone())
    };
    let mut replacements = crate::pg_compat::functions::to_char::pattern_functions(existing);
    if let Some(date_part) = existing("date_part") {
        replacements.push(crate::pg_compat::functions::date_part::date_part(date_part));
    }
    for function in replacements {
        ctx.register_udf(function);
    }
    if let Ok(date_part) = datafusion::execution::FunctionRegistry::udf(&ctx, "date_part") {
        ctx.add_analyzer_rule(Arc::new(
            crate::sql::analyzer::date_part_fields::DatePartFields::new(date_part),
        ));
    }
    crate::pg_compat::functions::aliases::register(&ctx);
    crate::sql::sketches::register(&ctx);
    if let Ok(format) = datafusion::execution::FunctionRegistry::udf(&ctx, "format") {
        ctx.register_udf(crate::pg_compat::functions::row_wise(
            format.as_ref().clone(),
        ));
    }
    catalog.register_schema(
        crate::pg_compat::information_schema::SCHEMA,
        crate::pg_compat::information_schema::schema(&ctx, Arc::clone(&db)).await?,
    )?;
    let banner = version_banner();
    ctx.register_udf(create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                banner.clone(),
            ))))
        }),
    ));
    // psql's \df filters functions with it; every function is visible (no per-schema functions).
    // (pg_proc's OIDs are int4 here, those of some clients' literals int8.)
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::from(
        datafusion::logical_expr::expr_fn::SimpleScalarUDF::new_with_signature(
            "pg_function_is_visible",
            datafusion::logical_expr::Signature::uniform(
                1,
                vec![DataType::Int32, DataType::Int64, DataType::UInt32],
                Volatility::Immutable,
            ),
            DataType::Boolean,
            Arc::new(|_: &[ColumnarValue]| {
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))
            }),
        ),
    ));
    ctx.add_analyzer_rule(Arc::new(
        crate::sql::analyzer::timestamp_text::TimestampText::default(),
    ));
    ctx.add_analyzer_rule(Arc::new(
        crate::sql::analyzer::bytea_literals::ByteaLiterals,
    ));
    ctx.register_udf(crate::pg_compat::functions::current_schema());
    ctx.register_udf(crate::pg_compat::functions::to_regtype());
    ctx.register_udf(crate::pg_compat::functions::pg_get_serial_sequence());
    ctx.register_udf(crate::pg_compat::functions::current_setting());
    for function in crate::pg_compat::functions::signatures::functions(
        crate::pg_compat::functions::signatures::read(&ctx).await?,
    ) {
        ctx.register_udf(function);
    }
    register_views(&db, &ctx).await?;
    Ok(ctx)
}

/// Adds `oxbow.sources` and `oxbow.source_partitions` (which the source runtime computes) to
/// the `oxbow` schema.
pub fn register_sources_table(
    ctx: &SessionContext,
    sources: &Arc<oxbow_ingest::SourceManager>,
) -> Result<(), ServerError> {
    let schema = ctx
        .catalog(DATABASE_NAME)
        .and_then(|c| c.schema(oxbow_storage::database::system_tables::SYSTEM_SCHEMA))
        .ok_or_else(|| ServerError::Unsupported("a database without the oxbow schema".into()))?;
    schema.register_table(
        "sources".into(),
        Arc::new(oxbow_ingest::runtime::status_table::SourcesTable::new(
            sources,
        )),
    )?;
    schema.register_table(
        "source_partitions".into(),
        Arc::new(oxbow_ingest::runtime::partitions_table::SourcePartitionsTable::new(sources)),
    )?;
    schema.register_table(
        "sinks".into(),
        Arc::new(oxbow_ingest::sinks::status_table::SinksTable::new(
            sources.sinks(),
        )),
    )?;
    Ok(())
}

/// `ctx` with `rule` run before DataFusion's own analyzer rules (`add_analyzer_rule` appends,
/// after type coercion, too late for a rule that must settle types before it).
fn with_first_analyzer_rule(
    ctx: SessionContext,
    rule: Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync>,
) -> SessionContext {
    let mut state = SessionStateBuilder::new_from_existing(ctx.state());
    if let Some(analyzer) = state.analyzer() {
        analyzer.rules.insert(0, rule);
    }
    SessionContext::new_with_state(state.build())
}

/// `ctx` planning each statement with one snapshot per table for all its scans (DESIGN rule
/// 3): the planner it had, wrapped in [`SnapshotPerStatement`]. Every connection's session is
/// a copy of this one, so it keeps the planner.
fn with_snapshot_per_statement(ctx: SessionContext) -> SessionContext {
    let state = ctx.state();
    let planner = Arc::new(SnapshotPerStatement::new(Arc::clone(state.query_planner())));
    SessionContext::new_with_state(
        SessionStateBuilder::new_from_existing(state)
            .with_query_planner(planner)
            .build(),
    )
}

/// Plans every stored view. A view may read another view, so views are planned in rounds
/// until no more succeed; one that still fails is logged and left out, not fatal, so that a
/// broken view cannot keep the server from starting.
async fn register_views(db: &Database, ctx: &SessionContext) -> Result<(), ServerError> {
    let mut pending = Vec::new();
    for schema in db.catalog().schemas()? {
        pending.extend(db.catalog().views(&schema)?);
    }
    loop {
        let mut failed = Vec::new();
        let before = pending.len();
        for view in pending {
            if view.rollup.is_some() {
                // Maintained from the first write on, whether or not its provider plans now:
                // a write it missed would make it wrong for good.
                match crate::statements::rollup::maintenance(db, &view, ctx) {
                    Ok(rollup) => db.rollups().register(rollup),
                    Err(e) => {
                        error!(view = %view.name, error = %e, "materialized view cannot be maintained; REFRESH MATERIALIZED VIEW once its state table is back");
                    }
                }
            }
            let planned = match view.rollup {
                Some(_) => crate::statements::rollup::plan(ctx, &view)
                    .await
                    .map(|p| p as Arc<dyn datafusion::datasource::TableProvider>),
                None => plan_view(ctx, &view.query)
                    .await
                    .map(|p| p as Arc<dyn datafusion::datasource::TableProvider>),
            };
            match planned {
                Ok(provider) => db.register_view(view.name.clone(), provider),
                Err(e) => failed.push((view, e)),
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if failed.len() == before {
            for (view, e) in failed {
                let name: &ObjectName = &view.name;
                warn!(view = %name, error = %e, "view cannot be planned and is not available");
            }
            return Ok(());
        }
        pending = failed.into_iter().map(|(v, _)| v).collect();
    }
}

/// `state` with `runtime` in place of its runtime, and with every function Oxbow registered.
///
/// Rebuilding a state (the only way to change its runtime) registers its functions again in
/// hash-map order, under their names and aliases, so a DataFusion function whose alias is the
/// name of an Oxbow replacement could win again (`to_char` answered its pattern). The map of
/// names is put back as it was: alias entries first, then names, twice for aliases the names
/// overwrote.
pub fn with_runtime(
    state: datafusion::execution::SessionState,
    runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> datafusion::execution::SessionState {
    use datafusion::execution::FunctionRegistry;
    let scalars = state.scalar_functions().clone();
    let aggregates = state.aggregate_functions().clone();
    let windows = state.window_functions().clone();
    let mut rebuilt = SessionStateBuilder::new_from_existing(state)
        .with_runtime_env(runtime)
        .build();
    for _ in 0..2 {
        for names in [false, true] {
            for (key, f) in &scalars {
                if (key == f.name()) == names
                    && !rebuilt
                        .scalar_functions()
                        .get(key)
                        .is_some_and(|now| Arc::ptr_eq(now, f))
                {
                    let _ = rebuilt.register_udf(Arc::clone(f));
                }
            }
            for (key, f) in &aggregates {
                if (key == f.name()) == names
                    && !rebuilt
                        .aggregate_functions()
                        .get(key)
                        .is_some_and(|now| Arc::ptr_eq(now, f))
                {
                    let _ = rebuilt.register_udaf(Arc::clone(f));
                }
            }
            for (key, f) in &windows {
                if (key == f.name()) == names
                    && !rebuilt
                        .window_functions()
                        .get(key)
                        .is_some_and(|now| Arc::ptr_eq(now, f))
                {
                    let _ = rebuilt.register_udwf(Arc::clone(f));
                }
            }
        }
    }
    rebuilt
}
