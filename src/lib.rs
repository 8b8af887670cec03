//! fugong (复工): the nightly pipeline behind the provincial work-resumption comparison.
//!
//! pull → read → validate → records → publish → compare. Each stage is a module and depends only on
//! the stages before it (and `config`, `day`, `tally`, `text`, the shared types); `pipeline` strings
//! them together for one job and one date, `metrics` observes the run reports it is handed.

pub mod cli;
pub mod compare;
pub mod config;
pub mod day;
pub mod intake;
pub mod keys;
pub mod ledger;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod problems;
pub mod publish;
pub mod pull;
pub mod read;
pub mod records;
pub mod report;
pub mod schedule;
pub mod tally;
pub mod text;
pub mod validate;
pub mod web;

pub use pipeline::{RunError, RunOptions, RunReport, run_job};
