//! The edge of the sandboxes function: reads a request (`Call<SandboxesOp>`) into typed values (a
//! new sandbox, a new timeout, the `status` filter of a listing, the template or sandbox a path
//! names), so that the handler's operations and `rules` see parsed values only. A body or query
//! that does not read is a 400 naming its field; an id that cannot be one is the 404 of a
//! template or sandbox that does not exist.

use crate::model::{self, SandboxId, Status, Template};
use crate::rules;
use keyhive::http::body::{parse_object, read};
use keyhive::http::paging::{ListRequest, ListSpec};
use keyhive::http::routes::SandboxesOp;
use keyhive::{ApiError, ApiState, Call};
use serde_json::Value;

const SANDBOX_LIST: ListSpec = ListSpec { default_limit: 20, filters: &["status"], numbered: false };

/// A route that takes no query parameter refuses any (a 400 naming it).
pub fn no_query(call: &Call<SandboxesOp>) -> Result<(), ApiError> {
    call.query(&[])?;
    Ok(())
}

/// The template a path names (`{id}`): one the catalog does not hold is a missing template.
pub fn template(call: &Call<SandboxesOp>) -> Result<&'static Template, ApiError> {
    model::template(call.param("id")?).ok_or(ApiError::NotFound("template"))
}

/// The sandbox a path names (`{id}`): an id no sandbox can have is a missing sandbox.
pub fn sandbox_id(call: &Call<SandboxesOp>) -> Result<SandboxId, ApiError> {
    SandboxId::parse(call.param("id")?).ok_or(ApiError::NotFound("sandbox"))
}

/// A `POST /v1/sandboxes` body. The template is as named: `rules::resolve` finds it in the
/// catalog and bounds the timeout by it.
#[derive(Debug, Clone)]
pub struct NewSandbox {
    pub template_id: String,
    /// 1..86400 when given; `None` takes the template's default.
    pub timeout_seconds: Option<i64>,
}

pub fn new_sandbox(call: &Call<SandboxesOp>) -> Result<NewSandbox, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    let template_id = fields.required("template_id", read::string)?;
    let timeout_seconds = fields.optional("timeout_seconds", timeout_seconds)?;
    fields.finish()?;
    Ok(NewSandbox { template_id, timeout_seconds })
}

/// The `timeout_seconds` of a `POST /v1/sandboxes/{id}/timeout` body (required, 1..86400; the
/// sandbox's template may allow less, which `rules::extend` checks).
pub fn new_timeout(call: &Call<SandboxesOp>) -> Result<i64, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    let timeout = fields.required("timeout_seconds", timeout_seconds)?;
    fields.finish()?;
    Ok(timeout)
}

/// A `GET /v1/sandboxes`: the page asked for, and which sandboxes it keeps.
#[derive(Debug)]
pub struct SandboxList {
    pub list: ListRequest,
    /// `?status=`: only sandboxes in this state.
    pub status: Option<Status>,
}

/// `GET /v1/sandboxes`: `limit`, `cursor` and `status`.
pub async fn sandbox_list(api: &ApiState, call: &Call<SandboxesOp>) -> Result<SandboxList, ApiError> {
    let list = ListRequest::read(api, call, SANDBOX_LIST).await?;
    let status = list
        .filter("status")
        .map(|text| {
            Status::parse(text).ok_or_else(|| ApiError::validation("status", "must be running, killed or expired"))
        })
        .transpose()?;
    Ok(SandboxList { list, status })
}

/// `timeout_seconds`: an integer within 1..86400.
fn timeout_seconds(field: &str, v: Value) -> Result<i64, ApiError> {
    let seconds = read::integer(field, v)?;
    rules::check_timeout(seconds).map_err(|_| ApiError::validation(field, "must be 1..86400"))
}
