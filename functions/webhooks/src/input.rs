//! The edge of the webhooks function: reads a request (`Call<WebhooksOp>`) into typed values (a
//! new endpoint, a patch, the `since` of a recovery, the ids of its path), so that the handler's
//! operations and `rules` see parsed values only. A body or query that does not read is a 400
//! naming its field; an id that cannot be one is the 404 of a resource that does not exist.

use crate::model::{DeliveryId, Subscription, WebhookId};
use crate::rules::EndpointPatch;
use keyhive::http::body::{parse_object, read, JsonObject};
use keyhive::http::routes::WebhooksOp;
use keyhive::model::parse_rfc3339;
use keyhive::{ApiError, Call};
use serde_json::Value;
use time::OffsetDateTime;

pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// A `POST /v1/webhooks` body. The URL is as given: `rules::check_url` checks it (a lookup, so
/// only once the caller may subscribe to the events).
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub events: Subscription,
    pub description: Option<String>,
}

pub fn new_endpoint(call: &Call<WebhooksOp>) -> Result<NewEndpoint, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    let url = fields.required("url", read::string)?;
    let events = fields.required("events", events)?;
    let description = fields.optional("description", description)?;
    fields.finish()?;
    Ok(NewEndpoint { url, events, description })
}

/// A `PATCH /v1/webhooks/{id}` body: what it changes (at least one of url, events and
/// description; `"description": null` removes it). The URL is as given: the handler checks it
/// with `rules::check_url`, once the endpoint is known to be the caller's.
pub fn endpoint_patch(call: &Call<WebhooksOp>) -> Result<EndpointPatch, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    let url = fields.optional("url", read::string)?;
    let events = fields.optional("events", events)?;
    // Absent leaves the description as it is; `null` removes it.
    let description = if fields.has("description") { Some(fields.optional("description", description)?) } else { None };
    fields.finish()?;
    if url.is_none() && events.is_none() && description.is_none() {
        return Err(ApiError::validation("body", "must change url, events or description"));
    }
    Ok(EndpointPatch { url, events, description })
}

/// A route that takes no body refuses one with fields (an empty body or `{}` is fine).
pub fn no_body(call: &Call<WebhooksOp>) -> Result<(), ApiError> {
    let fields: JsonObject = parse_object(call.request.body().as_ref(), true)?;
    fields.finish()
}

/// The `since` query parameter of `POST /v1/webhooks/{id}/recover` (required, RFC 3339; no other
/// parameter is taken).
pub fn since(call: &Call<WebhooksOp>) -> Result<OffsetDateTime, ApiError> {
    match call.query(&["since"])?.pop().map(|(_, value)| value) {
        Some(text) => {
            parse_rfc3339(&text).ok_or_else(|| ApiError::validation("since", "must be an RFC 3339 date-time"))
        }
        None => Err(ApiError::validation("since", "is required")),
    }
}

/// The endpoint a path names (`{id}`): an id no endpoint can have is a missing endpoint.
pub fn webhook_id(call: &Call<WebhooksOp>) -> Result<WebhookId, ApiError> {
    WebhookId::parse(call.param("id")?).ok_or(ApiError::NotFound("webhook endpoint"))
}

/// The delivery a path names (`{delivery_id}`): an id no delivery can have is a missing delivery.
pub fn delivery_id(call: &Call<WebhooksOp>) -> Result<DeliveryId, ApiError> {
    DeliveryId::parse(call.param("delivery_id")?).ok_or(ApiError::NotFound("delivery"))
}

/// `events`: `["*"]` or a list of known event types.
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

/// `description`: shown to whoever reads the endpoint, so nothing that can disguise text.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn descriptions_are_trimmed_and_refused_when_they_could_disguise_text() {
        assert_eq!(description("description", json!("  nightly sync ")).unwrap(), "nightly sync");
        for refused in [json!(""), json!("   "), json!("a\u{200B}b"), json!("a\u{202E}b"), json!("a\nb"), json!(7)] {
            assert!(description("description", refused.clone()).is_err(), "{refused}");
        }
        assert!(description("description", json!("x".repeat(MAX_DESCRIPTION_CHARS))).is_ok());
        assert!(description("description", json!("x".repeat(MAX_DESCRIPTION_CHARS + 1))).is_err());
    }

    #[test]
    fn events_are_an_array_of_known_types_or_everything() {
        assert_eq!(events("events", json!(["*"])).unwrap(), Subscription::All);
        assert!(events("events", json!(["key.created"])).unwrap().includes("key.created"));
        for refused in [json!("*"), json!([]), json!([1]), json!(["key.exploded"]), json!(["*", "key.created"])] {
            assert!(events("events", refused.clone()).is_err(), "{refused}");
        }
    }
}
