//! The webhooks store: a small trait and its DynamoDB implementation. Endpoints are items of
//! their tenant; an outbox event is fanned out to them in one transaction (the deliveries, and
//! the event marked dispatched); a delivery's attempt is recorded in one transaction with its
//! effect on the endpoint.

use crate::model::{Attempt, Delivery, DeliveryId, DeliveryStatus, Endpoint, Subscription, WebhookId};
use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use keyhive::auth::Environment;
use keyhive::change::{AuditEntry, ChangeLog};
use keyhive::model::{rfc3339, OrgId};
use keyhive::schema;
use keyhive::store::cursor::Position;
use keyhive::store::dynamo::{classify, DynamoStore};
use keyhive::store::items::{corrupt, get_s, key_of, n, opt_n, opt_s, s, time_of, Item};
use keyhive::store::query::{Filter, Listing, SortRange};
use keyhive::store::{ChangeError, Page, StoreError};
use time::{Duration, OffsetDateTime};

pub type Tenant<'a> = (&'a OrgId, Environment);

/// How long attempt records are kept.
pub const ATTEMPT_RETENTION: Duration = Duration::days(30);
/// A claimed delivery is another dispatcher's for this long (then it is retried: a dispatcher
/// that died mid-send loses nothing).
pub const LEASE: Duration = Duration::seconds(30);

/// An outbox event, as the dispatcher reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    pub pk: String,
    pub sk: String,
    pub event_id: String,
    pub event_type: String,
    pub org_id: OrgId,
    pub environment: Environment,
    pub payload: String,
    pub at: OffsetDateTime,
}

/// One group of a due queue: an organization's due deliveries, or (`LEGACY_DUE_GROUP`) those
/// queued before the queue was ordered by organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueGroup {
    /// The organization's id, or `LEGACY_DUE_GROUP`.
    pub key: String,
    pub ids: Vec<DeliveryId>,
}

/// The group of entries keyed `<next_at>#<id>` (written before the due queue was ordered by
/// organization): they sort before every organization id (a digit before `org_`), and their
/// next attempt writes them in the new order.
pub const LEGACY_DUE_GROUP: &str = "9";

/// What an attempt did to its delivery and endpoint.
#[derive(Debug, Clone)]
pub struct AttemptEffect {
    pub status: DeliveryStatus,
    pub next_at: Option<OffsetDateTime>,
    /// The endpoint's last success is now.
    pub success: bool,
    /// The endpoint is disabled, for this reason, with this change log (`webhook.disabled`).
    pub disable: Option<(String, ChangeLog)>,
    /// Whether the outcome says anything of the endpoint's health (not when it was not sent to
    /// it: deleted, disabled or no longer subscribed).
    pub touches_endpoint: bool,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn get_endpoint(&self, id: &WebhookId) -> Result<Option<Endpoint>, StoreError>;
    async fn list_endpoints(
        &self,
        tenant: Tenant<'_>,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Endpoint>, ChangeError>;
    /// Every endpoint of a tenant, all pages of them (a fan-out must reach each one).
    async fn endpoints_of(&self, tenant: Tenant<'_>) -> Result<Vec<Endpoint>, ChangeError>;
    /// Creates an endpoint, taking one of its tenant's `max_endpoints` slots in the same
    /// transaction (`ChangeError::Quota` when none is left, however many requests race).
    async fn create_endpoint(
        &self,
        endpoint: &Endpoint,
        max_endpoints: u32,
        log: &ChangeLog,
    ) -> Result<(), ChangeError>;
    /// Writes what the API changes (url, events, description, secrets, enabled), conditional on
    /// the endpoint being as read (`updated_at`): `ChangeError::Stale` otherwise.
    async fn update_endpoint(
        &self,
        endpoint: &Endpoint,
        read_at: OffsetDateTime,
        log: &ChangeLog,
    ) -> Result<(), ChangeError>;
    async fn delete_endpoint(&self, endpoint: &Endpoint, log: &ChangeLog) -> Result<(), ChangeError>;

    /// Outbox events not fanned out yet, oldest first, of one work shard.
    async fn pending_events(&self, shard: u32, limit: u32) -> Result<Vec<(String, String)>, ChangeError>;
    async fn get_outbox(&self, pk: &str, sk: &str) -> Result<Option<OutboxRecord>, StoreError>;
    /// Creates the event's deliveries and marks it dispatched, in one transaction. `Ok(false)`
    /// when it was dispatched already.
    async fn fan_out(&self, event: &OutboxRecord, deliveries: &[Delivery]) -> Result<bool, ChangeError>;
    /// Creates one delivery outside the outbox (`webhook.test`), with its audit entry, taking one
    /// of its endpoint's `per_hour` sends of the hour as a re-send does.
    async fn create_delivery(&self, delivery: &Delivery, per_hour: u32, audit: &AuditEntry) -> Result<(), ChangeError>;
    /// The next group of one work shard's due queue after the group `after` (in key order): an
    /// organization with pending deliveries, and up to `limit` of its deliveries due at `now`,
    /// oldest first (none when all of them are due later). `None` when no group follows.
    async fn next_due_group(
        &self,
        shard: u32,
        after: Option<&str>,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Option<DueGroup>, ChangeError>;
    async fn get_delivery(&self, id: &DeliveryId) -> Result<Option<Delivery>, StoreError>;
    /// Takes a due delivery for one attempt (`Ok(false)`: another dispatcher has it, or it is not
    /// due or pending any more).
    async fn claim(&self, id: &DeliveryId, now: OffsetDateTime) -> Result<Option<String>, ChangeError>;
    /// Records an attempt and its effect on the delivery and the endpoint, in one transaction,
    /// if the delivery is still held under `lease` (`ChangeError::Stale` otherwise).
    async fn record_attempt(
        &self,
        delivery: &Delivery,
        lease: &str,
        attempt: &Attempt,
        effect: &AttemptEffect,
    ) -> Result<(), ChangeError>;
    /// Makes a delivery pending again, due at `now` (resend, recover), taking one of its
    /// endpoint's `per_hour` re-sends of the current UTC hour (`ChangeError::Quota` when none is
    /// left). The audit entry, when given, is written in the same transaction.
    async fn requeue(
        &self,
        delivery: &Delivery,
        now: OffsetDateTime,
        per_hour: u32,
        audit: Option<&AuditEntry>,
    ) -> Result<(), ChangeError>;
    /// An endpoint's attempts, newest first.
    async fn list_attempts(
        &self,
        endpoint: &WebhookId,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Attempt>, ChangeError>;
    /// An endpoint's deliveries created at or after `since` (at most `limit`).
    async fn deliveries_since(
        &self,
        endpoint: &WebhookId,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Delivery>, ChangeError>;
}

fn endpoint_key(id: &WebhookId) -> Item {
    key_of(schema::webhook_pk(id.as_str()), schema::WEBHOOK_SK)
}

/// The tenant's endpoint count (its ceiling is `Limits::webhooks`).
fn endpoint_count_key(org: &OrgId, environment: Environment) -> Item {
    key_of(schema::webhook_quota_pk(org.as_str(), environment.as_str()), schema::QUOTA_SK)
}

fn delivery_key(id: &DeliveryId) -> Item {
    key_of(schema::delivery_pk(id.as_str()), schema::DELIVERY_SK)
}

fn blob(bytes: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(bytes))
}

fn opt_blob(item: &Item, name: &str) -> Option<Vec<u8>> {
    item.get(name).and_then(|v| v.as_b().ok()).map(|b| b.as_ref().to_vec())
}

fn endpoint_item(x: &Endpoint) -> Item {
    let mut item = endpoint_key(&x.id);
    let (org, env) = (x.org_id.as_str(), x.environment.as_str());
    let created = rfc3339(x.created_at);
    item.extend([
        (schema::GSI1PK.into(), s(schema::org_webhooks_gsi1pk(org, env))),
        (schema::GSI1SK.into(), s(format!("{created}#{}", x.id.as_str()))),
        ("id".into(), s(x.id.as_str())),
        ("org_id".into(), s(org)),
        ("environment".into(), s(env)),
        ("created_at".into(), s(created)),
    ]);
    item.extend(endpoint_fields(x));
    item
}

/// The attributes the API changes (without the creation facts).
fn endpoint_fields(x: &Endpoint) -> Vec<(String, AttributeValue)> {
    let mut fields = vec![
        ("url".to_string(), s(&x.url)),
        ("events".into(), AttributeValue::L(x.events.names().into_iter().map(s).collect())),
        ("enabled".into(), AttributeValue::Bool(x.enabled)),
        ("secret".into(), blob(&x.sealed_secret)),
        ("updated_at".into(), s(rfc3339(x.updated_at))),
    ];
    if let Some(description) = &x.description {
        fields.push(("description".into(), s(description)));
    }
    if let Some(reason) = &x.disabled_reason {
        fields.push(("disabled_reason".into(), s(reason)));
    }
    if let Some((sealed, until)) = &x.previous {
        fields.push(("previous_secret".into(), blob(sealed)));
        fields.push(("previous_until".into(), s(rfc3339(*until))));
    }
    fields
}

/// What `endpoint_fields` may leave out, removed when absent.
const OPTIONAL_FIELDS: [&str; 4] = ["description", "disabled_reason", "previous_secret", "previous_until"];

fn endpoint_record(item: &Item) -> Result<Endpoint, StoreError> {
    let names: Vec<String> = item
        .get("events")
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    let previous = match (opt_blob(item, "previous_secret"), time_of(item, "previous_until")?) {
        (Some(sealed), Some(until)) => Some((sealed, until)),
        _ => None,
    };
    Ok(Endpoint {
        id: WebhookId::parse(get_s(item, "id")?).ok_or_else(|| corrupt("id"))?,
        org_id: OrgId::parse(get_s(item, "org_id")?).ok_or_else(|| corrupt("org_id"))?,
        environment: Environment::parse(get_s(item, "environment")?).ok_or_else(|| corrupt("environment"))?,
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
fn due_keys(delivery: &Delivery, next_at: OffsetDateTime) -> [(String, AttributeValue); 2] {
    let id = delivery.id.as_str();
    [
        (schema::GSI2PK.into(), s(schema::due_gsi2pk(schema::shard_of(id)))),
        (schema::GSI2SK.into(), s(schema::due_gsi2sk(delivery.org_id.as_str(), &rfc3339(next_at), id))),
    ]
}

fn delivery_item(x: &Delivery) -> Item {
    let mut item = delivery_key(&x.id);
    let created = rfc3339(x.created_at);
    item.extend([
        (schema::GSI1PK.into(), s(schema::endpoint_deliveries_gsi1pk(x.endpoint_id.as_str()))),
        (schema::GSI1SK.into(), s(format!("{created}#{}", x.id.as_str()))),
        ("id".into(), s(x.id.as_str())),
        ("endpoint_id".into(), s(x.endpoint_id.as_str())),
        ("org_id".into(), s(x.org_id.as_str())),
        ("environment".into(), s(x.environment.as_str())),
        ("event_id".into(), s(&x.event_id)),
        ("event_type".into(), s(&x.event_type)),
        ("payload".into(), s(&x.payload)),
        ("status".into(), s(x.status.as_str())),
        ("attempt".into(), n(x.attempts)),
        ("created_at".into(), s(created)),
        // Deliveries go with the outbox's retention: `recover` reaches as far back.
        (schema::TTL_ATTRIBUTE.into(), n((x.created_at + keyhive::change::OUTBOX_RETENTION).unix_timestamp())),
    ]);
    if let (DeliveryStatus::Pending, Some(next_at)) = (x.status, x.next_at) {
        item.insert("next_at".into(), s(rfc3339(next_at)));
        item.extend(due_keys(x, next_at));
    }
    item
}

fn delivery_record(item: &Item) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: DeliveryId::parse(get_s(item, "id")?).ok_or_else(|| corrupt("id"))?,
        endpoint_id: WebhookId::parse(get_s(item, "endpoint_id")?).ok_or_else(|| corrupt("endpoint_id"))?,
        org_id: OrgId::parse(get_s(item, "org_id")?).ok_or_else(|| corrupt("org_id"))?,
        environment: Environment::parse(get_s(item, "environment")?).ok_or_else(|| corrupt("environment"))?,
        event_id: get_s(item, "event_id")?.to_string(),
        event_type: get_s(item, "event_type")?.to_string(),
        payload: opt_s(item, "payload").unwrap_or_default().to_string(),
        status: DeliveryStatus::parse(get_s(item, "status")?).ok_or_else(|| corrupt("status"))?,
        attempts: opt_n(item, "attempt").unwrap_or(0).max(0) as u32,
        next_at: time_of(item, "next_at")?,
        created_at: time_of(item, "created_at")?.ok_or_else(|| corrupt("created_at"))?,
    })
}

fn attempt_item(endpoint: &WebhookId, x: &Attempt) -> Item {
    let attempt_id = keyhive::model::random_id("att", 12);
    let mut item = key_of(schema::attempts_pk(endpoint.as_str()), format!("{}#{attempt_id}", rfc3339(x.at)));
    item.extend([
        ("delivery_id".into(), s(x.delivery_id.as_str())),
        ("event_id".into(), s(&x.event_id)),
        ("event_type".into(), s(&x.event_type)),
        ("attempt".into(), n(x.attempt)),
        ("at".into(), s(rfc3339(x.at))),
        ("duration_ms".into(), n(x.duration_ms)),
        (schema::TTL_ATTRIBUTE.into(), n((x.at + ATTEMPT_RETENTION).unix_timestamp())),
    ]);
    if let Some(code) = x.status_code {
        item.insert("status_code".into(), n(code));
    }
    if let Some(error) = &x.error {
        item.insert("error".into(), s(error));
    }
    if let Some(next) = x.next_retry_at {
        item.insert("next_retry_at".into(), s(rfc3339(next)));
    }
    item
}

fn attempt_record(item: &Item) -> Result<Attempt, StoreError> {
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

fn outbox_record(item: &Item) -> Result<OutboxRecord, StoreError> {
    let sk = get_s(item, schema::SK)?.to_string();
    let at = sk.split('#').next().and_then(keyhive::model::parse_rfc3339).ok_or_else(|| corrupt("SK"))?;
    Ok(OutboxRecord {
        pk: get_s(item, schema::PK)?.to_string(),
        sk,
        event_id: get_s(item, "event_id")?.to_string(),
        event_type: get_s(item, "event_type")?.to_string(),
        org_id: OrgId::parse(get_s(item, "org_id")?).ok_or_else(|| corrupt("org_id"))?,
        environment: Environment::parse(get_s(item, "environment")?).ok_or_else(|| corrupt("environment"))?,
        payload: get_s(item, "payload")?.to_string(),
        at,
    })
}

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
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(per_hour))
            .expression_attribute_values(":ttl", n((now + Duration::hours(2)).unix_timestamp()))
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
        (org, environment): Tenant<'_>,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Endpoint>, ChangeError> {
        // GSI1 does not carry the sealed secrets: list from it, then read the full items.
        let pk = schema::org_webhooks_gsi1pk(org.as_str(), environment.as_str());
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

    async fn endpoints_of(&self, tenant: Tenant<'_>) -> Result<Vec<Endpoint>, ChangeError> {
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
            endpoint_count_key(&endpoint.org_id, endpoint.environment),
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
                .expression_attribute_values(":read", s(rfc3339(read_at)))
        })?;
        tx.on_condition(changed, ChangeError::Stale);
        tx.log(log)?;
        tx.commit().await
    }

    async fn delete_endpoint(&self, endpoint: &Endpoint, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let deleted = tx.delete(endpoint_key(&endpoint.id), "attribute_exists(PK)", None)?;
        tx.on_condition(deleted, ChangeError::NotFound);
        tx.give_back_slot(endpoint_count_key(&endpoint.org_id, endpoint.environment), "count")?;
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
                .expression_attribute_values(":done", s("dispatched"))
                .expression_attribute_values(":pending", s("pending"))
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
            .expression_attribute_values(":token", s(&token))
            .condition_expression(
                "#st = :pending AND next_at <= :now AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", s(rfc3339(now)))
            .expression_attribute_values(":until", s(rfc3339(now + LEASE)))
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
                .expression_attribute_values(":st", s(effect.status.as_str()))
                .expression_attribute_values(":n", n(attempt.attempt))
                .expression_attribute_values(":pending", s("pending"))
                .expression_attribute_values(":lease", s(lease))
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
                    .expression_attribute_values(":next", s(rfc3339(next_at)))
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
        let at = s(rfc3339(attempt.at));
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
                .expression_attribute_values(":reason", s(reason))
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
                    .expression_attribute_values(":failed", s("failed"))
                    .expression_attribute_values(":pending", s("pending"))
                    .expression_attribute_values(":lease", s(lease))
                    .expression_attribute_values(":n", n(attempt.attempt))
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
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", s(rfc3339(now)))
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
