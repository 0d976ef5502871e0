//! [`DatePartFields`]: `EXTRACT(century FROM d)` answered by Oxbow's `date_part`
//! (`crate::pg_compat::functions::date_part`), which knows PostgreSQL's extra fields.
//!
//! DataFusion's SQL planner builds `EXTRACT` with its own `date_part` function directly, not
//! through the session's function registry, so registering a replacement reaches only calls
//! spelled `date_part(...)`. This rule swaps the function of every `date_part` call for the
//! session's registered one.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Expr, LogicalPlan, ScalarUDF};
use datafusion::optimizer::AnalyzerRule;

#[derive(Debug)]
pub struct DatePartFields {
    /// The session's `date_part` (Oxbow's wrapper).
    date_part: Arc<ScalarUDF>,
}

impl DatePartFields {
    pub fn new(date_part: Arc<ScalarUDF>) -> Self {
        DatePartFields { date_part }
    }
}

impl AnalyzerRule for DatePartFields {
    fn name(&self) -> &str {
        "oxbow_date_part_fields"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            node.map_expressions(|e| {
                e.transform_up(|expr| match expr {
                    Expr::ScalarFunction(ScalarFunction { func, args })
                        if func.name() == "date_part" && !Arc::ptr_eq(&func, &self.date_part) =>
                    {
                        Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction {
                            func: Arc::clone(&self.date_part),
                            args,
                        })))
                    }
                    other => Ok(Transformed::no(other)),
                })
            })
        })
        .map(|t| t.data)
    }
}
