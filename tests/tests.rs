//! One integration-test binary; each module is a feature.

mod support;

mod messy;
mod province;
mod publish;
mod rejects;
