//! Key and member management: the rules (tenant scope, no escalation) and the operations, each
//! one transaction with its audit entry and outbox event. Functions adapt HTTP to these.

use crate::auth::Identity;
use crate::error::ApiError;
use crate::idempotency::{Claim, IdempotencyRecord};
use crate::keys::{Credential, Environment, KeyId, KeyType, SecretHash, Tier};
use crate::model::{rfc3339, AuditEntry, ChangeLog, KeyRecord, Member, OrgId, OutboxEvent, UserId};
use crate::permissions::Permissions;
use crate::secrets::HashingSecret;
use crate::store::{KeyChange, KeyStore, OrgStore, Page};
use serde_json::json;
use time::OffsetDateTime;

/// The longest grace a roll may leave the old secret (7 days).
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;

/// What a caller asks for when creating a key (already validated field by field).
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub key_type: KeyType,
    pub user_id: Option<UserId>,
    pub permissions: Permissions,
    pub environment: Option<Environment>,
    pub expires_at: Option<OffsetDateTime>,
    pub tier: Tier,
}

/// Settings a PATCH may replace; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub permissions: Option<Permissions>,
    /// `Some(None)` clears the expiry.
    pub expires_at: Option<Option<OffsetDateTime>>,
    pub tier: Option<Tier>,
}

/// Everything the operations need besides their own input.
pub struct Ctx<'a, S> {
    pub store: &'a S,
    pub actor: &'a Identity,
    pub request_id: &'a str,
    pub now: OffsetDateTime,
    /// The request's `Idempotency-Key`, when it is a creation that carries one.
    pub idempotency: Option<&'a Claim>,
}

impl<S> Ctx<'_, S> {
    fn log(&self, action: &'static str, target_id: &str, event: Option<OutboxEvent>) -> ChangeLog {
        ChangeLog {
            audit: AuditEntry {
                org_id: self.actor.org_id.clone(),
                at: self.now,
                request_id: self.request_id.to_string(),
                actor_key_id: Some(self.actor.key_id.clone()),
                actor_user_id: self.actor.user_id.clone(),
                action,
                target_id: target_id.to_string(),
            },
            event,
            idempotency: None,
        }
    }

    /// The log of a creation: with the request's `Idempotency-Key` record, when it has one.
    /// `data` is what a replay answers (`None` when the response reveals a secret).
    fn creation_log(
        &self,
        action: &'static str,
        target_id: &str,
        event: Option<OutboxEvent>,
        data: Option<serde_json::Value>,
    ) -> ChangeLog {
        let mut log = self.log(action, target_id, event);
        log.idempotency = self.idempotency.map(|claim| {
            IdempotencyRecord::new(
                self.actor.org_id.clone(),
                self.actor.environment,
                claim,
                201,
                data,
                target_id,
                self.now,
            )
        });
        log
    }

    fn event(&self, environment: Environment, event_type: &'static str, data: serde_json::Value) -> OutboxEvent {
        OutboxEvent::new(self.actor.org_id.clone(), environment, event_type, self.now, data)
    }
}

fn not_a_member() -> ApiError {
    ApiError::MissingReference { field: "user_id", reason: "is not a member of this organization".into() }
}

/// A key's expiry, when it has one, must lie ahead.
fn check_expiry(expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Result<(), ApiError> {
    match expires_at {
        Some(at) if at <= now => Err(ApiError::validation("expires_at", "must be in the future")),
        _ => Ok(()),
    }
}

/// A `test` key sees only `test` keys; a `live` key sees both environments of its organization.
pub fn can_see(actor: &Identity, environment: Environment) -> bool {
    actor.environment == Environment::Live || environment == actor.environment
}

/// No escalation: what a key grants must be within what it holds, in permissions, environment
/// and rate limit.
pub fn check_grant(
    actor: &Identity,
    permissions: &Permissions,
    environment: Environment,
    tier: Tier,
) -> Result<(), ApiError> {
    if !permissions.is_subset_of(&actor.permissions) {
        return Err(ApiError::Escalation {
            message: "a key cannot grant permissions it does not hold",
            missing: permissions.missing_from(&actor.permissions),
        });
    }
    if !can_see(actor, environment) {
        return Err(ApiError::Escalation { message: "a test key cannot create or manage live keys", missing: vec![] });
    }
    if tier.limit_per_minute() > actor.rate.limit {
        return Err(ApiError::Escalation {
            message: "a key cannot grant a higher rate limit than its own",
            missing: vec![],
        });
    }
    Ok(())
}

/// A key the caller may manage: its organization's, visible to its environment, not revoked,
/// and no more powerful than the caller. Anything else is 404 (or 403 for the last).
async fn managed_key<S: KeyStore>(ctx: &Ctx<'_, S>, key_id: &KeyId) -> Result<KeyRecord, ApiError> {
    let record = visible_key(ctx.store, ctx.actor, key_id).await?;
    if !record.permissions.is_subset_of(&ctx.actor.permissions) {
        return Err(ApiError::Escalation {
            message: "a key cannot manage a key with permissions it does not hold",
            missing: record.permissions.missing_from(&ctx.actor.permissions),
        });
    }
    Ok(record)
}

/// A key of the caller's organization and visible environment; other organizations' keys are
/// indistinguishable from missing ones.
pub async fn visible_key<S: KeyStore + ?Sized>(
    store: &S,
    actor: &Identity,
    key_id: &KeyId,
) -> Result<KeyRecord, ApiError> {
    match store.get_key(key_id).await? {
        Some(r) if r.org_id == actor.org_id && r.revoked_at.is_none() && can_see(actor, r.environment) => Ok(r),
        _ => Err(ApiError::NotFound),
    }
}

pub async fn list_keys<S: KeyStore>(
    store: &S,
    actor: &Identity,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<KeyRecord>, ApiError> {
    let mut page = store.list_keys(&actor.org_id, cursor, limit).await?;
    page.items.retain(|k| k.revoked_at.is_none() && can_see(actor, k.environment));
    Ok(page)
}

/// Creates a key and returns it with its credential (shown to the caller once).
pub async fn create_key<S: KeyStore + OrgStore>(
    ctx: &Ctx<'_, S>,
    prefix: &str,
    secret: &HashingSecret,
    new: NewKey,
) -> Result<(KeyRecord, Credential), ApiError> {
    // The body's own rules (400) before those that depend on the caller and stored state (403, ...).
    check_expiry(new.expires_at, ctx.now)?;
    match (new.key_type, &new.user_id) {
        (KeyType::User, None) => return Err(ApiError::validation("user_id", "is required for a user key")),
        (KeyType::Bot, Some(_)) => return Err(ApiError::validation("user_id", "is only allowed for a user key")),
        _ => {}
    }
    let environment = new.environment.unwrap_or(ctx.actor.environment);
    check_grant(ctx.actor, &new.permissions, environment, new.tier)?;
    let owner_name = match &new.user_id {
        Some(user) => {
            let member = ctx.store.get_member(&ctx.actor.org_id, user).await?.ok_or_else(not_a_member)?;
            Some(member.name)
        }
        None => None,
    };
    let credential = Credential::mint(prefix, environment, KeyId::generate());
    let record = KeyRecord {
        key_id: credential.key_id.clone(),
        org_id: ctx.actor.org_id.clone(),
        environment,
        key_type: new.key_type,
        user_id: new.user_id,
        owner_name,
        name: new.name,
        permissions: new.permissions,
        tier: new.tier,
        secret_hash: credential.hash(secret),
        previous: None,
        last4: credential.last4(),
        created_at: ctx.now,
        last_used_at: None,
        expires_at: new.expires_at,
        revoked_at: None,
    };
    let event = ctx.event(environment, "key.created", record.to_json());
    // A replay of this creation could not show the key again: nothing to keep but the id.
    ctx.store.create_key(&record, &ctx.creation_log("key.created", record.key_id.as_str(), Some(event), None)).await?;
    Ok((record, credential))
}

pub async fn update_key<S: KeyStore>(ctx: &Ctx<'_, S>, key_id: &KeyId, patch: KeyPatch) -> Result<KeyRecord, ApiError> {
    if let Some(expires_at) = patch.expires_at {
        check_expiry(expires_at, ctx.now)?;
    }
    let current = managed_key(ctx, key_id).await?;
    let mut next = current.clone();
    if let Some(name) = patch.name {
        next.name = name;
    }
    if let Some(permissions) = patch.permissions {
        next.permissions = permissions;
    }
    if let Some(tier) = patch.tier {
        next.tier = tier;
    }
    if let Some(expires_at) = patch.expires_at {
        next.expires_at = expires_at;
    }
    check_grant(ctx.actor, &next.permissions, next.environment, next.tier)?;
    let change = KeyChange::Settings {
        name: next.name.clone(),
        permissions: next.permissions.clone(),
        tier: next.tier,
        expires_at: next.expires_at,
    };
    let event = ctx.event(next.environment, "key.updated", next.to_json());
    ctx.store.change_key(&current, &change, &ctx.log("key.updated", key_id.as_str(), Some(event))).await?;
    Ok(next)
}

pub async fn revoke_key<S: KeyStore>(ctx: &Ctx<'_, S>, key_id: &KeyId) -> Result<serde_json::Value, ApiError> {
    let current = managed_key(ctx, key_id).await?;
    let data = json!({ "id": key_id.as_str(), "revoked_at": rfc3339(ctx.now) });
    let event = ctx.event(current.environment, "key.revoked", data.clone());
    ctx.store
        .change_key(&current, &KeyChange::Revoke { at: ctx.now }, &ctx.log("key.revoked", key_id.as_str(), Some(event)))
        .await?;
    Ok(data)
}

/// `grace_seconds` of a roll: 0..=7 days.
pub fn check_grace(grace_seconds: i64) -> Result<(), ApiError> {
    if (0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
        Ok(())
    } else {
        Err(ApiError::validation("grace_seconds", "must be 0..604800"))
    }
}

/// A new secret for the same key; the old one stays valid for `grace_seconds` (0 = none).
pub async fn roll_key<S: KeyStore>(
    ctx: &Ctx<'_, S>,
    prefix: &str,
    secret: &HashingSecret,
    key_id: &KeyId,
    grace_seconds: i64,
) -> Result<(KeyRecord, Credential, Option<OffsetDateTime>), ApiError> {
    check_grace(grace_seconds)?;
    let current = managed_key(ctx, key_id).await?;
    let credential = Credential::mint(prefix, current.environment, current.key_id.clone());
    let old_valid_until = (grace_seconds > 0).then(|| ctx.now + time::Duration::seconds(grace_seconds));
    let previous: Option<(SecretHash, i64)> =
        old_valid_until.map(|t| (current.secret_hash.clone(), t.unix_timestamp()));
    let mut next = current.clone();
    next.secret_hash = credential.hash(secret);
    next.last4 = credential.last4();
    next.previous = previous.clone();
    let change = KeyChange::Roll { secret_hash: next.secret_hash.clone(), last4: next.last4.clone(), previous };
    let mut data = next.to_json();
    data["old_secret_valid_until"] = json!(old_valid_until.map(rfc3339));
    let event = ctx.event(next.environment, "key.rolled", data);
    ctx.store.change_key(&current, &change, &ctx.log("key.rolled", key_id.as_str(), Some(event))).await?;
    Ok((next, credential, old_valid_until))
}

pub async fn create_member<S: OrgStore>(
    ctx: &Ctx<'_, S>,
    user_id: Option<UserId>,
    name: String,
    email: String,
) -> Result<Member, ApiError> {
    let member = Member {
        org_id: ctx.actor.org_id.clone(),
        user_id: user_id.unwrap_or_else(UserId::generate),
        name,
        email,
        created_at: ctx.now,
    };
    let log = ctx.creation_log("member.created", member.user_id.as_str(), None, Some(member.to_json()));
    ctx.store.create_member(&member, &log).await?;
    Ok(member)
}

/// Removes a member and, in the same transaction, their user key.
pub async fn remove_member<S: OrgStore>(ctx: &Ctx<'_, S>, user_id: &UserId) -> Result<serde_json::Value, ApiError> {
    let member = ctx.store.get_member(&ctx.actor.org_id, user_id).await?.ok_or(ApiError::NotFound)?;
    let data = json!({ "user_id": user_id.as_str() });
    // The event goes to the remover's environment; members belong to the whole organization.
    let event = ctx.event(ctx.actor.environment, "member.removed", data);
    let removed_key =
        ctx.store.remove_member(&member, &ctx.log("member.removed", user_id.as_str(), Some(event))).await?;
    Ok(json!({ "user_id": user_id.as_str(), "removed_key_id": removed_key.as_ref().map(KeyId::as_str) }))
}

/// The operator's bootstrap: a new organization and its first admin bot key (every permission).
pub async fn bootstrap_org<S: OrgStore>(
    store: &S,
    prefix: &str,
    secret: &HashingSecret,
    org_name: &str,
    environment: Environment,
    tier: Tier,
) -> Result<(OrgId, KeyRecord, Credential), ApiError> {
    let now = crate::model::now();
    let org = crate::model::Organization { org_id: OrgId::generate(), name: org_name.to_string(), created_at: now };
    let credential = Credential::mint(prefix, environment, KeyId::generate());
    let record = KeyRecord {
        key_id: credential.key_id.clone(),
        org_id: org.org_id.clone(),
        environment,
        key_type: KeyType::Bot,
        user_id: None,
        owner_name: None,
        name: "admin (bootstrap)".into(),
        permissions: Permissions::all(),
        tier,
        secret_hash: credential.hash(secret),
        previous: None,
        last4: credential.last4(),
        created_at: now,
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
    };
    let log = ChangeLog {
        audit: AuditEntry {
            org_id: org.org_id.clone(),
            at: now,
            request_id: crate::model::random_id("boot", 20),
            actor_key_id: None,
            actor_user_id: None,
            action: "org.bootstrapped",
            target_id: record.key_id.to_string(),
        },
        event: None,
        idempotency: None,
    };
    store.create_org(&org, &record, &log).await?;
    Ok((org.org_id, record, credential))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::RateStatus;
    use serde_json::json;

    fn actor(env: Environment, perms: serde_json::Value, limit: u32) -> Identity {
        Identity {
            org_id: OrgId::parse("org_a").unwrap(),
            key_id: KeyId::parse("AAAAAAAAAAAA").unwrap(),
            environment: env,
            key_type: KeyType::Bot,
            user_id: None,
            permissions: Permissions::from_json("p", &perms).unwrap(),
            rate: RateStatus { limit, remaining: limit, reset: 0 },
        }
    }

    #[test]
    fn grants_within_the_actors_own_permissions_pass() {
        let a = actor(Environment::Live, json!({"apiKeys": ["create", "read"], "sandboxes": ["read"]}), 500);
        let p = Permissions::from_json("p", &json!({"sandboxes": ["read"]})).unwrap();
        assert!(check_grant(&a, &p, Environment::Live, Tier::Standard).is_ok());
        assert!(check_grant(&a, &p, Environment::Test, Tier::Professional).is_ok());
    }

    #[test]
    fn escalation_in_permissions_environment_or_limit_is_403() {
        let a = actor(Environment::Test, json!({"apiKeys": ["create"]}), 100);
        let more = Permissions::from_json("p", &json!({"apiKeys": ["create", "delete"]})).unwrap();
        let err = check_grant(&a, &more, Environment::Test, Tier::Standard).unwrap_err();
        assert!(matches!(&err, ApiError::Escalation { missing, .. } if missing == &vec!["apiKeys:delete".to_string()]));
        assert_eq!(err.status_and_code().1, "FORBIDDEN");
        let same = Permissions::from_json("p", &json!({"apiKeys": ["create"]})).unwrap();
        assert!(check_grant(&a, &same, Environment::Live, Tier::Standard).is_err(), "test key minting a live key");
        assert!(check_grant(&a, &same, Environment::Test, Tier::Professional).is_err(), "higher rate limit");
        assert!(check_grant(&a, &same, Environment::Test, Tier::Standard).is_ok());
    }

    #[test]
    fn test_keys_see_only_test_and_live_keys_see_both() {
        let t = actor(Environment::Test, json!({}), 100);
        let l = actor(Environment::Live, json!({}), 100);
        assert!(can_see(&t, Environment::Test) && !can_see(&t, Environment::Live));
        assert!(can_see(&l, Environment::Test) && can_see(&l, Environment::Live));
    }
}
