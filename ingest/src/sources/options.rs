//! Reading a connector's `key = 'value'` options, refusing the ones it does not know.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::IngestError;
use crate::pipeline::options::parse_duration;

/// A connector's options, consumed as they are read; [`ConnectorOptions::finish`] refuses
/// whatever is left.
pub struct ConnectorOptions {
    connector: &'static str,
    options: BTreeMap<String, String>,
    valid: &'static [&'static str],
}

impl ConnectorOptions {
    pub fn new(
        connector: &'static str,
        options: &BTreeMap<String, String>,
        valid: &'static [&'static str],
    ) -> Self {
        Self {
            connector,
            options: options.clone(),
            valid,
        }
    }

    pub fn text(&mut self, key: &str) -> Option<String> {
        self.options.remove(key)
    }

    pub fn required(&mut self, key: &str) -> Result<String, IngestError> {
        self.text(key)
            .ok_or_else(|| IngestError::MissingOption(format!("{key} (of {})", self.connector)))
    }

    pub fn number(&mut self, key: &str) -> Result<Option<u64>, IngestError> {
        self.text(key)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| IngestError::invalid_option(key, &v, "a whole number"))
            })
            .transpose()
    }

    pub fn duration(&mut self, key: &str) -> Result<Option<Duration>, IngestError> {
        self.text(key)
            .map(|v| {
                parse_duration(&v)
                    .ok_or_else(|| IngestError::invalid_option(key, &v, "a duration such as '2s'"))
            })
            .transpose()
    }

    pub fn finish(self) -> Result<(), IngestError> {
        match self.options.into_keys().next() {
            Some(option) => Err(IngestError::UnknownOption {
                option: format!("{option} (of {})", self.connector),
                valid: self.valid.join(", "),
            }),
            None => Ok(()),
        }
    }
}
