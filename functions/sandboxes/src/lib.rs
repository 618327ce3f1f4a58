//! The sandboxes function: the control plane of HopX-style compute sandboxes (`/v1/templates`,
//! `/v1/sandboxes`). keyhive records and governs sandboxes and their lifecycle; it runs no user
//! code. `handler` adapts HTTP to `rules`; the store is in `store`, the records in `model`.

pub mod model;
pub mod rules;
pub mod store;

use crate::model::{Status, TEMPLATES};
use crate::store::SandboxStore;
use keyhive::http::body::{parse_object, read};
use keyhive::http::idempotent;
use keyhive::http::paging::{ListRequest, ListSpec};
use keyhive::http::routes::SandboxesOp;
use keyhive::{ApiError, ApiState, Call, Reply};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

const SANDBOX_LIST: ListSpec = ListSpec { default_limit: 20, filters: &["status"], numbered: false };

pub async fn handle(api: &ApiState, request: Request) -> Response<Body> {
    keyhive::http::serve(api, request, |call| handler(api, call)).await
}

async fn handler(api: &ApiState, call: Call<SandboxesOp>) -> Result<Reply, ApiError> {
    let store = &api.store;
    match call.op {
        SandboxesOp::ListTemplates => {
            call.query(&[])?;
            let data = Value::Array(TEMPLATES.iter().map(|t| t.to_json()).collect());
            Ok(Reply::ok(data).with_meta("limit", json!(TEMPLATES.len())).with_meta("has_more", json!(false)))
        }
        SandboxesOp::GetTemplate => {
            let template = model::template(call.param("id")?).ok_or(ApiError::NotFound("template"))?;
            Ok(Reply::ok(template.to_json()))
        }
        SandboxesOp::Create => {
            let mut fields = parse_object(call.request.body().as_ref(), false)?;
            let template_id = fields.required("template_id", read::string)?;
            let timeout = fields.optional("timeout_seconds", |f, v| read::integer(f, v).and_then(|t| timeout(f, t)))?;
            fields.finish()?;
            let (template, timeout) = rules::resolve(&template_id, timeout)?;
            let change = call.change()?;
            let quota = api.config.sandbox_quota;
            idempotent(api, &call, |claim| async move {
                let change = change.with_claim(claim);
                let sandbox = rules::create(store, &change, template, timeout, quota).await?;
                Ok(Reply::created_at(sandbox.to_json(change.at), &format!("/v1/sandboxes/{}", sandbox.id.as_str())))
            })
            .await
        }
        SandboxesOp::List => {
            let list = ListRequest::read(api, &call, SANDBOX_LIST).await?;
            let status = match list.filter("status") {
                Some(text) => Some(
                    Status::parse(text)
                        .ok_or_else(|| ApiError::validation("status", "must be running, killed or expired"))?,
                ),
                None => None,
            };
            let change = call.change()?;
            let page = store.list_sandboxes(&change.tenant, status, change.at, list.start.as_ref(), list.limit).await?;
            let now = change.at;
            let data: Vec<Value> = page.items.iter().map(|s| s.to_json(now)).collect();
            let page = keyhive::store::Page { items: data, next: page.next };
            list.reply(api, page, Value::clone).await
        }
        SandboxesOp::Get => {
            let change = call.change()?;
            Ok(Reply::ok(rules::visible(store, &change, call.param("id")?).await?.to_json(change.at)))
        }
        SandboxesOp::ExtendTimeout => {
            let mut fields = parse_object(call.request.body().as_ref(), false)?;
            let timeout = fields.required("timeout_seconds", |f, v| read::integer(f, v).and_then(|t| timeout(f, t)))?;
            fields.finish()?;
            let change = call.change()?;
            Ok(Reply::ok(rules::extend(store, &change, call.param("id")?, timeout).await?.to_json(change.at)))
        }
        SandboxesOp::Kill => {
            let change = call.change()?;
            Ok(Reply::ok(rules::kill(store, &change, call.param("id")?).await?.to_json(change.at)))
        }
    }
}

fn timeout(field: &str, seconds: i64) -> Result<i64, ApiError> {
    rules::check_timeout(seconds).map_err(|_| ApiError::validation(field, "must be 1..86400"))
}
