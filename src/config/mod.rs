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
    let message = e.message().trim().replace('\n', " ");
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
