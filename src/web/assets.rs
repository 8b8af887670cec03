//! The portal's own static files (no external assets): its stylesheet, the report's stylesheet, and a
//! small script that adds drag-and-drop to the upload form and refreshes the board. Pages work without
//! the script.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const PORTAL_CSS: &str = include_str!("portal.css");
const PORTAL_JS: &str = include_str!("portal.js");

pub async fn file(Path(name): Path<String>) -> Response {
    let (body, kind): (&str, &str) = match name.as_str() {
        "portal.css" => (PORTAL_CSS, "text/css; charset=utf-8"),
        "report.css" => (crate::report::stylesheet(), "text/css; charset=utf-8"),
        "portal.js" => (PORTAL_JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "没有这个文件").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
