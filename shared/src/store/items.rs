//! Conversions between records and DynamoDB items. Attribute names live here and in `schema`.

use super::StoreError;
use crate::auth::permissions::Permissions;
use crate::auth::{Environment, KeyId, KeyType, SecretHash, Tier};
use crate::change::idempotency::IdempotencyRecord;
use crate::change::{AuditEntry, OutboxEvent};
use crate::model::{parse_rfc3339, rfc3339, CreatedBy, KeyRecord, OrgId, Organization, UserId};
use crate::schema;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use time::OffsetDateTime;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub fn b(v: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(v))
}

/// Prefix of the per-minute request counters on a key item (`rl_<epoch minute>`).
pub const WINDOW_PREFIX: &str = "rl_";
pub fn window_attribute(minute: i64) -> String {
    format!("{WINDOW_PREFIX}{minute}")
}

/// The primary key of an item.
pub fn key_of(pk: String, sk: impl Into<String>) -> Item {
    Item::from([(schema::PK.into(), s(pk)), (schema::SK.into(), s(sk))])
}

pub fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).ok_or_else(|| corrupt(name))
}
pub fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}
pub fn opt_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}
fn opt_hash(item: &Item, name: &str) -> Option<SecretHash> {
    item.get(name).and_then(|v| v.as_b().ok()).and_then(|b| SecretHash::from_bytes(b.as_ref()))
}
pub fn time_of(item: &Item, name: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    opt_s(item, name).map(|v| parse_rfc3339(v).ok_or_else(|| corrupt(name))).transpose()
}

pub fn key_item(r: &KeyRecord) -> Item {
    let mut item = Item::from([
        (schema::PK.into(), s(schema::key_pk(r.key_id.as_str()))),
        (schema::SK.into(), s(schema::KEY_SK)),
        (schema::GSI1PK.into(), s(schema::org_keys_gsi1pk(r.org_id.as_str()))),
        (schema::GSI1SK.into(), s(schema::org_keys_gsi1sk(&rfc3339(r.created_at), r.key_id.as_str()))),
        ("key_id".into(), s(r.key_id.as_str())),
        ("org_id".into(), s(r.org_id.as_str())),
        ("environment".into(), s(r.environment.as_str())),
        ("key_type".into(), s(r.key_type.as_str())),
        ("name".into(), s(&r.name)),
        ("permissions".into(), s(r.permissions.to_compact())),
        ("tier".into(), s(r.tier.name())),
        ("rate_limit".into(), n(r.tier.limit_per_minute())),
        ("secret_hash".into(), b(r.secret_hash.as_bytes())),
        ("last4".into(), s(&r.last4)),
        ("created_at".into(), s(rfc3339(r.created_at))),
        ("created_by".into(), s(r.created_by.key_id_str())),
    ]);
    if let Some(creator_user) = r.created_by.user_id() {
        item.insert("created_by_user".into(), s(creator_user.as_str()));
    }
    if let Some(user) = &r.user_id {
        item.insert("user_id".into(), s(user.as_str()));
    }
    if let Some(owner) = &r.owner_name {
        item.insert("owner_name".into(), s(owner));
    }
    if let Some(expires) = r.expires_at {
        item.insert("expires_at".into(), s(rfc3339(expires)));
        item.insert("expires_epoch".into(), n(expires.unix_timestamp()));
    }
    item
}

pub fn key_record(item: &Item) -> Result<KeyRecord, StoreError> {
    let tier_name = get_s(item, "tier")?;
    let limit = opt_n(item, "rate_limit");
    let tier = match tier_name {
        "enterprise" => Tier::from_parts("enterprise", limit),
        other => Tier::from_parts(other, None),
    }
    .map_err(|_| corrupt("tier"))?;
    let previous = match (opt_hash(item, "prev_hash"), opt_n(item, "prev_valid_until")) {
        (Some(hash), Some(until)) => Some((hash, until)),
        _ => None,
    };
    Ok(KeyRecord {
        key_id: KeyId::parse(get_s(item, "key_id")?).ok_or_else(|| corrupt("key_id"))?,
        org_id: OrgId::parse(get_s(item, "org_id")?).ok_or_else(|| corrupt("org_id"))?,
        environment: Environment::parse(get_s(item, "environment")?).ok_or_else(|| corrupt("environment"))?,
        key_type: KeyType::parse(get_s(item, "key_type")?).ok_or_else(|| corrupt("key_type"))?,
        user_id: opt_s(item, "user_id").map(|u| UserId::parse(u).ok_or_else(|| corrupt("user_id"))).transpose()?,
        owner_name: opt_s(item, "owner_name").map(str::to_string),
        name: get_s(item, "name")?.to_string(),
        permissions: Permissions::from_compact(get_s(item, "permissions")?).ok_or_else(|| corrupt("permissions"))?,
        tier,
        secret_hash: opt_hash(item, "secret_hash").unwrap_or(SecretHash::NONE),
        previous,
        last4: get_s(item, "last4")?.to_string(),
        created_at: time_of(item, "created_at")?.ok_or_else(|| corrupt("created_at"))?,
        last_used_at: time_of(item, "last_used_at")?,
        expires_at: time_of(item, "expires_at")?,
        revoked_at: time_of(item, "revoked_at")?,
        created_by: match opt_s(item, "created_by") {
            None | Some(CreatedBy::BOOTSTRAP) => CreatedBy::Bootstrap,
            Some(key_id) => CreatedBy::Key {
                key_id: KeyId::parse(key_id).ok_or_else(|| corrupt("created_by"))?,
                user_id: opt_s(item, "created_by_user")
                    .map(|u| UserId::parse(u).ok_or_else(|| corrupt("created_by_user")))
                    .transpose()?,
            },
        },
    })
}

pub fn org_item(o: &Organization) -> Item {
    Item::from([
        (schema::PK.into(), s(schema::org_pk(o.org_id.as_str()))),
        (schema::SK.into(), s(schema::ORG_SK)),
        ("org_id".into(), s(o.org_id.as_str())),
        ("name".into(), s(&o.name)),
        ("created_at".into(), s(rfc3339(o.created_at))),
    ])
}

pub fn audit_item(a: &AuditEntry) -> Item {
    let at = rfc3339(a.at);
    let entry_id = crate::model::random_id("aud", 16);
    let mut item = Item::from([
        (schema::PK.into(), s(schema::audit_pk(a.org_id.as_str()))),
        (schema::SK.into(), s(schema::audit_sk(&audit_sort_time(a.at), &entry_id))),
        ("entry_id".into(), s(entry_id)),
        ("at".into(), s(at)),
        ("environment".into(), s(a.environment.as_str())),
        ("request_id".into(), s(&a.request_id)),
        ("action".into(), s(a.action.as_str())),
        ("target_id".into(), s(&a.target_id)),
    ]);
    if let Some(key) = &a.actor_key_id {
        item.insert("actor_key_id".into(), s(key.as_str()));
    }
    if let Some(user) = &a.actor_user_id {
        item.insert("actor_user_id".into(), s(user.as_str()));
    }
    // Retention: DynamoDB deletes entries past it (late; reads skip them themselves).
    item.insert(schema::TTL_ATTRIBUTE.into(), n((a.at + AUDIT_RETENTION).unix_timestamp()));
    item
}

/// The entry's time (whole seconds, as every stored time) with the microsecond it was written
/// at, so that entries of one second list in the order they happened: `…T09:51:04.123456Z`.
fn audit_sort_time(at: OffsetDateTime) -> String {
    let written = OffsetDateTime::now_utc();
    // Written in a later second than the change's (a slow request): last of its second.
    let micros = if written.unix_timestamp() == at.unix_timestamp() { written.microsecond() } else { 999_999 };
    format!("{}.{micros:06}Z", rfc3339(at).trim_end_matches('Z'))
}

/// How long audit entries are kept.
pub const AUDIT_RETENTION: time::Duration = time::Duration::days(90);
/// How long outbox events are kept: as far as `POST /v1/webhooks/{id}/recover` reaches back, and a
/// day more.
pub const OUTBOX_RETENTION: time::Duration = time::Duration::days(8);

pub fn outbox_item(e: &OutboxEvent) -> Item {
    Item::from([
        (schema::PK.into(), s(schema::outbox_pk(e.org_id.as_str(), e.environment.as_str()))),
        (schema::SK.into(), s(schema::outbox_sk(&rfc3339(e.at), &e.event_id))),
        ("event_id".into(), s(&e.event_id)),
        ("event_type".into(), s(e.event_type.as_str())),
        ("org_id".into(), s(e.org_id.as_str())),
        ("environment".into(), s(e.environment.as_str())),
        ("payload".into(), s(e.payload().to_string())),
        ("status".into(), s("pending")),
        // Pending for the dispatcher until it fans the event out (the sparse index of work).
        (schema::GSI2PK.into(), s(schema::pending_events_gsi2pk(schema::shard_of(&e.event_id)))),
        (schema::GSI2SK.into(), s(schema::outbox_sk(&rfc3339(e.at), &e.event_id))),
        (schema::TTL_ATTRIBUTE.into(), n((e.at + OUTBOX_RETENTION).unix_timestamp())),
    ])
}

/// The current window's count stored on a key item.
pub fn window_count(item: &Item, minute: i64) -> u32 {
    opt_n(item, &window_attribute(minute)).and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

/// Counter attributes of windows older than `minute` (left behind by idle gaps). Newer ones are
/// never stale: a request stamped `minute` may arrive after one stamped `minute + 1` (an SDK
/// retry), and must not reset the newer window.
pub fn stale_windows(item: &Item, minute: i64) -> Vec<String> {
    item.keys()
        .filter(|k| k.strip_prefix(WINDOW_PREFIX).and_then(|m| m.parse::<i64>().ok()).is_some_and(|m| m < minute))
        .cloned()
        .collect()
}

pub fn idempotency_key(org: &OrgId, environment: Environment, key_id: &KeyId, key_hash: &str) -> Item {
    Item::from([
        (schema::PK.into(), s(schema::idempotency_pk(org.as_str(), environment.as_str(), key_id.as_str(), key_hash))),
        (schema::SK.into(), s(schema::IDEMPOTENCY_SK)),
    ])
}

pub fn idempotency_item(r: &IdempotencyRecord) -> Item {
    let mut item = idempotency_key(&r.org_id, r.environment, &r.key_id, &r.key_hash);
    item.extend([
        ("org_id".into(), s(r.org_id.as_str())),
        ("environment".into(), s(r.environment.as_str())),
        ("key_id".into(), s(r.key_id.as_str())),
        ("key_hash".into(), s(&r.key_hash)),
        ("fingerprint".into(), s(&r.fingerprint)),
        ("status".into(), n(r.status)),
        ("resource_id".into(), s(&r.resource_id)),
        ("expires_at".into(), s(rfc3339(r.expires_at))),
        (schema::TTL_ATTRIBUTE.into(), n(r.expires_at.unix_timestamp())),
    ]);
    if let Some(data) = &r.data {
        item.insert("data".into(), s(data.to_string()));
    }
    item
}

pub fn idempotency_record(item: &Item) -> Result<IdempotencyRecord, StoreError> {
    Ok(IdempotencyRecord {
        org_id: OrgId::parse(get_s(item, "org_id")?).ok_or_else(|| corrupt("org_id"))?,
        environment: Environment::parse(get_s(item, "environment")?).ok_or_else(|| corrupt("environment"))?,
        key_id: KeyId::parse(get_s(item, "key_id")?).ok_or_else(|| corrupt("key_id"))?,
        key_hash: get_s(item, "key_hash")?.to_string(),
        fingerprint: get_s(item, "fingerprint")?.to_string(),
        status: opt_n(item, "status").and_then(|v| u16::try_from(v).ok()).ok_or_else(|| corrupt("status"))?,
        data: opt_s(item, "data").map(serde_json::from_str).transpose().map_err(|_| corrupt("data"))?,
        resource_id: get_s(item, "resource_id")?.to_string(),
        expires_at: time_of(item, "expires_at")?.ok_or_else(|| corrupt("expires_at"))?,
    })
}
