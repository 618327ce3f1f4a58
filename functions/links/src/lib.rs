//! The links function. Its routes arrive with their issue; until then it serves no route and
//! answers every request with the 404 (or 405) envelope from the shared route table.

use keyhive::http::routes::Function;
use keyhive::{Api, ApiError};
use lambda_http::{Body, Request, Response};

pub async fn handle(api: &Api, request: Request) -> Response<Body> {
    keyhive::http::serve(api, Function::Links, request, |_call| async { Err(ApiError::NotFound) }).await
}
