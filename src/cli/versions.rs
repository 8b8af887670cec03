//! `fugong versions --output DIR | --job FILE --date D [--format table|csv|json]`: the published versions of
//! a date, oldest first, the live one marked.

use std::process::ExitCode;

use clap::Args;

use super::tabular::{OutputFormat, Tabular};
use super::{WarehouseArgs, out, parse_date};

#[derive(Debug, Args)]
pub struct VersionsArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The report date, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub date: chrono::NaiveDate,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

pub fn run(args: VersionsArgs) -> anyhow::Result<ExitCode> {
    let (warehouse, _, _) = args.warehouse.open()?;
    let list = warehouse.versions(args.date)?;
    if list.is_empty() {
        anyhow::bail!(
            "{} has never been published in {}",
            args.date,
            warehouse.location()
        );
    }
    if args.format == OutputFormat::Json {
        // The whole records, counts per table included.
        out::line(serde_json::to_string_pretty(&list)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = Tabular::new(&[
        "version",
        "live",
        "published at",
        "trigger",
        "accepted",
        "partial",
        "rejected",
        "missing",
        "kept-previous",
        "enterprise rows",
        "note",
    ]);
    for v in &list {
        let note = match (v.restored_version, &v.note) {
            (Some(n), _) => format!("restores version {n}"),
            (None, Some(note)) => note.clone(),
            (None, None) => String::new(),
        };
        rows.push(vec![
            v.version.into(),
            (if v.live { "*" } else { "" }).into(),
            v.published_at.clone().into(),
            v.trigger.clone().into(),
            v.accepted.into(),
            v.partial.into(),
            v.rejected.into(),
            v.missing.into(),
            v.kept_previous.into(),
            v.rows.get("enterprise_daily").copied().into(),
            note.into(),
        ]);
    }
    rows.print(
        args.format,
        Some(format!(
            "{} version(s) of {} in {}",
            list.len(),
            args.date,
            warehouse.location()
        )),
    )?;
    Ok(ExitCode::SUCCESS)
}
