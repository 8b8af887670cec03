//! The template schema (`schemas/enterprise_daily.toml`): canonical fields, their types, header aliases and
//! rules. The reader finds columns through it and the validator reads values through it, so a province can
//! add an alias or an optional column without touching Rust code.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::ConfigError;
use crate::text::header_key;

/// The schema shipped in `schemas/`, used when a job file names none (contract §7).
pub const BUILTIN_SCHEMA_TOML: &str = include_str!("../../schemas/enterprise_daily.toml");

/// Fields the comparison stage reads by name; every schema must define them with these types.
const COMPARISON_FIELDS: [(&str, FieldType); 4] = [
    ("resumed", FieldType::Bool),
    ("employees_total", FieldType::Int),
    ("employees_on_duty", FieldType::Int),
    ("capacity_utilization", FieldType::Ratio),
];

/// A schema file exactly as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaConfig {
    /// Schema identifier, e.g. `enterprise_daily`.
    pub id: String,
    /// Bumped whenever a field's meaning changes; recorded in every manifest.
    pub version: u32,
    /// The report's usual title (informational).
    #[serde(default)]
    pub title: Option<String>,
    /// How many sheet rows from the top are searched for the header block.
    #[serde(default = "default_header_search_rows")]
    pub header_search_rows: u32,
    /// Headers that are recognised and ignored (序号).
    #[serde(default)]
    pub ignored_headers: Vec<String>,
    /// Group headers spanning sub-headers in a two-row header (职工情况); part of the header block.
    #[serde(default)]
    pub group_headers: Vec<String>,
    pub rows: RowsConfig,
    pub header_block: HeaderBlockConfig,
    pub fields: Vec<FieldConfig>,
    #[serde(default)]
    pub checks: Vec<CheckConfig>,
    /// How `issues_text` is read into problems (contract §11); the defaults when absent.
    #[serde(default)]
    pub problems: Option<ProblemsConfig>,
    /// Problem categories in order; the defaults (用工, 原材料, 物流, 资金, 防疫物资, 订单) when absent.
    #[serde(default)]
    pub problem_categories: Vec<ProblemCategoryConfig>,
}

/// `[problems]`: the text field and the markers that mean "no problem" or "solved".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemsConfig {
    /// The field whose text is classified (default `issues_text`).
    #[serde(default = "default_problem_field")]
    pub field: String,
    /// A whole text (after punctuation and filler words) equal to one of these means no problem: 无.
    pub none_markers: Vec<String>,
    /// A clause containing one of these reports a problem solved: it opens nothing (已解决).
    pub solved_markers: Vec<String>,
    /// Words that add nothing after a none marker (暂无问题, 没有困难).
    #[serde(default)]
    pub filler_words: Vec<String>,
    /// The category of a problem that matches no keyword.
    #[serde(default = "default_other_category")]
    pub other_category: String,
}

fn default_problem_field() -> String {
    "issues_text".into()
}

fn default_other_category() -> String {
    "其他".into()
}

/// `[[problem_categories]]`: a category and the keywords that put a text in it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemCategoryConfig {
    pub name: String,
    pub keywords: Vec<String>,
}

/// A problem category at run time: its name and keywords shared (`Arc<str>`), so that the many
/// problems of a ledger hold references, not copies.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemCategory {
    pub name: Arc<str>,
    pub keywords: Vec<Arc<str>>,
}

/// The run-time problem rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemRules {
    /// Index of the text field in the schema's fields.
    pub field: usize,
    pub categories: Vec<ProblemCategory>,
    pub none_markers: Vec<String>,
    pub solved_markers: Vec<String>,
    pub filler_words: Vec<String>,
    pub other_category: Arc<str>,
    /// Every keyword and marker above in one automaton, built once with the schema.
    pub matcher: crate::problems::classify::Matcher,
}

impl ProblemRules {
    /// The shared name of a category (the other category included), for rows read back.
    pub fn category(&self, name: &str) -> Option<&Arc<str>> {
        if *self.other_category == *name {
            return Some(&self.other_category);
        }
        self.categories
            .iter()
            .find(|c| *c.name == *name)
            .map(|c| &c.name)
    }
}

/// The default problem rules: the built-in schema file's own tables, so that the defaults and the
/// shipped file cannot drift (a unit test checks the file has them).
fn default_problems() -> (Option<ProblemsConfig>, Vec<ProblemCategoryConfig>) {
    #[derive(Deserialize)]
    struct Tables {
        problems: Option<ProblemsConfig>,
        #[serde(default)]
        problem_categories: Vec<ProblemCategoryConfig>,
    }
    let text = BUILTIN_SCHEMA_TOML
        .split_once("\n[problems]")
        .map(|(_, rest)| format!("[problems]{rest}"))
        .unwrap_or_default();
    // Only the problem tables are parsed: they are the end of the built-in file.
    match toml::from_str::<Tables>(&text) {
        Ok(t) => (t.problems, t.problem_categories),
        Err(_) => (None, Vec::new()),
    }
}

const fn default_header_search_rows() -> u32 {
    20
}

/// Rows that are not enterprises.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowsConfig {
    /// A row whose first non-empty cell starts with one of these is the total row (合计), checked
    /// against the accepted rows.
    pub total_markers: Vec<String>,
    /// Subtotal rows (小计): never enterprises, not checked.
    #[serde(default)]
    pub subtotal_markers: Vec<String>,
    /// A row whose first non-empty cell starts with one of these ends the table (填表人, 备注).
    pub end_markers: Vec<String>,
}

/// Labels of the header block above the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderBlockConfig {
    /// Labels whose value names the reporting district (填报单位).
    pub unit_labels: Vec<String>,
    /// Labels whose value is the report date (填报日期).
    pub date_labels: Vec<String>,
}

/// One canonical field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldConfig {
    /// Column name in `enterprise_daily` (snake_case).
    pub name: String,
    /// The Chinese label used in messages to district clerks.
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub required: bool,
    /// The field that identifies an enterprise within a date (exactly one).
    #[serde(default)]
    pub key: bool,
    /// Personal data: the column is recognised but never validated or written anywhere.
    #[serde(default)]
    pub personal: bool,
    /// Header texts that mean this field (matched after normalising, see `header_key`).
    pub aliases: Vec<String>,
    /// Smallest allowed value (numeric types).
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest allowed value (numeric types).
    #[serde(default)]
    pub max: Option<f64>,
    /// Dates: a value after the report date is a constraint-error.
    #[serde(default)]
    pub not_after_report_date: bool,
    /// The value is kept only when the named bool field is true (开工日期 of an enterprise not resumed is ignored).
    #[serde(default)]
    pub only_when_true: Option<String>,
    /// Money: the unit of a plain number (`万元`, `元` or `亿元`); a unit in the header overrides it.
    #[serde(default)]
    pub unit: Option<String>,
}

/// A rule between two fields of one row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    pub kind: CheckKind,
    pub field: String,
    pub than: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// `field` ≤ `than` (上岗人数 ≤ 职工总数).
    NotGreaterThan,
}

/// How a field's cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Uscc,
    Bool,
    Date,
    Int,
    Ratio,
    Money,
}

/// Multiplier from a money unit to yuan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyUnit {
    Yuan,
    TenThousandYuan,
    HundredMillionYuan,
}

impl MoneyUnit {
    pub fn parse(text: &str) -> Option<MoneyUnit> {
        match text {
            "元" | "人民币元" => Some(MoneyUnit::Yuan),
            "万元" | "万" => Some(MoneyUnit::TenThousandYuan),
            "亿元" | "亿" => Some(MoneyUnit::HundredMillionYuan),
            _ => None,
        }
    }

    /// Power of ten from this unit to yuan.
    pub fn exponent(self) -> u32 {
        match self {
            MoneyUnit::Yuan => 0,
            MoneyUnit::TenThousandYuan => 4,
            MoneyUnit::HundredMillionYuan => 8,
        }
    }
}

/// A built field.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub label: String,
    pub field_type: FieldType,
    pub required: bool,
    pub personal: bool,
    pub aliases: Vec<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub not_after_report_date: bool,
    /// Index of the bool field that must be true for this value to be kept.
    pub only_when_true: Option<usize>,
    pub unit: MoneyUnit,
}

/// A built cross-field check.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    pub kind: CheckKind,
    pub field: usize,
    pub than: usize,
}

/// The run-time schema.
#[derive(Debug, Clone)]
pub struct Schema {
    pub id: String,
    pub version: u32,
    pub header_search_rows: u32,
    pub fields: Vec<Field>,
    pub checks: Vec<Check>,
    pub key_field: usize,
    /// Normalised header text → field index.
    alias_index: HashMap<String, usize>,
    ignored_headers: HashSet<String>,
    group_headers: HashSet<String>,
    pub total_markers: Vec<String>,
    pub subtotal_markers: Vec<String>,
    pub end_markers: Vec<String>,
    pub unit_labels: Vec<String>,
    pub date_labels: Vec<String>,
    /// How `issues_text` becomes problems (contract §11).
    pub problems: ProblemRules,
    /// The workbook's title (after the district's name), for templates.
    pub title: String,
    /// The group header a template writes over 职工总数 and 上岗人数 (the first `group_headers`).
    pub group_header: Option<String>,
    /// The TOML this schema was built from (sent to reader worker processes).
    pub source_toml: String,
}

/// What a header cell means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMatch {
    Field(usize),
    Ignored,
    Group,
    Unknown,
}

impl Schema {
    /// The schema shipped with fugong.
    pub fn builtin() -> Result<Schema, ConfigError> {
        Self::from_toml_str(
            BUILTIN_SCHEMA_TOML,
            Path::new("schemas/enterprise_daily.toml (built in)"),
        )
    }

    pub fn load(path: &Path) -> Result<Schema, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, path)
    }

    pub fn from_toml_str(text: &str, path: &Path) -> Result<Schema, ConfigError> {
        let config: SchemaConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            what: "schema",
            message: super::toml_error(text, &e),
        })?;
        let mut schema = config.build(path)?;
        schema.source_toml = text.to_string();
        Ok(schema)
    }

    /// Index of the field with this canonical name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// What a header cell's text means (`key` already normalised with `header_key`).
    pub fn match_header(&self, key: &str) -> HeaderMatch {
        if let Some(&i) = self.alias_index.get(key) {
            HeaderMatch::Field(i)
        } else if self.ignored_headers.contains(key) {
            HeaderMatch::Ignored
        } else if self.group_headers.contains(key) {
            HeaderMatch::Group
        } else {
            HeaderMatch::Unknown
        }
    }

    /// Fields that are written to `enterprise_daily` (all but personal ones), in schema order.
    pub fn output_fields(&self) -> impl Iterator<Item = (usize, &Field)> {
        self.fields.iter().enumerate().filter(|(_, f)| !f.personal)
    }

    /// Index of a field the comparison needs (checked when the schema is built).
    pub fn comparison_field(&self, name: &str) -> usize {
        self.field_index(name).unwrap_or(usize::MAX)
    }
}

impl SchemaConfig {
    pub fn build(self, path: &Path) -> Result<Schema, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: PathBuf::from(path),
            message,
        };
        if self.fields.is_empty() {
            return Err(invalid("the schema defines no [[fields]]".into()));
        }
        let mut names = HashSet::new();
        let mut alias_index = HashMap::new();
        for (i, f) in self.fields.iter().enumerate() {
            if !names.insert(f.name.as_str()) {
                return Err(invalid(format!("field `{}` is defined twice", f.name)));
            }
            if f.aliases.is_empty() {
                return Err(invalid(format!("field `{}` has no aliases", f.name)));
            }
            for alias in &f.aliases {
                let key = header_key(alias).key;
                if let Some(&other) = alias_index.get(&key) {
                    let other: &FieldConfig = &self.fields[other];
                    return Err(invalid(format!(
                        "alias `{alias}` is given to both `{}` and `{}`",
                        other.name, f.name
                    )));
                }
                alias_index.insert(key, i);
            }
            if f.field_type != FieldType::Money && f.unit.is_some() {
                return Err(invalid(format!(
                    "field `{}`: `unit` applies to money fields only",
                    f.name
                )));
            }
        }
        let index_of = |name: &str, what: &str| {
            self.fields
                .iter()
                .position(|f| f.name == name)
                .ok_or_else(|| invalid(format!("{what} names `{name}`, which is not a field")))
        };
        let keys: Vec<usize> = (0..self.fields.len())
            .filter(|&i| self.fields[i].key)
            .collect();
        let key_field = match keys.as_slice() {
            [k] => *k,
            _ => {
                return Err(invalid(
                    "exactly one field must be marked `key = true`".into(),
                ));
            }
        };
        if !matches!(
            self.fields[key_field].field_type,
            FieldType::Uscc | FieldType::Text
        ) || !self.fields[key_field].required
        {
            return Err(invalid(
                "the key field must be a required text or uscc field".into(),
            ));
        }
        for (name, ty) in COMPARISON_FIELDS {
            let i = index_of(name, "the comparison")?;
            if self.fields[i].field_type != ty || self.fields[i].personal {
                return Err(invalid(format!(
                    "field `{name}` must be a non-personal {ty:?} field: the city comparison reads it"
                )));
            }
        }
        let mut fields = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let only_when_true = match &f.only_when_true {
                None => None,
                Some(name) => {
                    let i = index_of(name, &format!("field `{}`: only_when_true", f.name))?;
                    if self.fields[i].field_type != FieldType::Bool {
                        return Err(invalid(format!(
                            "field `{}`: only_when_true must name a bool field",
                            f.name
                        )));
                    }
                    Some(i)
                }
            };
            let unit = match &f.unit {
                None => MoneyUnit::TenThousandYuan,
                Some(u) => MoneyUnit::parse(u).ok_or_else(|| {
                    invalid(format!(
                        "field `{}`: unit `{u}` is not one of 元, 万元, 亿元",
                        f.name
                    ))
                })?,
            };
            fields.push(Field {
                name: f.name.clone(),
                label: f.label.clone(),
                field_type: f.field_type,
                required: f.required && !f.personal,
                personal: f.personal,
                aliases: f.aliases.clone(),
                min: f.min,
                max: f.max,
                not_after_report_date: f.not_after_report_date,
                only_when_true,
                unit,
            });
        }
        let mut checks = Vec::new();
        for c in &self.checks {
            checks.push(Check {
                kind: c.kind,
                field: index_of(&c.field, "a check")?,
                than: index_of(&c.than, "a check")?,
            });
        }
        let keys_of = |v: &[String]| v.iter().map(|s| header_key(s).key).collect::<HashSet<_>>();
        let (default_rules, default_categories) = default_problems();
        let Some(rules) = self.problems.or(default_rules) else {
            return Err(invalid(
                "the schema has no [problems] table and the built-in one is missing".into(),
            ));
        };
        let categories = if self.problem_categories.is_empty() {
            default_categories
        } else {
            self.problem_categories
        };
        let problem_field = fields
            .iter()
            .position(|f| f.name == rules.field && f.field_type == FieldType::Text)
            .ok_or_else(|| {
                invalid(format!(
                    "[problems] field = \"{}\" must name a text field of the schema",
                    rules.field
                ))
            })?;
        let mut seen = HashSet::new();
        for c in &categories {
            if c.name.trim().is_empty() || c.keywords.iter().any(|k| k.trim().is_empty()) {
                return Err(invalid(format!(
                    "problem category `{}` has an empty name or keyword",
                    c.name
                )));
            }
            if !seen.insert(c.name.clone()) || c.name == rules.other_category {
                return Err(invalid(format!(
                    "problem category `{}` is named twice (or is the other_category)",
                    c.name
                )));
            }
        }
        let categories: Vec<ProblemCategory> = categories
            .into_iter()
            .map(|c| ProblemCategory {
                name: c.name.as_str().into(),
                keywords: c.keywords.iter().map(|k| k.as_str().into()).collect(),
            })
            .collect();
        let matcher = crate::problems::classify::Matcher::new(
            &categories,
            &rules.solved_markers,
            &rules.filler_words,
        )
        .map_err(|e| {
            invalid(format!(
                "the problem keywords and markers are too many to search at once ({e}); use fewer"
            ))
        })?;
        let problems = ProblemRules {
            field: problem_field,
            categories,
            matcher,
            none_markers: rules.none_markers,
            solved_markers: rules.solved_markers,
            filler_words: rules.filler_words,
            other_category: rules.other_category.as_str().into(),
        };
        Ok(Schema {
            id: self.id,
            version: self.version,
            header_search_rows: self.header_search_rows.max(1),
            fields,
            checks,
            key_field,
            alias_index,
            ignored_headers: keys_of(&self.ignored_headers),
            group_header: self.group_headers.first().cloned(),
            group_headers: keys_of(&self.group_headers),
            title: self
                .title
                .clone()
                .unwrap_or_else(|| "规模以上工业企业复工复产情况日报表".into()),
            total_markers: self.rows.total_markers,
            subtotal_markers: self.rows.subtotal_markers,
            end_markers: self.rows.end_markers,
            unit_labels: self.header_block.unit_labels,
            date_labels: self.header_block.date_labels,
            problems,
            source_toml: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_without_problem_tables_gets_the_built_in_ones() {
        let builtin = Schema::builtin().expect("schema");
        assert_eq!(builtin.problems.categories.len(), 6);
        assert_eq!(&*builtin.problems.categories[0].name, "用工");
        let cut = BUILTIN_SCHEMA_TOML
            .split_once("\n# Problems")
            .map(|(head, _)| head)
            .expect("the problem tables are last");
        assert!(!cut.contains("[problems]"));
        let older = Schema::from_toml_str(cut, Path::new("older.toml")).expect("schema");
        assert_eq!(older.problems, builtin.problems);
        let bad = format!(
            "{cut}\n[problems]\nfield = \"employees_total\"\nnone_markers = []\nsolved_markers = []\n"
        );
        let err = Schema::from_toml_str(&bad, Path::new("bad.toml")).expect_err("not text");
        assert!(err.to_string().contains("must name a text field"), "{err}");
    }

    #[test]
    fn builtin_schema_builds_and_maps_aliases() {
        let schema = Schema::builtin().expect("built-in schema");
        let uscc = schema.field_index("uscc").expect("uscc");
        assert_eq!(schema.key_field, uscc);
        assert_eq!(
            schema.match_header(&header_key("社会信用代码").key),
            HeaderMatch::Field(uscc)
        );
        let total = schema.field_index("employees_total").expect("field");
        assert_eq!(
            schema.match_header(&header_key(" 职工总数（人） ").key),
            HeaderMatch::Field(total)
        );
        assert_eq!(
            schema.match_header(&header_key("序号").key),
            HeaderMatch::Ignored
        );
        assert_eq!(
            schema.match_header(&header_key("职工情况").key),
            HeaderMatch::Group
        );
        assert_eq!(
            schema.match_header(&header_key("备用列").key),
            HeaderMatch::Unknown
        );
        assert!(schema.fields[schema.field_index("contact_phone").expect("f")].personal);
    }

    #[test]
    fn unknown_key_names_the_key_and_the_file() {
        let text = BUILTIN_SCHEMA_TOML.replace("version = 1", "version = 1\nverison = 2");
        let err = Schema::from_toml_str(&text, Path::new("schemas/x.toml"))
            .expect_err("unknown key must fail");
        let msg = err.to_string();
        assert!(msg.contains("verison"), "{msg}");
        assert!(msg.contains("schemas/x.toml"), "{msg}");
    }

    #[test]
    fn an_alias_added_in_toml_is_recognised() {
        let text = BUILTIN_SCHEMA_TOML.replace(
            "aliases = [\"上岗人数\", ",
            "aliases = [\"复岗人数\", \"上岗人数\", ",
        );
        let schema = Schema::from_toml_str(&text, Path::new("x.toml")).expect("schema");
        let on_duty = schema.field_index("employees_on_duty").expect("f");
        assert_eq!(
            schema.match_header(&header_key("复岗人数(人)").key),
            HeaderMatch::Field(on_duty)
        );
    }

    #[test]
    fn missing_comparison_field_is_refused() {
        let text = BUILTIN_SCHEMA_TOML.replace("name = \"resumed\"", "name = \"restarted\"");
        let err = Schema::from_toml_str(&text, Path::new("x.toml")).expect_err("must fail");
        assert!(err.to_string().contains("resumed"), "{err}");
    }
}
