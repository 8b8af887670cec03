//! Configuration: job files (`jobs/*.toml`) and schema files (`schemas/*.toml`).
//!
//! Each file is parsed into a `*Config` struct that mirrors the TOML exactly (unknown keys are errors that
//! name the key and the file), then built into the run-time type the pipeline uses (`Job`, `Schema`).

pub mod job;
pub mod schema;

pub use job::{District, Job, JobConfig, Limits, SourceKind};
pub use schema::{FieldType, Schema, SchemaConfig};

use std::path::PathBuf;

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
