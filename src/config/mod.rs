//! Configuration: job files (`jobs/*.toml`) and schema files (`schemas/*.toml`).
//!
//! Each file is parsed into a `*Config` struct that mirrors the TOML exactly (unknown keys are errors that
//! name the key and the file), then built into the run-time type the pipeline uses (`Job`, `Schema`).

pub mod job;
pub mod schema;
pub mod source;

pub use job::{AnomalyThresholds, District, Job, JobConfig, Limits, SourceKind};
pub use schema::{FieldType, Schema, SchemaConfig};

use std::path::PathBuf;

/// A TOML error on one line: "line 5, column 1: unknown field `schedul`, expected one of …".
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = with_suggestion(&e.message().trim().replace('\n', " "));
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit('\n')
                .next()
                .map(|l| l.chars().count())
                .unwrap_or(0)
                + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// serde's "unknown field `catchup_day`, expected one of `name`, …" with the nearest known key named
/// first: "unknown key `catchup_day` (did you mean `catchup_days`?); the keys are …".
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((unknown, after)) = rest.split_once('`') else {
        return message.to_string();
    };
    let known: Vec<&str> = after
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|k| !k.is_empty())
        .collect();
    let nearest = known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(unknown, k), *k))
        .filter(|(distance, k)| *distance <= 3.max(k.len() / 3))
        .min();
    let keys = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match nearest {
        Some((_, k)) => {
            format!("unknown key `{unknown}` (did you mean `{k}`?); the keys here are {keys}")
        }
        None => format!("unknown key `{unknown}`; the keys here are {keys}"),
    }
}

/// Why a job or schema file cannot be used. Every message names the file and says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid {what} file: {message}")]
    Parse {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}
