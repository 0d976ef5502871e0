//! A materialized view's query split in two: the partial aggregates each write adds to the
//! state table, and the merge of those partial rows that the view answers with.
//!
//! What can be split is what can be merged exactly from partial rows that are only ever
//! added: one table, an optional `WHERE`, `GROUP BY` keys, and outputs that are keys or
//! `count`, `sum`, `min`, `max`, `avg`, `approx_count_distinct` (with `FILTER` if wanted).
//! Each one splits as:
//!
//! | output   | partial state          | merge                                  |
//! |----------|------------------------|----------------------------------------|
//! | `count`  | `count(x)`             | `coalesce(sum(s), 0)`                  |
//! | `sum`    | `sum(x)`               | `sum(s)`                               |
//! | `min`    | `min(x)`               | `min(s)`                               |
//! | `max`    | `max(x)`               | `max(s)`                               |
//! | `avg`    | `sum(x)`, `count(x)`   | `sum(s1) / nullif(sum(s2), 0)`         |
//! | `approx_count_distinct` | `hll_sketch(x)` | `hll_estimate(hll_union(s))`     |
//!
//! (`approx_distinct`, DataFusion's name, splits like `approx_count_distinct`; the sketches
//! are `crate::sql::sketches`.) Everything else (DISTINCT, HAVING, joins, subqueries, window
//! functions, other aggregates) is refused with 0A000 naming the part, never approximated.

use std::fmt::Write as _;

use datafusion::sql::sqlparser::ast::{
    Distinct, DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments,
    GroupByExpr, Ident, ObjectName as SqlObjectName, ObjectNamePart, Query, Select, SelectFlavor,
    SelectItem, SetExpr, TableFactor,
};
use oxbow_catalog::ObjectName;

use crate::error::ServerError;

/// How a view's output is computed from the state table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// The group key `g<i>`.
    Key(usize),
    /// An aggregate whose partial states are `s<first>` (and `s<first + 1>` for `avg`).
    Aggregate { kind: Kind, first: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    /// An approximate distinct count, kept as a mergeable sketch.
    Distinct,
}

/// A view's query, split.
#[derive(Debug)]
pub struct Split {
    /// The relation after `FROM`, as written.
    pub source: SqlObjectName,
    outputs: Vec<Output>,
    /// The group keys, as expressions over the source.
    keys: Vec<String>,
    /// The partial states, as aggregate calls over the source.
    states: Vec<String>,
    /// How partial rows of each state merge (`sum`, `min`, `max`).
    merges: Vec<&'static str>,
    alias: Option<String>,
    selection: Option<String>,
}

impl Split {
    /// The query over `source` (the resolved name of [`Split::source`]) whose rows are the
    /// partial states: `g0, g1, ..., s0, s1, ...`.
    pub fn partial_sql(&self, source: &ObjectName) -> String {
        let mut sql = String::from("SELECT ");
        let columns: Vec<String> = (self.keys.iter().enumerate())
            .map(|(i, key)| format!("{key} AS \"g{i}\""))
            .chain(
                (self.states.iter().enumerate()).map(|(i, state)| format!("{state} AS \"s{i}\"")),
            )
            .collect();
        sql.push_str(&columns.join(", "));
        let _ = write!(sql, " FROM {}", quoted(source));
        if let Some(alias) = &self.alias {
            let _ = write!(sql, " AS {alias}");
        }
        if let Some(selection) = &self.selection {
            let _ = write!(sql, " WHERE {selection}");
        }
        if !self.keys.is_empty() {
            sql.push_str(" GROUP BY ");
            sql.push_str(&self.keys.join(", "));
        }
        sql
    }

    /// The query over the state table `state` that merges its partial rows per group into
    /// fewer partial rows of the same shape (what a flush of the state table writes).
    pub fn compact_sql(&self, state: &ObjectName) -> String {
        let columns: Vec<String> = (0..self.keys.len())
            .map(|i| format!("\"g{i}\""))
            .chain(
                (self.merges.iter().enumerate())
                    .map(|(i, merge)| format!("{merge}(\"s{i}\") AS \"s{i}\"")),
            )
            .collect();
        let mut sql = format!("SELECT {} FROM {}", columns.join(", "), quoted(state));
        sql.push_str(&self.state_group_by());
        sql
    }

    /// The query over the state table `state` that merges its partial rows into the view's
    /// rows, one column `c<n>` per output of the view, in order.
    pub fn read_sql(&self, state: &ObjectName) -> String {
        let columns: Vec<String> = self
            .outputs
            .iter()
            .enumerate()
            .map(|(n, output)| {
                let merged = match *output {
                    Output::Key(i) => format!("\"g{i}\""),
                    Output::Aggregate { kind, first } => {
                        let s = format!("\"s{first}\"");
                        match kind {
                            Kind::Count => format!("coalesce(CAST(sum({s}) AS BIGINT), 0)"),
                            Kind::Sum => format!("sum({s})"),
                            Kind::Min => format!("min({s})"),
                            Kind::Max => format!("max({s})"),
                            Kind::Avg => format!(
                                "CAST(sum({s}) AS DOUBLE) / CAST(nullif(sum(\"s{}\"), 0) AS DOUBLE)",
                                first + 1
                            ),
                            Kind::Distinct => {
                                format!("CAST(round(hll_estimate(hll_union({s}))) AS BIGINT)")
                            }
                        }
                    }
                };
                format!("{merged} AS \"c{n}\"")
            })
            .collect();
        let mut sql = format!("SELECT {} FROM {}", columns.join(", "), quoted(state));
        sql.push_str(&self.state_group_by());
        sql
    }
}

impl Split {
    /// ` GROUP BY "g0", ...` over a state table, or nothing for a view without keys.
    fn state_group_by(&self) -> String {
        if self.keys.is_empty() {
            return String::new();
        }
        let keys: Vec<String> = (0..self.keys.len()).map(|i| format!("\"g{i}\"")).collect();
        format!(" GROUP BY {}", keys.join(", "))
    }
}

/// `"schema"."name"`, quoted so that any name survives.
fn quoted(name: &ObjectName) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    format!("{}.{}", q(&name.schema), q(&name.name))
}

fn refuse(what: impl Into<String>) -> ServerError {
    ServerError::Unsupported(what.into())
}

/// Splits `query`, or refuses it (0A000) naming the part that cannot be maintained.
pub fn split(query: &Query) -> Result<Split, ServerError> {
    if query.with.is_some() {
        return Err(refuse("WITH in a materialized view"));
    }
    if query.order_by.is_some() {
        return Err(refuse(
            "ORDER BY in a materialized view (order the rows when you query it)",
        ));
    }
    if query.limit_clause.is_some() || query.fetch.is_some() {
        return Err(refuse("LIMIT or FETCH in a materialized view"));
    }
    if !query.locks.is_empty()
        || query.for_clause.is_some()
        || query.settings.is_some()
        || query.format_clause.is_some()
        || !query.pipe_operators.is_empty()
    {
        return Err(refuse("this clause in a materialized view"));
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err(refuse(
            "a materialized view whose query is not one SELECT (UNION, VALUES)",
        ));
    };
    refuse_clauses(select)?;
    let (source, alias) = source_of(select)?;
    let keys = group_keys(select)?;
    let mut states = Vec::new();
    let mut merges = Vec::new();
    let mut outputs = Vec::new();
    for item in &select.projection {
        let expr = match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr,
            SelectItem::ExprWithAliases { .. } => {
                return Err(refuse("several aliases for one output"));
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                return Err(refuse(
                    "SELECT * in a materialized view (name its GROUP BY keys and aggregates)",
                ));
            }
        };
        let expr = unnested(expr);
        if let Some(i) = keys.iter().position(|key| same_expr(key, expr)) {
            outputs.push(Output::Key(i));
            continue;
        }
        let (kind, partial) = aggregate(expr)?;
        outputs.push(Output::Aggregate {
            kind,
            first: states.len(),
        });
        merges.extend(partial.iter().map(|_| match kind {
            Kind::Min => "min",
            Kind::Max => "max",
            Kind::Count | Kind::Sum | Kind::Avg => "sum",
            Kind::Distinct => "hll_union",
        }));
        states.extend(partial);
    }
    Ok(Split {
        source,
        outputs,
        keys: keys.iter().map(|k| k.to_string()).collect(),
        states,
        merges,
        alias,
        selection: select.selection.as_ref().map(|s| s.to_string()),
    })
}

fn refuse_clauses(select: &Select) -> Result<(), ServerError> {
    match &select.distinct {
        None | Some(Distinct::All) => {}
        Some(_) => {
            return Err(refuse(
                "SELECT DISTINCT in a materialized view (GROUP BY the columns instead)",
            ));
        }
    }
    if select.having.is_some() {
        return Err(refuse(
            "HAVING in a materialized view (filter the groups when you query it)",
        ));
    }
    if select.qualify.is_some() || !select.named_window.is_empty() {
        return Err(refuse("window functions in a materialized view"));
    }
    if select.top.is_some()
        || select.into.is_some()
        || select.exclude.is_some()
        || select.select_modifiers.is_some()
        || select.prewhere.is_some()
        || select.value_table_mode.is_some()
        || !select.lateral_views.is_empty()
        || !select.connect_by.is_empty()
        || !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
        || !select.optimizer_hints.is_empty()
        || select.flavor != SelectFlavor::Standard
    {
        return Err(refuse("this clause in a materialized view"));
    }
    Ok(())
}

/// The one table the view reads, and its alias (written back as the user wrote it).
fn source_of(select: &Select) -> Result<(SqlObjectName, Option<String>), ServerError> {
    let [from] = select.from.as_slice() else {
        return Err(refuse(match select.from.len() {
            0 => "a materialized view that reads no table",
            _ => "a materialized view over several tables (one table only)",
        }));
    };
    if !from.joins.is_empty() {
        return Err(refuse("a join in a materialized view (one table only)"));
    }
    let TableFactor::Table {
        name,
        alias,
        args: None,
        with_hints,
        version: None,
        with_ordinality: false,
        partitions,
        json_path: None,
        sample: None,
        index_hints,
    } = &from.relation
    else {
        return Err(refuse(format!(
            "a materialized view over {} (over a table only)",
            from.relation
        )));
    };
    if !with_hints.is_empty() || !partitions.is_empty() || !index_hints.is_empty() {
        return Err(refuse("table hints in a materialized view"));
    }
    let alias = match alias {
        Some(alias) if !alias.columns.is_empty() => {
            return Err(refuse("column aliases on the table of a materialized view"));
        }
        Some(alias) => Some(alias.name.to_string()),
        // Written back schema-qualified, the table keeps the name the query calls it by.
        None => match name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => Some(ident.to_string()),
            _ => None,
        },
    };
    Ok((name.clone(), alias))
}

/// The GROUP BY keys as expressions: positions (`GROUP BY 1`) and output aliases resolved to
/// the outputs they name; `GROUP BY ALL` is every output that is not an aggregate call.
fn group_keys(select: &Select) -> Result<Vec<Expr>, ServerError> {
    let outputs: Vec<(&Expr, Option<&Ident>)> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::UnnamedExpr(e) => Some((unnested(e), None)),
            SelectItem::ExprWithAlias { expr, alias } => Some((unnested(expr), Some(alias))),
            _ => None,
        })
        .collect();
    let exprs = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return Err(refuse(
                    "GROUP BY ROLLUP, CUBE or GROUPING SETS in a materialized view",
                ));
            }
            exprs
        }
        GroupByExpr::All(modifiers) => {
            if !modifiers.is_empty() {
                return Err(refuse("GROUP BY ALL with modifiers in a materialized view"));
            }
            return Ok(outputs
                .iter()
                .filter(|(e, _)| !matches!(e, Expr::Function(f) if kind_of(f).is_some()))
                .map(|(e, _)| (*e).clone())
                .collect());
        }
    };
    let mut keys = Vec::with_capacity(exprs.len());
    for expr in exprs {
        let expr = unnested(expr);
        let resolved = match expr {
            Expr::Rollup(_) | Expr::Cube(_) | Expr::GroupingSets(_) => {
                return Err(refuse(
                    "GROUP BY ROLLUP, CUBE or GROUPING SETS in a materialized view",
                ));
            }
            Expr::Value(v) => {
                let position = v.value.to_string().parse::<usize>().ok();
                match position
                    .and_then(|p| p.checked_sub(1))
                    .and_then(|p| outputs.get(p))
                {
                    Some((e, _)) => (*e).clone(),
                    None => {
                        return Err(refuse(format!(
                            "GROUP BY {expr} in a materialized view (a position names an output)"
                        )));
                    }
                }
            }
            Expr::Identifier(name) => outputs
                .iter()
                .find(|(e, alias)| {
                    alias.is_some_and(|a| a.value == name.value) && !same_expr(e, expr)
                })
                .map(|(e, _)| (*e).clone())
                .unwrap_or_else(|| expr.clone()),
            other => other.clone(),
        };
        keys.push(resolved);
    }
    Ok(keys)
}

fn unnested(mut expr: &Expr) -> &Expr {
    while let Expr::Nested(inner) = expr {
        expr = inner;
    }
    expr
}

/// The same expression, or the same column with and without its table's name.
fn same_expr(a: &Expr, b: &Expr) -> bool {
    let (a, b) = (unnested(a), unnested(b));
    if a.to_string() == b.to_string() {
        return true;
    }
    let column = |e: &Expr| match e {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        _ => None,
    };
    matches!((column(a), column(b)), (Some(x), Some(y)) if x == y)
}

fn kind_of(f: &Function) -> Option<Kind> {
    let [ObjectNamePart::Identifier(name)] = f.name.0.as_slice() else {
        return None;
    };
    Some(match name.value.to_lowercase().as_str() {
        "count" => Kind::Count,
        "sum" => Kind::Sum,
        "min" => Kind::Min,
        "max" => Kind::Max,
        "avg" => Kind::Avg,
        "approx_count_distinct" | "approx_distinct" => Kind::Distinct,
        _ => return None,
    })
}

/// The kind of an aggregate output and its partial states, or why it cannot be maintained.
fn aggregate(expr: &Expr) -> Result<(Kind, Vec<String>), ServerError> {
    let not_maintained = || {
        refuse(format!(
            "the output {expr} in a materialized view: each output is a GROUP BY key or one of count, sum, min, max, avg and approx_count_distinct (compute other expressions when you query the view)"
        ))
    };
    let Expr::Function(f) = expr else {
        return Err(not_maintained());
    };
    let Some(kind) = kind_of(f) else {
        let name = f.name.to_string().to_lowercase();
        if name.starts_with("approx_") {
            return Err(refuse(format!(
                "{name} in a materialized view (of the sketches, only approx_count_distinct's is built)"
            )));
        }
        return Err(not_maintained());
    };
    if f.over.is_some() {
        return Err(refuse("window functions in a materialized view"));
    }
    if !f.within_group.is_empty() || f.null_treatment.is_some() || f.uses_odbc_syntax {
        return Err(refuse(format!("{expr} in a materialized view")));
    }
    if !matches!(f.parameters, FunctionArguments::None) {
        return Err(refuse(format!("{expr} in a materialized view")));
    }
    let FunctionArguments::List(list) = &f.args else {
        return Err(not_maintained());
    };
    if list.duplicate_treatment == Some(DuplicateTreatment::Distinct) {
        return Err(refuse(format!(
            "{expr} in a materialized view (an exact DISTINCT aggregate needs every value kept; approx_count_distinct keeps a sketch)"
        )));
    }
    if !list.clauses.is_empty() {
        return Err(refuse(format!("{expr} in a materialized view")));
    }
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(_))] => {}
        [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] if kind == Kind::Count => {}
        _ => return Err(not_maintained()),
    }
    let renamed = |name: &str| {
        let mut f = f.clone();
        f.name = SqlObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]);
        f.to_string()
    };
    let states = match kind {
        Kind::Avg => vec![renamed("sum"), renamed("count")],
        Kind::Distinct => vec![renamed("hll_sketch")],
        _ => vec![f.to_string()],
    };
    Ok((kind, states))
}

#[cfg(test)]
#[path = "split_tests.rs"]
mod tests;
