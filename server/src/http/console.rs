//! The web console at `/`: plain HTML, CSS and ES modules from `server/console/`, embedded in
//! the binary (`include_str!`, one per file) so that there is no build step and nothing to
//! deploy beside `oxbow`. The pages call the same API as any client (`/v1/tables`,
//! `/v1/sources`, `/v1/sources/{name}/dead_letters`, `/v1/sql`); the chart is drawn as SVG by
//! `chart.js`, with no vendored library.
//!
//! Every file needs the same credentials as the API: under `scram-sha-256` the first request
//! gets 401 with `WWW-Authenticate: Basic`, so the browser asks for a role's name and
//! password once and sends them with every later request (its `fetch` calls too); under
//! trust it opens without a prompt.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use super::error::ApiError;

/// `(file name, content type, content)` of every file the console serves.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/api.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/chart.js"),
    ),
    (
        "grid.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/grid.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../console/style.css"),
    ),
];

fn serve(state: &HttpState, headers: &HeaderMap, name: &str) -> Response {
    if let Err(e) = state.auth.caller(headers) {
        return e.into_response();
    }
    match ASSETS.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                // The files change with the binary; a stale app.js against a newer API
                // would fail in confusing ways.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            crate::wire::sqlstate::code::UNDEFINED_OBJECT,
            format!("the console has no file \"{name}\""),
        )
        .into_response(),
    }
}

pub async fn index(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    serve(&state, &headers, "index.html")
}

pub async fn asset(
    State(state): State<HttpState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&state, &headers, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_served() {
        let imported = ASSETS
            .iter()
            .flat_map(|(_, _, body)| body.split(['"', '\'']))
            .filter_map(|s| s.strip_prefix("/console/"))
            .filter(|s| s.ends_with(".js") || s.ends_with(".css"));
        for file in imported {
            assert!(
                ASSETS.iter().any(|(name, _, _)| *name == file),
                "{file} is referenced but not embedded"
            );
        }
    }
}
