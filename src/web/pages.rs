//! The portal's pages, server-rendered (maud escapes every text it is given: workbook contents, file
//! names, token names), in Chinese, with no external assets and no inline script or style (the CSP
//! allows neither). Uploading works with a plain form; `/static/portal.js` only adds comforts.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use super::api::{self, path_date};
use super::board::{self, DistrictState};
use super::{Auth, Caller, PortalJob, Shared, authenticate};
use crate::ledger::portal::{AuditEntry, Role, UploadRecord};

/// A whole page around `body`.
fn page(title: &str, caller: Option<&Caller>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 复工日报报送" }
                link rel="stylesheet" href="/static/portal.css";
            }
            body {
                header.top {
                    h1 { (title) }
                    @if let Some(c) = caller {
                        span.muted { (c.name.as_deref().unwrap_or(role_words(c.role))) }
                        form method="post" action="/signout" { button type="submit" { "退出登录" } }
                    }
                }
                main { (body) }
                script src="/static/portal.js" {}
            }
        }
    }
}

fn role_words(role: Role) -> &'static str {
    match role {
        Role::District => "区县用户",
        Role::City => "市级用户",
        Role::Province => "省级用户",
    }
}

/// An error as a page (the pages' counterpart of the API's plain answers).
fn error_page(status: StatusCode, message: &str, back: Option<&str>) -> Response {
    let body = html! {
        section.card {
            h2.error { (message) }
            @if let Some(href) = back { p { a href=(href) { "返回" } } }
            @else { p { a href="/" { "返回登录页" } } }
        }
    };
    (status, page("出错了", None, body)).into_response()
}

/// A time in the job's zone, as a clerk reads it.
fn local(pj: &PortalJob, t: DateTime<Utc>) -> String {
    match pj.job.timezone() {
        Ok(tz) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    }
}

fn local_text(pj: &PortalJob, rfc3339: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| local(pj, t.with_timezone(&Utc)))
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// "还剩 3 小时 12 分" or "已过截止时间 40 分".
fn time_left(deadline: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (deadline - now).num_minutes();
    let words = |m: i64| {
        let (d, h, m) = (m / 1440, (m % 1440) / 60, m % 60);
        match (d, h) {
            (0, 0) => format!("{m} 分"),
            (0, _) => format!("{h} 小时 {m} 分"),
            _ => format!("{d} 天 {h} 小时"),
        }
    };
    if minutes >= 0 {
        format!("还剩 {}", words(minutes))
    } else {
        format!("已过截止时间 {}", words(-minutes))
    }
}

fn state_badge(line: &DistrictState) -> Markup {
    let words = match line.state {
        "taken" => "已接收",
        "refused" => "被拒收",
        "missing" => "未报送",
        _ => "等待报送",
    };
    html! {
        span class=(format!("state state-{}", line.state)) { (words) }
        @if line.late { span.late { "迟报" } }
    }
}

// ---------------------------------------------------------------------------------------------------
// Sign-in

/// `GET /`: the sign-in page (a form with the field `token`), or the user's page when signed in.
pub async fn signin_page(State(portal): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(auth) = authenticate(&portal, &headers) {
        return Redirect::to(&home_of(&portal, auth.caller())).into_response();
    }
    signin_form(StatusCode::OK, None)
}

fn signin_form(status: StatusCode, error: Option<&str>) -> Response {
    let body = html! {
        section.card.signin {
            h2 { "登录" }
            p.muted { "请输入汇总单位发给本单位的令牌（以 fg_ 开头）。" }
            @if let Some(e) = error { p.error { (e) } }
            form method="post" action="/signin" {
                label for="token" { "令牌" }
                input #token type="password" name="token" autocomplete="off" required;
                button.primary type="submit" { "登录" }
            }
        }
    };
    (status, page("复工日报报送", None, body)).into_response()
}

/// Where a caller lands: a district's own page, or the board of the job's target date.
fn home_of(portal: &Shared, caller: &Caller) -> String {
    let Some(pj) = portal.job(&caller.job) else {
        return "/".into();
    };
    let date = pj.job.target_date(Utc::now()).unwrap_or_default();
    match caller.role {
        Role::District => format!("/jobs/{}/districts/{}", pj.job.name, caller.scope),
        _ => format!("/jobs/{}/dates/{date}", pj.job.name),
    }
}

#[derive(Deserialize)]
pub struct SigninForm {
    token: String,
}

/// `POST /signin`: a session cookie for a valid token; failures counted per client address (429).
pub async fn signin(State(portal): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let client = super::client_of(&parts.extensions);
    let client_text = client.map(|c| c.to_string());
    if let Some(ip) = client
        && portal.sessions.too_many_failures(ip)
    {
        return signin_form(
            StatusCode::TOO_MANY_REQUESTS,
            Some("登录失败次数过多：请 15 分钟后再试"),
        );
    }
    let bytes = match api::read_body(&parts.headers, body, 8 * 1024, portal.body_deadline).await {
        Ok(b) => b,
        Err(e) => return e.response(8 * 1024),
    };
    let form: Option<SigninForm> = serde_urlencoded_form(&bytes);
    let token = form.map(|f| f.token).unwrap_or_default();
    let verified = {
        let portal = Arc::clone(&portal);
        let token = token.clone();
        // argon2 is deliberately slow: off the async threads.
        tokio::task::spawn_blocking(move || portal.verify(&token))
            .await
            .ok()
            .flatten()
    };
    let Some(caller) = verified else {
        if let Some(ip) = client {
            portal.sessions.failed(ip);
        }
        // The failure goes to the audit log of the job the token names (or of every job); never the token.
        let key = token
            .trim()
            .strip_prefix("fg_")
            .and_then(|r| r.split('_').next())
            .unwrap_or("");
        for pj in portal.jobs.values() {
            let named = super::auth::job_key(&pj.job.name) == key;
            if named
                || portal
                    .jobs
                    .values()
                    .all(|p| super::auth::job_key(&p.job.name) != key)
            {
                let _ = pj.ledger.audit(
                    &pj.job.name,
                    &AuditEntry {
                        event: "signin-failed",
                        client: client_text.as_deref(),
                        detail: serde_json::json!({}),
                        ..AuditEntry::default()
                    },
                );
            }
        }
        tracing::warn!(client = ?client_text, "a sign-in failed");
        return signin_form(
            StatusCode::UNAUTHORIZED,
            Some("令牌无效或已被收回：请核对后重试"),
        );
    };
    if let Some(pj) = portal.job(&caller.job) {
        let _ = pj.ledger.audit(
            &pj.job.name,
            &AuditEntry {
                event: "signin",
                token_id: Some(caller.token_id),
                client: client_text.as_deref(),
                detail: serde_json::json!({ "role": caller.role.as_str(), "scope": caller.scope }),
                ..AuditEntry::default()
            },
        );
    }
    let home = home_of(&portal, &caller);
    let session = portal.sessions.open(caller);
    let secure = if portal.tls { "; Secure" } else { "" };
    let cookie = format!(
        "fugong_session={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        super::auth::SESSION_SECS
    );
    let mut response = Redirect::to(&home).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// A urlencoded form body.
fn serde_urlencoded_form<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<T> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(bytes).into_owned().collect();
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map)).ok()
}

/// `POST /signout`.
pub async fn signout(State(portal): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(id) = super::session_cookie(&headers) {
        portal.sessions.close(&id);
    }
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("fugong_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

// ---------------------------------------------------------------------------------------------------
// The district page

#[derive(Deserialize)]
pub struct DateQuery {
    date: Option<String>,
    receipt: Option<i64>,
}

/// The caller of a page, and the job: 401 → the sign-in page, 404 and 403 as pages.
fn page_caller(
    portal: &Shared,
    headers: &HeaderMap,
    job: &str,
) -> Result<(Auth, Arc<PortalJob>), Box<Response>> {
    let auth = authenticate(portal, headers)
        .ok_or_else(|| Box::new(signin_form(StatusCode::UNAUTHORIZED, Some("请先登录"))))?;
    let pj = portal
        .job(job)
        .cloned()
        .ok_or_else(|| Box::new(error_page(StatusCode::NOT_FOUND, "没有这个任务", None)))?;
    if auth.caller().job != pj.job.name {
        return Err(Box::new(error_page(
            StatusCode::FORBIDDEN,
            "这个令牌不属于该任务",
            None,
        )));
    }
    Ok((auth, pj))
}

/// The date of a page: `?date=`, else the job's target date; malformed is 404.
fn page_date(pj: &PortalJob, text: Option<&str>) -> Option<NaiveDate> {
    match text {
        Some(t) => path_date(t),
        None => pj.job.target_date(Utc::now()).ok(),
    }
}

/// `GET /jobs/{job}/districts/{code}?date=D`
pub async fn district_page(
    State(portal): State<Shared>,
    Path((job, code)): Path<(String, String)>,
    Query(q): Query<DateQuery>,
    headers: HeaderMap,
) -> Response {
    let (auth, pj) = match page_caller(&portal, &headers, &job) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let caller = auth.caller().clone();
    let Some(district) = pj.job.districts.iter().find(|d| d.code == code).cloned() else {
        return error_page(StatusCode::NOT_FOUND, "该任务没有这个区县", None);
    };
    if !caller.may_see(pj.job, &code) {
        return error_page(StatusCode::FORBIDDEN, "这个令牌不能查看该区县", None);
    }
    let Some(date) = page_date(&pj, q.date.as_deref()) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "日期格式不对（应为 YYYY-MM-DD）",
            None,
        );
    };
    let pj2 = Arc::clone(&pj);
    let code2 = code.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let published = pj2.warehouse.manifest(date).ok().flatten();
        let uploads = pj2.ledger.uploads(&pj2.job.name, date, Some(&code2))?;
        Ok::<_, crate::ledger::LedgerError>((published, uploads))
    })
    .await;
    let Ok(Ok((published, uploads))) = loaded else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "暂时无法读取报送情况",
            None,
        );
    };
    let now = Utc::now();
    let deadline = pj.job.deadline_of(date);
    let refs: Vec<&UploadRecord> = uploads.iter().collect();
    let line = board::state_of(&district, &refs, published.as_ref(), deadline, now);
    let current = uploads.iter().rev().find(|u| u.taken);
    let latest = uploads.last();
    let locked = pj.job.upload_locked(date, now);
    let may_upload = caller.may_upload(pj.job, &code);
    let title = format!("{}{} · {date} 复工日报", district.city_name, district.name);
    let base = format!("/jobs/{}/districts/{}", pj.job.name, district.code);
    let (prev, next) = (date.pred_opt(), date.succ_opt());
    let body = html! {
        nav.dates.muted {
            @if let Some(p) = prev { a href=(format!("{base}?date={p}")) { "← " (p) } }
            @if let Some(n) = next { a href=(format!("{base}?date={n}")) { (n) " →" } }
            @if caller.may_see_board(pj.job) {
                a href=(format!("/jobs/{}/dates/{date}", pj.job.name)) { "报送看板" }
            }
        }
        section.card #current {
            div.grid {
                div {
                    div.muted { "截止时间" }
                    @match deadline {
                        Some(d) => {
                            div.big { (local(&pj, d)) }
                            div #time-left class=(if now > d { "error" } else { "ok" }) { (time_left(d, now)) }
                        }
                        None => div.big { "未设定" },
                    }
                }
                div { div.muted { "当前状态" } div.big { (state_badge(&line)) } }
                @if let Some(u) = current {
                    div { div.muted { "回执编号" } div.big #receipt-id { (u.id) } div.muted { (u.file_name) } }
                    div {
                        div.muted { "接收时间" }
                        div.big { (local(&pj, u.received_at)) }
                        @if let Some(t) = u.on_time { div { @if t { span.ok { "按时" } } @else { span.error { "迟报" } } } }
                    }
                    div { div.muted { "接收行 / 拒收行" } div.big { (u.rows_accepted) " / " (u.rows_rejected) } }
                }
            }
            @if let Some(u) = current {
                p.muted { "文件 " (u.file_name) "，" (u.bytes) " 字节，SHA-256 " (u.sha256) }
            } @else if let (Some(source), Some(received)) = (&line.source, &line.received_at) {
                p { "来源：" (source) "，接收时间 " (local_text(&pj, received)) }
            } @else {
                p.muted { "还没有收到本区县这一天的日报。" }
            }
        }
        @if let Some(u) = current {
            section.card #findings {
                h2 { "当前报送的问题明细（回执 " (u.id) "）" }
                (findings_table(&u.findings))
            }
        }
        @if let Some(u) = latest.filter(|l| current.is_none_or(|c| l.id > c.id)) {
            section.card #refused {
                h2.error { "最近一次上传未被接收（回执 " (u.id) "，" (u.file_name) "）" }
                (findings_table(&u.findings))
            }
        }
        section.card #upload {
            h2 { "上传日报" }
            @if !may_upload {
                p.muted { "只有本区县的令牌可以上传。" }
            } @else if let Some(why) = &locked {
                p.error { (why) }
            } @else {
                form.upload method="post" enctype="multipart/form-data" action=(format!("{base}/upload?date={date}")) {
                    input #file type="file" name="file" required accept=".xlsx,.xls,.xlsm,.xlsb,.ods,.csv";
                    button.primary type="submit" { "上传并检查" }
                    span.muted { "也可以把文件拖到这里。上传后立即显示检查结果；有错误的文件不会替换已接收的报送。" }
                }
            }
        }
        section.card #uploads {
            h2 { "当天的全部上传" }
            @if uploads.is_empty() {
                p.muted { "还没有上传。" }
            } @else {
                div.scroll { table {
                    tr { th { "回执" } th { "文件名" } th { "接收时间" } th { "结果" } th { "接收行" } th { "拒收行" } }
                    @for u in uploads.iter().rev() {
                        tr class=(if q.receipt == Some(u.id) { "highlight" } else { "" }) {
                            td.num { (u.id) }
                            td { (u.file_name) }
                            td.name { (local(&pj, u.received_at)) }
                            td { @if u.taken { span.ok { "已接收" } } @else { span.error { "被拒收" } } }
                            td.num { (u.rows_accepted) }
                            td.num { (u.rows_rejected) }
                        }
                    }
                } }
            }
        }
        section.card #downloads {
            h2 { "下载" }
            p { a href=(format!("{base}/template.xlsx?date={date}")) { "当天的日报模板（已列出上次汇总的企业）" } }
            @if let Some(m) = &published {
                p { a href=(format!("{base}/feedback.xlsx?date={date}")) { "反馈工作簿（第 " (m.effective_version()) " 版汇总）" } }
            } @else {
                p.muted { "这一天还没有汇总发布，发布后可下载反馈工作簿。" }
            }
        }
    };
    page(&title, Some(&caller), body).into_response()
}

/// Findings as the feedback workbook lists them: cell, header as written, value, what is expected, message.
fn findings_table(findings: &[crate::validate::Finding]) -> Markup {
    html! {
        @if findings.is_empty() {
            p.ok { "没有发现问题。" }
        } @else {
            div.scroll { table.findings {
                tr { th { "单元格" } th { "列名（报送时）" } th { "填写的值" } th.hide-narrow { "应为" } th { "问题说明" } }
                @for f in findings {
                    tr class=(if f.is_error() { "error" } else { "" }) {
                        td.name { (f.cell.as_deref().unwrap_or("整份文件")) }
                        td { (f.column.as_deref().unwrap_or("")) }
                        td { (f.value.as_deref().unwrap_or("")) }
                        td.hide-narrow { (f.expected.as_deref().unwrap_or("")) }
                        td { (f.message) }
                    }
                }
            } }
        }
    }
}

/// `POST /jobs/{job}/districts/{code}/upload?date=D`: the page's form; back to the page (303).
pub async fn upload_form(
    State(portal): State<Shared>,
    Path((job, code)): Path<(String, String)>,
    Query(q): Query<DateQuery>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let back = format!("/jobs/{job}/districts/{code}");
    let date = match q.date.as_deref() {
        Some(t) => path_date(t),
        None => portal
            .job(&job)
            .and_then(|pj| pj.job.target_date(Utc::now()).ok()),
    };
    let (allowed, date) = match api::allow_upload(&portal, &parts.headers, &job, &code, date) {
        Ok(a) => a,
        Err(r) => {
            let r = *r;
            let status = r.status();
            if status == StatusCode::UNAUTHORIZED {
                return signin_form(status, Some("请先登录"));
            }
            let message = String::from_utf8(
                axum::body::to_bytes(r.into_body(), 64 * 1024)
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default(),
            )
            .unwrap_or_default();
            return error_page(status, &message, Some(&back));
        }
    };
    let limit = allowed.pj.job.limits.read.max_file_bytes;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = match api::read_body(
        &parts.headers,
        body,
        limit + 64 * 1024,
        portal.body_deadline,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            let status = e.response(limit).status();
            let message = match e {
                api::BodyError::TooLarge => crate::read::guard::over_byte_limit(None, limit),
                api::BodyError::TooSlow => "上传超时：请检查网络后重试".into(),
                api::BodyError::Broken => "上传中断：请重试".into(),
            };
            return error_page(status, &message, Some(&back));
        }
    };
    let (file_name, bytes) = match api::multipart_file(&content_type, bytes).await {
        Ok(f) => f,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, m, Some(&back)),
    };
    if bytes.len() as u64 > limit {
        return error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            &crate::read::guard::over_byte_limit(Some(bytes.len() as u64), limit),
            Some(&back),
        );
    }
    let client = super::client_of(&parts.extensions).map(|ip| ip.to_string());
    match api::receive(&allowed, date, file_name, bytes, client).await {
        Ok(o) => Redirect::to(&format!(
            "{back}?date={date}&receipt={}#current",
            o.receipt.id
        ))
        .into_response(),
        Err(r) => r,
    }
}

/// `GET /jobs/{job}/districts/{code}/feedback.xlsx?date=D`: the published version's feedback workbook.
pub async fn feedback_download(
    State(portal): State<Shared>,
    Path((job, code)): Path<(String, String)>,
    Query(q): Query<DateQuery>,
    headers: HeaderMap,
) -> Response {
    let (auth, pj) = match page_caller(&portal, &headers, &job) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if !auth.caller().may_see(pj.job, &code) {
        return error_page(StatusCode::FORBIDDEN, "这个令牌不能查看该区县", None);
    }
    let Some(date) = page_date(&pj, q.date.as_deref()) else {
        return error_page(StatusCode::NOT_FOUND, "日期格式不对", None);
    };
    let made = tokio::task::spawn_blocking(move || {
        crate::report::feedback::workbook_of(&*pj.warehouse, date, &code)
    })
    .await;
    match made {
        Ok(Ok(Some((name, bytes)))) => {
            let disposition = format!(
                "attachment; filename=\"feedback.xlsx\"; filename*=UTF-8''{}",
                url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
            );
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        ),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&disposition)
                            .unwrap_or(HeaderValue::from_static("attachment")),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(Ok(None)) => error_page(
            StatusCode::NOT_FOUND,
            "这一天的汇总中本区县没有问题需要反馈",
            None,
        ),
        _ => error_page(StatusCode::NOT_FOUND, "这一天还没有汇总发布", None),
    }
}

/// An `.xlsx` download.
fn xlsx_download(name: &str, bytes: Vec<u8>) -> Response {
    let disposition = format!(
        "attachment; filename=\"download.xlsx\"; filename*=UTF-8''{}",
        url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /jobs/{job}/districts/{code}/template.xlsx?date=D`: the day's template (contract §13).
pub async fn template_download(
    State(portal): State<Shared>,
    Path((job, code)): Path<(String, String)>,
    Query(q): Query<DateQuery>,
    headers: HeaderMap,
) -> Response {
    let (auth, pj) = match page_caller(&portal, &headers, &job) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if !auth.caller().may_see(pj.job, &code) {
        return error_page(StatusCode::FORBIDDEN, "这个令牌不能查看该区县", None);
    }
    let Some(date) = page_date(&pj, q.date.as_deref()) else {
        return error_page(StatusCode::NOT_FOUND, "日期格式不对", None);
    };
    let Some(district) = pj.job.districts.iter().find(|d| d.code == code).cloned() else {
        return error_page(StatusCode::NOT_FOUND, "该任务没有这个区县", None);
    };
    let made = tokio::task::spawn_blocking(move || {
        crate::report::template::template_for(pj.job, &*pj.warehouse, &district, date)
    })
    .await;
    match made {
        Ok(Ok((name, bytes))) => xlsx_download(&name, bytes),
        _ => error_page(StatusCode::SERVICE_UNAVAILABLE, "暂时无法生成模板", None),
    }
}

// ---------------------------------------------------------------------------------------------------
// The board and the report

/// `GET /jobs/{job}/dates/{date}`: every district the caller may see, counts per city, who has not
/// submitted; once published, the headline and the report.
pub async fn board_page(
    State(portal): State<Shared>,
    Path((job, date)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (auth, pj) = match page_caller(&portal, &headers, &job) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let caller = auth.caller().clone();
    if !caller.may_see_board(pj.job) {
        return error_page(StatusCode::FORBIDDEN, "看板只对市级和省级用户开放", None);
    }
    let Some(date) = path_date(&date) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "日期格式不对（应为 YYYY-MM-DD）",
            None,
        );
    };
    let pj2 = Arc::clone(&pj);
    let key = caller.token_id.to_string();
    let rendered = tokio::task::spawn_blocking(move || {
        pj2.board_page(date, key, || render_board(&pj2, &caller, date))
    })
    .await;
    match rendered {
        Ok(Some(html)) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html.as_str().to_string(),
        )
            .into_response(),
        _ => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "暂时无法读取报送情况",
            None,
        ),
    }
}

/// The board page of a date as `caller` may see it.
fn render_board(pj: &PortalJob, caller: &Caller, date: NaiveDate) -> Option<String> {
    let all = pj.board(date).ok()?;
    let reminders = pj.ledger.reminders(&pj.job.name, date).unwrap_or_default();
    let headline = all.published.as_ref().and_then(|_| {
        crate::compare::table::read_cities(&*pj.warehouse, date)
            .ok()
            .map(|cities| crate::compare::table::headline(&cities))
    });
    let board = board::Board {
        date: all.date,
        deadline: all.deadline,
        published: all.published.clone(),
        districts: all
            .districts
            .iter()
            .filter(|l| caller.may_see(pj.job, &l.code))
            .cloned()
            .collect(),
    };
    let now = Utc::now();
    let mut cities: Vec<(String, Vec<&DistrictState>)> = Vec::new();
    for line in &board.districts {
        match cities.iter_mut().find(|(c, _)| *c == line.city) {
            Some((_, lines)) => lines.push(line),
            None => cities.push((line.city.clone(), vec![line])),
        }
    }
    let total = board::counts(&board.districts);
    let pct = |n: usize, d: usize| {
        crate::tally::Fraction::new(n as i64, d as i64)
            .map(crate::compare::display::percent_of)
            .unwrap_or_else(|| "—".into())
    };
    let not_submitted: Vec<&DistrictState> = board
        .districts
        .iter()
        .filter(|l| matches!(l.state, "waiting" | "missing"))
        .collect();
    let base = format!("/jobs/{}/dates", pj.job.name);
    let title = format!("{date} 报送看板");
    let body = html! {
        div data-refresh="60" {}
        nav.dates.muted {
            @if let Some(p) = date.pred_opt() { a href=(format!("{base}/{p}")) { "← " (p) } }
            @if let Some(n) = date.succ_opt() { a href=(format!("{base}/{n}")) { (n) " →" } }
        }
        section.card #summary {
            div.grid {
                div { div.muted { "截止时间" } div.big { @match board.deadline { Some(d) => (local(pj, d)), None => "未设定" } } }
                div { div.muted { "报送率" } div.big #reporting-rate { (pct(total.taken, total.expected)) } div.muted { (total.taken) " / " (total.expected) " 个区县" } }
                @if board.deadline.is_some() {
                    div { div.muted { "按时报送率" } div.big #on-time-rate { (pct(total.on_time, total.expected)) } div.muted { (total.on_time) " / " (total.expected) } }
                }
                div { div.muted { "汇总发布" } div.big { @match &board.published { Some(m) => { "第 " (m.effective_version()) " 版" }, None => "尚未发布" } } }
            }
            @if let Some(d) = board.deadline { p.muted { (time_left(d, now)) } }
        }
        @if let (Some(_), Some(h)) = (&board.published, &headline) {
            section.card #headline {
                p.notice { (h) }
                p { a href=(format!("{base}/{date}/report")) { "查看当日比较报告" } }
            }
        }
        section.card #cities {
            h2 { "各市报送情况" }
            div.scroll { table {
                tr { th { "城市" } th { "应报" } th { "已接收" } th { "报送率" } @if board.deadline.is_some() { th { "按时报送率" } } th { "被拒收" } th { "未报送" } }
                @for (city, lines) in &cities {
                    @let c = board::counts(lines.iter().copied());
                    tr {
                        td.name { (city) }
                        td.num { (c.expected) }
                        td.num { (c.taken) }
                        td.num { (pct(c.taken, c.expected)) }
                        @if board.deadline.is_some() { td.num { (pct(c.on_time, c.expected)) } }
                        td.num { (c.refused) }
                        td.num { (c.not_submitted) }
                    }
                }
            } }
        }
        @if !reminders.is_empty() {
            section.card #reminders {
                h2 { "催报记录" }
                ul {
                    @for (minutes, at, n) in &reminders {
                        li { "截止前 " (minutes) " 分钟（" (local_text(pj, at)) "）催报 " (n) " 个区县" }
                    }
                }
            }
        }
        section.card #not-submitted {
            h2 { "尚未报送（" (not_submitted.len()) "）" }
            @if not_submitted.is_empty() {
                p.ok { "所有区县都已报送。" }
            } @else {
                p { @for (i, l) in not_submitted.iter().enumerate() { @if i > 0 { "、" } (l.city) (l.name) } }
            }
        }
        section.card #districts {
            h2 { "各区县" }
            div.scroll { table {
                tr { th { "区县" } th { "状态" } th { "接收时间" } th.hide-narrow { "来源" } th { "接收行" } th { "拒收行" } }
                @for l in &board.districts {
                    tr data-code=(l.code) {
                        td.name { a href=(format!("/jobs/{}/districts/{}?date={date}", pj.job.name, l.code)) { (l.city) (l.name) } }
                        td { (state_badge(l)) }
                        td.name { @if let Some(t) = &l.received_at { (local_text(pj, t)) } }
                        td.hide-narrow { (l.source.as_deref().unwrap_or("")) }
                        td.num { @if let Some(n) = l.rows_accepted { (n) } }
                        td.num { @if let Some(n) = l.rows_rejected { (n) } }
                    }
                }
            } }
        }
    };
    Some(page(&title, Some(caller), body).into_string())
}

/// `GET /jobs/{job}/dates/{date}/report`: the date's report, as `fugong report` writes it, read
/// through the warehouse; its styles linked (the CSP allows no inline style).
pub async fn report_page(
    State(portal): State<Shared>,
    Path((job, date)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (auth, pj) = match page_caller(&portal, &headers, &job) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if !auth.caller().may_see_board(pj.job) {
        return error_page(StatusCode::FORBIDDEN, "报告只对市级和省级用户开放", None);
    }
    let Some(date) = path_date(&date) else {
        return error_page(StatusCode::NOT_FOUND, "日期格式不对", None);
    };
    let made = tokio::task::spawn_blocking(move || {
        let data =
            crate::report::data::load(&*pj.warehouse, date, 14).map_err(|e| e.to_string())?;
        crate::report::render_with(&data, crate::report::Styles::Linked("/static/report.css"))
            .map_err(|e| e.to_string())
    })
    .await;
    match made {
        Ok(Ok(html)) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            PreEscaped(html).into_string(),
        )
            .into_response(),
        _ => error_page(StatusCode::NOT_FOUND, "这一天还没有汇总发布", None),
    }
}
