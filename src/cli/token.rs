//! `fugong token issue|list|revoke --job FILE`: the portal's tokens (contract §12). A token is printed
//! once, when issued; the ledger keeps only its argon2id hash.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::tabular::{OutputFormat, Tabular};
use super::{PathArg, UsageError, out};
use crate::config::Job;
use crate::ledger::Ledger;
use crate::ledger::portal::{AuditEntry, Role};

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue new tokens and print them once: one for a district, a city or the province; with several
    /// --district or --all-districts, a CSV of district_code,district_name,token_id,token.
    Issue(IssueArgs),
    /// The job's tokens (id, role, scope, name, created_at, last_used_at, revoked_at); never the secret.
    List(ListArgs),
    /// Revoke a token: it stops working at once (within a minute for API clients that used it).
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["district", "all_districts", "city", "province"])))]
pub struct IssueArgs {
    #[arg(long)]
    pub job: PathArg,
    /// A district's code (repeat it, or separate codes with commas, for several).
    #[arg(long, value_delimiter = ',')]
    pub district: Vec<String>,
    /// One token for every district of the job.
    #[arg(long)]
    pub all_districts: bool,
    /// A city's code (its districts' first four digits + 00).
    #[arg(long)]
    pub city: Option<String>,
    /// The whole province.
    #[arg(long)]
    pub province: bool,
    /// Who the token is for (shown in the portal and in `token list`); with several districts, each
    /// token is named after its district unless this is given.
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    pub job: PathArg,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[arg(long)]
    pub job: PathArg,
    /// The token's id (from `token list`).
    #[arg(long)]
    pub id: i64,
}

fn ledger_of(job: &Job) -> anyhow::Result<Ledger> {
    Ok(Ledger::open(&job.ledger_path(&job.output))?)
}

pub fn run(args: TokenArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TokenCommand::Issue(a) => issue(a),
        TokenCommand::List(a) => list(a),
        TokenCommand::Revoke(a) => revoke(a),
    }
}

fn issue(a: IssueArgs) -> anyhow::Result<ExitCode> {
    let job = Job::load(&a.job)?;
    let mut wanted: Vec<(Role, String, Option<String>)> = Vec::new();
    if a.all_districts {
        for d in &job.districts {
            wanted.push((Role::District, d.code.clone(), Some(d.name.clone())));
        }
    }
    for code in &a.district {
        let code = code.trim();
        let Some(d) = job.districts.iter().find(|d| d.code == code) else {
            return Err(UsageError(format!(
                "--district {code} is not a district of {} ({})",
                job.path.display(),
                job.name
            ))
            .into());
        };
        wanted.push((Role::District, d.code.clone(), Some(d.name.clone())));
    }
    if let Some(city) = &a.city {
        if !job.districts.iter().any(|d| &d.city_code == city) {
            return Err(UsageError(format!(
                "--city {city} has no district in {}: give a city code such as {}",
                job.name,
                job.districts
                    .first()
                    .map(|d| d.city_code.as_str())
                    .unwrap_or("370100")
            ))
            .into());
        }
        wanted.push((Role::City, city.clone(), None));
    }
    if a.province {
        wanted.push((Role::Province, job.province_code.clone(), None));
    }
    let ledger = ledger_of(&job)?;
    let many = wanted.len() > 1;
    if many {
        out::line("district_code,district_name,token_id,token")?;
    }
    for (role, scope, default_name) in wanted {
        let name = a
            .name
            .clone()
            .or(if many { default_name.clone() } else { None });
        let (secret, hash) = crate::web::auth::new_token().map_err(anyhow::Error::msg)?;
        let id = ledger.insert_token(&job.name, role, &scope, name.as_deref(), &hash)?;
        let token = crate::web::auth::token_text(&job.name, id, &secret);
        ledger.audit(
            &job.name,
            &AuditEntry {
                event: "token-issued",
                token_id: Some(id),
                detail: serde_json::json!({ "role": role.as_str(), "scope": scope, "name": name }),
                ..AuditEntry::default()
            },
        )?;
        if many {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                scope.as_str(),
                default_name.as_deref().unwrap_or(""),
                &id.to_string(),
                &token,
            ])?;
            let row = String::from_utf8(w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
            out::line(row.trim_end())?;
        } else {
            out::line(&token)?;
            out::note(format!(
                "token {id} ({} {scope}) for {}: it is shown only this once; hand it to its holder over a safe channel",
                role.as_str(),
                job.name
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let job = Job::load(&a.job)?;
    let ledger = ledger_of(&job)?;
    let mut rows = Tabular::new(&[
        "id",
        "role",
        "scope",
        "name",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]);
    for t in ledger.tokens(&job.name)? {
        rows.push(vec![
            t.id.into(),
            t.role.as_str().into(),
            t.scope.into(),
            t.name.into(),
            t.created_at.into(),
            t.last_used_at.into(),
            t.revoked_at.into(),
        ]);
    }
    rows.print(a.format, None)?;
    Ok(ExitCode::SUCCESS)
}

fn revoke(a: RevokeArgs) -> anyhow::Result<ExitCode> {
    let job = Job::load(&a.job)?;
    let ledger = ledger_of(&job)?;
    if !ledger.revoke_token(&job.name, a.id)? {
        return Err(UsageError(format!(
            "{} has no token {} that is not revoked already (see `fugong token list --job {}`)",
            job.name,
            a.id,
            a.job.display()
        ))
        .into());
    }
    ledger.audit(
        &job.name,
        &AuditEntry {
            event: "token-revoked",
            token_id: Some(a.id),
            detail: serde_json::json!({}),
            ..AuditEntry::default()
        },
    )?;
    out::line(format!("token {} of {} revoked", a.id, job.name))?;
    Ok(ExitCode::SUCCESS)
}
