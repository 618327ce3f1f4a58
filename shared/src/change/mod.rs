//! The change log: what every change writes beside itself in its own transaction. Audit
//! entries (who did what, for the audit trail), outbox events (for webhook delivery) and a
//! creation's `Idempotency-Key` record. Event types and audit actions are closed lists here, the
//! one place that spells them.

pub mod idempotency;

use crate::auth::Identity;

use crate::change::idempotency::{Claim, IdempotencyRecord, Scope};
use crate::model::{random_id, rfc3339, OrgId, UserId};
use crate::model::{Environment, KeyId, Tenant};
use crate::schema;
use crate::store::items::{number_attr, string_attr, Item};
use crate::store::transact::Transaction;
use crate::store::{ChangeError, StoreError};
use serde_json::{json, Value};
use time::OffsetDateTime;

macro_rules! spelled_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

spelled_enum!(
    /// The webhook event types (openapi.yaml's `EventType`, held to this list by a drift test).
    EventType {
        KeyCreated = "key.created",
        KeyUpdated = "key.updated",
        KeyRevoked = "key.revoked",
        KeyRolled = "key.rolled",
        MemberRemoved = "member.removed",
        SandboxCreated = "sandbox.created",
        SandboxKilled = "sandbox.killed",
        SandboxExpired = "sandbox.expired",
        LinkCreated = "link.created",
        LinkUpdated = "link.updated",
        LinkDeleted = "link.deleted",
        DomainVerified = "domain.verified",
        WebhookTest = "webhook.test",
        WebhookDisabled = "webhook.disabled",
        KeyExpiring = "key.expiring",
        KeyExpired = "key.expired",
        KeyLeaked = "key.leaked",
    }
);

spelled_enum!(
    /// What an audit entry records as done.
    AuditAction {
        OrgBootstrapped = "org.bootstrapped",
        KeyCreated = "key.created",
        KeyUpdated = "key.updated",
        KeyRevoked = "key.revoked",
        KeyRolled = "key.rolled",
        MemberCreated = "member.created",
        MemberRemoved = "member.removed",
        SandboxCreated = "sandbox.created",
        SandboxTimeoutChanged = "sandbox.timeout_changed",
        SandboxKilled = "sandbox.killed",
        SandboxExpired = "sandbox.expired",
        LinkCreated = "link.created",
        LinkUpdated = "link.updated",
        LinkDeleted = "link.deleted",
        DomainCreated = "domain.created",
        DomainVerified = "domain.verified",
        DomainDeleted = "domain.deleted",
        WebhookCreated = "webhook.created",
        WebhookUpdated = "webhook.updated",
        WebhookDeleted = "webhook.deleted",
        WebhookSecretRotated = "webhook.secret_rotated",
        WebhookEnabled = "webhook.enabled",
        WebhookDisabled = "webhook.disabled",
        KeyExpiring = "key.expiring",
        KeyExpired = "key.expired",
        KeyLeaked = "key.leaked",
        FileCreated = "file.created",
        FileCompleted = "file.completed",
        FileDeleted = "file.deleted",
    }
);

/// Who did what, written in the same transaction as the change.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub org_id: OrgId,
    /// The environment the change belongs to: a test key's audit trail shows test entries only.
    pub environment: Environment,
    pub at: OffsetDateTime,
    pub request_id: String,
    /// The acting key, or `None` for the operator's bootstrap and for system changes.
    pub actor_key_id: Option<KeyId>,
    pub actor_user_id: Option<UserId>,
    /// The system job that acted, when no key did (`secret-scanning`, `key-notices`).
    pub actor_system: Option<&'static str>,
    pub action: AuditAction,
    pub target_id: String,
}

/// An event for webhook delivery, written to the outbox in the same transaction as the change.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub event_id: String,
    pub org_id: OrgId,
    pub environment: Environment,
    pub event_type: EventType,
    pub at: OffsetDateTime,
    pub data: Value,
}

impl OutboxEvent {
    pub fn new(
        org_id: OrgId,
        environment: Environment,
        event_type: EventType,
        at: OffsetDateTime,
        data: Value,
    ) -> Self {
        OutboxEvent { event_id: random_id("evt", 24), org_id, environment, event_type, at, data }
    }

    /// The payload webhooks deliver: `{"type", "timestamp", "data"}`.
    pub fn payload(&self) -> Value {
        json!({ "type": self.event_type.as_str(), "timestamp": rfc3339(self.at), "data": self.data })
    }
}

/// What one change writes beside itself, in its own transaction.
#[derive(Debug, Clone, Default)]
pub struct ChangeLog {
    pub audits: Vec<AuditEntry>,
    pub events: Vec<OutboxEvent>,
    /// A creation's `Idempotency-Key` record, claimed in the same transaction.
    pub idempotency: Option<IdempotencyRecord>,
}

impl ChangeLog {
    pub fn with_event(mut self, event: OutboxEvent) -> Self {
        self.events.push(event);
        self
    }
}

/// A change a request (or a system job) is making: who makes it, in which organization, the
/// request id, the time, and the request's `Idempotency-Key`. The pipeline's call builds it
/// (`Call::change`); each resource builds its change logs from it, so every audit entry and
/// event says the same who and when.
#[derive(Debug, Clone)]
pub struct Change {
    /// Whose data the change touches: the acting key's organization and environment (also the
    /// idempotency record's scope).
    pub tenant: Tenant,
    /// `None` for system changes (a sweep) and the operator's bootstrap.
    pub actor_key_id: Option<KeyId>,
    pub actor_user_id: Option<UserId>,
    /// The system job making a system change, when it names itself in the audit trail.
    pub actor_system: Option<&'static str>,
    pub request_id: String,
    pub at: OffsetDateTime,
    pub idempotency: Option<Claim>,
}

impl Change {
    /// A change made by the caller `identity`.
    pub fn by(identity: &Identity, request_id: &str, at: OffsetDateTime) -> Self {
        Change {
            tenant: Tenant::new(identity.org_id.clone(), identity.environment),
            actor_key_id: Some(identity.key_id.clone()),
            actor_user_id: identity.user_id.clone(),
            actor_system: None,
            request_id: request_id.to_string(),
            at,
            idempotency: None,
        }
    }

    /// A change no key makes (an expiry sweep).
    pub fn system(org_id: OrgId, environment: Environment, request_id: &str, at: OffsetDateTime) -> Self {
        Change {
            tenant: Tenant::new(org_id, environment),
            actor_key_id: None,
            actor_user_id: None,
            actor_system: None,
            request_id: request_id.to_string(),
            at,
            idempotency: None,
        }
    }

    /// The same system change, naming the job that makes it in its audit entries.
    pub fn acting_as(mut self, system: &'static str) -> Self {
        self.actor_system = Some(system);
        self
    }

    /// The same change, claiming the request's `Idempotency-Key`.
    pub fn with_claim(mut self, claim: Option<Claim>) -> Self {
        self.idempotency = claim;
        self
    }

    pub fn audit(&self, environment: Environment, action: AuditAction, target_id: &str) -> AuditEntry {
        AuditEntry {
            org_id: self.tenant.org_id.clone(),
            environment,
            at: self.at,
            request_id: self.request_id.clone(),
            actor_key_id: self.actor_key_id.clone(),
            actor_user_id: self.actor_user_id.clone(),
            actor_system: self.actor_system,
            action,
            target_id: target_id.to_string(),
        }
    }

    pub fn event(&self, environment: Environment, event_type: EventType, data: Value) -> OutboxEvent {
        OutboxEvent::new(self.tenant.org_id.clone(), environment, event_type, self.at, data)
    }

    /// The log of a change to something of `environment`: its audit entry and, when given, event.
    pub fn log(
        &self,
        environment: Environment,
        action: AuditAction,
        target_id: &str,
        event: Option<OutboxEvent>,
    ) -> ChangeLog {
        ChangeLog {
            audits: vec![self.audit(environment, action, target_id)],
            events: event.into_iter().collect(),
            idempotency: None,
        }
    }

    /// The log of a creation, with the `Idempotency-Key` record when the request has one. `data`
    /// is what a replay answers (`None` when the response reveals a secret: never replayed).
    pub fn creation_log(
        &self,
        environment: Environment,
        action: AuditAction,
        target_id: &str,
        event: Option<OutboxEvent>,
        data: Option<Value>,
    ) -> ChangeLog {
        let mut log = self.log(environment, action, target_id, event);
        log.idempotency = match (&self.idempotency, &self.actor_key_id) {
            (Some(claim), Some(key_id)) => {
                let scope = Scope {
                    org_id: self.tenant.org_id.clone(),
                    environment: self.tenant.environment,
                    key_id: key_id.clone(),
                };
                Some(IdempotencyRecord::new(scope, claim, 201, data, target_id, self.at))
            }
            _ => None,
        };
        log
    }
}

/// How long audit entries are kept.
pub const AUDIT_RETENTION: time::Duration = time::Duration::days(90);

/// How long outbox events are kept: as far as `POST /v1/webhooks/{id}/recover` reaches back, and a
/// day more.
pub const OUTBOX_RETENTION: time::Duration = time::Duration::days(8);

/// A change's log joins the change's own transaction (the store knows no change log: this block
/// adds the method to the store's transaction from above).
impl Transaction<'_> {
    /// Adds the change's audit entries and outbox events, and its `Idempotency-Key` record,
    /// claimed on the condition that no live record holds the key (another request came first:
    /// `ChangeError::IdempotencyTaken`).
    pub fn log(&mut self, log: &ChangeLog) -> Result<&mut Self, StoreError> {
        for audit in &log.audits {
            self.create(audit_item(audit))?;
        }
        for event in &log.events {
            self.create(outbox_item(event))?;
        }
        if let Some(record) = &log.idempotency {
            let now = crate::model::now().unix_timestamp();
            let claimed = self.put_where(idempotency::idempotency_item(record), |put| {
                put.condition_expression("attribute_not_exists(PK) OR #expiry <= :now")
                    .expression_attribute_names("#expiry", schema::TTL_ATTRIBUTE)
                    .expression_attribute_values(":now", number_attr(now))
            })?;
            self.on_condition(claimed, ChangeError::IdempotencyTaken);
        }
        Ok(self)
    }
}

pub fn audit_item(a: &AuditEntry) -> Item {
    let at = rfc3339(a.at);
    let entry_id = crate::model::random_id("aud", 16);
    let mut item = Item::from([
        (schema::PK.into(), string_attr(schema::audit_pk(a.org_id.as_str()))),
        (schema::SK.into(), string_attr(schema::audit_sk(&audit_sort_time(a.at), &entry_id))),
        ("entry_id".into(), string_attr(entry_id)),
        ("at".into(), string_attr(at)),
        ("environment".into(), string_attr(a.environment.as_str())),
        ("request_id".into(), string_attr(&a.request_id)),
        ("action".into(), string_attr(a.action.as_str())),
        ("target_id".into(), string_attr(&a.target_id)),
    ]);
    if let Some(key) = &a.actor_key_id {
        item.insert("actor_key_id".into(), string_attr(key.as_str()));
    }
    if let Some(user) = &a.actor_user_id {
        item.insert("actor_user_id".into(), string_attr(user.as_str()));
    }
    if let Some(system) = a.actor_system {
        item.insert("actor_system".into(), string_attr(system));
    }
    // Retention: DynamoDB deletes entries past it (late; reads skip them themselves).
    item.insert(schema::TTL_ATTRIBUTE.into(), number_attr((a.at + AUDIT_RETENTION).unix_timestamp()));
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

pub fn outbox_item(e: &OutboxEvent) -> Item {
    Item::from([
        (schema::PK.into(), string_attr(schema::outbox_pk(e.org_id.as_str(), e.environment.as_str()))),
        (schema::SK.into(), string_attr(schema::outbox_sk(&rfc3339(e.at), &e.event_id))),
        ("event_id".into(), string_attr(&e.event_id)),
        ("event_type".into(), string_attr(e.event_type.as_str())),
        ("org_id".into(), string_attr(e.org_id.as_str())),
        ("environment".into(), string_attr(e.environment.as_str())),
        ("payload".into(), string_attr(e.payload().to_string())),
        ("status".into(), string_attr("pending")),
        // Pending for the dispatcher until it fans the event out (the sparse index of work).
        (schema::GSI2PK.into(), string_attr(schema::pending_events_gsi2pk(schema::shard_of(&e.event_id)))),
        (schema::GSI2SK.into(), string_attr(schema::outbox_sk(&rfc3339(e.at), &e.event_id))),
        (schema::TTL_ATTRIBUTE.into(), number_attr((e.at + OUTBOX_RETENTION).unix_timestamp())),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_back_and_none_repeats() {
        for (i, t) in EventType::ALL.iter().enumerate() {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
            assert!(EventType::ALL[i + 1..].iter().all(|o| o.as_str() != t.as_str()));
        }
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        }
        assert_eq!(EventType::parse("key.exploded"), None);
    }
}
