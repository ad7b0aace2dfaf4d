//! The console's error type and the JSON envelope every `/api/**` answer uses:
//! `{"ok":true,"data":…}` or `{"ok":false,"error":{"code":…,"message":…}}`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

/// An error answer: HTTP status, a stable machine code and a human message (never a secret).
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a bearer token is required: send `Authorization: Bearer TOKEN`",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
    /// The default code for a status (used when rewriting framework answers).
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> ApiError {
        let code = match status.as_u16() {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            409 => "conflict",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            422 => "unprocessable_entity",
            s if s >= 500 => "internal",
            _ => "error",
        };
        ApiError::new(status, code, message)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        use crate::store::StoreError as E;
        match e {
            E::InvalidArtifactId(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_artifact_id",
                e.to_string(),
            ),
            E::ArtifactNotFound(_) => ApiError::not_found(e.to_string()),
            other => {
                tracing::error!(error = %other, "store error in the console");
                ApiError::internal("the evidence store failed; see the server log")
            }
        }
    }
}

/// Serialize an envelope body.
pub fn envelope_error(code: &str, message: &str) -> serde_json::Value {
    json!({"ok": false, "error": {"code": code, "message": message}})
}

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
    let mut r = (status, bytes).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &envelope_error(self.code, &self.message))
    }
}

/// A success answer: `{"ok":true,"data":…}` with a status (200 unless set).
pub struct Data<T>(pub StatusCode, pub T);

pub fn ok<T: Serialize>(data: T) -> Data<T> {
    Data(StatusCode::OK, data)
}

#[derive(Serialize)]
struct OkEnvelope<'a, T> {
    ok: bool,
    data: &'a T,
}

impl<T: Serialize> IntoResponse for Data<T> {
    /// Serialized straight to bytes (no intermediate `Value` tree: the drift answer is ~200 KB).
    fn into_response(self) -> Response {
        match serde_json::to_vec(&OkEnvelope {
            ok: true,
            data: &self.1,
        }) {
            Ok(bytes) => {
                let mut r = (self.0, bytes).into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                r
            }
            Err(e) => ApiError::internal(format!("serializing the answer: {e}")).into_response(),
        }
    }
}

pub type ApiResult<T> = Result<Data<T>, ApiError>;

/// `axum::Json` with rejections mapped into the envelope (400 bad JSON, 415 wrong content
/// type, 413 too large, 422 wrong shape).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let status = r.status();
    let code = match &r {
        JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
        JsonRejection::JsonSyntaxError(_) => "invalid_json",
        JsonRejection::JsonDataError(_) => "invalid_body",
        _ => return ApiError::from_status(status, r.body_text()),
    };
    ApiError::new(status, code, r.body_text())
}

/// `axum::extract::Query` with rejections in the envelope.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(r) => Err(query_rejection(r)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
}
