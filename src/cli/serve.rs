//! `fugong serve --jobs DIR [--metrics-addr 127.0.0.1:9187]`

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::{PathArg, subprocess_isolation};
use crate::intake::Isolation;
use crate::schedule::{ServeOptions, load_jobs, serve};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Folder of job files (*.toml); every one is scheduled.
    #[arg(long)]
    pub jobs: PathArg,
    /// Loopback address for /healthz and /metrics; "off" to disable.
    #[arg(long, default_value = "127.0.0.1:9187")]
    pub metrics_addr: String,
    /// Read workbooks in this process instead of reader worker processes.
    #[arg(long)]
    pub in_process: bool,
    /// Seconds a run waits for another fugong writing the same warehouse.
    #[arg(long, default_value_t = 600)]
    pub lock_wait_secs: u64,
    /// Address of the intake portal (districts upload, the board, the report); "off" to serve none.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// PEM certificate chain: serve the portal over HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathArg>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathArg>,
    /// Seconds an upload's body may take to arrive before the portal answers 408.
    #[arg(long, default_value_t = 30)]
    pub body_timeout_secs: u64,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let jobs = load_jobs(&args.jobs)?;
    let metrics_addr = if args.metrics_addr == "off" {
        None
    } else {
        Some(args.metrics_addr.parse::<SocketAddr>().map_err(|e| {
            super::UsageError(format!(
                "--metrics-addr {}: {e} (give an address such as 127.0.0.1:9187, or off)",
                args.metrics_addr
            ))
        })?)
    };
    let memory = jobs
        .iter()
        .map(|j| j.job.limits.max_reader_memory_bytes)
        .max()
        .unwrap_or(0);
    let options = ServeOptions {
        isolation: if args.in_process {
            Isolation::InProcess
        } else {
            subprocess_isolation(memory)
        },
        metrics_addr,
        lock_wait: Duration::from_secs(args.lock_wait_secs),
        portal: if args.listen == "off" {
            None
        } else {
            Some(crate::schedule::PortalOptions {
                listen: args.listen.parse::<SocketAddr>().map_err(|e| {
                    super::UsageError(format!(
                        "--listen {}: {e} (give an address such as 127.0.0.1:8080, or off)",
                        args.listen
                    ))
                })?,
                tls: args.tls_cert.clone().zip(args.tls_key.clone()),
                body_deadline: Duration::from_secs(args.body_timeout_secs.max(1)),
            })
        },
    };
    serve(jobs, options)?;
    Ok(ExitCode::SUCCESS)
}
