//! `--config FILE`: the options of `switchboard serve` from a TOML file.
//!
//! The file's keys are the long flag names (`ring-timeout = "30s"`,
//! `allowed-origin = ["https://a.example"]`, `turn-open = true`), and the
//! order of precedence is flag, then environment variable, then file, then
//! the built-in default.
//!
//! Why clap and `toml` rather than figment or config-rs: [`Config`]'s clap
//! arguments already are the one list of options, with their value parsers
//! (durations, origins, counts of at least 1) and their env vars. A second
//! layering crate would need a serde twin of every parser and a merge that
//! could drift from clap's. Instead the file's values are installed as the
//! arguments' *defaults* ([`ConfigFile::install`]) before the command line is
//! parsed, so clap's own rule (flag over env over default) does the layering
//! and its value parsers check a file value exactly as they check a flag.
//! Each value is also parsed alone first ([`ConfigFile::parse`]) so that an
//! error names the key of the file, not a flag the user never typed.
//!
//! Rules between options that clap checks only for explicit values
//! (`--auth-jwt-secret` conflicts with `--auth-jwt-public-key`) are checked
//! again by [`crate::Application::build`], whichever layer set them.

use std::path::{Path, PathBuf};

use clap::{ArgAction, Args, Command};

use crate::Config;

/// The `serve` options a config file may set: [`Config`]'s arguments, with
/// their long names as keys.
#[must_use]
pub fn options() -> Command {
    Config::augment_args(Command::new("switchboard.toml"))
}

/// A config file whose every key is a known option and every value parses.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    path: PathBuf,
    settings: Vec<Setting>,
}

/// One key of the file: the clap argument it sets and its values as text.
#[derive(Clone, Debug)]
struct Setting {
    id: String,
    key: String,
    values: Vec<String>,
}

/// Why a config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line and column.
        message: String,
    },
    /// A key names no option.
    #[error("config file {path}: unknown key `{key}`{hint}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key as written.
        key: String,
        /// `" (did you mean `ring-timeout`?)"`, or empty.
        hint: String,
    },
    /// A value is not one the option takes.
    #[error("config file {path}: `{key}`: {message}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Why, in the words of the option's value parser.
        message: String,
    },
}

impl ConfigFile {
    /// Reads and checks the file at `path` (see [`ConfigFile::parse`]).
    ///
    /// # Errors
    /// When the file cannot be read, or [`ConfigFile::parse`] refuses it.
    pub fn read(path: &Path) -> Result<Self, ConfigFileError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    /// Checks `text`, the content of the file at `path`: every key must be
    /// the long name of a [`Config`] option, and every value must be one the
    /// option's flag would take. Values are TOML strings, integers or
    /// booleans (`true` or `false` for a flag without a value); an option
    /// that may be given more than once also takes an array of them.
    ///
    /// # Errors
    /// A [`ConfigFileError`] naming the first bad key.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigFileError> {
        let table: toml::Table = text.parse().map_err(|error: toml::de::Error| ConfigFileError::Syntax {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
        let options = options();
        let mut settings = Vec::with_capacity(table.len());
        for (key, value) in &table {
            let Some(arg) = options.get_arguments().find(|arg| arg.get_long() == Some(key.as_str())) else {
                return Err(ConfigFileError::UnknownKey {
                    path: path.to_owned(),
                    key: key.clone(),
                    hint: nearest(key, &options).map(|near| format!(" (did you mean `{near}`?)")).unwrap_or_default(),
                });
            };
            let bad = |message: String| ConfigFileError::BadValue { path: path.to_owned(), key: key.clone(), message };
            let is_flag = matches!(arg.get_action(), ArgAction::SetTrue);
            let repeatable = matches!(arg.get_action(), ArgAction::Append);
            let values = match value {
                toml::Value::Boolean(flag) if is_flag => vec![flag.to_string()],
                _ if is_flag => return Err(bad("expected true or false".to_owned())),
                toml::Value::Array(items) if repeatable => {
                    items.iter().map(scalar).collect::<Result<Vec<_>, _>>().map_err(bad)?
                }
                toml::Value::Array(_) => return Err(bad("takes one value, not an array".to_owned())),
                other => vec![scalar(other).map_err(bad)?],
            };
            if !is_flag {
                check(&options, key, &values).map_err(bad)?;
            }
            settings.push(Setting { id: arg.get_id().to_string(), key: key.clone(), values });
        }
        Ok(Self { path: path.to_owned(), settings })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file sets the option whose long name is `key`.
    #[must_use]
    pub fn sets(&self, key: &str) -> bool {
        self.settings.iter().any(|setting| setting.key == key)
    }

    /// `command` (a `serve`-like command that flattens [`Config`]) with the
    /// file's values as its options' defaults, so that an env var or a flag
    /// still wins over them.
    #[must_use]
    pub fn install(&self, command: Command) -> Command {
        self.settings.iter().fold(command, |command, setting| {
            command.mut_arg(&setting.id, |arg| arg.default_values(setting.values.clone()))
        })
    }
}

/// A TOML value that one flag value can spell: a string, or an integer or a
/// boolean written as text for the value parser.
fn scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(number) => Ok(number.to_string()),
        toml::Value::Boolean(flag) => Ok(flag.to_string()),
        toml::Value::Float(_) => Err("expected a string or an integer, not a float".to_owned()),
        toml::Value::Datetime(_) => Err("expected a string, not a date (durations are written \"30s\")".to_owned()),
        toml::Value::Array(_) => Err("expected a string, not a nested array".to_owned()),
        toml::Value::Table(_) => Err("expected a value, not a table (the file has no sections)".to_owned()),
    }
}

/// Parses `values` for the option `key` alone, as clap parses the flag,
/// with no env var read. The message is the value parser's own.
fn check(options: &Command, key: &str, values: &[String]) -> Result<(), String> {
    // Every argument stays (a `conflicts_with` must find its peer), but none
    // reads the environment: only this key is judged.
    let alone = options.clone().no_binary_name(true).mut_args(|arg| arg.env(None));
    let argv: Vec<String> = values.iter().map(|value| format!("--{key}={value}")).collect();
    match alone.try_get_matches_from(argv) {
        Ok(_) => Ok(()),
        Err(error) => {
            use clap::error::{ContextKind, ContextValue};
            use std::error::Error as _;
            let value = values.join(",");
            Err(match (error.source(), error.get(ContextKind::ValidValue)) {
                (Some(source), _) => format!("invalid value {value:?}: {source}"),
                (None, Some(ContextValue::Strings(valid))) => {
                    format!("invalid value {value:?}: expected one of {}", valid.join(", "))
                }
                _ => error.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned(),
            })
        }
    }
}

/// The known key closest to `key`, if one is close (the measure and the
/// threshold clap uses to suggest a flag).
fn nearest(key: &str, options: &Command) -> Option<String> {
    options
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .map(|long| (strsim::jaro(key, long), long))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, long)| long.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, String> {
        ConfigFile::parse(Path::new("t.toml"), text).map_err(|error| error.to_string())
    }

    #[test]
    fn values_of_every_kind_are_taken() {
        let file = parse(
            "listen = \"0.0.0.0:9000\"\nring-timeout = \"45s\"\nroom-capacity = 4\nturn-open = true\n\
             allowed-origin = [\"https://a.example\", \"https://b.example\"]\nice-server = \"stun:s.example\"\n",
        )
        .unwrap();
        assert!(file.sets("ring-timeout") && file.sets("allowed-origin") && !file.sets("rate-limit"));
    }

    #[test]
    fn an_unknown_key_is_named_with_the_nearest_known_one() {
        let error = parse("ring-timout = \"30s\"").unwrap_err();
        assert!(error.contains("unknown key `ring-timout` (did you mean `ring-timeout`?)"), "{error}");
        let error = parse("config = \"other.toml\"").unwrap_err();
        assert!(error.contains("unknown key `config`"), "{error}");
        // The field's name is not the key: the flag's long name is.
        let error = parse("allowed_origins = []").unwrap_err();
        assert!(error.contains("unknown key `allowed_origins` (did you mean `allowed-origin`?)"), "{error}");
    }

    #[test]
    fn a_bad_value_names_its_key_and_the_parsers_reason() {
        let error = parse("ring-timeout = \"soon\"").unwrap_err();
        assert!(error.starts_with("config file t.toml: `ring-timeout`: invalid value \"soon\""), "{error}");
        let error = parse("room-capacity = 0").unwrap_err();
        assert!(error.contains("`room-capacity`") && error.contains("must be at least 1"), "{error}");
        let error = parse("allowed-origin = [\"https://a.example/path\"]").unwrap_err();
        assert!(error.contains("`allowed-origin`"), "{error}");
        let error = parse("log-format = \"xml\"").unwrap_err();
        assert!(error.contains("`log-format`: invalid value \"xml\": expected one of text, json"), "{error}");
        let error = parse("turn-open = \"yes\"").unwrap_err();
        assert!(error.contains("`turn-open`: expected true or false"), "{error}");
        let error = parse("listen = [\"127.0.0.1:1\"]").unwrap_err();
        assert!(error.contains("`listen`: takes one value, not an array"), "{error}");
        let error = parse("[serve]\nlisten = \"127.0.0.1:1\"").unwrap_err();
        assert!(error.contains("unknown key `serve`"), "{error}");
        let error = parse("listen = ").unwrap_err();
        assert!(error.contains("not valid TOML"), "{error}");
    }

    #[test]
    fn installed_values_are_defaults_that_flags_override() {
        let file = parse("ring-timeout = \"45s\"\nallowed-origin = [\"https://a.example\"]").unwrap();
        let command = file.install(options().no_binary_name(true).mut_args(|arg| arg.env(None)));
        let matches = command.clone().try_get_matches_from(Vec::<String>::new()).unwrap();
        assert_eq!(matches.get_one::<std::time::Duration>("ring_timeout"), Some(&std::time::Duration::from_secs(45)));
        let matches = command.try_get_matches_from(["--ring-timeout", "5s"]).unwrap();
        assert_eq!(matches.get_one::<std::time::Duration>("ring_timeout"), Some(&std::time::Duration::from_secs(5)));
        assert_eq!(matches.get_many::<crate::Origin>("allowed_origins").unwrap().count(), 1);
    }
}
