//! [`ApiError`]: every HTTP error answer, `{"error": {"code": "<SQLSTATE>", "message": "..."}}`
//! with the HTTP status its SQLSTATE's class calls for. The SQLSTATE comes from the one mapping
//! the wire uses (`crate::wire::sqlstate::classify`), so a client sees the same code over
//! HTTP as over pgwire.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::wire::sqlstate::code;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// A bad request (22023 unless said otherwise).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_PARAMETER_VALUE,
            message,
        )
    }

    pub fn unauthorized(code: &'static str, message: String) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// The answer for an error of the engine or of our own statements.
    pub fn from_error(error: &(dyn std::error::Error + 'static)) -> Self {
        let (code, message) = crate::wire::sqlstate::classify(error);
        Self::new(status_of(code), code, message)
    }
}

/// The HTTP status of a SQLSTATE, by its class.
pub fn status_of(sqlstate: &str) -> StatusCode {
    match sqlstate {
        code::INSUFFICIENT_PRIVILEGE => StatusCode::FORBIDDEN,
        code::QUERY_CANCELED => StatusCode::REQUEST_TIMEOUT,
        s if s.starts_with("28") => StatusCode::UNAUTHORIZED,
        s if s.starts_with("53") => StatusCode::SERVICE_UNAVAILABLE,
        s if s.starts_with("57") => StatusCode::SERVICE_UNAVAILABLE,
        s if s.starts_with("XX") || s.starts_with("58") || s.starts_with("08") => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"oxbow\", charset=\"UTF-8\""),
            );
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
