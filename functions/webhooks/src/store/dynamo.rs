//! The webhooks store on DynamoDB: `WebhookStore` for the kernel's `DynamoStore`, each change
//! one transaction with its change log, and the dispatcher's work read from the sparse GSI2
//! queues (pending outbox events, due deliveries by organization).

use super::items::{
    attempt_item, attempt_record, delivery_item, delivery_key, delivery_record, due_keys, endpoint_count_key,
    endpoint_fields, endpoint_item, endpoint_key, endpoint_record, outbox_record, OPTIONAL_FIELDS,
};
use super::{AttemptEffect, DueGroup, OutboxRecord, WebhookStore, LEASE, LEGACY_DUE_GROUP};
use crate::model::{Attempt, Delivery, DeliveryId, DeliveryStatus, Endpoint, WebhookId};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use keyhive::change::{AuditEntry, ChangeLog};
use keyhive::model::{rfc3339, OrgId, Tenant};
use keyhive::schema;
use keyhive::store::cursor::Position;
use keyhive::store::dynamo::{classify, DynamoStore};
use keyhive::store::items::{corrupt, get_s, key_of, number_attr, opt_s, string_attr, Item};
use keyhive::store::query::{Filter, Listing, SortRange};
use keyhive::store::{ChangeError, Page, StoreError};
use time::{Duration, OffsetDateTime};

/// Takes one of an endpoint's `per_hour` sends on request (re-sends and tests) of the UTC hour
/// of `now`, in the transaction that queues the send.
fn take_send(
    tx: &mut keyhive::store::transact::Transaction<'_>,
    endpoint: &WebhookId,
    now: OffsetDateTime,
    per_hour: u32,
) -> Result<(), StoreError> {
    let hour = rfc3339(now).chars().take(13).collect::<String>();
    let taken = tx.update(key_of(schema::requeues_pk(endpoint.as_str()), hour), |u| {
        u.update_expression("ADD #count :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", schema::TTL_ATTRIBUTE)
            .expression_attribute_values(":one", number_attr(1))
            .expression_attribute_values(":limit", number_attr(per_hour))
            .expression_attribute_values(":ttl", number_attr((now + Duration::hours(2)).unix_timestamp()))
    })?;
    tx.on_condition(
        taken,
        ChangeError::Quota(format!(
            "this endpoint has been sent {per_hour} deliveries on request this hour; try again later"
        )),
    );
    Ok(())
}

/// The keys of a sparse GSI2 partition's entries in `range`, oldest first.
async fn gsi2_keys(
    store: &DynamoStore,
    partition: String,
    range: SortRange,
    limit: u32,
) -> Result<Vec<Item>, ChangeError> {
    let listing = Listing {
        index: Some(schema::GSI2),
        partition_attr: schema::GSI2PK,
        partition,
        sort_attr: schema::GSI2SK,
        range,
        filter: Filter::default(),
        key_attrs: &[schema::PK, schema::SK, schema::GSI2PK, schema::GSI2SK],
    };
    // The oldest work first: nothing waits behind newer work.
    let (items, _) = store.list_page_oldest_first(&listing, None, limit).await?;
    Ok(items)
}

#[async_trait]
impl WebhookStore for DynamoStore {
    async fn get_endpoint(&self, id: &WebhookId) -> Result<Option<Endpoint>, StoreError> {
        self.get_consistent(endpoint_key(id)).await?.as_ref().map(endpoint_record).transpose()
    }

    async fn list_endpoints(
        &self,
        tenant: &Tenant,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Endpoint>, ChangeError> {
        // GSI1 does not carry the sealed secrets: list from it, then read the full items.
        let pk = schema::org_webhooks_gsi1pk(tenant.org_id.as_str(), tenant.environment.as_str());
        let page = self
            .list_records(&Listing::gsi1(pk), start, limit, |i| {
                WebhookId::parse(get_s(i, "id")?).ok_or_else(|| corrupt("id"))
            })
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for id in &page.items {
            if let Some(endpoint) = self.get_endpoint(id).await? {
                items.push(endpoint);
            }
        }
        Ok(Page { items, next: page.next })
    }

    async fn endpoints_of(&self, tenant: &Tenant) -> Result<Vec<Endpoint>, ChangeError> {
        let mut endpoints = Vec::new();
        let mut start = None;
        loop {
            let page = self.list_endpoints(tenant, start.as_ref(), 100).await?;
            endpoints.extend(page.items);
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(endpoints),
            }
        }
    }

    async fn create_endpoint(
        &self,
        endpoint: &Endpoint,
        max_endpoints: u32,
        log: &ChangeLog,
    ) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let created = tx.create(endpoint_item(endpoint))?;
        tx.on_condition(created, ChangeError::Conflict("webhook id collision; retry".into()));
        tx.take_slot(
            endpoint_count_key(&endpoint.tenant()),
            "count",
            max_endpoints,
            ChangeError::Quota(format!(
                "this organization has {max_endpoints} webhook endpoints in this environment already"
            )),
        )?;
        tx.log(log)?;
        tx.commit().await
    }

    async fn update_endpoint(
        &self,
        endpoint: &Endpoint,
        read_at: OffsetDateTime,
        log: &ChangeLog,
    ) -> Result<(), ChangeError> {
        let fields = endpoint_fields(endpoint);
        let present: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
        let removed: Vec<&str> = OPTIONAL_FIELDS.iter().copied().filter(|f| !present.contains(f)).collect();
        let mut expression = format!(
            "SET {}",
            fields.iter().enumerate().map(|(i, _)| format!("#f{i} = :f{i}")).collect::<Vec<_>>().join(", ")
        );
        // Re-enabling clears the failure history the dispatcher keeps.
        let mut remove: Vec<String> = removed.iter().map(|f| f.to_string()).collect();
        if endpoint.enabled && endpoint.failing_since.is_none() {
            remove.push("failing_since".into());
        }
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let mut tx = self.transaction();
        let changed = tx.update(endpoint_key(&endpoint.id), |mut u| {
            for (i, (name, value)) in fields.into_iter().enumerate() {
                u = u
                    .expression_attribute_names(format!("#f{i}"), name)
                    .expression_attribute_values(format!(":f{i}"), value);
            }
            u.update_expression(expression)
                .condition_expression("updated_at = :read")
                .expression_attribute_values(":read", string_attr(rfc3339(read_at)))
        })?;
        tx.on_condition(changed, ChangeError::Stale);
        tx.log(log)?;
        tx.commit().await
    }

    async fn delete_endpoint(&self, endpoint: &Endpoint, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let deleted = tx.delete(endpoint_key(&endpoint.id), "attribute_exists(PK)", None)?;
        tx.on_condition(deleted, ChangeError::NotFound);
        tx.give_back_slot(endpoint_count_key(&endpoint.tenant()), "count")?;
        tx.log(log)?;
        tx.commit().await
    }

    async fn pending_events(&self, shard: u32, limit: u32) -> Result<Vec<(String, String)>, ChangeError> {
        let entries = gsi2_keys(self, schema::pending_events_gsi2pk(shard), SortRange::All, limit).await?;
        Ok(entries
            .iter()
            .filter_map(|e| Some((opt_s(e, schema::PK)?.to_string(), opt_s(e, schema::SK)?.to_string())))
            .collect())
    }

    async fn get_outbox(&self, pk: &str, sk: &str) -> Result<Option<OutboxRecord>, StoreError> {
        self.get_consistent(key_of(pk.to_string(), sk)).await?.as_ref().map(outbox_record).transpose()
    }

    async fn fan_out(&self, event: &OutboxRecord, deliveries: &[Delivery]) -> Result<bool, ChangeError> {
        let mut tx = self.transaction();
        let marked = tx.update(key_of(event.pk.clone(), event.sk.clone()), |u| {
            u.update_expression(format!("SET #st = :done REMOVE {}, {}", schema::GSI2PK, schema::GSI2SK))
                .condition_expression("#st = :pending")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":done", string_attr("dispatched"))
                .expression_attribute_values(":pending", string_attr("pending"))
        })?;
        tx.on_condition(marked, ChangeError::Stale);
        for delivery in deliveries {
            let created = tx.create(delivery_item(delivery))?;
            tx.on_condition(created, ChangeError::Stale);
        }
        match tx.commit().await {
            Ok(()) => Ok(true),
            Err(ChangeError::Stale) => Ok(false),
            Err(other) => Err(other),
        }
    }

    async fn create_delivery(&self, delivery: &Delivery, per_hour: u32, audit: &AuditEntry) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let created = tx.create(delivery_item(delivery))?;
        tx.on_condition(created, ChangeError::Conflict("this delivery exists already".into()));
        take_send(&mut tx, &delivery.endpoint_id, delivery.created_at, per_hour)?;
        tx.log(&ChangeLog { audits: vec![audit.clone()], events: Vec::new(), idempotency: None })?;
        tx.commit().await
    }

    async fn next_due_group(
        &self,
        shard: u32,
        after: Option<&str>,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Option<DueGroup>, ChangeError> {
        let partition = schema::due_gsi2pk(shard);
        // Past every entry of `after` ('~' sorts after the time and id that follow a group key).
        let range = after.map_or(SortRange::All, |group| SortRange::From(format!("{group}#~")));
        let first = gsi2_keys(self, partition.clone(), range, 1).await?;
        let Some(first) = first.first() else { return Ok(None) };
        let sort_key = opt_s(first, schema::GSI2SK).ok_or_else(|| corrupt(schema::GSI2SK))?;
        let head = sort_key.split('#').next().unwrap_or_default();
        let due_until = rfc3339(now);
        let (key, range) = match OrgId::parse(head) {
            Some(org) => {
                let due_bound = schema::due_gsi2sk(org.as_str(), &due_until, "~");
                // Its oldest entry comes first: when that is not due, none of its entries is.
                if sort_key > due_bound.as_str() {
                    return Ok(Some(DueGroup { key: org.as_str().to_string(), ids: Vec::new() }));
                }
                (org.as_str().to_string(), SortRange::Between { from: format!("{}#", org.as_str()), to: due_bound })
            }
            // Queued before the order by organization: due by time alone.
            None => (LEGACY_DUE_GROUP.to_string(), SortRange::UpTo(format!("{due_until}#~"))),
        };
        let entries = gsi2_keys(self, partition, range, limit).await?;
        let ids = entries
            .iter()
            .filter_map(|e| opt_s(e, schema::PK)?.strip_prefix("DLV#").and_then(DeliveryId::parse))
            .collect();
        Ok(Some(DueGroup { key, ids }))
    }

    async fn get_delivery(&self, id: &DeliveryId) -> Result<Option<Delivery>, StoreError> {
        self.get_consistent(delivery_key(id)).await?.as_ref().map(delivery_record).transpose()
    }

    async fn claim(&self, id: &DeliveryId, now: OffsetDateTime) -> Result<Option<String>, ChangeError> {
        let token = keyhive::model::random_id("lease", 16);
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(delivery_key(id)))
            .update_expression("SET lease_until = :until, lease = :token")
            .expression_attribute_values(":token", string_attr(&token))
            .condition_expression(
                "#st = :pending AND next_at <= :now AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":pending", string_attr("pending"))
            .expression_attribute_values(":now", string_attr(rfc3339(now)))
            .expression_attribute_values(":until", string_attr(rfc3339(now + LEASE)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(token)),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(None),
            Err(err) => Err(classify(err).into()),
        }
    }

    async fn record_attempt(
        &self,
        delivery: &Delivery,
        lease: &str,
        attempt: &Attempt,
        effect: &AttemptEffect,
    ) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let recorded = tx.update(delivery_key(&delivery.id), |u| {
            let u = u
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":st", string_attr(effect.status.as_str()))
                .expression_attribute_values(":n", number_attr(attempt.attempt))
                .expression_attribute_values(":pending", string_attr("pending"))
                .expression_attribute_values(":lease", string_attr(lease))
                .condition_expression("#st = :pending AND lease = :lease");
            match (effect.status, effect.next_at) {
                (DeliveryStatus::Pending, Some(next_at)) => {
                    let [(pk_name, pk), (sk_name, sk)] = due_keys(delivery, next_at);
                    u.update_expression(
                        "SET #st = :st, attempt = :n, next_at = :next, #gpk = :gpk, #gsk = :gsk REMOVE lease_until",
                    )
                    .expression_attribute_names("#gpk", pk_name)
                    .expression_attribute_names("#gsk", sk_name)
                    .expression_attribute_values(":gpk", pk)
                    .expression_attribute_values(":gsk", sk)
                    .expression_attribute_values(":next", string_attr(rfc3339(next_at)))
                }
                _ => u.update_expression(format!(
                    "SET #st = :st, attempt = :n REMOVE lease_until, lease, next_at, {}, {}",
                    schema::GSI2PK,
                    schema::GSI2SK
                )),
            }
        })?;
        tx.on_condition(recorded, ChangeError::Stale);
        tx.put(attempt_item(&delivery.endpoint_id, attempt), None)?;
        // The endpoint's health; it may have been deleted meanwhile (then nothing to update).
        let at = string_attr(rfc3339(attempt.at));
        if !effect.touches_endpoint {
            // Not sent to it: nothing to say of its health.
        } else if effect.success {
            tx.update(endpoint_key(&delivery.endpoint_id), |u| {
                u.update_expression("SET last_success_at = :at REMOVE failing_since")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_values(":at", at)
            })?;
        } else if let Some((reason, log)) = &effect.disable {
            tx.update(endpoint_key(&delivery.endpoint_id), |u| {
                u.update_expression(
                    "SET enabled = :no, disabled_reason = :reason, failing_since = if_not_exists(failing_since, :at)",
                )
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":no", AttributeValue::Bool(false))
                .expression_attribute_values(":reason", string_attr(reason))
                .expression_attribute_values(":at", at)
            })?;
            tx.log(log)?;
        } else {
            tx.update(endpoint_key(&delivery.endpoint_id), |u| {
                u.update_expression("SET failing_since = if_not_exists(failing_since, :at)")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_values(":at", at)
            })?;
        }
        match tx.commit().await {
            // The endpoint is gone: record the attempt without it.
            Err(ChangeError::Conflict(_)) => {
                let mut tx = self.transaction();
                let recorded = tx.update(delivery_key(&delivery.id), |u| {
                    u.update_expression(format!(
                        "SET #st = :failed, attempt = :n REMOVE lease_until, lease, next_at, {}, {}",
                        schema::GSI2PK,
                        schema::GSI2SK
                    ))
                    .condition_expression("#st = :pending AND lease = :lease")
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":failed", string_attr("failed"))
                    .expression_attribute_values(":pending", string_attr("pending"))
                    .expression_attribute_values(":lease", string_attr(lease))
                    .expression_attribute_values(":n", number_attr(attempt.attempt))
                })?;
                tx.on_condition(recorded, ChangeError::Stale);
                tx.commit().await
            }
            other => other,
        }
    }

    async fn requeue(
        &self,
        delivery: &Delivery,
        now: OffsetDateTime,
        per_hour: u32,
        audit: Option<&AuditEntry>,
    ) -> Result<(), ChangeError> {
        let [(pk_name, pk), (sk_name, sk)] = due_keys(delivery, now);
        let mut tx = self.transaction();
        let requeued = tx.update(delivery_key(&delivery.id), |u| {
            u.update_expression(
                "SET #st = :pending, next_at = :now, #gpk = :gpk, #gsk = :gsk REMOVE lease_until, lease",
            )
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#gpk", pk_name)
            .expression_attribute_names("#gsk", sk_name)
            .expression_attribute_values(":pending", string_attr("pending"))
            .expression_attribute_values(":now", string_attr(rfc3339(now)))
            .expression_attribute_values(":gpk", pk)
            .expression_attribute_values(":gsk", sk)
        })?;
        tx.on_condition(requeued, ChangeError::NotFound);
        take_send(&mut tx, &delivery.endpoint_id, now, per_hour)?;
        tx.log(&ChangeLog { audits: audit.into_iter().cloned().collect(), events: Vec::new(), idempotency: None })?;
        tx.commit().await
    }

    async fn list_attempts(
        &self,
        endpoint: &WebhookId,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Attempt>, ChangeError> {
        let mut filter = Filter::default();
        // DynamoDB deletes expired attempts late: a listing skips them itself.
        filter.and_number(
            "#ttl > :now",
            &[("#ttl", schema::TTL_ATTRIBUTE)],
            (":now", keyhive::model::now().unix_timestamp()),
        );
        let listing = Listing {
            index: None,
            partition_attr: schema::PK,
            partition: schema::attempts_pk(endpoint.as_str()),
            sort_attr: schema::SK,
            range: SortRange::All,
            filter,
            key_attrs: &[schema::PK, schema::SK],
        };
        let (found, next) = self.list_page(&listing, start, limit).await?;
        let items = found.iter().map(attempt_record).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next })
    }

    async fn deliveries_since(
        &self,
        endpoint: &WebhookId,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Delivery>, ChangeError> {
        let pk = schema::endpoint_deliveries_gsi1pk(endpoint.as_str());
        let page = self
            .list_records(&Listing { range: SortRange::From(rfc3339(since)), ..Listing::gsi1(pk) }, None, limit, |i| {
                DeliveryId::parse(get_s(i, "id")?).ok_or_else(|| corrupt("id"))
            })
            .await?;
        let mut found = Vec::new();
        for id in &page.items {
            if let Some(delivery) = self.get_delivery(id).await? {
                found.push(delivery);
            }
        }
        Ok(found)
    }
}
