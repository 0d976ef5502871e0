//! `COPY`'s options, from both the `WITH (...)` form and the pre-9.0 syntax psql's `\copy ...
//! CSV HEADER` still sends, as the [`CopyFormat`] the ingest layer decodes and encodes.

use datafusion::sql::sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption};
use oxbow_ingest::formats::{CopyFormat, CopyKind};

use crate::error::ServerError;

/// The format a `COPY` statement asks for. Options Oxbow does not implement are refused
/// (0A000), never ignored.
/// The format a `COPY` statement asks for, from both the `WITH (...)` options and the
/// pre-9.0 syntax psql's `\copy ... CSV HEADER` still sends.
pub fn copy_format(
    options: &[CopyOption],
    legacy: &[CopyLegacyOption],
) -> Result<CopyFormat, ServerError> {
    let mut kind = CopyKind::Text;
    for option in options {
        if let CopyOption::Format(name) = option {
            kind = match name.value.to_ascii_lowercase().as_str() {
                "text" => CopyKind::Text,
                "csv" => CopyKind::Csv,
                "binary" => CopyKind::Binary,
                other => {
                    return Err(ServerError::Unsupported(format!("COPY format \"{other}\"")));
                }
            };
        }
    }
    if legacy.iter().any(|o| matches!(o, CopyLegacyOption::Csv(_))) {
        kind = CopyKind::Csv;
    }
    let mut format = CopyFormat::new(kind);
    for option in options {
        match option {
            CopyOption::Format(_) => {}
            CopyOption::Delimiter(c) => format.delimiter = single_byte(*c, "DELIMITER")?,
            CopyOption::Null(s) => format.null = s.clone(),
            CopyOption::Header(h) => format.header = *h,
            CopyOption::Quote(c) => format.quote = single_byte(*c, "QUOTE")?,
            CopyOption::Escape(c) => format.escape = single_byte(*c, "ESCAPE")?,
            CopyOption::Encoding(e)
                if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => return Err(ServerError::Unsupported(format!("COPY option {other}"))),
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Delimiter(c) => format.delimiter = single_byte(*c, "DELIMITER")?,
            CopyLegacyOption::Null(s) => format.null = s.clone(),
            CopyLegacyOption::Header => format.header = true,
            CopyLegacyOption::Csv(csv) => {
                for o in csv {
                    match o {
                        CopyLegacyCsvOption::Header => format.header = true,
                        CopyLegacyCsvOption::Quote(c) => format.quote = single_byte(*c, "QUOTE")?,
                        CopyLegacyCsvOption::Escape(c) => {
                            format.escape = single_byte(*c, "ESCAPE")?
                        }
                        other => {
                            return Err(ServerError::Unsupported(format!("COPY option {other}")));
                        }
                    }
                }
            }
            CopyLegacyOption::Binary => format.kind = CopyKind::Binary,
            other => return Err(ServerError::Unsupported(format!("COPY option {other}"))),
        }
    }
    Ok(format)
}

fn single_byte(c: char, option: &str) -> Result<u8, ServerError> {
    if c.is_ascii() {
        Ok(c as u8)
    } else {
        Err(ServerError::Unsupported(format!(
            "COPY {option} must be a single one-byte character"
        )))
    }
}
