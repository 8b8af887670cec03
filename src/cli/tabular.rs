//! `--format table|csv|json` for the commands that print rows (`compare`, `history`, `versions`,
//! `validate`): one set of named columns, three renderings. CSV is UTF-8 with a byte-order mark, so that
//! Excel opens it with the Chinese intact; JSON is an array of objects keyed by the column names.

use clap::ValueEnum;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table for a terminal.
    #[value(alias = "text")]
    Table,
    /// CSV, UTF-8 with a BOM (Excel reads the Chinese right).
    Csv,
    /// JSON: an array of objects.
    Json,
}

/// Rows with named columns.
#[derive(Debug, Clone, Default)]
pub struct Tabular {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Tabular {
    pub fn new(columns: &[&'static str]) -> Tabular {
        Tabular {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Add a row (as many values as columns).
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    pub fn table(&self) -> Table {
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        table.set_header(self.columns.clone());
        for row in &self.rows {
            table.add_row(row.iter().map(text_of).collect::<Vec<_>>());
        }
        table
    }

    /// CSV with a UTF-8 byte-order mark and a header row.
    pub fn csv(&self) -> anyhow::Result<String> {
        let mut writer = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
        writer.write_record(&self.columns)?;
        for row in &self.rows {
            writer.write_record(row.iter().map(text_of))?;
        }
        let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(String::from_utf8(bytes)?)
    }

    pub fn json(&self) -> anyhow::Result<String> {
        let objects: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                Value::Object(
                    self.columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| (c.to_string(), v.clone()))
                        .collect(),
                )
            })
            .collect();
        Ok(serde_json::to_string_pretty(&objects)?)
    }

    /// Print in `format`; `footer` follows the table rendering only.
    pub fn print(&self, format: OutputFormat, footer: Option<String>) -> anyhow::Result<()> {
        match format {
            OutputFormat::Table => {
                super::out::line(self.table())?;
                if let Some(footer) = footer {
                    super::out::line(footer)?;
                }
            }
            // No trailing newline added to CSV beyond the writer's own.
            OutputFormat::Csv => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                out.write_all(self.csv()?.as_bytes())?;
                out.flush()?;
            }
            OutputFormat::Json => super::out::line(self.json()?)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_bom_and_quotes_what_needs_it_json_keeps_types() {
        let mut t = Tabular::new(&["city_name", "rate", "note"]);
        t.push(vec![
            Value::from("济南市"),
            Value::from(0.987_798_4),
            Value::from("a, b"),
        ]);
        t.push(vec![Value::from("青岛市"), Value::Null, Value::Null]);
        let csv = t.csv().expect("csv");
        assert!(csv.starts_with('\u{feff}'));
        assert!(csv.contains("济南市,0.9877984,\"a, b\""), "{csv}");
        assert!(csv.contains("青岛市,,"), "{csv}");
        let json: Vec<serde_json::Map<String, Value>> =
            serde_json::from_str(&t.json().expect("json")).expect("parse");
        assert_eq!(json[0]["rate"], Value::from(0.987_798_4));
        assert_eq!(json[1]["rate"], Value::Null);
    }
}
