//! The webhooks store: a small trait (`WebhookStore`) and the types it speaks, its DynamoDB
//! implementation (`dynamo`), and the encoding of its items (`items`). Endpoints are items of
//! their tenant; an outbox event is fanned out to them in one transaction (the deliveries, and
//! the event marked dispatched); a delivery's attempt is recorded in one transaction with its
//! effect on the endpoint.

mod dynamo;
mod items;

use crate::model::{Attempt, Delivery, DeliveryId, DeliveryStatus, Endpoint, WebhookId};
use async_trait::async_trait;
use keyhive::auth::Environment;
use keyhive::change::{AuditEntry, ChangeLog};
use keyhive::model::{OrgId, Tenant};
use keyhive::store::cursor::Position;
use keyhive::store::{ChangeError, Page, StoreError};
use time::{Duration, OffsetDateTime};

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

impl OutboxRecord {
    /// Whose event this is: its deliveries go to this tenant's endpoints only.
    pub fn tenant(&self) -> Tenant {
        Tenant::new(self.org_id.clone(), self.environment)
    }
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
        tenant: &Tenant,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Endpoint>, ChangeError>;
    /// Every endpoint of a tenant, all pages of them (a fan-out must reach each one).
    async fn endpoints_of(&self, tenant: &Tenant) -> Result<Vec<Endpoint>, ChangeError>;
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
