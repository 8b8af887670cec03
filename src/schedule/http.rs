//! `/healthz` and `/metrics` (Prometheus text format) of `fugong serve`, on a loopback address.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::ServeError;

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
}

/// Bind and serve in the background. Only loopback addresses are accepted.
pub async fn spawn(addr: SocketAddr) -> Result<(), ServeError> {
    if !addr.ip().is_loopback() {
        return Err(ServeError::Metrics {
            addr,
            message: "metrics are served on a loopback address only (127.0.0.1 or ::1); put a reverse proxy in front to expose them".into(),
        });
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ServeError::Metrics {
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
