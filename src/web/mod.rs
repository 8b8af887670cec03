//! The intake portal (contract §12, part of `fugong serve`): districts hand in their workbook and see its
//! findings at once; cities and the province watch who has reported. The routes are built in one place
//! (`router`); handlers are thin and call the domain code (`intake`, `board`, `report`); who may do what
//! is one helper (`auth::Caller`).
//!
//! Security, for every route: a token (Bearer) or a session cookie, scoped to a job and a district,
//! city or province; cookie-authenticated requests that change anything must come from the portal's
//! own pages (`Origin`/`Sec-Fetch-Site`); request bodies have a byte limit (the job's `max_file_bytes`,
//! 413 as soon as it is passed) and a deadline (408); failed sign-ins and uploads are rate-limited
//! (429); every response carries the CSP, nosniff and no-referrer headers; every text from a workbook,
//! a file name or a token's name is escaped (maud). Tokens never reach a log line.

pub mod api;
pub mod assets;
pub mod auth;
pub mod board;
pub mod health;
pub mod pages;
pub mod submit;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::Job;
use crate::intake::{Intake, Isolation};
use crate::ledger::Ledger;
use crate::publish::Warehouse;

pub use auth::Caller;

/// How long a request body may take to arrive.
pub const BODY_DEADLINE: Duration = Duration::from_secs(30);

/// One job as the portal serves it.
pub struct PortalJob {
    pub job: &'static Job,
    pub ledger: Arc<Ledger>,
    pub warehouse: Arc<dyn Warehouse>,
    pub intake: Intake<'static>,
    /// Every district's state per date, made at most `BOARD_FRESH` ago; an upload here forgets its
    /// date's (a run elsewhere shows within `BOARD_FRESH`).
    boards: std::sync::Mutex<BTreeMap<chrono::NaiveDate, Kept<board::Board>>>,
    /// Rendered board pages and status documents per (date, token), kept as long as their board.
    pages: std::sync::Mutex<BTreeMap<(chrono::NaiveDate, String), Kept<String>>>,
}

/// Something made at an instant, kept for `BOARD_FRESH`.
type Kept<T> = (std::time::Instant, Arc<T>);

/// How long a date's board is reused before it is read again.
pub const BOARD_FRESH: Duration = Duration::from_secs(3);

impl PortalJob {
    /// The board of a date with every district (callers filter what they may see).
    pub fn board(
        &self,
        date: chrono::NaiveDate,
    ) -> Result<Arc<board::Board>, crate::ledger::LedgerError> {
        let mut boards = self.boards.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((made, b)) = boards.get(&date)
            && made.elapsed() < BOARD_FRESH
        {
            return Ok(Arc::clone(b));
        }
        let published = self.warehouse.manifest(date).ok().flatten();
        let b = Arc::new(board::board(
            self.job,
            &self.ledger,
            published,
            date,
            chrono::Utc::now(),
            &|_| true,
        )?);
        boards.retain(|_, (made, _)| made.elapsed() < BOARD_FRESH);
        boards.insert(date, (std::time::Instant::now(), Arc::clone(&b)));
        Ok(b)
    }

    /// Forget a date's board and its rendered pages (after an upload for it).
    pub fn forget_board(&self, date: chrono::NaiveDate) {
        self.boards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&date);
        self.pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(d, _), _| *d != date);
    }

    /// A board page as rendered for a scope within `BOARD_FRESH`, or `render`'s, kept.
    pub fn board_page(
        &self,
        date: chrono::NaiveDate,
        scope: String,
        render: impl FnOnce() -> Option<String>,
    ) -> Option<Arc<String>> {
        let key = (date, scope);
        {
            let pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((made, page)) = pages.get(&key)
                && made.elapsed() < BOARD_FRESH
            {
                return Some(Arc::clone(page));
            }
        }
        let page = Arc::new(render()?);
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        pages.retain(|_, (made, _)| made.elapsed() < BOARD_FRESH);
        pages.insert(key, (std::time::Instant::now(), Arc::clone(&page)));
        Some(page)
    }
}

/// Everything the portal's handlers share.
pub struct Portal {
    pub jobs: BTreeMap<String, Arc<PortalJob>>,
    pub sessions: auth::Sessions,
    /// Served over TLS: the session cookie is `Secure`.
    pub tls: bool,
    /// How long a body may take (shorter in tests).
    pub body_deadline: Duration,
}

pub type Shared = Arc<Portal>;

/// Why the portal cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("{job}: cannot open the warehouse or the run ledger for the portal: {message}")]
    Open { job: String, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot load the TLS certificate or key ({path}): {message}")]
    Tls { path: PathBuf, message: String },
}

impl Portal {
    /// Open every job's ledger and warehouse for the portal. Jobs live as long as the process.
    pub fn open(jobs: Vec<Job>, isolation: &Isolation, tls: bool) -> Result<Portal, PortalError> {
        let mut out = BTreeMap::new();
        for job in jobs {
            let job: &'static Job = Box::leak(Box::new(job));
            let err = |message: String| PortalError::Open {
                job: job.name.clone(),
                message,
            };
            let warehouse = crate::publish::open(&job.output).map_err(|e| err(e.to_string()))?;
            let ledger = Arc::new(
                Ledger::open(&job.ledger_path(&job.output)).map_err(|e| err(e.to_string()))?,
            );
            let intake = Intake::for_job(job, isolation, Some(warehouse.blobs()));
            out.insert(
                job.name.clone(),
                Arc::new(PortalJob {
                    job,
                    ledger,
                    warehouse,
                    intake,
                    boards: std::sync::Mutex::new(BTreeMap::new()),
                    pages: std::sync::Mutex::new(BTreeMap::new()),
                }),
            );
        }
        Ok(Portal {
            jobs: out,
            sessions: auth::Sessions::default(),
            tls,
            body_deadline: BODY_DEADLINE,
        })
    }

    pub fn job(&self, name: &str) -> Option<&Arc<PortalJob>> {
        self.jobs.get(name)
    }

    /// Find a token's record by its job key and id, in that job's ledger.
    fn lookup(&self, key: &str, id: i64) -> Option<(String, crate::ledger::portal::TokenRecord)> {
        self.jobs
            .values()
            .filter(|pj| auth::job_key(&pj.job.name) == key)
            .find_map(|pj| {
                let record = pj.ledger.token(&pj.job.name, id).ok().flatten()?;
                Some((pj.job.name.clone(), record))
            })
    }

    /// Verify a token (and note its use).
    pub fn verify(&self, token: &str) -> Option<Caller> {
        let caller = self
            .sessions
            .verify(token, &|key, id| self.lookup(key, id))
            .ok()?;
        if let Some(pj) = self.job(&caller.job) {
            let _ = pj.ledger.touch_token(caller.token_id);
        }
        Some(caller)
    }
}

/// The client's address (the TCP peer; behind a reverse proxy, the proxy's).
pub fn client_of(request_parts: &axum::http::Extensions) -> Option<IpAddr> {
    request_parts
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The session cookie's value, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == "fugong_session")
        .map(|(_, v)| v.to_string())
}

/// How a request is authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Bearer(Caller),
    Cookie(Caller),
}

impl Auth {
    pub fn caller(&self) -> &Caller {
        match self {
            Auth::Bearer(c) | Auth::Cookie(c) => c,
        }
    }
}

/// The request's caller, from `Authorization: Bearer` or the session cookie.
pub fn authenticate(portal: &Portal, headers: &HeaderMap) -> Option<Auth> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value.to_str().ok()?.strip_prefix("Bearer ")?;
        return portal.verify(token).map(Auth::Bearer);
    }
    let session = session_cookie(headers)?;
    portal.sessions.session(&session).map(Auth::Cookie)
}

/// Every response: the contract's security headers.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A cross-site request that changes something is refused when it is authenticated by the cookie
/// (a Bearer token is not sent by a browser on its own): it must come from the portal's own pages.
async fn same_origin_only(State(portal): State<Shared>, request: Request, next: Next) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let by_cookie = !request.headers().contains_key(header::AUTHORIZATION)
        && session_cookie(request.headers()).is_some();
    if changes && by_cookie && !same_origin(request.headers()) {
        tracing::warn!(method = %request.method(), path = %request.uri().path(), "a cross-site request with the session cookie was refused");
        let _ = &portal;
        return (StatusCode::FORBIDDEN, "跨站请求被拒绝：请从门户页面提交").into_response();
    }
    next.run(request).await
}

/// The request comes from a page of this site: `Sec-Fetch-Site` says same-origin (or none, typed by
/// the user), or else `Origin` names the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        host,
    ) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host),
        // No Origin at all: not a browser's cross-site form post (browsers send Origin on POST).
        (None, _) => true,
        _ => false,
    }
}

/// A plain-text error response.
pub fn refuse(status: StatusCode, message: &str) -> Response {
    (status, message.to_string()).into_response()
}

/// Every route of the portal.
pub fn router(portal: Shared) -> Router {
    Router::new()
        .route("/", get(pages::signin_page))
        .route("/signin", post(pages::signin))
        .route("/signout", post(pages::signout))
        .route("/jobs/{job}/districts/{code}", get(pages::district_page))
        .route(
            "/jobs/{job}/districts/{code}/upload",
            post(pages::upload_form),
        )
        .route(
            "/jobs/{job}/districts/{code}/feedback.xlsx",
            get(pages::feedback_download),
        )
        .route(
            "/jobs/{job}/districts/{code}/template.xlsx",
            get(pages::template_download),
        )
        .route("/jobs/{job}/dates/{date}", get(pages::board_page))
        .route("/jobs/{job}/dates/{date}/report", get(pages::report_page))
        .route(
            "/api/v1/jobs/{job}/dates/{date}/districts/{code}/submission",
            post(api::submission),
        )
        .route("/api/v1/jobs/{job}/dates/{date}/status", get(api::status))
        .route("/static/{file}", get(assets::file))
        .route("/healthz", get(health::healthz))
        .fallback(|| async { refuse(StatusCode::NOT_FOUND, "没有这个页面") })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&portal),
            same_origin_only,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(portal)
}

/// Serve the portal on `addr` until the process stops: plain HTTP, or HTTPS with `tls`.
pub async fn spawn(
    portal: Shared,
    addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<SocketAddr, PortalError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| PortalError::Listen { addr, source })?;
    let bound = listener.local_addr().unwrap_or(addr);
    let https = tls.is_some();
    let app = router(portal);
    match tls {
        None => {
            tokio::spawn(async move {
                let service = app.into_make_service_with_connect_info::<SocketAddr>();
                if let Err(e) = axum::serve(listener, service).await {
                    tracing::error!(error = %e, "the portal stopped");
                }
            });
        }
        Some(config) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            tokio::spawn(async move {
                loop {
                    let Ok((stream, peer)) = listener.accept().await else {
                        continue;
                    };
                    let acceptor = acceptor.clone();
                    let app = app.clone();
                    tokio::spawn(async move {
                        let Ok(Ok(stream)) =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                                .await
                        else {
                            return;
                        };
                        let service = hyper::service::service_fn(
                            move |mut request: Request<hyper::body::Incoming>| {
                                request.extensions_mut().insert(ConnectInfo(peer));
                                let app = app.clone();
                                async move {
                                    use tower::ServiceExt;
                                    app.oneshot(request.map(Body::new)).await
                                }
                            },
                        );
                        let _ = hyper_util::server::conn::auto::Builder::new(
                            hyper_util::rt::TokioExecutor::new(),
                        )
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                    });
                }
            });
        }
    }
    let scheme = if https { "https" } else { "http" };
    tracing::info!(target: crate::schedule::SERVICE_LOG, addr = %bound, tls = https, "serving the portal on {scheme}://{bound}/");
    Ok(bound)
}

/// A rustls server configuration from PEM files (certificate chain, private key).
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, PortalError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| PortalError::Tls {
            path: cert.to_path_buf(),
            message: e.to_string(),
        })?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| PortalError::Tls {
        path: key.to_path_buf(),
        message: e.to_string(),
    })?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| PortalError::Tls {
            path: cert.to_path_buf(),
            message: e.to_string(),
        })?;
    Ok(Arc::new(config))
}
