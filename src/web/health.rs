//! `/healthz` (on the portal and the metrics listener; no token) and `/metrics` (Prometheus text, on the
//! separate loopback metrics listener only).

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

pub async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
}

/// Why the metrics listener cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {addr}: {message}")]
pub struct MetricsError {
    pub addr: SocketAddr,
    pub message: String,
}

/// Bind `/healthz` and `/metrics` on a loopback address and serve them in the background.
pub async fn spawn_metrics(addr: SocketAddr) -> Result<(), MetricsError> {
    if !addr.ip().is_loopback() {
        return Err(MetricsError {
            addr,
            message: "metrics are served on a loopback address only (127.0.0.1 or ::1); put a reverse proxy in front to expose them".into(),
        });
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| MetricsError {
            addr,
            message: e.to_string(),
        })?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics server stopped");
        }
    });
    tracing::info!(%addr, "serving /healthz and /metrics");
    Ok(())
}
