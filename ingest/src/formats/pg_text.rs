//! PostgreSQL's `text` COPY format: one line per row, fields split by the delimiter (tab by
//! default), backslash escapes (`\t`, `\n`, `\\`, octal, `\x` hex), and `\N` for NULL.
//!
//! Input is rewritten as CSV (escapes undone, every value quoted, NULL kept as an unquoted
//! marker) and read by [`super::csv`], so both formats report bad values the same way.

use datafusion::arrow::array::RecordBatch;

use super::csv::{Options, exact, read};
use super::{CopyFormat, TargetColumn};
use crate::error::FormatError;

/// The NULL marker of the text format, kept unquoted when text is rewritten as CSV.
pub const NULL_MARKER: &str = "\\N";

/// Decodes text-format input in `format` (its delimiter and NULL string).
pub fn decode(
    data: &[u8],
    format: &CopyFormat,
    table: &str,
    columns: &[TargetColumn],
) -> Result<Vec<RecordBatch>, FormatError> {
    let csv = text_to_csv(data, format)?;
    let options = Options {
        delimiter: b',',
        null: exact(NULL_MARKER),
        header: format.header,
        quote: None,
    };
    read(&csv, &options, table, columns)
}

/// Rewrites `text`-format COPY data as CSV: every value quoted, the NULL marker unquoted.
fn text_to_csv(data: &[u8], format: &CopyFormat) -> Result<Vec<u8>, FormatError> {
    let text = std::str::from_utf8(data).map_err(|e| FormatError::InvalidText {
        message: format!("invalid byte sequence for encoding \"UTF8\": {e}"),
    })?;
    let mut out = Vec::with_capacity(data.len() + data.len() / 4);
    // The newline after the last row ends it; it does not start an empty one. Every other
    // empty line is a row whose one field is the empty string, as PostgreSQL reads it.
    for line in text.split_terminator('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line == "\\." {
            break;
        }
        for (i, field) in line.split(format.delimiter as char).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if field == format.null {
                out.extend_from_slice(NULL_MARKER.as_bytes());
                continue;
            }
            out.push(b'"');
            for c in unescape_text(field).chars() {
                if c == '"' {
                    out.push(b'"');
                }
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            out.push(b'"');
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// Undoes the backslash escapes of the text format (`\t`, `\n`, `\\`, octal, `\x` hex).
fn unescape_text(field: &str) -> std::borrow::Cow<'_, str> {
    if !field.contains('\\') {
        return field.into();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 == bytes.len() {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let next = bytes[i + 1];
        i += 2;
        match next {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut value = (next - b'0') as u32;
                let mut digits = 1;
                while digits < 3 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                    value = value * 8 + (bytes[i] - b'0') as u32;
                    i += 1;
                    digits += 1;
                }
                out.push(value as u8);
            }
            b'x' if i < bytes.len() && bytes[i].is_ascii_hexdigit() => {
                let end = (i + 2).min(bytes.len());
                let hex_end = (i..end)
                    .take_while(|&j| bytes[j].is_ascii_hexdigit())
                    .last()
                    .unwrap_or(i)
                    + 1;
                let value = u8::from_str_radix(&field[i..hex_end], 16).unwrap_or(0);
                out.push(value);
                i = hex_end;
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned().into()
}

/// Escapes a value for text-format output: backslash, newline, carriage return and the
/// delimiter.
pub fn escape(value: &str, delimiter: char) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' if delimiter == '\t' => out.push_str("\\t"),
            c if c == delimiter => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}
