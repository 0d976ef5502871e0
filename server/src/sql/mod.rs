//! SQL meaning that is not a statement of its own: the session every connection starts from,
//! how names and types are read, and the rewrites that let DataFusion plan what PostgreSQL's
//! clients send.
//!
//! Owns: [`session`] (the DataFusion session template), [`memory`] (the query memory limits), [`interval_operators`] (interval `*`, `/`, comparison and `date + interval` as PostgreSQL has them), [`names`] (identifier folding and
//! schema resolution), [`sketches`] (mergeable distinct-count sketches, rollup states), [`temp_tables`] (a connection's temporary tables), [`time_travel`] (`VERSION AS OF`), [`types`] (SQL type names to Oxbow's types), [`rewrite`] (before
//! planning: on the text where a parser stub must be dodged, on the AST otherwise) and
//! [`analyzer`] (DataFusion analyzer rules, after planning). Does not own: executing
//! statements (`crate::statements`) or the wire (`crate::wire`).
//!
//! Invariant (DESIGN.md, "Query"): a rewrite never changes what a user's string literal says.

pub mod analyzer;
#[cfg(test)]
mod fuzz;
pub mod interval_operators;
pub mod memory;
pub mod names;
pub mod rewrite;
pub mod session;
pub mod sketches;
pub mod temp_tables;
pub mod time_travel;
pub mod types;
