//! API keys in the table, as authentication reads them (their management is the keys function's):
//! the item's encoding, and the one conditional write that verifies and counts a request.

use crate::auth::credential::SecretHash;
use crate::auth::permissions::Permissions;
use crate::auth::record::{CreatedBy, KeyRecord};
use crate::auth::usage::{UseEvent, USE_EVENT, USE_SEQUENCE};
use crate::model::{rfc3339, Environment, KeyId, KeyType, OrgId, Tier, UserId};
use crate::schema;
use crate::store::dynamo::{classify, DynamoStore};
use crate::store::items::{binary_attr, corrupt, get_s, key_of, number_attr, opt_n, opt_s, string_attr, time_of, Item};
use crate::store::StoreError;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use time::OffsetDateTime;

/// The outcome of the one store call an authenticated request makes.
#[derive(Debug)]
pub enum KeyUse {
    /// Credential accepted and counted; `used` is this window's count including this request;
    /// `write_units` what the write consumed, table and indexes (when the store says).
    Counted { record: Box<KeyRecord>, used: u32, write_units: Option<f64> },
    /// Refused: `record` is the stored key, if any, for telling the reason apart.
    Refused { record: Option<Box<KeyRecord>>, used: u32 },
}

/// API keys as authentication reads them (their management is the keys function's).
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync {
    /// Checks the presented hash and environment, revocation, expiry and the rate window of
    /// `key_id`, and on
    /// success counts the request, sets `last_used_at` and records `event` as the next step of the
    /// key's use sequence: all in one conditional write.
    /// `within`: the organization the key must belong to (a verification on another's behalf),
    /// checked by the same condition.
    async fn touch_key(
        &self,
        key_id: &KeyId,
        presented: &SecretHash,
        environment: Environment,
        within: Option<&OrgId>,
        now: OffsetDateTime,
        event: &UseEvent,
    ) -> Result<KeyUse, StoreError>;
    /// Records `event` (an instance's refusals) as the next step of the key's use sequence, if
    /// the key still exists.
    async fn record_use(&self, key_id: &KeyId, event: &UseEvent) -> Result<(), StoreError>;
    async fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError>;
}

/// Prefix of the per-minute request counters on a key item (`rl_<epoch minute>`).
pub const WINDOW_PREFIX: &str = "rl_";

pub fn window_attribute(minute: i64) -> String {
    format!("{WINDOW_PREFIX}{minute}")
}

fn opt_hash(item: &Item, name: &str) -> Option<SecretHash> {
    item.get(name).and_then(|v| v.as_b().ok()).and_then(|b| SecretHash::from_bytes(b.as_ref()))
}

pub fn key_item(r: &KeyRecord) -> Item {
    let mut item = Item::from([
        (schema::PK.into(), string_attr(schema::key_pk(r.key_id.as_str()))),
        (schema::SK.into(), string_attr(schema::KEY_SK)),
        (schema::GSI1PK.into(), string_attr(schema::org_keys_gsi1pk(r.org_id.as_str()))),
        (schema::GSI1SK.into(), string_attr(schema::org_keys_gsi1sk(&rfc3339(r.created_at), r.key_id.as_str()))),
        ("key_id".into(), string_attr(r.key_id.as_str())),
        ("org_id".into(), string_attr(r.org_id.as_str())),
        ("environment".into(), string_attr(r.environment.as_str())),
        ("key_type".into(), string_attr(r.key_type.as_str())),
        ("name".into(), string_attr(&r.name)),
        ("permissions".into(), string_attr(r.permissions.to_compact())),
        ("tier".into(), string_attr(r.tier.name())),
        ("rate_limit".into(), number_attr(r.tier.limit_per_minute())),
        ("secret_hash".into(), binary_attr(r.secret_hash.as_bytes())),
        ("last4".into(), string_attr(&r.last4)),
        ("created_at".into(), string_attr(rfc3339(r.created_at))),
        ("created_by".into(), string_attr(r.created_by.key_id_str())),
    ]);
    if let Some(creator_user) = r.created_by.user_id() {
        item.insert("created_by_user".into(), string_attr(creator_user.as_str()));
    }
    if let Some(user) = &r.user_id {
        item.insert("user_id".into(), string_attr(user.as_str()));
    }
    if let Some(owner) = &r.owner_name {
        item.insert("owner_name".into(), string_attr(owner));
    }
    if let Some(disabled) = r.disabled_at {
        item.insert("disabled_at".into(), string_attr(rfc3339(disabled)));
    }
    if let Some(expires) = r.expires_at {
        item.insert("expires_at".into(), string_attr(rfc3339(expires)));
        item.insert("expires_epoch".into(), number_attr(expires.unix_timestamp()));
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
        disabled_at: time_of(item, "disabled_at")?,
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

impl DynamoStore {
    /// The one write an authenticated request makes: checks the presented hash and environment,
    /// revocation, disabling, expiry and the current rate window, counts the request and sets `last_used_at`, and returns
    /// the item (the stored one on a failed condition). `make bench` sends this very request bare
    /// to measure the authorizer's own overhead. It reports the write units it consumed (table
    /// and indexes): counting a request must not rewrite an index entry.
    pub fn touch_request(
        &self,
        key_id: &KeyId,
        presented: &SecretHash,
        environment: Environment,
        within: Option<&OrgId>,
        now: OffsetDateTime,
        event: &UseEvent,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let epoch = now.unix_timestamp();
        let minute = epoch.div_euclid(60);
        let org_condition = if within.is_some() { " AND org_id = :org" } else { "" };
        let request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_of(schema::key_pk(key_id.as_str()), schema::KEY_SK)))
            .update_expression(
                "SET #w = if_not_exists(#w, :zero) + :one, last_used_at = :now, #ev = :ev ADD #n :one REMOVE #pw",
            )
            .condition_expression(format!(
                "attribute_exists(PK) AND attribute_not_exists(revoked_at) AND attribute_not_exists(disabled_at) \
                 AND environment = :env{org_condition} \
                 AND (attribute_not_exists(expires_epoch) OR expires_epoch > :epoch) \
                 AND (secret_hash = :h OR (prev_hash = :h AND prev_valid_until > :epoch)) \
                 AND (attribute_not_exists(#w) OR #w < rate_limit)",
            ))
            .expression_attribute_names("#w", window_attribute(minute))
            .expression_attribute_names("#pw", window_attribute(minute - 1))
            .expression_attribute_names("#n", USE_SEQUENCE)
            .expression_attribute_names("#ev", USE_EVENT)
            .expression_attribute_values(":ev", string_attr(event.encode()))
            .expression_attribute_values(":zero", number_attr(0))
            .expression_attribute_values(":one", number_attr(1))
            .expression_attribute_values(":now", string_attr(rfc3339(now)))
            .expression_attribute_values(":epoch", number_attr(epoch))
            .expression_attribute_values(":h", binary_attr(presented.as_bytes()))
            .expression_attribute_values(":env", string_attr(environment.as_str()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Indexes);
        match within {
            Some(org) => request.expression_attribute_values(":org", string_attr(org.as_str())),
            None => request,
        }
    }
}

#[async_trait::async_trait]
impl KeyStore for DynamoStore {
    async fn touch_key(
        &self,
        key_id: &KeyId,
        presented: &SecretHash,
        environment: Environment,
        within: Option<&OrgId>,
        now: OffsetDateTime,
        event: &UseEvent,
    ) -> Result<KeyUse, StoreError> {
        let minute = now.unix_timestamp().div_euclid(60);
        let result = self.touch_request(key_id, presented, environment, within, now, event).send().await;
        match result {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let stale = stale_windows(&item, minute);
                if !stale.is_empty() {
                    // Counters of windows before the previous one survive idle gaps: drop them.
                    // Rare (once after each idle gap), and a failure here costs nothing.
                    let mut cleanup = self
                        .client
                        .update_item()
                        .table_name(self.table())
                        .set_key(Some(key_of(schema::key_pk(key_id.as_str()), schema::KEY_SK)));
                    let names: Vec<String> = (0..stale.len()).map(|i| format!("#s{i}")).collect();
                    // Conditional: an UpdateItem on a key deleted meanwhile would recreate a stub.
                    cleanup = cleanup
                        .update_expression(format!("REMOVE {}", names.join(", ")))
                        .condition_expression("attribute_exists(PK)");
                    for (name, attr) in names.iter().zip(&stale) {
                        cleanup = cleanup.expression_attribute_names(name, attr);
                    }
                    if let Err(err) = cleanup.send().await {
                        tracing::warn!(error = %crate::error::source_chain(&err), "stale rate window clean-up failed");
                    }
                }
                Ok(KeyUse::Counted {
                    record: Box::new(key_record(&item)?),
                    used: window_count(&item, minute),
                    write_units: out.consumed_capacity.as_ref().and_then(|c| c.capacity_units),
                })
            }
            Err(SdkError::ServiceError(service)) if service.err().is_conditional_check_failed_exception() => {
                let old = match service.err() {
                    UpdateItemError::ConditionalCheckFailedException(e) => e.item.clone(),
                    _ => None,
                };
                match old {
                    Some(item) => Ok(KeyUse::Refused {
                        used: window_count(&item, minute),
                        record: Some(Box::new(key_record(&item)?)),
                    }),
                    None => Ok(KeyUse::Refused { record: None, used: 0 }),
                }
            }
            Err(other) => Err(classify(other)),
        }
    }

    async fn record_use(&self, key_id: &KeyId, event: &UseEvent) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_of(schema::key_pk(key_id.as_str()), schema::KEY_SK)))
            .update_expression("SET #ev = :ev ADD #n :one")
            // Never a stub item for a key deleted meanwhile.
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#n", USE_SEQUENCE)
            .expression_attribute_names("#ev", USE_EVENT)
            .expression_attribute_values(":one", number_attr(1))
            .expression_attribute_values(":ev", string_attr(event.encode()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service)) if service.err().is_conditional_check_failed_exception() => Ok(()),
            Err(other) => Err(classify(other)),
        }
    }

    async fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let item = self.get_consistent(key_of(schema::key_pk(key_id.as_str()), schema::KEY_SK)).await?;
        item.as_ref().map(key_record).transpose()
    }
}
