//! Schema evolution of `enterprise_daily`: what a province may change in its schema file once dates are
//! published, checked against the columns the warehouse already holds before anything is read.
//!
//! - Adding a field is allowed, with `version` raised above every version already published: each
//!   date's manifest says which version (and so which columns) it was written with, and the dates before
//!   it read the new column as null (Delta merges the table schema; the plain layout needs the reader
//!   options of the cookbook).
//! - Renaming, removing or retyping a published field is refused: an analyst's query over many dates
//!   would silently lose or mistype the column. The message says to add a new field instead.
//! - Making a field required or optional is allowed: the column keeps its name and type.

use arrow::datatypes::{DataType, Schema as ArrowSchema};

use super::enterprise_daily_schema;
use crate::config::Schema;
pub use crate::publish::PublishedSchema;

/// The partition column a Delta table's schema carries beside the data columns.
const PARTITION: &str = "snapshot_date";

/// A schema change the warehouse cannot take.
#[derive(Debug, thiserror::Error)]
pub enum SchemaChangeError {
    #[error(
        "the schema file renames or removes `{field}`, a column of enterprise_daily already published \
         (schema version {published}): a published field cannot be renamed or removed, because queries over \
         many dates would lose it. Put `{field}` back (it may be `required = false`) and add the new name as \
         a new field, with `version` raised to {next}"
    )]
    Removed {
        field: String,
        published: u32,
        next: u32,
    },
    #[error(
        "the schema file changes the type of `{field}` from {was} to {now}, but enterprise_daily is already \
         published with {was} (schema version {published}): a published field's type cannot change. Keep \
         `{field}` as it was and add a new field with a new name and the new type, with `version` raised to \
         {next}"
    )]
    Retyped {
        field: String,
        was: String,
        now: String,
        published: u32,
        next: u32,
    },
    #[error(
        "the schema file adds {fields} but keeps version {version}, and the warehouse already holds dates \
         published with version {published}: set `version = {next}` in the schema file, so that every \
         date's manifest says which columns it was written with"
    )]
    NotRaised {
        fields: String,
        version: u32,
        published: u32,
        next: u32,
    },
    #[error(
        "the schema file is version {version}, but the warehouse already holds dates published with version \
         {published}: run the job with the newer schema file"
    )]
    Older { version: u32, published: u32 },
}

/// Readable type names for messages, in the schema file's words where there is one.
fn type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::Boolean => "bool".into(),
        DataType::Date32 => "date".into(),
        DataType::Int64 => "int".into(),
        DataType::Float64 => "ratio".into(),
        DataType::Decimal128(18, 2) => "money".into(),
        other => other.to_string(),
    }
}

/// Whether two column types are the same for a reader: Delta's kernel and Parquet's footer spell a
/// string column in more than one Arrow way.
fn same_type(a: &DataType, b: &DataType) -> bool {
    let norm = |t: &DataType| match t {
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        other => other.clone(),
    };
    norm(a) == norm(b)
}

/// Check a job's schema against what is published. Ok with the names of the columns it adds (empty
/// when nothing changes).
pub fn check(
    published: Option<&PublishedSchema>,
    schema: &Schema,
) -> Result<Vec<String>, SchemaChangeError> {
    let Some(published) = published else {
        return Ok(Vec::new());
    };
    let next = published.version.max(schema.version) + 1;
    let now: ArrowSchema = enterprise_daily_schema(schema).as_ref().clone();
    for old in published.columns.fields() {
        if old.name() == PARTITION {
            continue;
        }
        match now.field_with_name(old.name()) {
            Err(_) => {
                return Err(SchemaChangeError::Removed {
                    field: old.name().clone(),
                    published: published.version,
                    next,
                });
            }
            Ok(new) if !same_type(new.data_type(), old.data_type()) => {
                return Err(SchemaChangeError::Retyped {
                    field: old.name().clone(),
                    was: type_name(old.data_type()),
                    now: type_name(new.data_type()),
                    published: published.version,
                    next,
                });
            }
            Ok(_) => {}
        }
    }
    if schema.version < published.version {
        return Err(SchemaChangeError::Older {
            version: schema.version,
            published: published.version,
        });
    }
    let added: Vec<String> = now
        .fields()
        .iter()
        .filter(|f| published.columns.field_with_name(f.name()).is_err())
        .map(|f| f.name().clone())
        .collect();
    if !added.is_empty() && schema.version <= published.version {
        return Err(SchemaChangeError::NotRaised {
            fields: added
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", "),
            version: schema.version,
            published: published.version,
            next,
        });
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_with(extra: &str, version: u32) -> Schema {
        let text = crate::config::schema::BUILTIN_SCHEMA_TOML
            .replace("version = 1", &format!("version = {version}"))
            + extra;
        Schema::from_toml_str(&text, std::path::Path::new("test.toml")).expect("schema")
    }

    const EXPORT: &str = "\n[[fields]]\nname = \"export_orders\"\nlabel = \"出口订单\"\ntype = \"int\"\naliases = [\"出口订单\"]\n";

    fn published(version: u32, schema: &Schema) -> PublishedSchema {
        PublishedSchema {
            version,
            columns: enterprise_daily_schema(schema),
        }
    }

    #[test]
    fn an_added_field_needs_a_higher_version() {
        let v1 = schema_with("", 1);
        let p = published(1, &v1);
        assert_eq!(check(Some(&p), &v1).expect("same"), Vec::<String>::new());
        let err = check(Some(&p), &schema_with(EXPORT, 1)).expect_err("not raised");
        assert!(
            err.to_string().contains("set `version = 2`")
                && err.to_string().contains("`export_orders`"),
            "{err}"
        );
        assert_eq!(
            check(Some(&p), &schema_with(EXPORT, 2)).expect("raised"),
            vec!["export_orders".to_string()]
        );
    }

    #[test]
    fn renaming_retyping_or_going_back_is_refused() {
        let v2 = schema_with(EXPORT, 2);
        let p = published(2, &v2);
        let renamed = schema_with(&EXPORT.replace("export_orders", "export_order_count"), 3);
        let err = check(Some(&p), &renamed).expect_err("renamed");
        assert!(
            matches!(&err, SchemaChangeError::Removed { field, .. } if field == "export_orders"),
            "{err}"
        );
        assert!(err.to_string().contains("add the new name as a new field"));
        let retyped = schema_with(&EXPORT.replace("\"int\"", "\"money\""), 3);
        let err = check(Some(&p), &retyped).expect_err("retyped");
        assert!(err.to_string().contains("from int to money"), "{err}");
        let err = check(Some(&p), &schema_with(EXPORT, 1)).expect_err("older");
        assert!(matches!(err, SchemaChangeError::Older { .. }), "{err}");
    }

    #[test]
    fn required_or_optional_may_change_and_an_empty_warehouse_takes_anything() {
        let v1 = schema_with("", 1);
        let p = published(1, &v1);
        let optional = schema_with("", 1);
        let text = crate::config::schema::BUILTIN_SCHEMA_TOML.replacen(
            "type = \"int\"\nrequired = true",
            "type = \"int\"\nrequired = false",
            1,
        );
        let relaxed = Schema::from_toml_str(&text, std::path::Path::new("t.toml")).expect("schema");
        assert!(check(Some(&p), &relaxed).is_ok());
        assert!(check(None, &optional).is_ok());
    }
}
