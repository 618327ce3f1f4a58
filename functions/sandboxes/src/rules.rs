//! Sandbox rules: creation within the template's bounds and the tenant's quota, the lifecycle
//! (running -> killed or expired), and the expiry sweep. Every change is one transaction with its
//! audit entry and, for lifecycle changes, its event.

use crate::model::{template, Sandbox, SandboxId, Status, Template, MAX_TIMEOUT_SECONDS};
use crate::store::SandboxStore;
use keyhive::change::{AuditAction, Change, EventType};
use keyhive::error::ApiError;
use keyhive::model::{random_id, Tenant};
use keyhive::store::ChangeError;
use time::{Duration, OffsetDateTime};

/// How many overdue sandboxes one sweep run (or one creation short of a slot) expires at most.
pub const SWEEP_BATCH: usize = 500;

/// `timeout_seconds` within 1..86400 (400 otherwise).
pub fn check_timeout(timeout_seconds: i64) -> Result<i64, ApiError> {
    if (1..=MAX_TIMEOUT_SECONDS).contains(&timeout_seconds) {
        Ok(timeout_seconds)
    } else {
        Err(ApiError::validation("timeout_seconds", "must be 1..86400"))
    }
}

/// The template a creation names (404 on `template_id` when there is none), and the timeout it
/// allows: the request's, within the template's maximum, or the template's default.
pub fn resolve(template_id: &str, timeout_seconds: Option<i64>) -> Result<(&'static Template, i64), ApiError> {
    let template = template(template_id).ok_or_else(|| ApiError::MissingReference {
        field: "template_id",
        reason: "is not a template of the catalog (GET /v1/templates)".into(),
    })?;
    let timeout = timeout_seconds.unwrap_or(template.default_timeout_seconds);
    if timeout > template.max_timeout_seconds {
        return Err(ApiError::validation(
            "timeout_seconds",
            format!("must be at most {} for template {}", template.max_timeout_seconds, template.id),
        ));
    }
    Ok((template, timeout))
}

/// A sandbox of the caller's organization and environment; anything else is 404.
pub async fn visible<S: SandboxStore + ?Sized>(
    store: &S,
    change: &Change,
    id: &SandboxId,
) -> Result<Sandbox, ApiError> {
    match store.get_sandbox(id).await? {
        Some(sandbox) if change.tenant.owns(&sandbox.org_id, sandbox.environment) => Ok(sandbox),
        _ => Err(ApiError::NotFound("sandbox")),
    }
}

/// Creates a running sandbox. When the quota is full, sandboxes of the tenant already past their
/// deadline (not swept yet) are expired first: an expired sandbox never holds a slot.
pub async fn create<S: SandboxStore + ?Sized>(
    store: &S,
    change: &Change,
    template: &Template,
    timeout_seconds: i64,
    quota: u32,
) -> Result<Sandbox, ApiError> {
    let now = change.at;
    let sandbox = Sandbox {
        id: SandboxId::generate(),
        org_id: change.tenant.org_id.clone(),
        environment: change.tenant.environment,
        template_id: template.id.to_string(),
        status: Status::Running,
        timeout_seconds,
        created_at: now,
        expires_at: now + Duration::seconds(timeout_seconds),
        ended_at: None,
    };
    let data = sandbox.to_json(now);
    let event = change.event(sandbox.environment, EventType::SandboxCreated, data.clone());
    let log = change.creation_log(
        sandbox.environment,
        AuditAction::SandboxCreated,
        sandbox.id.as_str(),
        Some(event),
        Some(data),
    );
    match store.create_sandbox(&sandbox, quota, &log).await {
        Err(ChangeError::Quota(_)) if expire_overdue(store, Some(&change.tenant), now).await? > 0 => {
            store.create_sandbox(&sandbox, quota, &log).await?;
        }
        other => other?,
    }
    Ok(sandbox)
}

/// A running sandbox's deadline becomes now + `timeout_seconds` (within its template's maximum);
/// a killed or expired one is 409.
pub async fn extend<S: SandboxStore + ?Sized>(
    store: &S,
    change: &Change,
    id: &SandboxId,
    timeout_seconds: i64,
) -> Result<Sandbox, ApiError> {
    let now = change.at;
    let mut sandbox = visible(store, change, id).await?;
    let status = sandbox.status_at(now);
    if status != Status::Running {
        return Err(ApiError::Conflict(format!(
            "the sandbox is {}; only a running sandbox can be extended",
            status.as_str()
        )));
    }
    let (_, timeout) = resolve(&sandbox.template_id, Some(timeout_seconds))?;
    let expires_at = now + Duration::seconds(timeout);
    let log = change.log(sandbox.environment, AuditAction::SandboxTimeoutChanged, sandbox.id.as_str(), None);
    match store.extend_sandbox(&sandbox, timeout, expires_at, now, &log).await {
        Err(ChangeError::Stale) => {
            return Err(ApiError::Conflict("the sandbox ended while this request ran".into()));
        }
        other => other?,
    }
    sandbox.timeout_seconds = timeout;
    sandbox.expires_at = expires_at;
    Ok(sandbox)
}

/// Kills a running sandbox. Idempotent: a sandbox that has ended already (killed, or past its
/// deadline) is answered as it is, and nothing is written.
pub async fn kill<S: SandboxStore + ?Sized>(store: &S, change: &Change, id: &SandboxId) -> Result<Sandbox, ApiError> {
    let now = change.at;
    let sandbox = visible(store, change, id).await?;
    if sandbox.status_at(now) != Status::Running {
        return Ok(sandbox);
    }
    let event =
        change.event(sandbox.environment, EventType::SandboxKilled, serde_json::json!({ "id": sandbox.id.as_str() }));
    let log = change.log(sandbox.environment, AuditAction::SandboxKilled, sandbox.id.as_str(), Some(event));
    if store.end_sandbox(&sandbox, Status::Killed, now, &log).await? {
        Ok(Sandbox { status: Status::Killed, ended_at: Some(now), ..sandbox })
    } else {
        // Killed or expired by someone else meanwhile: answer the state it is in.
        visible(store, change, id).await
    }
}

/// Expires running sandboxes past their deadline (of one tenant, or of all): each in its own
/// transaction with `sandbox.expired` and an audit entry no key made. Returns how many it ended.
pub async fn expire_overdue<S: SandboxStore + ?Sized>(
    store: &S,
    tenant: Option<&Tenant>,
    now: OffsetDateTime,
) -> Result<usize, ApiError> {
    let request_id = random_id("sweep", 16);
    let mut ended = 0;
    for id in store.overdue(tenant, now, SWEEP_BATCH).await? {
        let Some(sandbox) = store.get_sandbox(&id).await? else { continue };
        let change = Change::system(sandbox.org_id.clone(), sandbox.environment, &request_id, now);
        let data =
            serde_json::json!({ "id": sandbox.id.as_str(), "expires_at": keyhive::model::rfc3339(sandbox.expires_at) });
        let event = change.event(sandbox.environment, EventType::SandboxExpired, data);
        let log = change.log(sandbox.environment, AuditAction::SandboxExpired, sandbox.id.as_str(), Some(event));
        if store.end_sandbox(&sandbox, Status::Expired, now, &log).await? {
            ended += 1;
        }
    }
    Ok(ended)
}
