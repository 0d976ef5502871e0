//! `COPY ... FROM STDIN (FORMAT binary)`: PostgreSQL's binary copy format read into Arrow.
//!
//! asyncpg's `copy_records_to_table` always sends it, and bulk loaders choose it for speed.
//! The format (PostgreSQL docs, "COPY", Binary Format): an 11-byte signature, a 32-bit flags
//! field and a header extension; then per row a 16-bit field count and, per field, a 32-bit
//! length (-1 for NULL) and the value in the type's binary send format; a field count of -1
//! ends the data. Values must be in the binary format of the column's own type (an `int8`
//! for a `bigint` column), as PostgreSQL requires: a wrong length is 22P03.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder,
    Int16Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use oxbow_catalog::SqlType;

use super::{BATCH_ROWS, TargetColumn};
use crate::error::FormatError;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Days and microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Where in the input a value came from, for error messages.
struct At<'a> {
    table: &'a str,
    row: usize,
    column: &'a TargetColumn,
}

impl At<'_> {
    fn error(&self, what: &str) -> FormatError {
        FormatError::InvalidBinary {
            message: format!(
                "incorrect binary data format: {what} (COPY {}, line {}, column {}, type {})",
                self.table,
                self.row,
                self.column.field.name(),
                self.column.sql_type.pg_name()
            ),
        }
    }
}

/// Decodes binary COPY input into batches with the target columns' names and types.
pub fn decode(
    data: &[u8],
    table: &str,
    columns: &[TargetColumn],
) -> Result<Vec<RecordBatch>, FormatError> {
    let header_error = |what: &str| FormatError::InvalidBinary {
        message: format!("COPY {table}: {what}"),
    };
    let mut input = Input { data, pos: 0 };
    if input.take(SIGNATURE.len()) != Some(SIGNATURE) {
        return Err(header_error("COPY file signature not recognized"));
    }
    let flags = input
        .i32()
        .ok_or_else(|| header_error("invalid COPY file header (missing flags)"))?;
    if flags & (1 << 16) != 0 {
        return Err(header_error("COPY files with OIDs are not supported"));
    }
    let extension = input
        .i32()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| header_error("invalid COPY file header (missing length)"))?;
    input
        .take(extension)
        .ok_or_else(|| header_error("invalid COPY file header (wrong length)"))?;

    let schema: SchemaRef = Arc::new(Schema::new(
        columns.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
    ));
    let mut batches = Vec::new();
    let mut builders = new_builders(columns);
    let mut rows_in_batch = 0;
    let mut row = 0;
    loop {
        row += 1;
        let count = input
            .i16()
            .ok_or_else(|| header_error("unexpected end of data (no end-of-data marker)"))?;
        if count == -1 {
            break;
        }
        if usize::try_from(count).ok() != Some(columns.len()) {
            return Err(FormatError::InvalidBinary {
                message: format!(
                    "row field count is {count}, expected {} (COPY {table}, line {row})",
                    columns.len()
                ),
            });
        }
        for (column, builder) in columns.iter().zip(builders.iter_mut()) {
            let at = At { table, row, column };
            let length = input
                .i32()
                .ok_or_else(|| at.error("unexpected end of data"))?;
            let value = if length == -1 {
                None
            } else {
                let length = usize::try_from(length).map_err(|_| at.error("negative length"))?;
                Some(
                    input
                        .take(length)
                        .ok_or_else(|| at.error("unexpected end of data"))?,
                )
            };
            builder.append(value, &at)?;
        }
        rows_in_batch += 1;
        if rows_in_batch == BATCH_ROWS {
            batches.push(finish(&schema, columns, &mut builders, table)?);
            rows_in_batch = 0;
        }
    }
    if rows_in_batch > 0 || batches.is_empty() {
        batches.push(finish(&schema, columns, &mut builders, table)?);
    }
    Ok(batches)
}

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(bytes)
    }

    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

/// One column's values as they are read.
enum Builder {
    Boolean(BooleanBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    /// Numeric values as decimal text, cast to the column's `Decimal128(p, s)` at the end (so
    /// rounding and overflow behave as for text input).
    Numeric(StringBuilder),
    Text(StringBuilder),
    Jsonb(StringBuilder),
    Bytea(BinaryBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
}

fn new_builders(columns: &[TargetColumn]) -> Vec<Builder> {
    columns
        .iter()
        .map(|c| match c.sql_type {
            SqlType::Boolean => Builder::Boolean(BooleanBuilder::new()),
            SqlType::SmallInt => Builder::Int16(Int16Builder::new()),
            SqlType::Integer => Builder::Int32(Int32Builder::new()),
            SqlType::BigInt => Builder::Int64(Int64Builder::new()),
            SqlType::Real => Builder::Float32(Float32Builder::new()),
            SqlType::DoublePrecision => Builder::Float64(Float64Builder::new()),
            SqlType::Numeric { .. } => Builder::Numeric(StringBuilder::new()),
            SqlType::Text | SqlType::Varchar { .. } => Builder::Text(StringBuilder::new()),
            SqlType::Jsonb => Builder::Jsonb(StringBuilder::new()),
            SqlType::Bytea => Builder::Bytea(BinaryBuilder::new()),
            SqlType::Date => Builder::Date(Date32Builder::new()),
            SqlType::Timestamp | SqlType::TimestampTz => {
                Builder::Timestamp(TimestampMicrosecondBuilder::new())
            }
        })
        .collect()
}

fn fixed<const N: usize>(value: &[u8], at: &At) -> Result<[u8; N], FormatError> {
    value
        .try_into()
        .map_err(|_| at.error(&format!("{} bytes where {N} were expected", value.len())))
}

fn utf8<'a>(value: &'a [u8], at: &At) -> Result<&'a str, FormatError> {
    std::str::from_utf8(value).map_err(|_| at.error("invalid UTF-8"))
}

impl Builder {
    fn append(&mut self, value: Option<&[u8]>, at: &At) -> Result<(), FormatError> {
        let Some(v) = value else {
            self.append_null();
            return Ok(());
        };
        match self {
            Builder::Boolean(b) => b.append_value(fixed::<1>(v, at)?[0] != 0),
            Builder::Int16(b) => b.append_value(i16::from_be_bytes(fixed(v, at)?)),
            Builder::Int32(b) => b.append_value(i32::from_be_bytes(fixed(v, at)?)),
            Builder::Int64(b) => b.append_value(i64::from_be_bytes(fixed(v, at)?)),
            Builder::Float32(b) => b.append_value(f32::from_be_bytes(fixed(v, at)?)),
            Builder::Float64(b) => b.append_value(f64::from_be_bytes(fixed(v, at)?)),
            Builder::Numeric(b) => b.append_value(numeric_text(v, at)?),
            Builder::Text(b) => b.append_value(utf8(v, at)?),
            Builder::Jsonb(b) => match v.split_first() {
                Some((1, json)) => b.append_value(utf8(json, at)?),
                _ => return Err(at.error("unsupported jsonb version number")),
            },
            Builder::Bytea(b) => b.append_value(v),
            Builder::Date(b) => {
                let days = i32::from_be_bytes(fixed(v, at)?);
                let days = days
                    .checked_add(PG_EPOCH_DAYS)
                    .filter(|_| days != i32::MAX && days != i32::MIN)
                    .ok_or_else(|| at.error("date out of range (infinity is not supported)"))?;
                b.append_value(days)
            }
            Builder::Timestamp(b) => {
                let micros = i64::from_be_bytes(fixed(v, at)?);
                let micros = micros
                    .checked_add(PG_EPOCH_MICROS)
                    .filter(|_| micros != i64::MAX && micros != i64::MIN)
                    .ok_or_else(|| {
                        at.error("timestamp out of range (infinity is not supported)")
                    })?;
                b.append_value(micros)
            }
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Builder::Boolean(b) => b.append_null(),
            Builder::Int16(b) => b.append_null(),
            Builder::Int32(b) => b.append_null(),
            Builder::Int64(b) => b.append_null(),
            Builder::Float32(b) => b.append_null(),
            Builder::Float64(b) => b.append_null(),
            Builder::Numeric(b) | Builder::Text(b) | Builder::Jsonb(b) => b.append_null(),
            Builder::Bytea(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Timestamp(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Boolean(b) => Arc::new(b.finish()),
            Builder::Int16(b) => Arc::new(b.finish()),
            Builder::Int32(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Float32(b) => Arc::new(b.finish()),
            Builder::Float64(b) => Arc::new(b.finish()),
            Builder::Numeric(b) | Builder::Text(b) | Builder::Jsonb(b) => Arc::new(b.finish()),
            Builder::Bytea(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
        }
    }
}

/// The batch of the values read so far, in the columns' Arrow types.
fn finish(
    schema: &SchemaRef,
    columns: &[TargetColumn],
    builders: &mut [Builder],
    table: &str,
) -> Result<RecordBatch, FormatError> {
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let arrays = columns
        .iter()
        .zip(builders.iter_mut())
        .map(|(column, builder)| {
            let array = builder.finish();
            if array.data_type() == column.field.data_type() {
                return Ok(array);
            }
            // Numerics (decimal text) and timestamptz (UTC micros) take the column's type.
            cast_with_options(&array, column.field.data_type(), &strict).map_err(|e| {
                FormatError::InvalidBinary {
                    message: format!("COPY {table}, column {}: {e}", column.field.name()),
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::clone(schema), arrays).map_err(|e| FormatError::InvalidBinary {
        message: format!("COPY {table}: {e}"),
    })
}

/// PostgreSQL's binary numeric (`numeric_send`) as decimal text: 16-bit digit count, weight
/// (of the first base-10000 digit), sign and display scale, then the base-10000 digits.
fn numeric_text(value: &[u8], at: &At) -> Result<String, FormatError> {
    let word = |i: usize| -> Result<u16, FormatError> {
        value
            .get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| at.error("numeric value truncated"))
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = usize::from(word(3)?);
    if sign == 0xC000 {
        return Err(at.error("NaN cannot be stored in a numeric column"));
    }
    if sign != 0 && sign != 0x4000 {
        return Err(at.error("invalid sign in external \"numeric\" value"));
    }
    let digits = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<Vec<_>, _>>()?;
    if digits.iter().any(|d| *d > 9999) {
        return Err(at.error("invalid digit in external \"numeric\" value"));
    }
    let digit = |index: i64| -> u16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                text.push_str(&digit(i).to_string());
            } else {
                text.push_str(&format!("{:04}", digit(i)));
            }
        }
    }
    if dscale > 0 {
        let mut fraction = String::new();
        for k in 1..=dscale.div_ceil(4) as i64 {
            fraction.push_str(&format!("{:04}", digit(weight + k)));
        }
        fraction.truncate(dscale);
        text.push('.');
        text.push_str(&fraction);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type};

    fn column(name: &str, sql_type: SqlType) -> TargetColumn {
        TargetColumn {
            field: Field::new(name, sql_type.arrow_type(), true),
            pg_type: sql_type.pg_name(),
            sql_type,
        }
    }

    /// A binary COPY stream of `rows`, each a list of fields (`None`: NULL).
    fn stream(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend(0i32.to_be_bytes());
        out.extend(0i32.to_be_bytes());
        for row in rows {
            out.extend((row.len() as i16).to_be_bytes());
            for field in row {
                match field {
                    None => out.extend((-1i32).to_be_bytes()),
                    Some(v) => {
                        out.extend((v.len() as i32).to_be_bytes());
                        out.extend(v);
                    }
                }
            }
        }
        out.extend((-1i16).to_be_bytes());
        out
    }

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale] {
            v.extend(w.to_be_bytes());
        }
        for d in digits {
            v.extend(d.to_be_bytes());
        }
        v
    }

    #[test]
    fn reads_each_type_from_its_send_format() {
        let columns = vec![
            column("id", SqlType::BigInt),
            column("name", SqlType::Text),
            column(
                "amount",
                SqlType::Numeric {
                    precision: 12,
                    scale: 3,
                },
            ),
            column("doc", SqlType::Jsonb),
            column("day", SqlType::Date),
            column("at", SqlType::TimestampTz),
        ];
        let rows = vec![
            vec![
                Some(7i64.to_be_bytes().to_vec()),
                Some(b"seven".to_vec()),
                // 12345.678 = 1 2345 . 6780, dscale 3
                Some(numeric(3, 1, 0, 3, &[1, 2345, 6780])),
                Some(b"\x01{\"a\":1}".to_vec()),
                Some(1i32.to_be_bytes().to_vec()),
                Some(1_000_000i64.to_be_bytes().to_vec()),
            ],
            vec![
                None,
                None,
                Some(numeric(1, -1, 0x4000, 2, &[500])),
                None,
                None,
                None,
            ],
        ];
        let batches = decode(&stream(&rows), "t", &columns).unwrap();
        let batch = &batches[0];
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(0), 7);
        assert!(batch.column(0).is_null(1));
        assert_eq!(batch.column(1).as_string::<i32>().value(0), "seven");
        let amounts = datafusion::arrow::compute::cast(batch.column(2), &DataType::Utf8).unwrap();
        assert_eq!(amounts.as_string::<i32>().value(0), "12345.678");
        assert_eq!(amounts.as_string::<i32>().value(1), "-0.050");
        assert_eq!(batch.column(3).as_string::<i32>().value(0), "{\"a\":1}");
        let day = batch
            .column(4)
            .as_primitive::<datafusion::arrow::datatypes::Date32Type>();
        assert_eq!(day.value(0), PG_EPOCH_DAYS + 1);
        assert_eq!(
            batch.column(5).data_type(),
            &SqlType::TimestampTz.arrow_type()
        );
    }

    #[test]
    fn a_value_of_the_wrong_size_names_its_line_and_column() {
        let columns = vec![column("id", SqlType::Integer)];
        let rows = vec![
            vec![Some(1i32.to_be_bytes().to_vec())],
            vec![Some(2i64.to_be_bytes().to_vec())],
        ];
        let e = decode(&stream(&rows), "t", &columns)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2, column id"), "{e}");
        assert!(e.contains("8 bytes where 4 were expected"), "{e}");
    }

    #[test]
    fn a_stream_without_the_signature_is_refused() {
        let e = decode(b"1,2\n", "t", &[column("id", SqlType::Integer)]).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
    }
}
