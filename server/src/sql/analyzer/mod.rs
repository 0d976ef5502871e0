//! DataFusion analyzer rules: corrections that need the plan's types, which the syntax tree
//! does not have.
//!
//! - [`boolean_literals`]: `'t'`, `'yes'`, `'on'` compared with a boolean read as PostgreSQL's
//!   `boolin` reads them, and `'{0}'` compared with an array as an array (placed before type
//!   coercion).
//! - [`bytea_literals`]: text literals in PostgreSQL's hex format cast to `bytea` read as hex
//!   input, not as the bytes of the text.
//! - [`date_part_fields`]: `EXTRACT` planned with the session's `date_part`, which knows
//!   PostgreSQL's `century`, `decade`, `millennium` and `julian`.
//! - [`timestamp_text`]: a timestamp cast to text in PostgreSQL's form, not ISO's.

pub mod boolean_literals;
pub mod bytea_literals;
pub mod date_part_fields;
pub mod timestamp_text;
