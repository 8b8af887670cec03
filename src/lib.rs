//! fugong (复工): the nightly pipeline behind the provincial work-resumption comparison.
//!
//! pull → read → validate → compare → records → publish. Each stage is a module; `pipeline::run_job`
//! strings them together for one job and one date.

pub mod cli;
pub mod compare;
pub mod config;
pub mod day;
pub mod ledger;
pub mod metrics;
pub mod pipeline;
pub mod publish;
pub mod pull;
pub mod read;
pub mod records;
pub mod report;
pub mod schedule;
pub mod text;
pub mod validate;

pub use pipeline::{RunError, RunOptions, RunReport, run_job};
