//! What every written row must satisfy before it is logged, checked per statement so that a
//! bad row fails the whole statement and nothing of it reaches the WAL: `NOT NULL`, the length
//! of `varchar(n)`, and valid JSON in `json`/`jsonb` columns (stored as their text).
//!
//! Each error names the column (and for values the row within the statement), as PostgreSQL's
//! do; the wire maps them to 23502, 22001 and 22P02.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use oxbow_catalog::TableDef;
use oxbow_catalog::types::SqlType;

use crate::{Error, Result};

/// Checks `batch`, rows about to be written to the table `def`.
pub fn check(def: &TableDef, batch: &RecordBatch) -> Result<()> {
    for column in &def.columns {
        let Some(array) = batch.column_by_name(&column.name) else {
            if !column.nullable {
                return Err(not_null(def, &column.name));
            }
            continue;
        };
        if !column.nullable && array.null_count() > 0 {
            return Err(not_null(def, &column.name));
        }
        let rule = match &column.sql_type {
            SqlType::Varchar { max_len: Some(max) } => TextRule::MaxChars(*max as usize),
            SqlType::Jsonb => TextRule::Json,
            _ => continue,
        };
        let text = cast(array, &DataType::Utf8).map_err(|e| Error::DataFusion(e.into()))?;
        let text = text.as_string::<i32>();
        for row in 0..text.len() {
            if text.is_valid(row)
                && let Some(reason) = rule.violation(text.value(row))
            {
                return Err(invalid_value(def, column, row, reason));
            }
        }
    }
    Ok(())
}

/// What a text value of a column must be.
enum TextRule {
    /// `varchar(n)`: at most n characters.
    MaxChars(usize),
    /// `json`/`jsonb`: a JSON document.
    Json,
}

impl TextRule {
    fn violation(&self, value: &str) -> Option<String> {
        match self {
            TextRule::MaxChars(max) => (value.chars().count() > *max)
                .then(|| format!("value too long for type character varying({max})")),
            TextRule::Json => serde_json::from_str::<serde::de::IgnoredAny>(value)
                .err()
                .map(|e| format!("invalid input syntax for type json: {e}")),
        }
    }
}

fn not_null(def: &TableDef, column: &str) -> Error {
    Error::NotNullViolation {
        table: def.name.name.clone(),
        column: column.to_string(),
    }
}

fn invalid_value(
    def: &TableDef,
    column: &oxbow_catalog::ColumnDef,
    row: usize,
    reason: String,
) -> Error {
    let too_long = matches!(column.sql_type, SqlType::Varchar { .. });
    Error::InvalidValue {
        table: def.name.name.clone(),
        column: column.name.clone(),
        row: row + 1,
        reason,
        too_long,
    }
}

/// A row that breaks a constraint of its table: the row (0-based, within its batch), the
/// column, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowViolation {
    pub row: usize,
    pub column: String,
    pub reason: String,
}

/// Every row of `batch` that [`check`] would refuse, with its first violation. The ingest
/// pipeline sends those rows to dead letters and writes the others, where a statement fails
/// whole.
pub fn row_violations(def: &TableDef, batch: &RecordBatch) -> Vec<RowViolation> {
    let mut found: Vec<Option<RowViolation>> = vec![None; batch.num_rows()];
    let mut note = |row: usize, column: &str, reason: String| {
        found[row].get_or_insert_with(|| RowViolation {
            row,
            column: column.to_string(),
            reason,
        });
    };
    for column in &def.columns {
        let Some(array) = batch.column_by_name(&column.name) else {
            if !column.nullable {
                for row in 0..batch.num_rows() {
                    note(row, &column.name, not_null_reason(&column.name));
                }
            }
            continue;
        };
        if !column.nullable && array.null_count() > 0 {
            for row in 0..array.len() {
                if array.is_null(row) {
                    note(row, &column.name, not_null_reason(&column.name));
                }
            }
        }
        let rule = match &column.sql_type {
            SqlType::Varchar { max_len: Some(max) } => TextRule::MaxChars(*max as usize),
            SqlType::Jsonb => TextRule::Json,
            _ => continue,
        };
        let Ok(text) = cast(array, &DataType::Utf8) else {
            continue;
        };
        let text = text.as_string::<i32>();
        for row in 0..text.len() {
            if text.is_valid(row)
                && let Some(reason) = rule.violation(text.value(row))
            {
                note(row, &column.name, reason);
            }
        }
    }
    found.into_iter().flatten().collect()
}

fn not_null_reason(column: &str) -> String {
    format!("null value in column \"{column}\" violates not-null constraint")
}
