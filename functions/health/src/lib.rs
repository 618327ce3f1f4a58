//! `GET /health`: 200 while the function runs and the table answers, 503 when it does not.
//! `GET /docs` (local stack only): the API reference `make docs` rendered.

use keyhive::http::routes::HealthOp;
use keyhive::store::HealthProbe;
use keyhive::{ApiError, ApiState, Call, Reply};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn handle(api: &ApiState, request: Request) -> Response<Body> {
    keyhive::http::serve(api, request, |call| handler(api, call)).await
}

async fn handler(api: &ApiState, call: Call<HealthOp>) -> Result<Reply, ApiError> {
    match call.op {
        HealthOp::Check => health(&api.store).await,
        HealthOp::Docs => docs(api.config.docs_file.as_deref()),
    }
}

/// The rendered API reference, read on each request so a new `make docs` shows at once. Without
/// a configured page (every deployment) or before the first render, a 404 that says why. A plain
/// blocking read: local only, one file of a few hundred kilobytes.
pub fn docs(page: Option<&std::path::Path>) -> Result<Reply, ApiError> {
    let Some(page) = page else { return Err(ApiError::NotFound("API reference (served by the local stack only)")) };
    match std::fs::read_to_string(page) {
        Ok(html) => Ok(Reply::html(html)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(ApiError::NotFound("API reference (run make docs to render it)"))
        }
        Err(error) => Err(ApiError::internal(format!("reading the API reference: {error}"))),
    }
}

pub async fn health(probe: &dyn HealthProbe) -> Result<Reply, ApiError> {
    probe.probe().await?;
    Ok(Reply::ok(json!({ "status": "ok", "version": VERSION })))
}
