//! Fuzz targets for the COPY decoders (text, CSV, binary): any input, in any of those formats
//! and against columns of every type, is decoded or refused with a `FormatError`, never a
//! panic. They run as ordinary `cargo test` (bolero draws a bounded number of inputs) and as
//! real fuzzing with `cargo bolero test --rustc-bootstrap formats::fuzz::...`.

use datafusion::arrow::datatypes::Field;
use oxbow_catalog::SqlType;

use super::{CopyFormat, CopyKind, TargetColumn, decode};

/// One column of each type the decoders convert to.
fn every_type() -> Vec<TargetColumn> {
    [
        SqlType::Boolean,
        SqlType::SmallInt,
        SqlType::Integer,
        SqlType::BigInt,
        SqlType::Real,
        SqlType::DoublePrecision,
        SqlType::Numeric {
            precision: 12,
            scale: 3,
        },
        SqlType::Text,
        SqlType::Varchar { max_len: Some(4) },
        SqlType::Bytea,
        SqlType::Date,
        SqlType::Timestamp,
        SqlType::TimestampTz,
        SqlType::Jsonb,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, sql_type)| TargetColumn {
        field: Field::new(format!("c{i}"), sql_type.arrow_type(), true),
        pg_type: format!("{sql_type:?}"),
        sql_type,
    })
    .collect()
}

/// Decodes `data` as `kind` into the first `width` columns (at least one).
fn decode_any(kind: CopyKind, header: bool, width: u8, data: &[u8]) {
    let columns = every_type();
    let width = 1 + (width as usize) % columns.len();
    let mut format = CopyFormat::new(kind);
    format.header = header && kind == CopyKind::Csv;
    let _ = decode(data, &format, "fuzzed", &columns[..width]);
}

#[test]
fn text_copy_input_never_panics() {
    bolero::check!()
        .with_type::<(u8, Vec<u8>)>()
        .for_each(|(width, data)| decode_any(CopyKind::Text, false, *width, data));
}

#[test]
fn csv_copy_input_never_panics() {
    bolero::check!()
        .with_type::<(bool, u8, Vec<u8>)>()
        .for_each(|(header, width, data)| decode_any(CopyKind::Csv, *header, *width, data));
}

#[test]
fn binary_copy_input_never_panics() {
    // Most random inputs fail at the signature; a valid header in front reaches the tuples.
    bolero::check!()
        .with_type::<(bool, u8, Vec<u8>)>()
        .for_each(|(signed, width, data)| {
            let mut input = Vec::new();
            if *signed {
                input.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
                input.extend_from_slice(&0i32.to_be_bytes());
                input.extend_from_slice(&0i32.to_be_bytes());
            }
            input.extend_from_slice(data);
            decode_any(CopyKind::Binary, false, *width, &input);
        });
}
