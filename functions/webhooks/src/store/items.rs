//! The webhooks store's items: the keys of endpoints and deliveries, and the encoding and
//! decoding of endpoints, deliveries, attempts and outbox events (the tenant attributes with the
//! kernel's one encoder and decoder).

use super::{OutboxRecord, ATTEMPT_RETENTION};
use crate::model::{Attempt, Delivery, DeliveryId, DeliveryStatus, Endpoint, Subscription, WebhookId};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use keyhive::model::{rfc3339, Tenant};
use keyhive::schema;
use keyhive::store::items::{
    corrupt, get_s, key_of, number_attr, opt_n, opt_s, string_attr, tenant_attributes, tenant_of, time_of, Item,
};
use keyhive::store::StoreError;
use time::OffsetDateTime;

pub(super) fn endpoint_key(id: &WebhookId) -> Item {
    key_of(schema::webhook_pk(id.as_str()), schema::WEBHOOK_SK)
}

/// The tenant's endpoint count (its ceiling is `Limits::webhooks`).
pub(super) fn endpoint_count_key(tenant: &Tenant) -> Item {
    key_of(schema::webhook_quota_pk(tenant.org_id.as_str(), tenant.environment.as_str()), schema::QUOTA_SK)
}

pub(super) fn delivery_key(id: &DeliveryId) -> Item {
    key_of(schema::delivery_pk(id.as_str()), schema::DELIVERY_SK)
}

fn blob(bytes: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(bytes))
}

fn opt_blob(item: &Item, name: &str) -> Option<Vec<u8>> {
    item.get(name).and_then(|v| v.as_b().ok()).map(|b| b.as_ref().to_vec())
}

pub(super) fn endpoint_item(x: &Endpoint) -> Item {
    let mut item = endpoint_key(&x.id);
    let created = rfc3339(x.created_at);
    item.extend([
        (schema::GSI1PK.into(), string_attr(schema::org_webhooks_gsi1pk(x.org_id.as_str(), x.environment.as_str()))),
        (schema::GSI1SK.into(), string_attr(format!("{created}#{}", x.id.as_str()))),
        ("id".into(), string_attr(x.id.as_str())),
        ("created_at".into(), string_attr(created)),
    ]);
    item.extend(tenant_attributes(&x.tenant()));
    item.extend(endpoint_fields(x));
    item
}

/// The attributes the API changes (without the creation facts).
pub(super) fn endpoint_fields(x: &Endpoint) -> Vec<(String, AttributeValue)> {
    let mut fields = vec![
        ("url".to_string(), string_attr(&x.url)),
        ("events".into(), AttributeValue::L(x.events.names().into_iter().map(string_attr).collect())),
        ("enabled".into(), AttributeValue::Bool(x.enabled)),
        ("secret".into(), blob(&x.sealed_secret)),
        ("updated_at".into(), string_attr(rfc3339(x.updated_at))),
    ];
    if let Some(description) = &x.description {
        fields.push(("description".into(), string_attr(description)));
    }
    if let Some(reason) = &x.disabled_reason {
        fields.push(("disabled_reason".into(), string_attr(reason)));
    }
    if let Some((sealed, until)) = &x.previous {
        fields.push(("previous_secret".into(), blob(sealed)));
        fields.push(("previous_until".into(), string_attr(rfc3339(*until))));
    }
    fields
}

/// What `endpoint_fields` may leave out, removed when absent.
pub(super) const OPTIONAL_FIELDS: [&str; 4] = ["description", "disabled_reason", "previous_secret", "previous_until"];

pub(super) fn endpoint_record(item: &Item) -> Result<Endpoint, StoreError> {
    let names: Vec<String> = item
        .get("events")
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    let previous = match (opt_blob(item, "previous_secret"), time_of(item, "previous_until")?) {
        (Some(sealed), Some(until)) => Some((sealed, until)),
        _ => None,
    };
    let Tenant { org_id, environment } = tenant_of(item)?;
    Ok(Endpoint {
        id: WebhookId::parse(get_s(item, "id")?).ok_or_else(|| corrupt("id"))?,
        org_id,
        environment,
        url: get_s(item, "url")?.to_string(),
        events: Subscription::parse(&names).map_err(|_| corrupt("events"))?,
        description: opt_s(item, "description").map(str::to_string),
        enabled: item.get("enabled").and_then(|v| v.as_bool().ok()).copied().unwrap_or(true),
        disabled_reason: opt_s(item, "disabled_reason").map(str::to_string),
        sealed_secret: opt_blob(item, "secret").unwrap_or_default(),
        previous,
        failing_since: time_of(item, "failing_since")?,
        last_success_at: time_of(item, "last_success_at")?,
        created_at: time_of(item, "created_at")?.ok_or_else(|| corrupt("created_at"))?,
        updated_at: time_of(item, "updated_at")?.ok_or_else(|| corrupt("updated_at"))?,
    })
}

/// A pending delivery's place in its shard's due queue: by organization, then by time, so the
/// dispatcher can take each organization's oldest in turn (one tenant's backlog never starves
/// another's).
pub(super) fn due_keys(delivery: &Delivery, next_at: OffsetDateTime) -> [(String, AttributeValue); 2] {
    let id = delivery.id.as_str();
    [
        (schema::GSI2PK.into(), string_attr(schema::due_gsi2pk(schema::shard_of(id)))),
        (schema::GSI2SK.into(), string_attr(schema::due_gsi2sk(delivery.org_id.as_str(), &rfc3339(next_at), id))),
    ]
}

pub(super) fn delivery_item(x: &Delivery) -> Item {
    let mut item = delivery_key(&x.id);
    let created = rfc3339(x.created_at);
    item.extend([
        (schema::GSI1PK.into(), string_attr(schema::endpoint_deliveries_gsi1pk(x.endpoint_id.as_str()))),
        (schema::GSI1SK.into(), string_attr(format!("{created}#{}", x.id.as_str()))),
        ("id".into(), string_attr(x.id.as_str())),
        ("endpoint_id".into(), string_attr(x.endpoint_id.as_str())),
        ("event_id".into(), string_attr(&x.event_id)),
        ("event_type".into(), string_attr(&x.event_type)),
        ("payload".into(), string_attr(&x.payload)),
        ("status".into(), string_attr(x.status.as_str())),
        ("attempt".into(), number_attr(x.attempts)),
        ("created_at".into(), string_attr(created)),
        // Deliveries go with the outbox's retention: `recover` reaches as far back.
        (
            schema::TTL_ATTRIBUTE.into(),
            number_attr((x.created_at + keyhive::change::OUTBOX_RETENTION).unix_timestamp()),
        ),
    ]);
    item.extend(tenant_attributes(&x.tenant()));
    if let (DeliveryStatus::Pending, Some(next_at)) = (x.status, x.next_at) {
        item.insert("next_at".into(), string_attr(rfc3339(next_at)));
        item.extend(due_keys(x, next_at));
    }
    item
}

pub(super) fn delivery_record(item: &Item) -> Result<Delivery, StoreError> {
    let Tenant { org_id, environment } = tenant_of(item)?;
    Ok(Delivery {
        id: DeliveryId::parse(get_s(item, "id")?).ok_or_else(|| corrupt("id"))?,
        endpoint_id: WebhookId::parse(get_s(item, "endpoint_id")?).ok_or_else(|| corrupt("endpoint_id"))?,
        org_id,
        environment,
        event_id: get_s(item, "event_id")?.to_string(),
        event_type: get_s(item, "event_type")?.to_string(),
        payload: opt_s(item, "payload").unwrap_or_default().to_string(),
        status: DeliveryStatus::parse(get_s(item, "status")?).ok_or_else(|| corrupt("status"))?,
        attempts: opt_n(item, "attempt").unwrap_or(0).max(0) as u32,
        next_at: time_of(item, "next_at")?,
        created_at: time_of(item, "created_at")?.ok_or_else(|| corrupt("created_at"))?,
    })
}

pub(super) fn attempt_item(endpoint: &WebhookId, x: &Attempt) -> Item {
    let attempt_id = keyhive::model::random_id("att", 12);
    let mut item = key_of(schema::attempts_pk(endpoint.as_str()), format!("{}#{attempt_id}", rfc3339(x.at)));
    item.extend([
        ("delivery_id".into(), string_attr(x.delivery_id.as_str())),
        ("event_id".into(), string_attr(&x.event_id)),
        ("event_type".into(), string_attr(&x.event_type)),
        ("attempt".into(), number_attr(x.attempt)),
        ("at".into(), string_attr(rfc3339(x.at))),
        ("duration_ms".into(), number_attr(x.duration_ms)),
        (schema::TTL_ATTRIBUTE.into(), number_attr((x.at + ATTEMPT_RETENTION).unix_timestamp())),
    ]);
    if let Some(code) = x.status_code {
        item.insert("status_code".into(), number_attr(code));
    }
    if let Some(error) = &x.error {
        item.insert("error".into(), string_attr(error));
    }
    if let Some(next) = x.next_retry_at {
        item.insert("next_retry_at".into(), string_attr(rfc3339(next)));
    }
    item
}

pub(super) fn attempt_record(item: &Item) -> Result<Attempt, StoreError> {
    Ok(Attempt {
        delivery_id: DeliveryId::parse(get_s(item, "delivery_id")?).ok_or_else(|| corrupt("delivery_id"))?,
        event_id: get_s(item, "event_id")?.to_string(),
        event_type: get_s(item, "event_type")?.to_string(),
        attempt: opt_n(item, "attempt").unwrap_or(0).max(0) as u32,
        at: time_of(item, "at")?.ok_or_else(|| corrupt("at"))?,
        status_code: opt_n(item, "status_code").and_then(|c| u16::try_from(c).ok()),
        duration_ms: opt_n(item, "duration_ms").unwrap_or(0).max(0) as u64,
        error: opt_s(item, "error").map(str::to_string),
        next_retry_at: time_of(item, "next_retry_at")?,
    })
}

pub(super) fn outbox_record(item: &Item) -> Result<OutboxRecord, StoreError> {
    let sk = get_s(item, schema::SK)?.to_string();
    let at = sk.split('#').next().and_then(keyhive::model::parse_rfc3339).ok_or_else(|| corrupt("SK"))?;
    let Tenant { org_id, environment } = tenant_of(item)?;
    Ok(OutboxRecord {
        pk: get_s(item, schema::PK)?.to_string(),
        sk,
        event_id: get_s(item, "event_id")?.to_string(),
        event_type: get_s(item, "event_type")?.to_string(),
        org_id,
        environment,
        payload: get_s(item, "payload")?.to_string(),
        at,
    })
}
