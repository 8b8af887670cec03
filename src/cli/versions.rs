//! `fugong versions --output DIR | --job FILE --date D [--format table|json]`: the published versions of
//! a date, oldest first, the live one marked.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::{WarehouseArgs, out, parse_date};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct VersionsArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The report date, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub date: chrono::NaiveDate,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
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
    match args.format {
        Format::Json => out::line(serde_json::to_string_pretty(&list)?)?,
        Format::Table => {
            let mut table = Table::new();
            table.load_style(UTF8_FULL_CONDENSED);
            table.set_header(vec![
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
                table.add_row(vec![
                    v.version.to_string(),
                    if v.live { "*".into() } else { String::new() },
                    v.published_at.clone().unwrap_or_default(),
                    v.trigger.clone().unwrap_or_default(),
                    v.accepted.to_string(),
                    v.partial.to_string(),
                    v.rejected.to_string(),
                    v.missing.to_string(),
                    v.kept_previous.to_string(),
                    v.rows
                        .get("enterprise_daily")
                        .map(u64::to_string)
                        .unwrap_or_default(),
                    note,
                ]);
            }
            out::line(table)?;
            out::line(format!(
                "{} version(s) of {} in {}",
                list.len(),
                args.date,
                warehouse.location()
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
