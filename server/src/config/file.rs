//! `--config oxbow.toml`: the file's settings become the defaults of clap's arguments, so a
//! flag or an `OXBOW_*` variable still wins and the file's values go through the arguments'
//! own value parsers.
//!
//! The file is a flat table whose keys are the settings' names (`pg_listen`, or `pg-listen`):
//! strings, integers, booleans, or arrays of them for settings that take several values
//! (`allow_file_root`). An unknown key, a value of the wrong shape or one its setting refuses
//! fails the start with the file's name and the key, rather than being ignored. `password`
//! is refused: a file is copied around more than an environment; use `password_file`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{ArgMatches, Command};

/// Settings that cannot come from the file, and why.
const NOT_IN_FILE: &[(&str, &str)] = &[
    ("config", "a config file cannot name another"),
    (
        "password",
        "keep the password out of the file: use password_file, or OXBOW_PASSWORD",
    ),
];

/// The settings a config file gave: setting id to its values as text.
#[derive(Debug, Clone, Default)]
pub struct FileSettings {
    pub path: PathBuf,
    pub values: BTreeMap<String, Vec<String>>,
}

/// The error of a config file, as the operator reads it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: unknown setting \"{key}\" (the settings are: {known})")]
    UnknownKey {
        path: PathBuf,
        key: String,
        known: String,
    },
    #[error("{path}: \"{key}\" cannot be set in a config file: {why}")]
    NotAllowed {
        path: PathBuf,
        key: String,
        why: &'static str,
    },
    #[error("{path}: {key} = {value}: {message}")]
    BadValue {
        path: PathBuf,
        key: String,
        value: String,
        message: String,
    },
}

/// The setting ids of `command` that a file may set (every argument but help and version).
fn setting_ids(command: &Command) -> Vec<String> {
    command
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| id != "help" && id != "version")
        .collect()
}

/// Reads and checks `path` against the arguments of `settings` (a command holding exactly
/// the [`super::ServeConfig`] arguments).
pub fn load(path: &Path, settings: &Command) -> Result<FileSettings, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text, settings)
}

fn parse(path: &Path, text: &str, settings: &Command) -> Result<FileSettings, ConfigFileError> {
    let table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigFileError::Syntax {
                path: path.to_path_buf(),
                message: e.message().to_string(),
            })?;
    let known = setting_ids(settings);
    let mut values = BTreeMap::new();
    for (key, value) in table {
        let id = key.replace('-', "_");
        if let Some((_, why)) = NOT_IN_FILE.iter().find(|(k, _)| *k == id) {
            return Err(ConfigFileError::NotAllowed {
                path: path.to_path_buf(),
                key,
                why,
            });
        }
        let Some(arg) = settings.get_arguments().find(|a| a.get_id() == id.as_str()) else {
            return Err(ConfigFileError::UnknownKey {
                path: path.to_path_buf(),
                key,
                known: known
                    .iter()
                    .filter(|k| !NOT_IN_FILE.iter().any(|(n, _)| n == k))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let bad = |message: String| ConfigFileError::BadValue {
            path: path.to_path_buf(),
            key: key.clone(),
            value: value.to_string(),
            message,
        };
        let many = arg.get_num_args().is_some_and(|n| n.max_values() > 1)
            || arg.get_value_delimiter().is_some()
            || matches!(arg.get_action(), clap::ArgAction::Append);
        let texts = match &value {
            toml::Value::Array(items) if many => items
                .iter()
                .map(scalar)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("expected an array of strings, numbers or booleans".into()))?,
            toml::Value::Array(_) => return Err(bad("expected one value, not an array".into())),
            other => vec![
                scalar(other)
                    .ok_or_else(|| bad("expected a string, a number or a boolean".into()))?,
            ],
        };
        // The setting's own value parser on the file's values (its variable unset, so that
        // the file's value is the one parsed).
        let leaked: Vec<&'static str> = texts.iter().map(|t| leak(t)).collect();
        settings
            .clone()
            .mut_arg(arg.get_id(), |a| {
                a.env(None::<&'static str>).default_values(leaked)
            })
            .try_get_matches_from(["oxbow"])
            .map_err(|e| bad(first_line(&e.to_string())))?;
        values.insert(id, texts);
    }
    Ok(FileSettings {
        path: path.to_path_buf(),
        values,
    })
}

/// A TOML scalar as the text a flag would carry.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// clap's message without its `error: ` prefix and usage lines.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// `text` for the life of the process: clap keeps defaults as `'static`, and the process
/// parses its arguments once (a few bytes per setting of the file).
fn leak(text: &str) -> &'static str {
    Box::leak(text.to_string().into_boxed_str())
}

/// `command` (and its subcommands, at every depth) with `file`'s values as the defaults of
/// the arguments they name.
pub fn with_file_defaults(mut command: Command, file: &FileSettings) -> Command {
    for (id, values) in &file.values {
        if command.get_arguments().any(|a| a.get_id() == id.as_str()) {
            let values: Vec<&'static str> = values.iter().map(|v| leak(v)).collect();
            command = command.mut_arg(id, |a| a.default_values(values));
        }
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, |s| with_file_defaults(s, file));
    }
    command
}

/// The `--config` path given in `matches` (of the subcommand that runs, or the top level).
pub fn config_path(matches: &ArgMatches) -> Option<PathBuf> {
    let mut current = matches;
    loop {
        if let Ok(Some(path)) = current.try_get_one::<PathBuf>("config") {
            return Some(path.clone());
        }
        match current.subcommand() {
            Some((_, sub)) => current = sub,
            None => return None,
        }
    }
}

/// The matches of `args` against `command`, with the `--config` file's values as defaults
/// when one is named (by flag or `OXBOW_CONFIG`). `settings` is a command holding the
/// [`super::ServeConfig`] arguments, to check the file against.
pub fn parse_args(
    command: Command,
    settings: &Command,
    args: &[OsString],
) -> Result<(ArgMatches, Option<FileSettings>), ParseError> {
    let first = command
        .clone()
        .try_get_matches_from(args)
        .map_err(ParseError::Clap)?;
    let Some(path) = config_path(&first) else {
        return Ok((first, None));
    };
    let file = load(&path, settings).map_err(ParseError::File)?;
    let matches = with_file_defaults(command, &file)
        .try_get_matches_from(args)
        .map_err(ParseError::Clap)?;
    Ok((matches, Some(file)))
}

/// Why the arguments could not be read.
#[derive(Debug)]
pub enum ParseError {
    /// clap's own (including `--help` and `--version`, which it prints and exits for).
    Clap(clap::Error),
    File(ConfigFileError),
}

#[cfg(test)]
mod tests {
    use clap::Args;

    use super::*;
    use crate::config::ServeConfig;

    fn settings() -> Command {
        ServeConfig::augment_args(Command::new("settings"))
    }

    fn parse_text(text: &str) -> Result<FileSettings, ConfigFileError> {
        parse(Path::new("oxbow.toml"), text, &settings())
    }

    #[test]
    fn keys_are_settings_and_values_pass_their_parsers() {
        let file = parse_text(
            "pg_listen = \"127.0.0.1:6543\"\nmax-connections = 7\nrequire_tls = false\n\
             allow_file_root = [\"/a\", \"/b\"]\n",
        )
        .unwrap();
        assert_eq!(file.values["pg_listen"], ["127.0.0.1:6543"]);
        assert_eq!(file.values["max_connections"], ["7"]);
        assert_eq!(file.values["allow_file_root"], ["/a", "/b"]);
        assert!(matches!(
            parse_text("pg_port = 1"),
            Err(ConfigFileError::UnknownKey { .. })
        ));
        assert!(matches!(
            parse_text("password = \"x\""),
            Err(ConfigFileError::NotAllowed { .. })
        ));
        assert!(matches!(
            parse_text("max_connections = \"many\""),
            Err(ConfigFileError::BadValue { .. })
        ));
        assert!(matches!(
            parse_text("pg_listen = [\"a\"]"),
            Err(ConfigFileError::BadValue { .. })
        ));
        assert!(matches!(
            parse_text("pg_listen = "),
            Err(ConfigFileError::Syntax { .. })
        ));
    }

    #[test]
    fn a_flag_wins_over_the_file_and_the_file_over_the_default() {
        use clap::FromArgMatches;
        let file = parse_text("max_connections = 7\nuser = \"from_file\"\n").unwrap();
        let command = with_file_defaults(settings(), &file);
        let matches = command
            .try_get_matches_from(["oxbow", "--user", "from_flag"])
            .unwrap();
        let config = ServeConfig::from_arg_matches(&matches).unwrap();
        assert_eq!(config.max_connections, 7);
        assert_eq!(config.user, "from_flag");
        assert_eq!(config.hot_memory_mb, 1024);
    }
}
