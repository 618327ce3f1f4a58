//! `GET /health`: 200 while the function runs and the table answers, 503 when it does not.

use keyhive::http::routes::HealthOp;
use keyhive::store::HealthProbe;
use keyhive::{Api, ApiError, Call, Reply};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn handle(api: &Api, request: Request) -> Response<Body> {
    keyhive::http::serve(api, request, |call| handler(api, call)).await
}

async fn handler(api: &Api, call: Call<HealthOp>) -> Result<Reply, ApiError> {
    match call.op {
        HealthOp::Check => health(&api.store).await,
    }
}

pub async fn health(probe: &dyn HealthProbe) -> Result<Reply, ApiError> {
    probe.probe().await?;
    Ok(Reply::ok(json!({ "status": "ok", "version": VERSION })))
}
