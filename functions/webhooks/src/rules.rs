//! Webhook rules: endpoints (created with a secret shown once, sealed at rest; URLs checked
//! against SSRF), and delivery: fan-out of outbox events, signed attempts, retries with backoff,
//! disabling on 410 or five days of failure. Clocks are passed in.

use crate::crypto::{signature_header, SealingKey};
use crate::model::{
    next_attempt, redacted_url, Attempt, Delivery, DeliveryId, DeliveryStatus, Endpoint, SigningSecret, Subscription,
    WebhookId, DISABLE_AFTER,
};
use crate::sender::{Outcome, Sender};
use crate::ssrf::{Policy, Resolver};
use crate::store::{AttemptEffect, OutboxRecord, WebhookStore};
use keyhive::auth::permissions::{permission_name, Action, Permissions, Resource};
use keyhive::change::{AuditAction, Change, EventType, OutboxEvent};
use keyhive::error::ApiError;
use keyhive::model::rfc3339;
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// A rotated-out secret keeps signing (beside the new one) this long.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);
/// How far `recover` reaches back: as long as outbox events and deliveries are kept, less a day.
pub const RECOVER_WINDOW: Duration = Duration::days(7);
/// One `recover` call looks at this many deliveries and re-sends at most `RECOVER_LIMIT` (call
/// again with a later `since` for more).
pub const RECOVER_SCAN: u32 = 300;
pub const RECOVER_LIMIT: usize = 100;
/// Sends on request (resend, recover and test together) one endpoint may ask for in one UTC
/// hour, so that no tenant can keep the dispatcher busy, or a receiver flooded, on demand.
pub const REQUEUES_PER_HOUR: u32 = 100;

/// What the delivery side needs, built once per instance.
pub struct Outbound {
    pub policy: Policy,
    pub resolver: Resolver,
    pub sender: Sender,
}

/// Checks a URL's shape, port and, for a name, what it resolves to (400 on `field` when
/// refused). The lookup is bounded by `ssrf::CHECK_LOOKUP_LIMIT` (5 s, half the function's
/// timeout): a name whose DNS does not answer in time is 400 too, the caller's input.
pub async fn check_url(outbound: &Outbound, field: &str, url: &str) -> Result<String, ApiError> {
    let (parsed, target) = outbound.policy.parse(url).map_err(|r| ApiError::validation(field, r.to_string()))?;
    outbound.resolver.check(&outbound.policy, &target).await.map_err(|r| ApiError::validation(field, r.to_string()))?;
    Ok(parsed.to_string())
}

/// The resource whose `read` permission an event type's payload needs.
fn resource_of(event_type: EventType) -> Resource {
    match event_type {
        EventType::KeyCreated
        | EventType::KeyUpdated
        | EventType::KeyRevoked
        | EventType::KeyRolled
        | EventType::KeyExpiring
        | EventType::KeyExpired
        | EventType::KeyLeaked => Resource::ApiKeys,
        EventType::MemberRemoved => Resource::Members,
        EventType::SandboxCreated | EventType::SandboxKilled | EventType::SandboxExpired => Resource::Sandboxes,
        EventType::LinkCreated | EventType::LinkUpdated | EventType::LinkDeleted => Resource::ShortLinks,
        EventType::DomainVerified => Resource::Domains,
        EventType::WebhookTest | EventType::WebhookDisabled => Resource::Webhooks,
    }
}

/// An endpoint receives only what its creator could read: each subscribed type's resource
/// (every one of them for `*`) needs `<resource>:read` (403 naming the first lacking).
pub fn check_readable(permissions: &Permissions, events: &Subscription) -> Result<(), ApiError> {
    let types: Vec<EventType> = match events {
        Subscription::All => EventType::ALL.to_vec(),
        Subscription::Only(names) => names.iter().filter_map(|n| EventType::parse(n)).collect(),
    };
    for event_type in types {
        let resource = resource_of(event_type);
        if !permissions.allows(resource, Action::Read) {
            return Err(ApiError::Forbidden { required: permission_name(resource, Action::Read) });
        }
    }
    Ok(())
}

/// Whoever decides where an endpoint's events go, or who can verify them, takes over what the
/// endpoint receives: changing its URL, rotating its secret (the new one is shown to the caller),
/// re-sending or recovering its deliveries each need the read permission of every event type it
/// is subscribed to, as subscribing it anew would (403 naming the first lacking).
pub fn check_may_direct(permissions: &Permissions, endpoint: &Endpoint) -> Result<(), ApiError> {
    check_readable(permissions, &endpoint.events)
}

/// An endpoint of the caller's organization and environment; anything else is 404.
pub async fn visible<S: WebhookStore + ?Sized>(
    store: &S,
    change: &Change,
    id: &WebhookId,
) -> Result<Endpoint, ApiError> {
    match store.get_endpoint(id).await? {
        Some(e) if change.tenant.owns(&e.org_id, e.environment) => Ok(e),
        _ => Err(ApiError::NotFound("webhook endpoint")),
    }
}

/// Creates an endpoint; returns it and its secret, which is never shown again.
pub async fn create<S: WebhookStore + ?Sized>(
    store: &S,
    key: &SealingKey,
    change: &Change,
    url: String,
    events: Subscription,
    description: Option<String>,
    max_endpoints: u32,
) -> Result<(Endpoint, SigningSecret), ApiError> {
    let id = WebhookId::generate();
    let secret = SigningSecret::generate();
    let endpoint = Endpoint {
        sealed_secret: key.seal(&secret, &id),
        id,
        org_id: change.tenant.org_id.clone(),
        environment: change.tenant.environment,
        url,
        events,
        description,
        enabled: true,
        disabled_reason: None,
        previous: None,
        failing_since: None,
        last_success_at: None,
        created_at: change.at,
        updated_at: change.at,
    };
    // A retry is never replayed with the secret: the record answers 409 with the id.
    let log = change.creation_log(endpoint.environment, AuditAction::WebhookCreated, endpoint.id.as_str(), None, None);
    store.create_endpoint(&endpoint, max_endpoints, &log).await?;
    Ok((endpoint, secret))
}

/// Writes an endpoint the API changed, as read at `read_at` (409 if it changed meanwhile).
async fn save<S: WebhookStore + ?Sized>(
    store: &S,
    change: &Change,
    endpoint: &Endpoint,
    read_at: OffsetDateTime,
    action: AuditAction,
) -> Result<(), ApiError> {
    let log = change.log(endpoint.environment, action, endpoint.id.as_str(), None);
    match store.update_endpoint(endpoint, read_at, &log).await {
        Err(keyhive::store::ChangeError::Stale) => {
            Err(ApiError::Conflict("the endpoint changed while this request ran; retry".into()))
        }
        other => other.map_err(ApiError::from),
    }
}

/// What a `PATCH` changes.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub events: Option<Subscription>,
    pub description: Option<Option<String>>,
}

pub async fn update<S: WebhookStore + ?Sized>(
    store: &S,
    change: &Change,
    permissions: &Permissions,
    id: &WebhookId,
    patch: EndpointPatch,
) -> Result<Endpoint, ApiError> {
    let mut endpoint = visible(store, change, id).await?;
    let read_at = endpoint.updated_at;
    if let Some(events) = &patch.events {
        check_readable(permissions, events)?;
    }
    if patch.url.is_some() {
        // What it will receive at the new URL: the new subscription, or the one it has.
        check_readable(permissions, patch.events.as_ref().unwrap_or(&endpoint.events))?;
    }
    if let Some(url) = patch.url {
        endpoint.url = url;
    }
    if let Some(events) = patch.events {
        endpoint.events = events;
    }
    if let Some(description) = patch.description {
        endpoint.description = description;
    }
    endpoint.updated_at = change.at.max(read_at + Duration::milliseconds(1));
    save(store, change, &endpoint, read_at, AuditAction::WebhookUpdated).await?;
    Ok(endpoint)
}

/// A new secret, shown once; the previous one keeps signing beside it for 24 hours.
pub async fn rotate<S: WebhookStore + ?Sized>(
    store: &S,
    key: &SealingKey,
    change: &Change,
    permissions: &Permissions,
    id: &WebhookId,
) -> Result<(Endpoint, SigningSecret), ApiError> {
    let mut endpoint = visible(store, change, id).await?;
    check_may_direct(permissions, &endpoint)?;
    let read_at = endpoint.updated_at;
    let secret = SigningSecret::generate();
    let previous = std::mem::replace(&mut endpoint.sealed_secret, key.seal(&secret, &endpoint.id));
    endpoint.previous = Some((previous, change.at + ROTATION_OVERLAP));
    endpoint.updated_at = change.at.max(read_at + Duration::milliseconds(1));
    save(store, change, &endpoint, read_at, AuditAction::WebhookSecretRotated).await?;
    Ok((endpoint, secret))
}

/// Re-enables a disabled endpoint (its failure history starts again). Resuming deliveries to a
/// URL that may have changed hands since it failed is directing them: the same permissions.
pub async fn enable<S: WebhookStore + ?Sized>(
    store: &S,
    change: &Change,
    permissions: &Permissions,
    id: &WebhookId,
) -> Result<Endpoint, ApiError> {
    let mut endpoint = visible(store, change, id).await?;
    check_may_direct(permissions, &endpoint)?;
    let read_at = endpoint.updated_at;
    endpoint.enabled = true;
    endpoint.disabled_reason = None;
    endpoint.failing_since = None;
    endpoint.updated_at = change.at.max(read_at + Duration::milliseconds(1));
    save(store, change, &endpoint, read_at, AuditAction::WebhookEnabled).await?;
    Ok(endpoint)
}

pub async fn delete<S: WebhookStore + ?Sized>(
    store: &S,
    change: &Change,
    id: &WebhookId,
) -> Result<Endpoint, ApiError> {
    let endpoint = visible(store, change, id).await?;
    let log = change.log(endpoint.environment, AuditAction::WebhookDeleted, endpoint.id.as_str(), None);
    store.delete_endpoint(&endpoint, &log).await?;
    Ok(endpoint)
}

fn new_delivery(endpoint: &Endpoint, event: &OutboxRecord, now: OffsetDateTime) -> Delivery {
    Delivery {
        id: DeliveryId::of(&event.event_id, &endpoint.id),
        endpoint_id: endpoint.id.clone(),
        org_id: event.org_id.clone(),
        environment: event.environment,
        event_id: event.event_id.clone(),
        event_type: event.event_type.clone(),
        payload: event.payload.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_at: Some(now),
        created_at: now,
    }
}

/// `POST /v1/webhooks/{id}/test`: a `webhook.test` event to this endpoint only, due now.
pub async fn send_test<S: WebhookStore + ?Sized>(
    store: &S,
    change: &Change,
    id: &WebhookId,
) -> Result<Delivery, ApiError> {
    let endpoint = visible(store, change, id).await?;
    let data = json!({ "webhook_id": endpoint.id.as_str(), "message": "a test event from keyhive" });
    let event: OutboxEvent = change.event(endpoint.environment, EventType::WebhookTest, data);
    let record = OutboxRecord {
        pk: String::new(),
        sk: String::new(),
        event_id: event.event_id.clone(),
        event_type: event.event_type.as_str().to_string(),
        org_id: event.org_id.clone(),
        environment: event.environment,
        payload: event.payload().to_string(),
        at: change.at,
    };
    let delivery = new_delivery(&endpoint, &record, change.at);
    let audit = change.audit(endpoint.environment, AuditAction::WebhookUpdated, endpoint.id.as_str());
    store.create_delivery(&delivery, REQUEUES_PER_HOUR, &audit).await?;
    Ok(delivery)
}

/// Sends one delivery again, now (whatever its state).
pub async fn resend<S: WebhookStore + ?Sized>(
    store: &S,
    change: &Change,
    permissions: &Permissions,
    id: &WebhookId,
    delivery_id: &DeliveryId,
) -> Result<Delivery, ApiError> {
    let endpoint = visible(store, change, id).await?;
    check_may_direct(permissions, &endpoint)?;
    let delivery = match store.get_delivery(delivery_id).await? {
        Some(d) if d.endpoint_id == endpoint.id => d,
        _ => return Err(ApiError::NotFound("delivery")),
    };
    let audit = change.audit(endpoint.environment, AuditAction::WebhookUpdated, endpoint.id.as_str());
    store.requeue(&delivery, change.at, REQUEUES_PER_HOUR, Some(&audit)).await?;
    Ok(Delivery { status: DeliveryStatus::Pending, next_at: Some(change.at), ..delivery })
}

/// Re-sends every failed delivery of the endpoint since `since` (at most `RECOVER_WINDOW` back).
pub async fn recover<S: WebhookStore + ?Sized>(
    store: &S,
    change: &Change,
    permissions: &Permissions,
    id: &WebhookId,
    since: OffsetDateTime,
) -> Result<usize, ApiError> {
    if since < change.at - RECOVER_WINDOW {
        return Err(ApiError::validation("since", "reaches back at most 7 days"));
    }
    let endpoint = visible(store, change, id).await?;
    check_may_direct(permissions, &endpoint)?;
    let audit = change.audit(endpoint.environment, AuditAction::WebhookUpdated, endpoint.id.as_str());
    let mut requeued = 0;
    let failed = store.deliveries_since(&endpoint.id, since, RECOVER_SCAN).await?;
    for delivery in failed.iter().filter(|d| d.status == DeliveryStatus::Failed).take(RECOVER_LIMIT) {
        // One audit entry for the call, with its first re-send.
        match store.requeue(delivery, change.at, REQUEUES_PER_HOUR, (requeued == 0).then_some(&audit)).await {
            Ok(()) => requeued += 1,
            // The hour's re-sends are used up: what was re-sent stands (call again later).
            Err(keyhive::store::ChangeError::Quota(_)) if requeued > 0 => break,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(requeued)
}

/// Whether `endpoint` receives events of `event_type` now. `webhook.test` is sent to one endpoint
/// on request, whatever it is subscribed to.
fn receives(endpoint: &Endpoint, event_type: &str) -> bool {
    event_type == EventType::WebhookTest.as_str() || endpoint.events.includes(event_type)
}

/// Fans one outbox event out to every enabled endpoint of its tenant subscribed to its type.
/// Returns the deliveries created (none when it was fanned out already).
pub async fn fan_out<S: WebhookStore + ?Sized>(
    store: &S,
    event: &OutboxRecord,
    now: OffsetDateTime,
) -> Result<Vec<Delivery>, ApiError> {
    let endpoints = store.endpoints_of(&event.tenant()).await?;
    let deliveries: Vec<Delivery> = endpoints
        .iter()
        .filter(|e| e.enabled && e.events.includes(&event.event_type))
        .map(|e| new_delivery(e, event, now))
        .collect();
    Ok(if store.fan_out(event, &deliveries).await? { deliveries } else { Vec::new() })
}

/// The secrets a delivery is signed with at `now`: the current one, and the previous one during
/// a rotation's overlap.
fn signing_secrets(key: &SealingKey, endpoint: &Endpoint, now: OffsetDateTime) -> Result<Vec<SigningSecret>, ApiError> {
    let mut secrets = vec![key.open(&endpoint.sealed_secret, &endpoint.id).map_err(ApiError::internal)?];
    if let Some((sealed, until)) = &endpoint.previous {
        if *until > now {
            // A previous secret that no longer opens is dropped, not fatal: the current one signs.
            if let Ok(previous) = key.open(sealed, &endpoint.id) {
                secrets.push(previous);
            }
        }
    }
    Ok(secrets)
}

/// One attempt of a due delivery: claimed, sent (URL checked again, connecting to the checked
/// address), and recorded with its effect. Returns the attempt, or `None` when another
/// dispatcher had it or it is no longer due.
pub async fn attempt<S: WebhookStore + ?Sized>(
    store: &S,
    key: &SealingKey,
    outbound: &Outbound,
    id: &DeliveryId,
    now: OffsetDateTime,
) -> Result<Option<Attempt>, ApiError> {
    let Some(lease) = store.claim(id, now).await? else { return Ok(None) };
    let Some(delivery) = store.get_delivery(id).await? else { return Ok(None) };
    let endpoint = store.get_endpoint(&delivery.endpoint_id).await?;
    let number = delivery.attempts + 1;
    let (outcome, endpoint) = match endpoint {
        // Deliveries go only where the endpoint is subscribed now: one unsubscribed since the
        // event (or re-sent after) fails without a retry and without counting against it.
        Some(endpoint) if !receives(&endpoint, &delivery.event_type) => (
            Outcome {
                status: None,
                duration: std::time::Duration::ZERO,
                error: Some("the endpoint is no longer subscribed to this event type".into()),
                retry_after: None,
            },
            None,
        ),
        Some(endpoint) if endpoint.enabled => {
            let outcome = send(key, outbound, &endpoint, &delivery, now).await?;
            (outcome, Some(endpoint))
        }
        Some(endpoint) => {
            let error =
                format!("the endpoint is disabled ({})", endpoint.disabled_reason.as_deref().unwrap_or("by a failure"));
            (Outcome { status: None, duration: std::time::Duration::ZERO, error: Some(error), retry_after: None }, None)
        }
        None => (
            Outcome {
                status: None,
                duration: std::time::Duration::ZERO,
                error: Some("the endpoint was deleted".into()),
                retry_after: None,
            },
            None,
        ),
    };
    let effect = effect_of(&delivery, endpoint.as_ref(), &outcome, number, now);
    let attempt = Attempt {
        delivery_id: delivery.id.clone(),
        event_id: delivery.event_id.clone(),
        event_type: delivery.event_type.clone(),
        attempt: number,
        at: now,
        status_code: outcome.status,
        duration_ms: outcome.duration.as_millis() as u64,
        error: outcome.error.clone(),
        next_retry_at: effect.next_at,
    };
    match store.record_attempt(&delivery, &lease, &attempt, &effect).await {
        // Resent or recorded by another dispatcher after our lease ran out: theirs stands.
        Err(keyhive::store::ChangeError::Stale) => Ok(Some(attempt)),
        other => other.map(|()| Some(attempt)).map_err(ApiError::from),
    }
}

async fn send(
    key: &SealingKey,
    outbound: &Outbound,
    endpoint: &Endpoint,
    delivery: &Delivery,
    now: OffsetDateTime,
) -> Result<Outcome, ApiError> {
    let refused = |error: String| Outcome {
        status: None,
        duration: std::time::Duration::ZERO,
        error: Some(error),
        retry_after: None,
    };
    // Checked again: the name may resolve elsewhere now than when the URL was set.
    let (url, target) = match outbound.policy.parse(&endpoint.url) {
        Ok(parsed) => parsed,
        Err(refusal) => return Ok(refused(format!("the URL is refused: {refusal}"))),
    };
    // The lookup counts against the attempt's time like the exchange itself.
    let lookup = tokio::time::timeout(outbound.sender.timeout, outbound.resolver.addresses(&outbound.policy, &target));
    let addresses = match lookup.await {
        Ok(Ok(addresses)) => addresses,
        Ok(Err(refusal)) => return Ok(refused(format!("the URL is refused: {refusal}"))),
        Err(_) => return Ok(refused("the host name did not resolve in time".into())),
    };
    let secrets = match signing_secrets(key, endpoint, now) {
        Ok(secrets) => secrets,
        // Sealed under another key (a local stack whose key was replaced): fail this attempt, and
        // let the others go on; a rotation gives the endpoint a secret that opens.
        Err(_) => return Ok(refused("the endpoint's signing secret does not open; rotate it".into())),
    };
    let timestamp = now.unix_timestamp();
    let headers = [
        ("webhook-id", delivery.id.as_str().to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature_header(&secrets, delivery.id.as_str(), timestamp, &delivery.payload)),
    ];
    Ok(outbound.sender.post(&url, addresses[0], &headers, &delivery.payload).await)
}

/// What an attempt's outcome does: delivered; or another try on the schedule (a 429's or 503's
/// `Retry-After` honoured), failed after the last; a 410, or five days failing, disables the
/// endpoint (`webhook.disabled`).
pub fn effect_of(
    delivery: &Delivery,
    endpoint: Option<&Endpoint>,
    outcome: &Outcome,
    number: u32,
    now: OffsetDateTime,
) -> AttemptEffect {
    if outcome.succeeded() {
        return AttemptEffect {
            status: DeliveryStatus::Delivered,
            next_at: None,
            success: true,
            disable: None,
            touches_endpoint: endpoint.is_some(),
        };
    }
    let Some(endpoint) = endpoint else {
        return AttemptEffect {
            status: DeliveryStatus::Failed,
            next_at: None,
            success: false,
            disable: None,
            touches_endpoint: false,
        };
    };
    let failing_for = now - endpoint.failing_since.unwrap_or(now);
    let reason = if outcome.status == Some(410) {
        Some("the endpoint answered 410 Gone".to_string())
    } else if failing_for >= DISABLE_AFTER {
        Some("no successful delivery for 5 days".to_string())
    } else {
        None
    };
    if let Some(reason) = reason {
        let change = Change::system(delivery.org_id.clone(), delivery.environment, delivery.id.as_str(), now);
        let data = json!({ "id": endpoint.id.as_str(), "url": redacted_url(&endpoint.url), "reason": reason, "disabled_at": rfc3339(now) });
        let event = change.event(delivery.environment, EventType::WebhookDisabled, data);
        let log = change.log(delivery.environment, AuditAction::WebhookDisabled, endpoint.id.as_str(), Some(event));
        return AttemptEffect {
            status: DeliveryStatus::Failed,
            next_at: None,
            success: false,
            disable: Some((reason, log)),
            touches_endpoint: true,
        };
    }
    let retry_after = outcome.retry_after.map(|s| Duration::seconds(s.min(86_400) as i64));
    match next_attempt(number, now, retry_after, rand::random::<f64>()) {
        Some(next_at) => AttemptEffect {
            status: DeliveryStatus::Pending,
            next_at: Some(next_at),
            success: false,
            disable: None,
            touches_endpoint: true,
        },
        None => AttemptEffect {
            status: DeliveryStatus::Failed,
            next_at: None,
            success: false,
            disable: None,
            touches_endpoint: true,
        },
    }
}

/// How many outbox events one dispatcher pass fans out per work shard.
pub const PASS_LIMIT: u32 = 50;
/// How many of one organization's due deliveries a round of a pass takes: every organization
/// with due work gets this many attempts a round, however large another's backlog.
pub const PER_TENANT_ROUND: u32 = 10;
/// Attempts in flight at once (each holds a connection and a request body): bounded, so a large
/// batch cannot exhaust a 128 MB function.
pub const CONCURRENCY: usize = 16;

/// How long a pass keeps starting attempts, and how many it may start. The scheduled function has
/// 60 s: an attempt started at the end of the budget still finishes within it (its lookup and
/// exchange are each bounded by the send timeout).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: std::time::Duration,
    pub attempts: usize,
}

impl Budget {
    /// The scheduled pass and the stream batches in AWS.
    pub const LAMBDA: Budget = Budget { time: std::time::Duration::from_secs(35), attempts: usize::MAX };
}

/// What one dispatcher pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub events: usize,
    pub attempts: usize,
}

/// One pass: fans out pending outbox events, then attempts due deliveries in rounds, each
/// organization's oldest first and organizations in turn, until nothing is due or the budget
/// is spent. The scheduled Lambda and the local loop run this.
pub async fn dispatch<S: WebhookStore + ?Sized>(
    store: &S,
    key: &SealingKey,
    outbound: &Outbound,
    now: OffsetDateTime,
    budget: Budget,
) -> Result<Pass, ApiError> {
    let started = std::time::Instant::now();
    let mut pass = Pass::default();
    for shard in 0..keyhive::schema::WORK_SHARDS {
        for (pk, sk) in store.pending_events(shard, PASS_LIMIT).await? {
            let Some(event) = store.get_outbox(&pk, &sk).await? else { continue };
            // One event's trouble never holds up the rest (it stays pending for the next pass).
            match fan_out(store, &event, now).await {
                Ok(_) => pass.events += 1,
                Err(err) => tracing::warn!(error = %keyhive::error::source_chain(&err), "fan-out failed"),
            }
        }
    }
    // Ids taken in an earlier round are not taken again in this pass (one another dispatcher
    // holds stays due until its lease ends); a group's next round reads past them.
    let mut seen = std::collections::HashSet::new();
    let mut seen_of: std::collections::HashMap<String, u32> = Default::default();
    // Each pass starts the walk over organizations at a random one, so that when a budget runs
    // out part-way, no organization is always the last.
    let start = keyhive::model::random_id("org", 20);
    loop {
        let left =
            Budget { time: budget.time.saturating_sub(started.elapsed()), attempts: budget.attempts - pass.attempts };
        if left.time.is_zero() || left.attempts == 0 {
            break;
        }
        let at = now + elapsed_since(started);
        let round = due_round(store, at, &start, &seen_of, started, budget.time).await?;
        let mut fresh: Vec<Vec<DeliveryId>> = Vec::new();
        for (group, ids) in round {
            let new: Vec<DeliveryId> = ids.into_iter().filter(|id| seen.insert(id.clone())).collect();
            *seen_of.entry(group).or_default() += new.len() as u32;
            if !new.is_empty() {
                fresh.push(new);
            }
        }
        if fresh.is_empty() {
            break;
        }
        let made = attempt_all(store, key, outbound, &interleave(fresh), at, left).await;
        pass.attempts += made.started;
        if made.started == 0 {
            break;
        }
    }
    Ok(pass)
}

/// Real time passed since `started`, in whole seconds (stored times are whole seconds, and sort
/// as text only so), to move a pass's clock on: a lease or a signature made late in a pass
/// carries the time it was made.
fn elapsed_since(started: std::time::Instant) -> Duration {
    Duration::seconds(i64::try_from(started.elapsed().as_secs()).unwrap_or(0))
}

/// One round's due deliveries, per group (each organization's from every shard, at most
/// `PER_TENANT_ROUND` new ones), walking the organizations from `start` round to it again, and
/// stopping early when the pass's time is up.
async fn due_round<S: WebhookStore + ?Sized>(
    store: &S,
    now: OffsetDateTime,
    start: &str,
    seen_of: &std::collections::HashMap<String, u32>,
    started: std::time::Instant,
    time: std::time::Duration,
) -> Result<Vec<(String, Vec<DeliveryId>)>, ApiError> {
    let mut by_group: std::collections::BTreeMap<String, Vec<DeliveryId>> = Default::default();
    for shard in 0..keyhive::schema::WORK_SHARDS {
        // From `start` to the end of the keys, then from the beginning up to `start`.
        for (mut after, until) in [(Some(start.to_string()), None), (None, Some(start))] {
            loop {
                if started.elapsed() >= time {
                    return Ok(by_group.into_iter().collect());
                }
                // Read past the ones this pass has taken already (say, held by another dispatcher).
                let taken_before = |group: &str| seen_of.get(group).copied().unwrap_or(0);
                let next = store.next_due_group(shard, after.as_deref(), now, PER_TENANT_ROUND).await?;
                let Some(group) = next else { break };
                if until.is_some_and(|until| group.key.as_str() >= until) {
                    break;
                }
                let ids = if group.ids.len() as u32 == PER_TENANT_ROUND && taken_before(&group.key) > 0 {
                    let wider = (PER_TENANT_ROUND + taken_before(&group.key)).min(MAX_GROUP_READ);
                    store.next_due_group(shard, after.as_deref(), now, wider).await?.map(|g| g.ids).unwrap_or_default()
                } else {
                    group.ids
                };
                by_group.entry(group.key.clone()).or_default().extend(ids);
                after = Some(group.key);
            }
        }
    }
    Ok(by_group.into_iter().collect())
}

/// The most entries one group's read takes in a round (its new ones and those taken before).
const MAX_GROUP_READ: u32 = 200;

/// Round robin: the first of each organization's, then the second of each, and so on.
pub fn interleave<T>(queues: Vec<Vec<T>>) -> Vec<T> {
    let mut iters: Vec<_> = queues.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        for iter in &mut iters {
            out.extend(iter.next());
        }
        if out.len() == before {
            return out;
        }
    }
}

/// What `attempt_all` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Attempted {
    /// Attempts started (within the budget).
    pub started: usize,
    /// Attempts made and recorded (not taken by another dispatcher meanwhile).
    pub made: usize,
}

/// Attempts deliveries in order, `CONCURRENCY` at a time (each bounded by the send timeout): one
/// slow endpoint never holds up the others, and none starts once the budget is spent (what is
/// left stays due for the next pass).
pub async fn attempt_all<S: WebhookStore + ?Sized>(
    store: &S,
    key: &SealingKey,
    outbound: &Outbound,
    ids: &[DeliveryId],
    now: OffsetDateTime,
    budget: Budget,
) -> Attempted {
    use futures_util::StreamExt;
    let started = std::time::Instant::now();
    let within = ids.iter().take(budget.attempts).take_while(|_| started.elapsed() < budget.time);
    // Each attempt at the time it starts: its lease and signature are never already stale.
    let attempts = within.map(|id| attempt(store, key, outbound, id, now + elapsed_since(started)));
    let results: Vec<_> = futures_util::stream::iter(attempts).buffer_unordered(CONCURRENCY).collect().await;
    let mut attempted = Attempted { started: results.len(), made: 0 };
    for result in results {
        match result {
            Ok(Some(_)) => attempted.made += 1,
            Ok(None) => {}
            // Its lease runs out and it is tried again.
            Err(err) => tracing::warn!(error = %keyhive::error::source_chain(&err), "a delivery attempt failed"),
        }
    }
    attempted
}
