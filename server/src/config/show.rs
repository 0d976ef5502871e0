//! `oxbow config show`: every setting, its value and where the value came from (`flag`,
//! `env OXBOW_...`, `file <path>`, `default`), written as a TOML file that `--config`
//! reads back: each setting is preceded by its documentation, and a setting that has no
//! value is written commented out. The password is never printed, only its origin.

use std::fmt::Write as _;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};

use super::file::FileSettings;

/// Settings whose value is a secret.
const SECRET: &[&str] = &["password"];

/// Width of the documentation comments.
const WIDTH: usize = 96;

/// The `config show` text of `matches` (parsed against `settings`, the command holding the
/// `ServeConfig` arguments).
pub fn render(settings: &Command, matches: &ArgMatches, file: Option<&FileSettings>) -> String {
    let mut out = String::from(
        "# Oxbow settings: each with its value and where it came from (flag, env, file or\n\
         # default). Precedence: flag > environment > config file > default. This text is a\n\
         # valid --config file.\n",
    );
    for arg in settings.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let origin = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => format!("flag --{}", arg.get_long().unwrap_or(id)),
            Some(ValueSource::EnvVariable) => format!(
                "env {}",
                arg.get_env()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
            Some(ValueSource::DefaultValue) => match file {
                Some(f) if f.values.contains_key(id) => format!("file {}", f.path.display()),
                _ => "default".into(),
            },
            _ => "default".into(),
        };
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        out.push('\n');
        let help = arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        for line in wrap(&help, WIDTH - 2) {
            let _ = writeln!(out, "# {line}");
        }
        if let Some(env) = arg.get_env() {
            let _ = writeln!(
                out,
                "# flag --{}, env {}",
                arg.get_long().unwrap_or(id),
                env.to_string_lossy()
            );
        }
        if SECRET.contains(&id) {
            let shown = if values.is_empty() {
                "not set"
            } else {
                "set, not shown"
            };
            let _ = writeln!(out, "# {id} = ({shown})  # {origin}");
            continue;
        }
        if id == "config" {
            // Never a key of the file this text may become.
            let shown = values.first().map_or("(not set)", String::as_str);
            let _ = writeln!(out, "# {id} = {shown}  # {origin}");
            continue;
        }
        let many = arg.get_value_delimiter().is_some()
            || matches!(arg.get_action(), ArgAction::Append)
            || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        let flag = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
        let literal = |v: &str| {
            if flag || v.parse::<i64>().is_ok() {
                v.to_string()
            } else {
                toml::Value::String(v.to_string()).to_string()
            }
        };
        match (values.as_slice(), many) {
            ([], true) => {
                let _ = writeln!(out, "{id} = []  # {origin}");
            }
            ([], false) => {
                let _ = writeln!(out, "# {id} =  (not set)  # {origin}");
            }
            (vs, true) => {
                let items: Vec<String> = vs.iter().map(|v| literal(v)).collect();
                let _ = writeln!(out, "{id} = [{}]  # {origin}", items.join(", "));
            }
            ([v, ..], false) => {
                let _ = writeln!(out, "{id} = {}  # {origin}", literal(v));
            }
        }
    }
    out
}

/// `text` in lines of at most `width` characters (longer words stay whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split("\n\n") {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use clap::Args;

    use super::*;
    use crate::config::ServeConfig;

    #[test]
    fn the_text_is_a_config_file_and_names_origins() {
        let settings = ServeConfig::augment_args(Command::new("settings"));
        let matches = settings
            .clone()
            .try_get_matches_from(["oxbow", "--max-connections", "9"])
            .unwrap();
        let text = render(&settings, &matches, None);
        assert!(text.contains("max_connections = 9  # flag --max-connections"));
        assert!(text.contains("user = \"oxbow\"  # default"));
        let table: toml::Table = text.parse().expect("config show writes TOML");
        assert_eq!(table["max_connections"].as_integer(), Some(9));
        assert!(!table.contains_key("password"));
    }
}
