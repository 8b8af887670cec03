//! The JSON API (contract §12): a district's system pushes its workbook (`POST …/submission`, the bytes
//! or a multipart form), and anyone with a token reads the date's status (`GET …/status`).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use http_body_util::BodyExt;

use super::{Auth, PortalJob, Shared, authenticate, refuse};
use crate::config::District;

/// Why a request body was not read through.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Over the byte limit (413).
    TooLarge,
    /// Not complete within the deadline (408).
    TooSlow,
    /// The connection failed while reading (400).
    Broken,
}

impl BodyError {
    pub fn response(&self, limit: u64) -> Response {
        match self {
            BodyError::TooLarge => refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &crate::read::guard::over_byte_limit(None, limit),
            ),
            BodyError::TooSlow => refuse(
                StatusCode::REQUEST_TIMEOUT,
                "上传超时：文件没有在规定时间内传完，请检查网络后重试",
            ),
            BodyError::Broken => refuse(StatusCode::BAD_REQUEST, "上传中断：请重试"),
        }
    }
}

/// Read a request body: at most `limit` bytes (refused as soon as it passes them, the rest unread) and
/// all of it within `deadline`.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    deadline: std::time::Duration,
) -> Result<Vec<u8>, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let collect = async {
        let mut body = body;
        let mut out: Vec<u8> = Vec::with_capacity(
            usize::try_from(declared.unwrap_or(0).min(limit).min(16 << 20)).unwrap_or(0),
        );
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyError::Broken)?;
            if let Some(data) = frame.data_ref() {
                if out.len() as u64 + data.len() as u64 > limit {
                    return Err(BodyError::TooLarge);
                }
                out.extend_from_slice(data);
            }
        }
        Ok(out)
    };
    tokio::time::timeout(deadline, collect)
        .await
        .map_err(|_| BodyError::TooSlow)?
}

/// The file of a multipart form (its field `file`): the client's name and the bytes.
pub async fn multipart_file(
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<(String, Vec<u8>), &'static str> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| "表单格式不对")?;
    let stream = futures_util::stream::once(async move {
        Ok::<bytes::Bytes, std::convert::Infallible>(bytes::Bytes::from(bytes))
    });
    let mut form = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("").to_string();
            let data = field.bytes().await.map_err(|_| "表单格式不对")?;
            return Ok((name, data.to_vec()));
        }
    }
    Err("表单中没有名为 file 的文件")
}

/// Parse a date in a path: malformed is 404 (there is no such page).
pub fn path_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// What an upload request is about, once it is allowed: the job, the district and the date.
pub struct Allowed {
    pub auth: Auth,
    pub pj: Arc<PortalJob>,
    pub district: District,
}

/// The checks every upload passes, in the contract's order of answers: 401 (who), 404 (what), 403 (may
/// they), 409 (does the date take uploads), 429 (how many).
pub fn allow_upload(
    portal: &Shared,
    headers: &HeaderMap,
    job: &str,
    code: &str,
    date: Option<NaiveDate>,
) -> Result<(Allowed, NaiveDate), Box<Response>> {
    let auth = authenticate(portal, headers)
        .ok_or_else(|| Box::new(refuse(StatusCode::UNAUTHORIZED, "需要有效的令牌：请先登录")))?;
    let pj = portal
        .job(job)
        .cloned()
        .ok_or_else(|| Box::new(refuse(StatusCode::NOT_FOUND, "没有这个任务")))?;
    let caller = auth.caller();
    if caller.job != pj.job.name {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "这个令牌不属于该任务",
        )));
    }
    let district = pj
        .job
        .districts
        .iter()
        .find(|d| d.code == code)
        .cloned()
        .ok_or_else(|| Box::new(refuse(StatusCode::NOT_FOUND, "该任务没有这个区县")))?;
    let date = date.ok_or_else(|| {
        Box::new(refuse(
            StatusCode::NOT_FOUND,
            "日期格式不对（应为 YYYY-MM-DD）",
        ))
    })?;
    if !caller.may_upload(pj.job, code) {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "这个令牌不能为该区县报送",
        )));
    }
    if let Some(why) = pj.job.upload_locked(date, Utc::now()) {
        return Err(Box::new(refuse(StatusCode::CONFLICT, &why)));
    }
    let since = Utc::now() - chrono::Duration::hours(1);
    let made = pj
        .ledger
        .uploads_by_token_since(caller.token_id, since)
        .unwrap_or(0);
    if made >= u64::from(pj.job.uploads_per_hour) {
        return Err(Box::new(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "一小时内最多上传 {} 次：请稍后再试",
                pj.job.uploads_per_hour
            ),
        )));
    }
    Ok((Allowed { auth, pj, district }, date))
}

/// Receive an upload whose body has been read; blocking work off the async threads.
pub async fn receive(
    allowed: &Allowed,
    date: NaiveDate,
    file_name: String,
    bytes: Vec<u8>,
    client: Option<String>,
) -> Result<super::submit::Outcome, Response> {
    let pj = Arc::clone(&allowed.pj);
    let district = allowed.district.clone();
    let token_id = Some(allowed.auth.caller().token_id);
    tokio::task::spawn_blocking(move || {
        super::submit::receive(
            &pj,
            &district,
            date,
            &file_name,
            bytes,
            token_id,
            client.as_deref(),
            crate::day::arrival_precision(Utc::now()),
        )
    })
    .await
    .map_err(|_| refuse(StatusCode::INTERNAL_SERVER_ERROR, "内部错误"))?
    .map_err(|e| {
        tracing::error!(error = %e, "an upload could not be received");
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "服务器暂时无法保存上传的文件：请稍后重试",
        )
    })
}

/// `POST /api/v1/jobs/{job}/dates/{date}/districts/{code}/submission`
pub async fn submission(
    State(portal): State<Shared>,
    Path((job, date, code)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (allowed, date) = match allow_upload(&portal, &parts.headers, &job, &code, path_date(&date))
    {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let limit = allowed.pj.job.limits.read.max_file_bytes;
    // A multipart form carries a little more than the file.
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let multipart = content_type.starts_with("multipart/form-data");
    let read_limit = if multipart { limit + 64 * 1024 } else { limit };
    let bytes = match read_body(&parts.headers, body, read_limit, portal.body_deadline).await {
        Ok(b) => b,
        Err(e) => return e.response(limit),
    };
    let (file_name, bytes) = if multipart {
        match multipart_file(&content_type, bytes).await {
            Ok(f) => f,
            Err(m) => return refuse(StatusCode::BAD_REQUEST, m),
        }
    } else {
        let name = parts
            .headers
            .get("x-file-name")
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
            .map(|v| {
                // UTF-8 as sent (curl -H 'X-File-Name: 历下区.xlsx'), or percent-encoded.
                percent_decoded(v)
            })
            .unwrap_or_else(|| format!("{code}.xlsx"));
        (name, bytes)
    };
    if bytes.len() as u64 > limit {
        return BodyError::TooLarge.response(limit);
    }
    let client = super::client_of(&parts.extensions).map(|ip| ip.to_string());
    let outcome = match receive(&allowed, date, file_name, bytes, client).await {
        Ok(o) => o,
        Err(response) => return response,
    };
    outcome_json(&outcome)
}

/// `%2F`-style escapes decoded (a `+` stays a `+`); invalid escapes kept as written.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The contract's JSON for an upload's outcome: 200 taken, 422 refused.
pub fn outcome_json(o: &super::submit::Outcome) -> Response {
    if o.taken {
        (
            StatusCode::OK,
            Json(serde_json::json!({
                "taken": true,
                "receipt": o.receipt,
                "status": o.status,
                "rows_accepted": o.rows_accepted,
                "rows_rejected": o.rows_rejected,
                "findings": o.findings,
            })),
        )
            .into_response()
    } else {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({
                "taken": false,
                "status": "rejected",
                "findings": o.findings,
            })),
        )
            .into_response()
    }
}

/// `GET /api/v1/jobs/{job}/dates/{date}/status`: the districts the token may see.
pub async fn status(
    State(portal): State<Shared>,
    Path((job, date)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(auth) = authenticate(&portal, &headers) else {
        return refuse(StatusCode::UNAUTHORIZED, "需要有效的令牌：请先登录");
    };
    let Some(pj) = portal.job(&job).cloned() else {
        return refuse(StatusCode::NOT_FOUND, "没有这个任务");
    };
    let caller = auth.caller().clone();
    if caller.job != pj.job.name {
        return refuse(StatusCode::FORBIDDEN, "这个令牌不属于该任务");
    }
    let Some(date) = path_date(&date) else {
        return refuse(StatusCode::NOT_FOUND, "日期格式不对（应为 YYYY-MM-DD）");
    };
    // Rendered once per token and date within the board's freshness.
    let key = format!("json:{}", caller.token_id);
    let rendered = tokio::task::spawn_blocking(move || {
        pj.board_page(date, key, || {
            let board = match pj.board(date) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the uploads for the status");
                    return None;
                }
            };
            let visible: Vec<&super::board::DistrictState> = board
                .districts
                .iter()
                .filter(|l| caller.may_see(pj.job, &l.code))
                .collect();
            serde_json::to_string(&serde_json::json!({
                "job": pj.job.name,
                "date": date.to_string(),
                "deadline": board.deadline.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                "published_version": board.published.as_ref().map(crate::publish::Manifest::effective_version),
                "districts": visible,
            }))
            .ok()
        })
    })
    .await;
    let Ok(Some(json)) = rendered else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "暂时无法读取报送情况");
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        json.as_str().to_string(),
    )
        .into_response()
}
