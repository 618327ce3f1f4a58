//! The sandboxes function. Its routes arrive with their issue; until then it serves no route and
//! answers every request with the 404 (or 405) envelope from the shared route table.

use keyhive::http::routes::SandboxesOp;
use keyhive::{Api, ApiError, Call, Reply};
use lambda_http::{Body, Request, Response};

pub async fn handle(api: &Api, request: Request) -> Response<Body> {
    keyhive::http::serve(api, request, handler).await
}

/// No operation yet: the match is exhaustive over none.
async fn handler(call: Call<SandboxesOp>) -> Result<Reply, ApiError> {
    match call.op {}
}
