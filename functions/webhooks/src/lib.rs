//! The webhooks function: endpoints (`/v1/webhooks`), their deliveries, and the audit trail
//! (`/v1/audit-log`). `handler` hands each operation to a short function that reads the request
//! (`input`), applies `rules` and answers; the dispatcher binary (`bin/webhook-dispatcher.rs`)
//! runs the delivery side of `rules` on the table's stream and a schedule.

pub mod audit;
pub mod crypto;
pub mod input;
pub mod model;
pub mod rules;
pub mod sender;
pub mod ssrf;
pub mod store;

use crate::crypto::SealingKey;
use crate::rules::Outbound;
use crate::store::WebhookStore;
use keyhive::http::idempotent;
use keyhive::http::paging::{ListRequest, ListSpec};
use keyhive::http::routes::WebhooksOp;
use keyhive::model::rfc3339;
use keyhive::{ApiError, ApiState, Call, Reply};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tokio::sync::OnceCell;

const ENDPOINT_LIST: ListSpec = ListSpec { default_limit: 20, filters: &[], numbered: false };
const ATTEMPT_LIST: ListSpec = ListSpec { default_limit: 20, filters: &[], numbered: false };

/// What the webhook functions build once per instance: the API state, the outbound client
/// (SSRF policy, resolver, TLS), and the sealing key, fetched on first need.
pub struct Webhooks {
    pub api: ApiState,
    pub outbound: Outbound,
    sealing_key: OnceCell<SealingKey>,
}

impl Webhooks {
    pub fn new(api: ApiState, outbound: Outbound) -> Self {
        Webhooks { api, outbound, sealing_key: OnceCell::new() }
    }

    pub async fn from_env() -> Result<Self, String> {
        let api = ApiState::from_env().await;
        let outbound = Outbound {
            policy: ssrf::Policy { local: api.config.dev_mode },
            resolver: ssrf::Resolver::new(api.config.dns_resolver)?,
            sender: sender::Sender::new(),
        };
        Ok(Webhooks::new(api, outbound))
    }

    /// The key that seals signing secrets (a Secrets Manager secret only these functions read).
    pub async fn sealing_key(&self) -> Result<&SealingKey, ApiError> {
        self.sealing_key
            .get_or_try_init(|| async {
                let id = &self.api.config.webhook_secret_id;
                let bytes = keyhive::secrets::load_secret_bytes(self.api.secrets(), id).await.map_err(|err| {
                    tracing::error!(secret_id = %id, error = %keyhive::error::source_chain(&err), "cannot load the webhook sealing key");
                    ApiError::from(err)
                })?;
                SealingKey::from_secret(&bytes).ok_or_else(|| ApiError::internal("the webhook sealing key is shorter than 32 bytes"))
            })
            .await
    }
}

pub async fn handle(webhooks: &Webhooks, request: Request) -> Response<Body> {
    keyhive::http::serve(&webhooks.api, request, |call| handler(webhooks, call)).await
}

async fn handler(webhooks: &Webhooks, call: Call<WebhooksOp>) -> Result<Reply, ApiError> {
    let (api, call) = (&webhooks.api, &call);
    match call.op {
        WebhooksOp::Create => create(webhooks, call).await,
        WebhooksOp::List => list(api, call).await,
        WebhooksOp::Get => get(api, call).await,
        WebhooksOp::Update => update(webhooks, call).await,
        WebhooksOp::Delete => delete(api, call).await,
        WebhooksOp::RotateSecret => rotate_secret(webhooks, call).await,
        WebhooksOp::Test => send_test(api, call).await,
        WebhooksOp::Enable => enable(api, call).await,
        WebhooksOp::ListDeliveries => list_deliveries(api, call).await,
        WebhooksOp::Resend => resend(api, call).await,
        WebhooksOp::Recover => recover(api, call).await,
        WebhooksOp::AuditLog => audit::list(api, call).await,
    }
}

/// `POST /v1/webhooks`: the endpoint, with its secret (shown this once).
async fn create(webhooks: &Webhooks, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    let api = &webhooks.api;
    let new = input::new_endpoint(call)?;
    rules::check_readable(&call.identity()?.permissions, &new.events)?;
    let url = rules::check_url(&webhooks.outbound, "url", &new.url).await?;
    let key = webhooks.sealing_key().await?;
    let change = call.change()?;
    let max_endpoints = api.config.limits.webhooks;
    idempotent(api, call, |claim| async move {
        let change = change.with_claim(claim);
        let (endpoint, secret) =
            rules::create(&api.store, key, &change, url, new.events, new.description, max_endpoints).await?;
        let mut data = endpoint.to_json();
        data["secret"] = json!(secret.reveal());
        Ok(Reply::created_at(data, &format!("/v1/webhooks/{}", endpoint.id.as_str())))
    })
    .await
}

/// `GET /v1/webhooks`: the caller's tenant's endpoints.
async fn list(api: &ApiState, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    let list = ListRequest::read(api, call, ENDPOINT_LIST).await?;
    let change = call.change()?;
    let page = api.store.list_endpoints(&change.tenant, list.start.as_ref(), list.limit).await?;
    list.reply(api, page, model::Endpoint::to_json).await
}

async fn get(api: &ApiState, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    let id = input::webhook_id(call)?;
    Ok(Reply::ok(rules::visible(&api.store, &change, &id).await?.to_json()))
}

async fn update(webhooks: &Webhooks, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    let store = &webhooks.api.store;
    let mut patch = input::endpoint_patch(call)?;
    let change = call.change()?;
    let id = input::webhook_id(call)?;
    // The URL is looked up only for an endpoint the caller has (no lookups for anyone).
    rules::visible(store, &change, &id).await?;
    if let Some(url) = patch.url.take() {
        patch.url = Some(rules::check_url(&webhooks.outbound, "url", &url).await?);
    }
    let permissions = &call.identity()?.permissions;
    Ok(Reply::ok(rules::update(store, &change, permissions, &id, patch).await?.to_json()))
}

async fn delete(api: &ApiState, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    let id = input::webhook_id(call)?;
    Ok(Reply::ok(rules::delete(&api.store, &change, &id).await?.to_json()))
}

/// `POST /v1/webhooks/{id}/rotate-secret`: the new secret (shown this once), and until when the
/// previous one still signs.
async fn rotate_secret(webhooks: &Webhooks, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    input::no_body(call)?;
    let key = webhooks.sealing_key().await?;
    let change = call.change()?;
    let permissions = &call.identity()?.permissions;
    let id = input::webhook_id(call)?;
    let (endpoint, secret) = rules::rotate(&webhooks.api.store, key, &change, permissions, &id).await?;
    let mut data = endpoint.to_json();
    data["secret"] = json!(secret.reveal());
    data["previous_secret_valid_until"] = json!(endpoint.previous.as_ref().map(|(_, until)| rfc3339(*until)));
    Ok(Reply::ok(data))
}

async fn send_test(api: &ApiState, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    input::no_body(call)?;
    let change = call.change()?;
    let id = input::webhook_id(call)?;
    let delivery = rules::send_test(&api.store, &change, &id).await?;
    Ok(Reply::accepted(
        json!({ "delivery_id": delivery.id.as_str(), "event_id": delivery.event_id, "event_type": delivery.event_type }),
    ))
}

async fn enable(api: &ApiState, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    input::no_body(call)?;
    let change = call.change()?;
    let permissions = &call.identity()?.permissions;
    let id = input::webhook_id(call)?;
    Ok(Reply::ok(rules::enable(&api.store, &change, permissions, &id).await?.to_json()))
}

/// `GET /v1/webhooks/{id}/deliveries`: the endpoint's attempts, newest first.
async fn list_deliveries(api: &ApiState, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    let list = ListRequest::read(api, call, ATTEMPT_LIST).await?;
    let change = call.change()?;
    let id = input::webhook_id(call)?;
    let endpoint = rules::visible(&api.store, &change, &id).await?;
    let page = api.store.list_attempts(&endpoint.id, list.start.as_ref(), list.limit).await?;
    list.reply(api, page, model::Attempt::to_json).await
}

async fn resend(api: &ApiState, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    input::no_body(call)?;
    let change = call.change()?;
    let permissions = &call.identity()?.permissions;
    let (id, delivery_id) = (input::webhook_id(call)?, input::delivery_id(call)?);
    let delivery = rules::resend(&api.store, &change, permissions, &id, &delivery_id).await?;
    Ok(Reply::accepted(
        json!({ "delivery_id": delivery.id.as_str(), "event_id": delivery.event_id, "status": "pending" }),
    ))
}

async fn recover(api: &ApiState, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    input::no_body(call)?;
    let since = input::since(call)?;
    let change = call.change()?;
    let permissions = &call.identity()?.permissions;
    let id = input::webhook_id(call)?;
    let requeued = rules::recover(&api.store, &change, permissions, &id, since).await?;
    Ok(Reply::accepted(json!({ "requeued": requeued, "since": rfc3339(since) })))
}
