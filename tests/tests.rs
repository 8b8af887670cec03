//! One integration-test binary; each module is a feature.

mod support;

mod anomaly;
mod browser;
mod cli;
mod clients;
mod comforts;
mod delta;
mod evolution;
mod example_data;
mod foreign;
mod formats;
mod hostile;
mod http;
mod messy;
mod normalize_props;
mod notify;
mod operator;
mod portal;
mod problems;
mod province;
mod publish;
mod reading;
mod rejects;
mod report;
mod serve;
mod template;
mod trust;
