//! `fugong template --job FILE (--district CODE | --all) [--date D] --out FILE.xlsx|DIR`: the day's
//! template of a district (or of every district, one file each into a folder), pre-filled from its last
//! published enterprises (contract §13).

use std::process::ExitCode;

use clap::Args;

use super::{PathArg, UsageError, out, parse_date};
use crate::config::Job;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["district", "all"])))]
pub struct TemplateArgs {
    #[arg(long)]
    pub job: PathArg,
    /// The district's code.
    #[arg(long)]
    pub district: Option<String>,
    /// Every district of the job (`--out` is then a folder).
    #[arg(long)]
    pub all: bool,
    /// The report date the template is for (default: the job's target date).
    #[arg(long, value_parser = parse_date)]
    pub date: Option<chrono::NaiveDate>,
    /// The workbook to write (a folder with --all).
    #[arg(long)]
    pub out: PathArg,
}

pub fn run(args: TemplateArgs) -> anyhow::Result<ExitCode> {
    let job = Job::load(&args.job)?;
    let date = match args.date {
        Some(d) => d,
        None => job.target_date(chrono::Utc::now())?,
    };
    let warehouse = crate::publish::open(&job.output)?;
    let districts: Vec<&crate::config::District> = match &args.district {
        Some(code) => vec![
            job.districts
                .iter()
                .find(|d| &d.code == code)
                .ok_or_else(|| {
                    UsageError(format!(
                        "--district {code} is not a district of {} ({})",
                        job.path.display(),
                        job.name
                    ))
                })?,
        ],
        None => job.districts.iter().collect(),
    };
    if args.all {
        std::fs::create_dir_all(&args.out)?;
    }
    for d in &districts {
        let (name, bytes) = crate::report::template::template_for(&job, &*warehouse, d, date)?;
        let path = if args.all {
            args.out.join(&name)
        } else {
            args.out.clone()
        };
        std::fs::write(&path, bytes)?;
        out::line(path.display())?;
    }
    if args.all {
        out::line(format!("{} template(s) for {date}", districts.len()))?;
    }
    Ok(ExitCode::SUCCESS)
}
