//! Key and member management: the rules (tenant scope, no escalation on any axis) and the
//! operations, each one transaction with its audit entries and outbox events, over the typed
//! values `input` reads from a request.

use crate::model::{key_json, KeyMeta, Member};
use crate::store::{KeyAdminStore, KeyChange, KeyFilter, MemberStore};
use keyhive::auth::permissions::{permission_name, Action, Permissions, Resource};
use keyhive::auth::secrets::HashingSecret;
use keyhive::auth::{CreatedBy, KeyRecord};
use keyhive::auth::{Credential, Environment, Identity, KeyId, KeyType, SecretHash, Tier};
use keyhive::change::idempotency::Claim;
use keyhive::change::{AuditAction, Change, EventType};
use keyhive::error::{ApiError, Axis};
use keyhive::model::{rfc3339, UserId};
use keyhive::store::{ChangeError, Page};
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
    pub meta: KeyMeta,
}

/// Settings a PATCH may replace; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub permissions: Option<Permissions>,
    /// `Some(None)` clears the expiry.
    pub expires_at: Option<Option<OffsetDateTime>>,
    /// `tier` and `rate_limit_per_minute` as sent; either alone is read against the stored tier.
    pub tier: Option<String>,
    pub rate_limit_per_minute: Option<i64>,
    /// `false` switches the key off until `true` switches it on again.
    pub enabled: Option<bool>,
    /// Replaces the key's `meta` (`{}` or `null` clears it).
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    /// `Some(None)` clears the external id.
    pub external_id: Option<Option<String>>,
}

/// Everything the operations need besides their own input.
pub struct Ctx<'a, S> {
    pub store: &'a S,
    pub actor: &'a Identity,
    pub request_id: &'a str,
    pub now: OffsetDateTime,
    /// The request's `Idempotency-Key`, when it is a creation that carries one.
    pub idempotency: Option<&'a Claim>,
    /// Unrevoked keys the organization may hold (`Limits::keys`).
    pub max_keys: u32,
}

impl<S> Ctx<'_, S> {
    /// The kernel's view of this change, which builds its log.
    fn change(&self) -> Change {
        Change::by(self.actor, self.request_id, self.now).with_claim(self.idempotency.cloned())
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

/// A key's power on every axis the no-escalation rule compares.
#[derive(Debug, Clone, Copy)]
pub struct Power<'a> {
    pub permissions: &'a Permissions,
    pub environment: Environment,
    pub rate_limit: u32,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
}

impl<'a> Power<'a> {
    pub fn of_key(record: &'a KeyRecord) -> Self {
        Power {
            permissions: &record.permissions,
            environment: record.environment,
            rate_limit: record.tier.limit_per_minute(),
            expires_at: record.expires_at.map(OffsetDateTime::unix_timestamp),
        }
    }
}

/// No escalation, on any axis: `actor` may create, become or manage a key of `power` only if it
/// holds every permission of it, sees its environment, has a rate limit at least as high and
/// expires no earlier. The refusal names the first axis it lacks.
pub fn check_within(actor: &Identity, power: &Power<'_>) -> Result<(), ApiError> {
    if !power.permissions.is_subset_of(&actor.permissions) {
        return Err(ApiError::Escalation {
            axis: Axis::Permissions,
            message: "a key cannot give or manage permissions it does not hold",
            permissions: power.permissions.missing_from(&actor.permissions),
        });
    }
    if !can_see(actor, power.environment) {
        return Err(ApiError::escalation(Axis::Environment, "a test key cannot create or manage live keys"));
    }
    if power.rate_limit > actor.rate.limit {
        return Err(ApiError::escalation(
            Axis::RateLimit,
            "a key cannot give or manage a higher rate limit than its own",
        ));
    }
    let outlives = match (actor.expires_at, power.expires_at) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(own), Some(other)) => other > own,
    };
    if outlives {
        return Err(ApiError::escalation(Axis::ExpiresAt, "a key cannot give or manage an expiry later than its own"));
    }
    Ok(())
}

/// Members belong to the organization, not to an environment: only live keys add or remove
/// them, or give them a user key.
fn check_live(actor: &Identity, message: &'static str) -> Result<(), ApiError> {
    match actor.environment {
        Environment::Live => Ok(()),
        Environment::Test => Err(ApiError::escalation(Axis::Environment, message)),
    }
}

/// A key the caller may manage: its organization's and visible to its environment (else 404),
/// not the caller's own key reached through a rolled-out secret, and within the caller's power
/// on every axis (else 403).
async fn managed_key<S: KeyAdminStore>(ctx: &Ctx<'_, S>, key_id: &KeyId) -> Result<KeyRecord, ApiError> {
    let record = visible_key(ctx.store, ctx.actor, key_id).await?;
    check_may_manage(ctx.actor, &record)?;
    Ok(record)
}

/// Whether `actor` may roll, revoke or change `key` (or remove the member it belongs to): not
/// through the rolled-out secret of that very key, and only within the actor's power.
fn check_may_manage(actor: &Identity, key: &KeyRecord) -> Result<(), ApiError> {
    if key.key_id == actor.key_id && actor.rolled_out_secret {
        return Err(ApiError::escalation(Axis::Secret, "a rolled-out secret cannot roll, revoke or change its key"));
    }
    check_within(actor, &Power::of_key(key))
}

/// A user key acts (and is audited) as its member: whoever rolls another member's user key (and
/// so receives a credential that acts as them) or changes it is managing that member, and needs
/// `members:create`, as creating that key would. Revoking needs no more than `apiKeys:delete`:
/// it hands nothing over, and a key administrator must be able to stop a leaked key at once.
fn check_may_act_for(actor: &Identity, key: &KeyRecord) -> Result<(), ApiError> {
    let someone_else = key.key_type == KeyType::User && key.user_id.is_some() && key.user_id != actor.user_id;
    if someone_else && !actor.permissions.allows(Resource::Members, Action::Create) {
        return Err(ApiError::Escalation {
            axis: Axis::Permissions,
            message: "rolling or changing another member's user key needs members:create",
            permissions: vec![permission_name(Resource::Members, Action::Create)],
        });
    }
    Ok(())
}

/// A key of the caller's organization and visible environment; other organizations' keys are
/// indistinguishable from missing ones.
pub async fn visible_key<S: keyhive::auth::KeyStore + ?Sized>(
    store: &S,
    actor: &Identity,
    key_id: &KeyId,
) -> Result<KeyRecord, ApiError> {
    visible(actor, store.get_key(key_id).await?)
}

fn visible(actor: &Identity, key: Option<KeyRecord>) -> Result<KeyRecord, ApiError> {
    match key {
        Some(r) if r.org_id == actor.org_id && r.revoked_at.is_none() && can_see(actor, r.environment) => Ok(r),
        _ => Err(ApiError::NotFound("key")),
    }
}

/// `visible_key`, with the key's metadata (one read).
pub async fn visible_key_with_meta<S: KeyAdminStore>(
    store: &S,
    actor: &Identity,
    key_id: &KeyId,
) -> Result<(KeyRecord, KeyMeta), ApiError> {
    let (key, meta) = store.get_key_with_meta(key_id).await?;
    Ok((visible(actor, key)?, meta))
}

/// The caller's view of its organization's keys: a test key lists test keys only (filtered in the
/// query, so pages stay full), optionally only those `created_by` a key or user id, or with an
/// external id.
pub async fn list_keys<S: KeyAdminStore>(
    store: &S,
    actor: &Identity,
    created_by: Option<String>,
    external_id: Option<String>,
    start: Option<&keyhive::store::cursor::Position>,
    limit: u32,
) -> Result<Page<(KeyRecord, KeyMeta)>, ApiError> {
    let filter = KeyFilter {
        environment: (actor.environment == Environment::Test).then_some(Environment::Test),
        created_by,
        external_id,
    };
    Ok(store.list_keys(&actor.org_id, &filter, start, limit).await?)
}

/// Every key of the caller's organization in the caller's environment (at most the deployment's
/// key ceiling), read a page at a time.
pub async fn keys_of_environment<S: KeyAdminStore>(store: &S, actor: &Identity) -> Result<Vec<KeyRecord>, ApiError> {
    let filter = KeyFilter { environment: Some(actor.environment), created_by: None, external_id: None };
    let mut keys = Vec::new();
    let mut start = None;
    loop {
        let page = store.list_keys(&actor.org_id, &filter, start.as_ref(), 100).await?;
        keys.extend(page.items.into_iter().map(|(record, _)| record));
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(keys),
        }
    }
}

/// The body's own rules for a new key (400), before anything that depends on the caller.
pub fn check_new_key(new: &NewKey, now: OffsetDateTime) -> Result<(), ApiError> {
    check_expiry(new.expires_at, now)?;
    match (new.key_type, &new.user_id) {
        (KeyType::User, None) => Err(ApiError::validation("user_id", "is required for a user key")),
        (KeyType::Bot, Some(_)) => Err(ApiError::validation("user_id", "is only allowed for a user key")),
        _ => Ok(()),
    }
}

/// Whether the caller may create `new` (403), from what it holds alone.
pub fn check_may_create(actor: &Identity, new: &NewKey) -> Result<(), ApiError> {
    let environment = new.environment.unwrap_or(actor.environment);
    check_within(
        actor,
        &Power {
            permissions: &new.permissions,
            environment,
            rate_limit: new.tier.limit_per_minute(),
            expires_at: new.expires_at.map(OffsetDateTime::unix_timestamp),
        },
    )?;
    if new.key_type == KeyType::User {
        check_live(actor, "only live keys create user keys: members belong to the organization")?;
        // A user key acts (and is audited) as its member: making one for another member is
        // member management, not key management.
        let for_someone_else = new.user_id.is_some() && new.user_id != actor.user_id;
        if for_someone_else && !actor.permissions.allows(Resource::Members, Action::Create) {
            return Err(ApiError::Escalation {
                axis: Axis::Permissions,
                message: "a user key for another member needs members:create",
                permissions: vec![permission_name(Resource::Members, Action::Create)],
            });
        }
    }
    Ok(())
}

/// Creates a key and returns it with its credential (shown to the caller once).
pub async fn create_key<S: KeyAdminStore + MemberStore>(
    ctx: &Ctx<'_, S>,
    prefix: &str,
    secret: &HashingSecret,
    new: NewKey,
) -> Result<(KeyRecord, KeyMeta, Credential), ApiError> {
    // The body's own rules (400) before those that depend on the caller and stored state (403, ...).
    check_new_key(&new, ctx.now)?;
    check_may_create(ctx.actor, &new)?;
    let environment = new.environment.unwrap_or(ctx.actor.environment);
    let member = match &new.user_id {
        Some(user) => Some(ctx.store.get_member(&ctx.actor.org_id, user).await?.ok_or_else(not_a_member)?),
        None => None,
    };
    let owner_name = member.as_ref().map(|m| m.name.clone());
    let credential = Credential::mint(prefix, environment, KeyId::generate());
    let record = KeyRecord {
        key_id: credential.key_id.clone(),
        org_id: ctx.actor.org_id.clone(),
        environment,
        key_type: new.key_type,
        user_id: new.user_id,
        owner_name,
        name: new.name.clone(),
        permissions: new.permissions.clone(),
        tier: new.tier,
        secret_hash: credential.hash(secret),
        previous: None,
        last4: credential.last4(),
        created_at: ctx.now,
        last_used_at: None,
        expires_at: new.expires_at,
        revoked_at: None,
        disabled_at: None,
        created_by: CreatedBy::Key { key_id: ctx.actor.key_id.clone(), user_id: ctx.actor.user_id.clone() },
    };
    let by = ctx.change();
    let event = by.event(environment, EventType::KeyCreated, key_json(&record, &new.meta));
    // A replay of this creation could not show the key again: nothing to keep but the id.
    let log = by.creation_log(environment, AuditAction::KeyCreated, record.key_id.as_str(), Some(event), None);
    match (ctx.store.create_key(&record, &new.meta, ctx.max_keys, &log).await, &member) {
        (Ok(()), _) => Ok((record, new.meta, credential)),
        // The member's one user key exists: name it, so the caller can roll or revoke it, but
        // only to a caller that could read and manage that key anyway.
        (Err(ChangeError::Claimed(message)), Some(member)) => {
            let existing = match ctx.store.user_key_of(member).await? {
                Some(id) if ctx.actor.permissions.allows(Resource::ApiKeys, Action::Read) => {
                    visible_key(ctx.store, ctx.actor, &id).await.ok().filter(|k| check_may_manage(ctx.actor, k).is_ok())
                }
                _ => None,
            };
            Err(match existing {
                Some(key) => ApiError::ConflictWith { message, id: key.key_id.as_str().to_string() },
                None => ApiError::Conflict(message),
            })
        }
        (Err(err), _) => Err(err.into()),
    }
}

pub async fn update_key<S: KeyAdminStore>(
    ctx: &Ctx<'_, S>,
    key_id: &KeyId,
    patch: KeyPatch,
) -> Result<(KeyRecord, KeyMeta), ApiError> {
    if let Some(expires_at) = patch.expires_at {
        check_expiry(expires_at, ctx.now)?;
    }
    let (current, current_meta) = visible_key_with_meta(ctx.store, ctx.actor, key_id).await?;
    check_may_manage(ctx.actor, &current)?;
    check_may_act_for(ctx.actor, &current)?;
    let meta_changes = patch.meta.is_some() || patch.external_id.is_some();
    let mut next_meta = current_meta;
    if let Some(meta) = patch.meta {
        next_meta.meta = meta;
    }
    if let Some(external_id) = patch.external_id {
        next_meta.external_id = external_id;
    }
    let mut next = current.clone();
    if let Some(name) = patch.name {
        next.name = name;
    }
    if let Some(permissions) = patch.permissions {
        next.permissions = permissions;
    }
    if patch.tier.is_some() || patch.rate_limit_per_minute.is_some() {
        // Either field alone is read against the stored tier: `rate_limit_per_minute` on an
        // enterprise key needs no `tier`, and `tier: enterprise` keeps the stored limit.
        let name = patch.tier.as_deref().unwrap_or(current.tier.name());
        let limit = match (patch.rate_limit_per_minute, current.tier) {
            (Some(limit), _) => Some(limit),
            (None, Tier::Enterprise(stored)) if name == "enterprise" => Some(i64::from(stored)),
            (None, _) => None,
        };
        next.tier = Tier::from_parts(name, limit)?;
    }
    if let Some(expires_at) = patch.expires_at {
        next.expires_at = expires_at;
    }
    match patch.enabled {
        Some(false) if next.disabled_at.is_none() => next.disabled_at = Some(ctx.now),
        Some(true) => next.disabled_at = None,
        _ => {}
    }
    // The key as it will be must stay within the caller's power, too.
    check_within(ctx.actor, &Power::of_key(&next))?;
    let change = KeyChange::Settings {
        name: next.name.clone(),
        permissions: next.permissions.clone(),
        tier: next.tier,
        expires_at: next.expires_at,
        disabled_at: next.disabled_at,
        meta: meta_changes.then(|| next_meta.clone()),
    };
    let by = ctx.change();
    let event = by.event(next.environment, EventType::KeyUpdated, key_json(&next, &next_meta));
    let log = by.log(next.environment, AuditAction::KeyUpdated, key_id.as_str(), Some(event));
    ctx.store.change_key(&current, &change, &log).await?;
    Ok((next, next_meta))
}

pub async fn revoke_key<S: KeyAdminStore>(ctx: &Ctx<'_, S>, key_id: &KeyId) -> Result<serde_json::Value, ApiError> {
    let current = managed_key(ctx, key_id).await?;
    let data = json!({ "id": key_id.as_str(), "revoked_at": rfc3339(ctx.now) });
    let by = ctx.change();
    let event = by.event(current.environment, EventType::KeyRevoked, data.clone());
    let log = by.log(current.environment, AuditAction::KeyRevoked, key_id.as_str(), Some(event));
    ctx.store.change_key(&current, &KeyChange::Revoke { at: ctx.now, leaked: None }, &log).await?;
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
pub async fn roll_key<S: KeyAdminStore>(
    ctx: &Ctx<'_, S>,
    prefix: &str,
    secret: &HashingSecret,
    key_id: &KeyId,
    grace_seconds: i64,
) -> Result<(KeyRecord, Credential, Option<OffsetDateTime>), ApiError> {
    check_grace(grace_seconds)?;
    let current = managed_key(ctx, key_id).await?;
    check_may_act_for(ctx.actor, &current)?;
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
    let by = ctx.change();
    let event = by.event(next.environment, EventType::KeyRolled, data);
    let log = by.log(next.environment, AuditAction::KeyRolled, key_id.as_str(), Some(event));
    ctx.store.change_key(&current, &change, &log).await?;
    Ok((next, credential, old_valid_until))
}

pub async fn create_member<S: MemberStore>(
    ctx: &Ctx<'_, S>,
    user_id: Option<UserId>,
    name: String,
    email: String,
) -> Result<Member, ApiError> {
    check_live(ctx.actor, "only live keys add members: members belong to the organization")?;
    let member = Member {
        org_id: ctx.actor.org_id.clone(),
        user_id: user_id.unwrap_or_else(UserId::generate),
        name,
        email,
        created_at: ctx.now,
    };
    let log = ctx.change().creation_log(
        Environment::Live,
        AuditAction::MemberCreated,
        member.user_id.as_str(),
        None,
        Some(member.to_json()),
    );
    ctx.store.create_member(&member, &log).await?;
    Ok(member)
}

/// Removes a member and, in the same transaction, their user key: `member.removed` and, for the
/// key, `key.revoked`, each in the outbox and audit trail of the environment it belongs to.
pub async fn remove_member<S: MemberStore + KeyAdminStore>(
    ctx: &Ctx<'_, S>,
    user_id: &UserId,
) -> Result<serde_json::Value, ApiError> {
    check_live(ctx.actor, "only live keys remove members: members belong to the organization")?;
    // A user key created between the read and the transaction fails the transaction's
    // condition; reading again then sees it, so a short retry ends in a consistent removal.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let member = ctx.store.get_member(&ctx.actor.org_id, user_id).await?.ok_or(ApiError::NotFound("member"))?;
        let user_key = match ctx.store.user_key_of(&member).await? {
            Some(key_id) => ctx.store.get_key(&key_id).await?.filter(|k| k.org_id == member.org_id),
            None => None,
        };
        if let Some(key) = &user_key {
            // Removing a member revokes their key: the caller must be able to revoke that key.
            check_may_manage(ctx.actor, key)?;
        }
        let data = json!({ "user_id": user_id.as_str() });
        let by = ctx.change();
        let mut log = by.log(Environment::Live, AuditAction::MemberRemoved, user_id.as_str(), None);
        log.events.push(by.event(Environment::Live, EventType::MemberRemoved, data));
        if let Some(key) = &user_key {
            let revoked =
                json!({ "id": key.key_id.as_str(), "revoked_at": rfc3339(ctx.now), "reason": "member.removed" });
            log.audits.push(by.audit(key.environment, AuditAction::KeyRevoked, key.key_id.as_str()));
            log.events.push(by.event(key.environment, EventType::KeyRevoked, revoked));
        }
        let key_id = user_key.as_ref().map(|k| k.key_id.clone());
        let removed_key = user_key.as_ref().map(|k| (&k.key_id, k.environment));
        match ctx.store.remove_member(&member, removed_key, &log).await {
            Ok(()) => {
                return Ok(json!({ "user_id": user_id.as_str(), "removed_key_id": key_id.as_ref().map(KeyId::as_str) }))
            }
            Err(ChangeError::Conflict(_) | ChangeError::Stale) if attempts < 3 => continue,
            Err(err) => return Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhive::auth::RateStatus;
    use keyhive::model::OrgId;
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
            expires_at: None,
            rolled_out_secret: false,
        }
    }

    fn power(
        permissions: &Permissions,
        environment: Environment,
        rate_limit: u32,
        expires_at: Option<i64>,
    ) -> Power<'_> {
        Power { permissions, environment, rate_limit, expires_at }
    }

    fn axis(result: Result<(), ApiError>) -> Option<&'static str> {
        match result {
            Ok(()) => None,
            Err(ApiError::Escalation { axis, .. }) => Some(axis.as_str()),
            Err(other) => panic!("not an escalation refusal: {other:?}"),
        }
    }

    #[test]
    fn grants_within_the_actors_own_power_pass() {
        let a = actor(Environment::Live, json!({"apiKeys": ["create", "read"], "sandboxes": ["read"]}), 500);
        let p = Permissions::from_json("p", &json!({"sandboxes": ["read"]})).unwrap();
        assert_eq!(axis(check_within(&a, &power(&p, Environment::Live, 100, None))), None);
        assert_eq!(axis(check_within(&a, &power(&p, Environment::Test, 500, Some(1)))), None);
    }

    #[test]
    fn escalation_on_each_axis_is_403_naming_the_axis() {
        let mut a = actor(Environment::Test, json!({"apiKeys": ["create"]}), 100);
        let more = Permissions::from_json("p", &json!({"apiKeys": ["create", "delete"]})).unwrap();
        let err = check_within(&a, &power(&more, Environment::Test, 100, None)).unwrap_err();
        assert!(
            matches!(&err, ApiError::Escalation { permissions, .. } if permissions == &vec!["apiKeys:delete".to_string()])
        );
        assert_eq!(err.status_and_code().1, "FORBIDDEN");
        assert_eq!(err.details().unwrap(), json!({"missing": "permissions", "permissions": ["apiKeys:delete"]}));
        let same = Permissions::from_json("p", &json!({"apiKeys": ["create"]})).unwrap();
        assert_eq!(axis(check_within(&a, &power(&same, Environment::Live, 100, None))), Some("environment"));
        assert_eq!(axis(check_within(&a, &power(&same, Environment::Test, 101, None))), Some("rate_limit"));
        assert_eq!(axis(check_within(&a, &power(&same, Environment::Test, 100, None))), None);
        a.expires_at = Some(1_000);
        assert_eq!(axis(check_within(&a, &power(&same, Environment::Test, 100, None))), Some("expires_at"));
        assert_eq!(axis(check_within(&a, &power(&same, Environment::Test, 100, Some(1_001)))), Some("expires_at"));
        assert_eq!(axis(check_within(&a, &power(&same, Environment::Test, 100, Some(1_000)))), None);
    }

    #[test]
    fn only_live_keys_make_user_keys() {
        let new = NewKey {
            name: "u".into(),
            key_type: KeyType::User,
            user_id: UserId::parse("usr_1"),
            permissions: Permissions::default(),
            environment: Some(Environment::Test),
            expires_at: None,
            tier: Tier::Standard,
            meta: KeyMeta::default(),
        };
        let members = json!({"members": ["create"]});
        assert_eq!(axis(check_may_create(&actor(Environment::Test, members.clone(), 100), &new)), Some("environment"));
        assert_eq!(axis(check_may_create(&actor(Environment::Live, members, 100), &new)), None);
        // For another member, without members:create: member management it cannot do.
        assert_eq!(axis(check_may_create(&actor(Environment::Live, json!({}), 100), &new)), Some("permissions"));
        // Its own user key (the caller is that member's key) needs no more.
        let mut own = actor(Environment::Live, json!({}), 100);
        own.user_id = UserId::parse("usr_1");
        assert_eq!(axis(check_may_create(&own, &new)), None);
    }

    #[test]
    fn test_keys_see_only_test_and_live_keys_see_both() {
        let t = actor(Environment::Test, json!({}), 100);
        let l = actor(Environment::Live, json!({}), 100);
        assert!(can_see(&t, Environment::Test) && !can_see(&t, Environment::Live));
        assert!(can_see(&l, Environment::Test) && can_see(&l, Environment::Live));
    }
}
