//! Rewrites of client SQL before planning, for PostgreSQL idioms DataFusion or
//! datafusion-pg-catalog cannot plan or would answer differently.
//!
//! - [`text`]: on the raw text, before parsing, only for what the catalog library's own parser
//!   would otherwise rewrite first (its stubs); each rewrite is named and tested there.
//! - [`ast`]: on sqlparser's syntax tree, for everything else; [`intervals`] for interval
//!   literals and `make_interval`'s named arguments, [`datetime_literals`] for date and timestamp
//!   literals Arrow cannot read, [`array_subquery`] for `ARRAY(SELECT ...)`.
//! - [`planning_retries`]: on the syntax tree too, but only after DataFusion refused a query.
//!
//! Every compatibility fix lands in one of three layers with a test: here, an analyzer rule
//! (`crate::sql::analyzer`), or the wire (`crate::wire::describe`, `crate::wire::encode`).

pub mod array_subquery;
pub mod ast;
pub mod datetime_literals;
pub mod intervals;
pub mod planning_retries;
pub mod text;
