//! The HTTP surface: routes, handlers and the JSON shapes of answers and
//! errors. Every answer, including unknown routes and methods, is JSON.

use axum::Json;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::address::{self, normalize};
use crate::store::{Store, StoreError};

/// The routes, sharing `store`.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/{address}", get(check).post(add))
        .fallback(not_found_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(store)
}

/// An allowed address (`GET` 200, `POST` 200 or 201).
#[derive(Serialize)]
struct Allowed {
    address: String,
    allowed: bool,
    /// Only on `POST`: whether this request added it.
    #[serde(skip_serializing_if = "Option::is_none")]
    added: Option<bool>,
}

/// Every error body: a stable code for programs, a message for people.
#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

/// An error answer.
struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: String) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: code,
                message,
                address: None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            e.to_string(),
        )
    }
}

/// The canonical address from the path, or a 400.
fn parsed(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(raw) = path.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_address",
            format!("{}; {}", e.body_text(), address::EXPECTED),
        )
    })?;
    normalize(&raw).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_address",
            format!("invalid address {raw:?}: {e}; {}", address::EXPECTED),
        )
    })
}

async fn check(
    State(store): State<Store>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Allowed>, ApiError> {
    let address = parsed(path)?;
    if store.contains(&address).await? {
        Ok(Json(Allowed {
            address,
            allowed: true,
            added: None,
        }))
    } else {
        Err(ApiError {
            status: StatusCode::NOT_FOUND,
            body: ErrorBody {
                error: "not_allowed",
                message: format!("{address} is not in the allowlist"),
                address: Some(address),
            },
        })
    }
}

async fn add(
    State(store): State<Store>,
    path: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<Allowed>), ApiError> {
    let address = parsed(path)?;
    let added = store.insert(address.clone()).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Allowed {
            address,
            allowed: true,
            added: Some(added),
        }),
    ))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    storage: &'static str,
}

async fn health(State(store): State<Store>) -> Result<Json<Health>, ApiError> {
    store.ping().await?;
    Ok(Json(Health {
        status: "ok",
        storage: store.kind(),
    }))
}

async fn not_found_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_route",
        "no such route (hint: GET or POST /{address}, GET /healthz)".to_string(),
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed (hint: GET or POST /{address}, GET /healthz)".to_string(),
    )
}
