//! The webhooks function: endpoints (`/v1/webhooks`), their deliveries, and the audit trail
//! (`/v1/audit-log`). `handler` adapts HTTP to `rules`; the dispatcher binary
//! (`bin/webhook-dispatcher.rs`) runs the delivery side of `rules` on the table's stream and a
//! schedule.

pub mod audit;
pub mod crypto;
pub mod model;
pub mod rules;
pub mod sender;
pub mod ssrf;
pub mod store;

use crate::crypto::SealingKey;
use crate::model::Subscription;
use crate::rules::{EndpointPatch, Outbound};
use crate::store::WebhookStore;
use keyhive::http::body::{parse_object, read, JsonObject};
use keyhive::http::idempotent;
use keyhive::http::paging::{ListRequest, ListSpec};
use keyhive::http::routes::WebhooksOp;
use keyhive::model::{parse_rfc3339, rfc3339};
use keyhive::{Api, ApiError, Call, Reply};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

const ENDPOINT_LIST: ListSpec = ListSpec { default_limit: 20, filters: &[], numbered: false };
const ATTEMPT_LIST: ListSpec = ListSpec { default_limit: 20, filters: &[], numbered: false };
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// What the webhook functions build once per instance: the API state, the outbound client
/// (SSRF policy, resolver, TLS), and the sealing key, fetched on first need.
pub struct Webhooks {
    pub api: Api,
    pub outbound: Outbound,
    sealing_key: OnceCell<SealingKey>,
}

impl Webhooks {
    pub fn new(api: Api, outbound: Outbound) -> Self {
        Webhooks { api, outbound, sealing_key: OnceCell::new() }
    }

    pub async fn from_env() -> Result<Self, String> {
        let api = Api::from_env().await;
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
    let api = &webhooks.api;
    let store = &api.store;
    match call.op {
        WebhooksOp::Create => {
            let mut fields = parse_object(call.request.body().as_ref(), false)?;
            let url = fields.required("url", read::string)?;
            let events = fields.required("events", events)?;
            let description = fields.optional("description", description)?;
            fields.finish()?;
            rules::check_readable(&call.identity()?.permissions, &events)?;
            let url = rules::check_url(&webhooks.outbound, "url", &url).await?;
            let key = webhooks.sealing_key().await?;
            let change = call.change()?;
            let max_endpoints = api.config.limits.webhooks;
            idempotent(api, &call, |claim| async move {
                let change = change.with_claim(claim);
                let (endpoint, secret) =
                    rules::create(store, key, &change, url, events, description, max_endpoints).await?;
                let mut data = endpoint.to_json();
                data["secret"] = json!(secret.reveal());
                Ok(Reply::created_at(data, &format!("/v1/webhooks/{}", endpoint.id.as_str())))
            })
            .await
        }
        WebhooksOp::List => {
            let list = ListRequest::read(api, &call, ENDPOINT_LIST).await?;
            let change = call.change()?;
            let page =
                store.list_endpoints((&change.tenant.org_id, change.tenant.environment), list.start.as_ref(), list.limit).await?;
            list.reply(api, page, model::Endpoint::to_json).await
        }
        WebhooksOp::Get => {
            let change = call.change()?;
            Ok(Reply::ok(rules::visible(store, &change, call.param("id")?).await?.to_json()))
        }
        WebhooksOp::Update => {
            let mut fields = parse_object(call.request.body().as_ref(), false)?;
            let mut patch = EndpointPatch::default();
            let url = fields.optional("url", read::string)?;
            patch.events = fields.optional("events", events)?;
            if fields.has("description") {
                patch.description = Some(fields.optional("description", description)?);
            }
            fields.finish()?;
            if url.is_none() && patch.events.is_none() && patch.description.is_none() {
                return Err(ApiError::validation("body", "must change url, events or description"));
            }
            let change = call.change()?;
            // The URL is looked up only for an endpoint the caller has (no lookups for anyone).
            rules::visible(store, &change, call.param("id")?).await?;
            if let Some(url) = url {
                patch.url = Some(rules::check_url(&webhooks.outbound, "url", &url).await?);
            }
            let permissions = &call.identity()?.permissions;
            Ok(Reply::ok(rules::update(store, &change, permissions, call.param("id")?, patch).await?.to_json()))
        }
        WebhooksOp::Delete => {
            let change = call.change()?;
            Ok(Reply::ok(rules::delete(store, &change, call.param("id")?).await?.to_json()))
        }
        WebhooksOp::RotateSecret => {
            no_body(&call)?;
            let key = webhooks.sealing_key().await?;
            let change = call.change()?;
            let permissions = &call.identity()?.permissions;
            let (endpoint, secret) = rules::rotate(store, key, &change, permissions, call.param("id")?).await?;
            let mut data = endpoint.to_json();
            data["secret"] = json!(secret.reveal());
            data["previous_secret_valid_until"] = json!(endpoint.previous.as_ref().map(|(_, until)| rfc3339(*until)));
            Ok(Reply::ok(data))
        }
        WebhooksOp::Test => {
            no_body(&call)?;
            let change = call.change()?;
            let delivery = rules::send_test(store, &change, call.param("id")?).await?;
            Ok(Reply::accepted(
                json!({ "delivery_id": delivery.id.as_str(), "event_id": delivery.event_id, "event_type": delivery.event_type }),
            ))
        }
        WebhooksOp::Enable => {
            no_body(&call)?;
            let change = call.change()?;
            let permissions = &call.identity()?.permissions;
            Ok(Reply::ok(rules::enable(store, &change, permissions, call.param("id")?).await?.to_json()))
        }
        WebhooksOp::ListDeliveries => {
            let list = ListRequest::read(api, &call, ATTEMPT_LIST).await?;
            let change = call.change()?;
            let endpoint = rules::visible(store, &change, call.param("id")?).await?;
            let page = store.list_attempts(&endpoint.id, list.start.as_ref(), list.limit).await?;
            list.reply(api, page, model::Attempt::to_json).await
        }
        WebhooksOp::Resend => {
            no_body(&call)?;
            let change = call.change()?;
            let permissions = &call.identity()?.permissions;
            let delivery =
                rules::resend(store, &change, permissions, call.param("id")?, call.param("delivery_id")?).await?;
            Ok(Reply::accepted(
                json!({ "delivery_id": delivery.id.as_str(), "event_id": delivery.event_id, "status": "pending" }),
            ))
        }
        WebhooksOp::Recover => {
            no_body(&call)?;
            let since = match call.query(&["since"])?.pop().map(|(_, value)| value) {
                Some(text) => parse_rfc3339(&text)
                    .ok_or_else(|| ApiError::validation("since", "must be an RFC 3339 date-time"))?,
                None => return Err(ApiError::validation("since", "is required")),
            };
            let change = call.change()?;
            let permissions = &call.identity()?.permissions;
            let requeued = rules::recover(store, &change, permissions, call.param("id")?, since).await?;
            Ok(Reply::accepted(json!({ "requeued": requeued, "since": rfc3339(since) })))
        }
        WebhooksOp::AuditLog => audit::list(api, &call).await,
    }
}

fn events(field: &str, v: Value) -> Result<Subscription, ApiError> {
    let Value::Array(items) = v else { return Err(ApiError::validation(field, "must be an array of event types")) };
    let names = items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => Ok(s),
            _ => Err(ApiError::validation(field, "must be an array of event types")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Subscription::parse(&names).map_err(|reason| ApiError::validation(field, reason))
}

fn description(field: &str, v: Value) -> Result<String, ApiError> {
    let text = read::string(field, v)?;
    if text.chars().count() > MAX_DESCRIPTION_CHARS
        || text.chars().any(|c| c.is_control() || read::is_deceptive(c))
        || text.trim().is_empty()
    {
        return Err(ApiError::validation(
            field,
            "must be 1..200 characters, without control, bidirectional-control or zero-width characters",
        ));
    }
    Ok(text.trim().to_string())
}

/// A route that takes no body refuses one with fields (an empty body or `{}` is fine).
fn no_body(call: &Call<WebhooksOp>) -> Result<(), ApiError> {
    let fields: JsonObject = parse_object(call.request.body().as_ref(), true)?;
    fields.finish()
}
