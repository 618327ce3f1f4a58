//! DynamoDB implementation of `KeyStore` and `OrgStore`. Every multi-item change is one
//! `TransactWriteItems` that also writes its audit entry and outbox event.

use super::dynamo::{classify, DynamoStore};
use super::items::{self, b, n, s, Item};
use super::{ChangeError, IdempotencyStore, KeyChange, KeyFilter, KeyStore, OrgStore, Page, StoreError, Touch};
use crate::change::ChangeLog;
use crate::cursor::Position;
use crate::keys::{KeyId, KeyType, SecretHash};
use crate::model::{rfc3339, KeyRecord, Member, OrgId, Organization, UserId};
use crate::schema;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use time::OffsetDateTime;

fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Other(Box::new(e)))
}

fn key_of(pk: String, sk: impl Into<String>) -> Item {
    Item::from([(schema::PK.into(), s(pk)), (schema::SK.into(), s(sk))])
}

/// A filter on a query's items, applied by DynamoDB (`FilterExpression`).
struct QueryFilter {
    expression: String,
    names: Vec<(String, String)>,
    values: Vec<(String, String)>,
}

/// One listing: a partition of the table or of an index, optionally narrowed.
struct ListQuery<'a> {
    index: Option<&'a str>,
    partition_attr: &'a str,
    partition: String,
    sort_prefix: Option<(&'a str, &'a str)>,
    filter: Option<QueryFilter>,
    /// The key attributes of an item in this listing (table keys, plus the index's): a page's
    /// position is made of them.
    key_attrs: &'a [&'a str],
}

impl DynamoStore {
    fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(condition) = condition {
            put = put.condition_expression(condition);
        }
        Ok(TransactWriteItem::builder().put(built(put.build())?).build())
    }

    /// One item by key, strongly consistent (a change just made must be seen).
    async fn get_consistent(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }

    /// A conditional delete; `value`, when given, is `:v` in the condition.
    fn delete(&self, key: Item, condition: &str, value: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let mut delete = Delete::builder().table_name(&self.table).set_key(Some(key)).condition_expression(condition);
        if let Some(value) = value {
            delete = delete.expression_attribute_values(":v", s(value));
        }
        Ok(TransactWriteItem::builder().delete(built(delete.build())?).build())
    }

    /// A condition on an item the transaction does not write.
    fn check(&self, key: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        let check =
            ConditionCheck::builder().table_name(&self.table).set_key(Some(key)).condition_expression(condition);
        Ok(TransactWriteItem::builder().condition_check(built(check.build())?).build())
    }

    fn log_items(&self, log: &ChangeLog) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut out = Vec::new();
        for audit in &log.audits {
            out.push(self.put(items::audit_item(audit), Some("attribute_not_exists(PK)"))?);
        }
        for event in &log.events {
            out.push(self.put(items::outbox_item(event), Some("attribute_not_exists(PK)"))?);
        }
        // Last, so that its position is known: a live record of the same key means another
        // request with it came first (`ChangeError::IdempotencyTaken`).
        if let Some(record) = &log.idempotency {
            let now = crate::model::now().unix_timestamp();
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(items::idempotency_item(record)))
                .condition_expression("attribute_not_exists(PK) OR #expiry <= :now")
                .expression_attribute_names("#expiry", schema::TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now));
            out.push(TransactWriteItem::builder().put(built(put.build())?).build());
        }
        Ok(out)
    }

    /// The position of a log's idempotency write among `writes` (it comes last).
    fn idempotency_position(writes: &[TransactWriteItem], log: &ChangeLog) -> Option<usize> {
        log.idempotency.as_ref().map(|_| writes.len() - 1)
    }

    /// Runs a transaction; a cancelled one reports which item's condition failed (by index).
    /// A transaction cancelled only by a concurrent one touching the same items is retried a few
    /// times, so that racing requests end in their real outcome (say 409), not a spurious 503.
    async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<(), TransactFailure> {
        let mut attempt = 0;
        loop {
            match self.transact_once(writes.clone()).await {
                Err(TransactFailure::Conflict(_)) if attempt < 5 => {
                    attempt += 1;
                    let jitter = rand::random::<u64>() % (20 * attempt);
                    tokio::time::sleep(std::time::Duration::from_millis(5 + jitter)).await;
                }
                Err(TransactFailure::Conflict(err)) => return Err(TransactFailure::Store(err)),
                other => return other,
            }
        }
    }

    async fn transact_once(&self, writes: Vec<TransactWriteItem>) -> Result<(), TransactFailure> {
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service)) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let reasons = cancelled.cancellation_reasons();
                    let failed = reasons.iter().position(|r| r.code() == Some("ConditionalCheckFailed"));
                    let conflict = reasons.iter().any(|r| r.code() == Some("TransactionConflict"));
                    match failed {
                        Some(index) => Err(TransactFailure::Condition(index)),
                        None => {
                            let err = StoreError::Unavailable(Box::new(SdkError::ServiceError(service)));
                            // Otherwise throttled or cancelled by the service: a dependency problem.
                            Err(if conflict { TransactFailure::Conflict(err) } else { TransactFailure::Store(err) })
                        }
                    }
                }
                _ => Err(TransactFailure::Store(classify(SdkError::ServiceError(service)))),
            },
            Err(other) => Err(TransactFailure::Store(classify(other))),
        }
    }

    /// One page of `list`: up to `limit` matching items from `start` on, and the position of
    /// the last one when more match. DynamoDB applies `Limit` before the filter, so a filtered
    /// query may read several rounds; the page is full (or the listing exhausted) either way.
    async fn list_page(
        &self,
        list: &ListQuery<'_>,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<(Vec<Item>, Option<Position>), ChangeError> {
        let wanted = limit as usize + 1;
        let mut found: Vec<Item> = Vec::new();
        let mut exclusive_start = match start {
            Some(position) => Some(self.start_key(list, position)?),
            None => None,
        };
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(list.index.map(str::to_string))
                .scan_index_forward(false)
                .limit(wanted.max(if list.filter.is_some() { 100 } else { 0 }) as i32)
                .expression_attribute_names("#p", list.partition_attr)
                .expression_attribute_values(":p", s(&list.partition))
                .set_exclusive_start_key(exclusive_start.take());
            query = match list.sort_prefix {
                Some((attr, prefix)) => query
                    .key_condition_expression("#p = :p AND begins_with(#s, :s)")
                    .expression_attribute_names("#s", attr)
                    .expression_attribute_values(":s", s(prefix)),
                None => query.key_condition_expression("#p = :p"),
            };
            if let Some(filter) = &list.filter {
                query = query.filter_expression(&filter.expression);
                for (name, attr) in &filter.names {
                    query = query.expression_attribute_names(name, attr);
                }
                for (name, value) in &filter.values {
                    query = query.expression_attribute_values(name, s(value));
                }
            }
            let out = query.send().await.map_err(classify)?;
            found.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(last) if found.len() < wanted => exclusive_start = Some(last),
                _ => break,
            }
        }
        if found.len() <= limit as usize {
            return Ok((found, None));
        }
        found.truncate(limit as usize);
        let position = found.last().map(|last| {
            list.key_attrs
                .iter()
                .filter_map(|attr| Some((attr.to_string(), last.get(*attr)?.as_s().ok()?.clone())))
                .collect()
        });
        Ok((found, position))
    }

    /// The exclusive start key of a page that begins after `position`. The position came sealed
    /// from this listing; it is still checked to be one of its items' keys.
    fn start_key(&self, list: &ListQuery<'_>, position: &Position) -> Result<Item, ChangeError> {
        let invalid = || ChangeError::Invalid { field: "cursor", reason: "is not a cursor this list returned".into() };
        let shape_ok = position.len() == list.key_attrs.len()
            && list.key_attrs.iter().all(|attr| position.get(*attr).is_some_and(|v| !v.is_empty() && v.len() <= 1024))
            && position.get(list.partition_attr) == Some(&list.partition);
        if !shape_ok {
            return Err(invalid());
        }
        Ok(position.iter().map(|(k, v)| (k.clone(), s(v))).collect())
    }
}

enum TransactFailure {
    Condition(usize),
    /// Cancelled by a concurrent transaction on the same items: worth a retry.
    Conflict(StoreError),
    Store(StoreError),
}

#[async_trait::async_trait]
impl KeyStore for DynamoStore {
    async fn touch_key(
        &self,
        key_id: &KeyId,
        presented: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Touch, StoreError> {
        let epoch = now.unix_timestamp();
        let minute = epoch.div_euclid(60);
        let result = self
            .client
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
            .send()
            .await;
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
                    cleanup = cleanup.update_expression(format!("REMOVE {}", names.join(", ")));
                    for (name, attr) in names.iter().zip(&stale) {
                        cleanup = cleanup.expression_attribute_names(name, attr);
                    }
                    if let Err(err) = cleanup.send().await {
                        tracing::warn!(error = %crate::error::source_chain(&err), "stale rate window clean-up failed");
                    }
                }
                Ok(Touch::Counted {
                    record: Box::new(items::key_record(&item)?),
                    used: items::window_count(&item, minute),
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

    async fn list_keys(
        &self,
        org: &OrgId,
        filter: &KeyFilter,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<KeyRecord>, ChangeError> {
        let mut clauses = Vec::new();
        let mut names = Vec::new();
        let mut values = Vec::new();
        if let Some(environment) = filter.environment {
            clauses.push("#env = :env".to_string());
            names.push(("#env".to_string(), "environment".to_string()));
            values.push((":env".to_string(), environment.as_str().to_string()));
        }
        if let Some(creator) = &filter.created_by {
            clauses.push("(created_by = :creator OR created_by_user = :creator)".to_string());
            values.push((":creator".to_string(), creator.clone()));
        }
        let list = ListQuery {
            index: Some(schema::GSI1),
            partition_attr: schema::GSI1PK,
            partition: schema::org_keys_gsi1pk(org.as_str()),
            sort_prefix: None,
            filter: (!clauses.is_empty()).then(|| QueryFilter { expression: clauses.join(" AND "), names, values }),
            key_attrs: &[schema::PK, schema::SK, schema::GSI1PK, schema::GSI1SK],
        };
        let (found, next) = self.list_page(&list, start, limit).await?;
        let items = found.iter().map(items::key_record).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next })
    }

    async fn create_key(&self, record: &KeyRecord, log: &ChangeLog) -> Result<(), ChangeError> {
        // Positions of the writes whose failed condition has a meaning of its own.
        const KEY: usize = 0;
        const CLAIM: usize = 1;
        const MEMBER: usize = 2;
        let mut writes = vec![self.put(items::key_item(record), Some("attribute_not_exists(PK)"))?];
        let is_user_key = record.key_type == KeyType::User;
        if let (true, Some(user)) = (is_user_key, &record.user_id) {
            let mut claim = key_of(schema::org_pk(record.org_id.as_str()), schema::user_key_sk(user.as_str()));
            claim.insert("key_id".into(), s(record.key_id.as_str()));
            writes.push(self.put(claim, Some("attribute_not_exists(PK)"))?);
            let member = key_of(schema::org_pk(record.org_id.as_str()), schema::member_sk(user.as_str()));
            writes.push(self.check(member, "attribute_exists(PK)")?);
        }
        writes.extend(self.log_items(log)?);
        let idempotency = Self::idempotency_position(&writes, log);
        match self.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(i)) if Some(i) == idempotency => Err(ChangeError::IdempotencyTaken),
            Err(TransactFailure::Condition(KEY)) => Err(ChangeError::Conflict("key id collision; retry".into())),
            Err(TransactFailure::Condition(CLAIM)) if is_user_key => {
                Err(ChangeError::Conflict("this user already has a user key".into()))
            }
            Err(TransactFailure::Condition(MEMBER)) if is_user_key => {
                Err(ChangeError::Missing { field: "user_id", reason: "is not a member of this organization".into() })
            }
            Err(TransactFailure::Condition(_)) => {
                Err(ChangeError::Conflict("the change collided with another; retry".into()))
            }
            Err(TransactFailure::Store(e) | TransactFailure::Conflict(e)) => Err(e.into()),
        }
    }

    async fn change_key(&self, current: &KeyRecord, change: &KeyChange, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(schema::key_pk(current.key_id.as_str()), schema::KEY_SK)))
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(revoked_at) AND org_id = :org AND #perm = :seen",
            )
            .expression_attribute_names("#perm", "permissions")
            .expression_attribute_values(":org", s(current.org_id.as_str()))
            .expression_attribute_values(":seen", s(current.permissions.to_compact()));
        let mut writes = Vec::new();
        update = match change {
            KeyChange::Settings { name, permissions, tier, expires_at } => {
                let mut set = "SET #name = :name, #perm = :perm, tier = :tier, rate_limit = :limit".to_string();
                let mut u = update
                    .expression_attribute_names("#name", "name")
                    .expression_attribute_values(":name", s(name))
                    .expression_attribute_values(":perm", s(permissions.to_compact()))
                    .expression_attribute_values(":tier", s(tier.name()))
                    .expression_attribute_values(":limit", n(tier.limit_per_minute()));
                match expires_at {
                    Some(at) => {
                        set.push_str(", expires_at = :exp, expires_epoch = :exp_epoch");
                        u = u
                            .expression_attribute_values(":exp", s(rfc3339(*at)))
                            .expression_attribute_values(":exp_epoch", n(at.unix_timestamp()));
                    }
                    None => set.push_str(" REMOVE expires_at, expires_epoch"),
                }
                u.update_expression(set)
            }
            KeyChange::Roll { secret_hash, last4, previous } => match previous {
                Some((hash, until)) => update
                    .update_expression("SET secret_hash = :h, last4 = :l4, prev_hash = :ph, prev_valid_until = :pu")
                    .expression_attribute_values(":h", b(secret_hash.as_bytes()))
                    .expression_attribute_values(":l4", s(last4))
                    .expression_attribute_values(":ph", b(hash.as_bytes()))
                    .expression_attribute_values(":pu", n(until)),
                None => update
                    .update_expression("SET secret_hash = :h, last4 = :l4 REMOVE prev_hash, prev_valid_until")
                    .expression_attribute_values(":h", b(secret_hash.as_bytes()))
                    .expression_attribute_values(":l4", s(last4)),
            },
            KeyChange::Revoke { at } => {
                if let (KeyType::User, Some(user)) = (current.key_type, &current.user_id) {
                    // Free the member's one-key slot, but only if it is still this key's.
                    let claim = key_of(schema::org_pk(current.org_id.as_str()), schema::user_key_sk(user.as_str()));
                    writes.push(self.delete(
                        claim,
                        "attribute_not_exists(PK) OR key_id = :v",
                        Some(current.key_id.as_str()),
                    )?);
                }
                update
                    .update_expression(
                        "SET revoked_at = :at REMOVE secret_hash, prev_hash, prev_valid_until, GSI1PK, GSI1SK",
                    )
                    .expression_attribute_values(":at", s(rfc3339(*at)))
            }
        };
        writes.insert(0, TransactWriteItem::builder().update(built(update.build())?).build());
        writes.extend(self.log_items(log)?);
        match self.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(0)) => {
                // Revoked, moved or changed since it was read: re-read to tell which.
                match self.get_key(&current.key_id).await? {
                    Some(now) if now.revoked_at.is_none() && now.org_id == current.org_id => {
                        Err(ChangeError::Conflict("the key changed while this request ran; retry".into()))
                    }
                    _ => Err(ChangeError::NotFound),
                }
            }
            Err(TransactFailure::Condition(_)) => {
                Err(ChangeError::Conflict("the change collided with another; retry".into()))
            }
            Err(TransactFailure::Store(e) | TransactFailure::Conflict(e)) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl OrgStore for DynamoStore {
    async fn create_org(&self, org: &Organization, admin_key: &KeyRecord, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut writes = vec![
            self.put(items::org_item(org), Some("attribute_not_exists(PK)"))?,
            self.put(items::key_item(admin_key), Some("attribute_not_exists(PK)"))?,
        ];
        writes.extend(self.log_items(log)?);
        match self.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(_)) => {
                Err(ChangeError::Conflict("organization or key id collision; retry".into()))
            }
            Err(TransactFailure::Store(e) | TransactFailure::Conflict(e)) => Err(e.into()),
        }
    }

    async fn get_member(&self, org: &OrgId, user_id: &UserId) -> Result<Option<Member>, StoreError> {
        let item =
            self.get_consistent(key_of(schema::org_pk(org.as_str()), schema::member_sk(user_id.as_str()))).await?;
        item.as_ref().map(items::member_record).transpose()
    }

    async fn list_members(
        &self,
        org: &OrgId,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Member>, ChangeError> {
        let list = ListQuery {
            index: None,
            partition_attr: schema::PK,
            partition: schema::org_pk(org.as_str()),
            sort_prefix: Some((schema::SK, schema::MEMBER_SK_PREFIX)),
            filter: None,
            key_attrs: &[schema::PK, schema::SK],
        };
        let (found, next) = self.list_page(&list, start, limit).await?;
        let items = found.iter().map(items::member_record).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next })
    }

    async fn create_member(&self, member: &Member, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut writes = vec![self.put(items::member_item(member), Some("attribute_not_exists(PK)"))?];
        writes.extend(self.log_items(log)?);
        let idempotency = Self::idempotency_position(&writes, log);
        match self.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(i)) if Some(i) == idempotency => Err(ChangeError::IdempotencyTaken),
            Err(TransactFailure::Condition(0)) => {
                Err(ChangeError::Conflict("a member with this user_id exists".into()))
            }
            Err(TransactFailure::Condition(_)) => {
                Err(ChangeError::Conflict("the change collided with another; retry".into()))
            }
            Err(TransactFailure::Store(e) | TransactFailure::Conflict(e)) => Err(e.into()),
        }
    }

    async fn user_key_of(&self, member: &Member) -> Result<Option<KeyId>, StoreError> {
        let claim_key = key_of(schema::org_pk(member.org_id.as_str()), schema::user_key_sk(member.user_id.as_str()));
        let claim = self.get_consistent(claim_key).await?;
        Ok(claim.as_ref().and_then(|c| c.get("key_id")).and_then(|v| v.as_s().ok()).and_then(|k| KeyId::parse(k)))
    }

    async fn remove_member(
        &self,
        member: &Member,
        user_key: Option<&KeyId>,
        log: &ChangeLog,
    ) -> Result<(), ChangeError> {
        let org_pk = schema::org_pk(member.org_id.as_str());
        let claim_key = key_of(org_pk.clone(), schema::user_key_sk(member.user_id.as_str()));
        let mut writes = vec![self.delete(
            key_of(org_pk, schema::member_sk(member.user_id.as_str())),
            "attribute_exists(PK)",
            None,
        )?];
        match user_key {
            Some(key_id) => {
                // The claim must still name this key, and the key goes with it.
                writes.push(self.delete(claim_key, "key_id = :v", Some(key_id.as_str()))?);
                let key = key_of(schema::key_pk(key_id.as_str()), schema::KEY_SK);
                writes.push(self.delete(key, "org_id = :v", Some(member.org_id.as_str()))?);
            }
            None => {
                // No key now, and none may appear while the member is removed.
                writes.push(self.check(claim_key, "attribute_not_exists(PK)")?);
            }
        }
        writes.extend(self.log_items(log)?);
        match self.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Condition(0)) => Err(ChangeError::NotFound),
            Err(TransactFailure::Condition(_)) => {
                Err(ChangeError::Conflict("the member's key changed meanwhile; retry".into()))
            }
            Err(TransactFailure::Store(e) | TransactFailure::Conflict(e)) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl IdempotencyStore for DynamoStore {
    async fn get_idempotency(
        &self,
        scope: &crate::idempotency::Scope,
        key_hash: &str,
    ) -> Result<Option<crate::idempotency::IdempotencyRecord>, StoreError> {
        let item = self
            .get_consistent(items::idempotency_key(&scope.org_id, scope.environment, &scope.key_id, key_hash))
            .await?;
        item.as_ref().map(items::idempotency_record).transpose()
    }
}
