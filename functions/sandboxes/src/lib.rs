//! The sandboxes function: the control plane of HopX-style compute sandboxes (`/v1/templates`,
//! `/v1/sandboxes`). keyhive records and governs sandboxes and their lifecycle; it runs no user
//! code. `handler` hands each operation to a short function that reads the request (`input`),
//! applies `rules` and answers; the store is in `store`, the records and the template catalog in
//! `model`; the expiry sweep is `bin/sandbox-sweep.rs`.

pub mod input;
pub mod model;
pub mod rules;
pub mod store;

use crate::input::SandboxList;
use crate::model::TEMPLATES;
use crate::store::SandboxStore;
use keyhive::http::idempotent;
use keyhive::http::routes::SandboxesOp;
use keyhive::store::Page;
use keyhive::{ApiError, ApiState, Call, Reply};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

pub async fn handle(api: &ApiState, request: Request) -> Response<Body> {
    keyhive::http::serve(api, request, |call| handler(api, call)).await
}

async fn handler(api: &ApiState, call: Call<SandboxesOp>) -> Result<Reply, ApiError> {
    let call = &call;
    match call.op {
        SandboxesOp::ListTemplates => list_templates(call),
        SandboxesOp::GetTemplate => get_template(call),
        SandboxesOp::Create => create(api, call).await,
        SandboxesOp::List => list(api, call).await,
        SandboxesOp::Get => get(api, call).await,
        SandboxesOp::ExtendTimeout => extend_timeout(api, call).await,
        SandboxesOp::Kill => kill(api, call).await,
    }
}

/// `GET /v1/templates`: the whole catalog, on one page.
fn list_templates(call: &Call<SandboxesOp>) -> Result<Reply, ApiError> {
    input::no_query(call)?;
    let data = Value::Array(TEMPLATES.iter().map(|t| t.to_json()).collect());
    Ok(Reply::ok(data).with_meta("limit", json!(TEMPLATES.len())).with_meta("has_more", json!(false)))
}

fn get_template(call: &Call<SandboxesOp>) -> Result<Reply, ApiError> {
    Ok(Reply::ok(input::template(call)?.to_json()))
}

/// `POST /v1/sandboxes`: a running sandbox of the template.
async fn create(api: &ApiState, call: &Call<SandboxesOp>) -> Result<Reply, ApiError> {
    let new = input::new_sandbox(call)?;
    let (template, timeout) = rules::resolve(&new.template_id, new.timeout_seconds)?;
    let change = call.change()?;
    let quota = api.config.sandbox_quota;
    idempotent(api, call, |claim| async move {
        let change = change.with_claim(claim);
        let sandbox = rules::create(&api.store, &change, template, timeout, quota).await?;
        Ok(Reply::created_at(sandbox.to_json(change.at), &format!("/v1/sandboxes/{}", sandbox.id.as_str())))
    })
    .await
}

/// `GET /v1/sandboxes`: the caller's tenant's sandboxes, each with its status as of now.
async fn list(api: &ApiState, call: &Call<SandboxesOp>) -> Result<Reply, ApiError> {
    let SandboxList { list, status } = input::sandbox_list(api, call).await?;
    let change = call.change()?;
    let now = change.at;
    let page = api.store.list_sandboxes(&change.tenant, status, now, list.start.as_ref(), list.limit).await?;
    let data = Page { items: page.items.iter().map(|s| s.to_json(now)).collect(), next: page.next };
    list.reply(api, data, Value::clone).await
}

async fn get(api: &ApiState, call: &Call<SandboxesOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    let id = input::sandbox_id(call)?;
    Ok(Reply::ok(rules::visible(&api.store, &change, &id).await?.to_json(change.at)))
}

/// `POST /v1/sandboxes/{id}/timeout`: a running sandbox's deadline, from now.
async fn extend_timeout(api: &ApiState, call: &Call<SandboxesOp>) -> Result<Reply, ApiError> {
    let timeout = input::new_timeout(call)?;
    let change = call.change()?;
    let id = input::sandbox_id(call)?;
    Ok(Reply::ok(rules::extend(&api.store, &change, &id, timeout).await?.to_json(change.at)))
}

/// `DELETE /v1/sandboxes/{id}`: the sandbox, killed (or as it ended already).
async fn kill(api: &ApiState, call: &Call<SandboxesOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    let id = input::sandbox_id(call)?;
    Ok(Reply::ok(rules::kill(&api.store, &change, &id).await?.to_json(change.at)))
}
