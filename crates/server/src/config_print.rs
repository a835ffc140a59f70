//! `switchboard config print`: the effective options as a TOML file that
//! `--config` reads back, each line saying where its value came from, and
//! secrets left out.

use std::fmt::Write as _;

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::config_file::{ConfigFile, options};

/// The `value_name` that marks an option as secret (`--turn-secret`,
/// `--auth-jwt-secret`): `config print` never shows its value.
pub const SECRET: &str = "SECRET";

/// The options in `matches` (of a command that flattens [`crate::Config`])
/// as TOML, one `key = value` line per option that has a value, in `--help`
/// order, with a comment naming its source: `default`, `file`, `env VAR` or
/// `flag`. An option without a value, and a secret one, are comment lines,
/// so the text is a config file that sets what was set, secrets aside.
#[must_use]
pub fn render(matches: &ArgMatches, file: Option<&ConfigFile>) -> String {
    let mut out = String::from("# The effective configuration of switchboard serve, as `--config FILE` reads it.\n");
    if let Some(file) = file {
        let _ = writeln!(out, "# Config file: {}", file.path().display());
    }
    for arg in options().get_arguments() {
        let (Some(key), id) = (arg.get_long(), arg.get_id().as_str()) else { continue };
        let source = match matches.value_source(id) {
            None => {
                let _ = writeln!(out, "# {key}: not set");
                continue;
            }
            Some(ValueSource::DefaultValue) if file.is_some_and(|file| file.sets(key)) => "file".to_owned(),
            Some(ValueSource::DefaultValue) => "default".to_owned(),
            Some(ValueSource::EnvVariable) => {
                format!("env {}", arg.get_env().map(|env| env.to_string_lossy()).unwrap_or_default())
            }
            Some(_) => "flag".to_owned(),
        };
        let secret = arg.get_value_names().is_some_and(|names| names.iter().any(|name| name.as_str() == SECRET));
        if secret {
            let _ = writeln!(out, "# {key}: set, not shown (secret)  # {source}");
            continue;
        }
        let raw: Vec<String> =
            matches.get_raw(id).into_iter().flatten().map(|value| value.to_string_lossy().into_owned()).collect();
        let value = if matches!(arg.get_action(), clap::ArgAction::Append) {
            toml::Value::Array(raw.into_iter().map(|text| typed(matches, id, text)).collect())
        } else {
            typed(matches, id, raw.into_iter().next().unwrap_or_default())
        };
        let _ = writeln!(out, "{key} = {value}  # {source}");
    }
    out
}

/// `text` as the TOML type that reads most naturally for the option's
/// parsed type: an integer for counts, a boolean for flags, else a string.
fn typed(matches: &ArgMatches, id: &str, text: String) -> toml::Value {
    let number = matches!(matches.try_get_one::<u32>(id), Ok(Some(_)))
        || matches!(matches.try_get_one::<usize>(id), Ok(Some(_)));
    if number && let Ok(number) = text.parse::<i64>() {
        return toml::Value::Integer(number);
    }
    if matches!(matches.try_get_one::<bool>(id), Ok(Some(_)))
        && let Ok(flag) = text.parse::<bool>()
    {
        return toml::Value::Boolean(flag);
    }
    toml::Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(args: &[&str]) -> ArgMatches {
        options().no_binary_name(true).mut_args(|arg| arg.env(None)).try_get_matches_from(args).unwrap()
    }

    #[test]
    fn every_option_has_a_line_and_the_text_reads_back() {
        let text = render(&matches(&["--turn-secret", "hunter2", "--allowed-origin", "https://a.example"]), None);
        for arg in options().get_arguments() {
            let key = arg.get_long().unwrap();
            assert!(
                text.lines()
                    .any(|line| line.starts_with(&format!("{key} = ")) || line.starts_with(&format!("# {key}:"))),
                "{key}:\n{text}"
            );
        }
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("# turn-secret: set, not shown (secret)  # flag"), "{text}");
        assert!(text.contains("room-capacity = 2  # default"), "{text}");
        assert!(text.contains("turn-open = false  # default"), "{text}");
        assert!(text.contains("allowed-origin = [\"https://a.example\"]  # flag"), "{text}");
        assert!(text.contains("# tls-cert: not set"), "{text}");
        ConfigFile::parse(std::path::Path::new("printed.toml"), &text).unwrap();
    }

    #[test]
    fn options_that_hold_secrets_are_marked_secret() {
        // A new option holding key material must take `value_name = "SECRET"`
        // or `config print` would show it.
        for arg in options().get_arguments() {
            let key = arg.get_long().unwrap();
            let marked = arg.get_value_names().is_some_and(|names| names.iter().any(|name| name.as_str() == SECRET));
            // A Redis URL may carry its password (`redis://:pw@host`).
            let looks_secret =
                ["secret", "password", "token", "private"].iter().any(|word| key.contains(word)) || key == "redis-url";
            assert_eq!(marked, looks_secret, "{key}");
        }
    }
}
