//! The kernel's store traits on DynamoDB: the one-round-trip authentication, key reads, an
//! organization's bootstrap and `Idempotency-Key` records.

use super::dynamo::{classify, DynamoStore};
use super::items::{self, b, key_of, n, s};
use super::{ChangeError, IdempotencyStore, KeyStore, OrgStore, StoreError, Touch};
use crate::auth::{KeyId, SecretHash};
use crate::change::ChangeLog;
use crate::model::{rfc3339, KeyRecord, Organization};
use crate::schema;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use time::OffsetDateTime;

impl DynamoStore {
    /// The one write an authenticated request makes: checks the presented hash, revocation,
    /// expiry and the current rate window, counts the request and sets `last_used_at`, and returns
    /// the item (the stored one on a failed condition). `make bench` sends this very request bare
    /// to measure the authorizer's own overhead. It reports the write units it consumed (table
    /// and indexes): counting a request must not rewrite an index entry.
    pub fn touch_request(
        &self,
        key_id: &KeyId,
        presented: &SecretHash,
        now: OffsetDateTime,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let epoch = now.unix_timestamp();
        let minute = epoch.div_euclid(60);
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(schema::key_pk(key_id.as_str()), schema::KEY_SK)))
            .update_expression("SET #w = if_not_exists(#w, :zero) + :one, last_used_at = :now REMOVE #pw")
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(revoked_at) \
                 AND (attribute_not_exists(expires_epoch) OR expires_epoch > :epoch) \
                 AND (secret_hash = :h OR (prev_hash = :h AND prev_valid_until > :epoch)) \
                 AND (attribute_not_exists(#w) OR #w < rate_limit)",
            )
            .expression_attribute_names("#w", items::window_attribute(minute))
            .expression_attribute_names("#pw", items::window_attribute(minute - 1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(rfc3339(now)))
            .expression_attribute_values(":epoch", n(epoch))
            .expression_attribute_values(":h", b(presented.as_bytes()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Indexes)
    }
}

#[async_trait::async_trait]
impl KeyStore for DynamoStore {
    async fn touch_key(
        &self,
        key_id: &KeyId,
        presented: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Touch, StoreError> {
        let minute = now.unix_timestamp().div_euclid(60);
        let result = self.touch_request(key_id, presented, now).send().await;
        match result {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let stale = items::stale_windows(&item, minute);
                if !stale.is_empty() {
                    // Counters of windows before the previous one survive idle gaps: drop them.
                    // Rare (once after each idle gap), and a failure here costs nothing.
                    let mut cleanup = self
                        .client
                        .update_item()
                        .table_name(&self.table)
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
                        tracing::warn!(error = %crate::http::error::source_chain(&err), "stale rate window clean-up failed");
                    }
                }
                Ok(Touch::Counted {
                    record: Box::new(items::key_record(&item)?),
                    used: items::window_count(&item, minute),
                    write_units: out.consumed_capacity.as_ref().and_then(|c| c.capacity_units),
                })
            }
            Err(SdkError::ServiceError(service)) if service.err().is_conditional_check_failed_exception() => {
                let old = match service.err() {
                    UpdateItemError::ConditionalCheckFailedException(e) => e.item.clone(),
                    _ => None,
                };
                match old {
                    Some(item) => Ok(Touch::Refused {
                        used: items::window_count(&item, minute),
                        record: Some(Box::new(items::key_record(&item)?)),
                    }),
                    None => Ok(Touch::Refused { record: None, used: 0 }),
                }
            }
            Err(other) => Err(classify(other)),
        }
    }

    async fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let item = self.get_consistent(key_of(schema::key_pk(key_id.as_str()), schema::KEY_SK)).await?;
        item.as_ref().map(items::key_record).transpose()
    }
}

#[async_trait::async_trait]
impl OrgStore for DynamoStore {
    async fn create_org(&self, org: &Organization, admin_key: &KeyRecord, log: &ChangeLog) -> Result<(), ChangeError> {
        let collision = || ChangeError::Conflict("organization or key id collision; retry".into());
        let mut tx = self.transaction();
        let org_item = tx.create(items::org_item(org))?;
        let key_item = tx.create(items::key_item(admin_key))?;
        // The first key counts against the organization's key ceiling like any other.
        let count =
            items::key_of(schema::key_quota_pk(org.org_id.as_str(), admin_key.environment.as_str()), schema::QUOTA_SK);
        tx.update(count, |u| {
            u.update_expression("ADD #count :one")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":one", n(1))
        })?;
        tx.on_condition(org_item, collision()).on_condition(key_item, collision()).log(log)?;
        tx.commit().await
    }
}

#[async_trait::async_trait]
impl IdempotencyStore for DynamoStore {
    async fn get_idempotency(
        &self,
        scope: &crate::change::idempotency::Scope,
        key_hash: &str,
    ) -> Result<Option<crate::change::idempotency::IdempotencyRecord>, StoreError> {
        let key = items::idempotency_key(&scope.org_id, scope.environment, &scope.key_id, key_hash);
        let item = self.get_consistent(key).await?;
        item.as_ref().map(items::idempotency_record).transpose()
    }
}
