//! What the pipeline stages pass along: decoded rows with a way back to the input each came
//! from, and the rows refused on the way ([`Reject`]), which become dead letters.

use std::ops::Range;

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;

/// The pipeline stage that refused a row (the `stage` column of `oxbow.dead_letters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The input could not be read at all (bad JSON, a ragged CSV line, an unreadable file).
    Decode,
    /// A field is unknown to the table (`schema_mode = 'strict'`), a value is not of its
    /// column's type, or a constraint (NOT NULL, `varchar(n)`, JSON) does not hold.
    Validate,
    /// The `AS SELECT` transform failed on the row's batch.
    Transform,
    /// The event time in `time_column` could not be read.
    EventTime,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Validate => "validate",
            Stage::Transform => "transform",
            Stage::EventTime => "event_time",
        }
    }
}

/// One input row the pipeline could not land, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub stage: Stage,
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub error: String,
    /// The row as it arrived (a JSON object or line, a CSV line), or `None` when the input
    /// was not rows at all (a file that is not Parquet).
    pub payload: Option<String>,
}

/// Where each row of a batch came from, so a row refused by a later stage can be kept as it
/// arrived. Only refused rows are ever rendered.
#[derive(Debug, Clone)]
pub enum Payloads {
    /// Byte ranges of the input, one per row (JSON objects, NDJSON and CSV lines).
    Ranges {
        data: Bytes,
        rows: Vec<Range<usize>>,
    },
    /// Rows that arrived typed (Parquet, the data generator): rendered as JSON on demand.
    Typed(RecordBatch),
}

impl Payloads {
    /// The payload of row `row`.
    pub fn render(&self, row: usize) -> Option<String> {
        match self {
            Payloads::Ranges { data, rows } => rows
                .get(row)
                .map(|r| String::from_utf8_lossy(&data[r.clone()]).into_owned()),
            Payloads::Typed(batch) => {
                if row >= batch.num_rows() {
                    return None;
                }
                let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(Vec::new());
                writer.write(&batch.slice(row, 1)).ok()?;
                writer.finish().ok()?;
                let text = String::from_utf8(writer.into_inner()).ok()?;
                Some(text.trim_end().to_string())
            }
        }
    }

    /// Keeps the payloads of the rows `keep` (indices in order), as `filter` keeps rows.
    pub fn take(&self, keep: &[usize]) -> Payloads {
        match self {
            Payloads::Ranges { data, rows } => Payloads::Ranges {
                data: data.clone(),
                rows: keep.iter().map(|&i| rows[i].clone()).collect(),
            },
            Payloads::Typed(batch) => {
                let indices = datafusion::arrow::array::UInt32Array::from_iter_values(
                    keep.iter().map(|&i| i as u32),
                );
                let columns = batch
                    .columns()
                    .iter()
                    .map(|c| datafusion::arrow::compute::take(c, &indices, None))
                    .collect::<Result<Vec<_>, _>>()
                    .expect("indices are in range");
                Payloads::Typed(RecordBatch::try_new(batch.schema(), columns).expect("same schema"))
            }
        }
    }
}

/// Decoded rows on their way through the stages: a batch, the payload of each of its rows,
/// and what was refused so far.
#[derive(Debug, Clone)]
pub struct Rows {
    pub batch: RecordBatch,
    pub payloads: Payloads,
    pub rejects: Vec<Reject>,
}

impl Rows {
    /// Refuses the rows `bad` (row, field, error) at `stage`: they move to `rejects` with their
    /// payloads, the others stay, in order.
    pub fn refuse(&mut self, stage: Stage, mut bad: Vec<(usize, Option<String>, String)>) {
        if bad.is_empty() {
            return;
        }
        bad.sort_by_key(|b| b.0);
        bad.dedup_by_key(|b| b.0);
        let mut is_bad = vec![false; self.batch.num_rows()];
        for (row, field, error) in bad {
            is_bad[row] = true;
            self.rejects.push(Reject {
                stage,
                field,
                error,
                payload: self.payloads.render(row),
            });
        }
        let keep: Vec<usize> = (0..is_bad.len()).filter(|&i| !is_bad[i]).collect();
        let mask = datafusion::arrow::array::BooleanArray::from(
            is_bad.iter().map(|b| !b).collect::<Vec<_>>(),
        );
        self.batch = datafusion::arrow::compute::filter_record_batch(&self.batch, &mask)
            .expect("mask has the batch's length");
        self.payloads = self.payloads.take(&keep);
    }

    /// Refuses every row at `stage` with one error (a transform that failed on the batch).
    pub fn refuse_all(&mut self, stage: Stage, field: Option<String>, error: String) {
        let bad = (0..self.batch.num_rows())
            .map(|row| (row, field.clone(), error.clone()))
            .collect();
        self.refuse(stage, bad);
    }
}
