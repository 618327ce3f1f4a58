//! No escalation, on any axis, against DynamoDB Local through the real SDK: for each axis
//! (permissions, environment, rate limit, expiry, rolled-out secret) and each verb (create,
//! patch, roll, revoke), a caller weaker on that axis alone is refused, and the target is
//! unchanged and still works. Callers are real keys, authenticated the way every request is.

use keyhive::auth::permissions::Permissions;
use keyhive::auth::KeyRecord;
use keyhive::auth::KeyStore;
use keyhive::auth::{authenticate, read_credential, Identity};
use keyhive::auth::{Credential, Environment, KeyType, Tier};
use keyhive::model::now;
use keyhive::testkit::{api_key_headers, identity_of, new_org, stack_api};
use keyhive::{ApiError, ApiState};
use keys::rules::{self, Ctx, KeyPatch, NewKey};
use keys::store::MemberStore;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

async fn identify(api: &ApiState, key: &Credential) -> Identity {
    let secret = api.hashing_secret().await.expect("secret");
    let credential = read_credential(&api_key_headers(key.reveal()), &api.config.key_prefix).expect("well-formed");
    authenticate(&api.store, secret, &credential, now(), None, &api.refusals).await.expect("authenticates")
}

fn perms(value: Value) -> Permissions {
    Permissions::from_json("p", &value).expect("permissions")
}

/// The base power of every weak caller: manage keys, read sandboxes.
fn base() -> Value {
    json!({"apiKeys": ["create", "read", "update", "delete"], "sandboxes": ["read"]})
}

struct Spec {
    permissions: Value,
    environment: Environment,
    tier: Tier,
    expires_at: Option<OffsetDateTime>,
}

impl Spec {
    fn base() -> Self {
        Spec { permissions: base(), environment: Environment::Live, tier: Tier::Standard, expires_at: None }
    }

    fn new_key(&self, name: &str) -> NewKey {
        NewKey {
            name: name.into(),
            key_type: KeyType::Bot,
            user_id: None,
            permissions: perms(self.permissions.clone()),
            environment: Some(self.environment),
            expires_at: self.expires_at,
            tier: self.tier,
            meta: Default::default(),
        }
    }
}

fn ctx<'a>(api: &'a ApiState, actor: &'a Identity) -> Ctx<'a, keyhive::store::dynamo::DynamoStore> {
    Ctx {
        store: &api.store,
        actor,
        request_id: "req_escalation",
        now: now(),
        idempotency: None,
        max_keys: api.config.limits.keys,
    }
}

async fn make(api: &ApiState, creator: &Identity, spec: &Spec, name: &str) -> (Credential, KeyRecord) {
    let secret = api.hashing_secret().await.unwrap();
    let (record, _, credential) =
        rules::create_key(&ctx(api, creator), &api.config.key_prefix, secret, spec.new_key(name)).await.expect(name);
    (credential, record)
}

fn refused_on(result: Result<impl std::fmt::Debug, ApiError>, axis: &str) {
    match result {
        Err(err @ ApiError::Escalation { .. }) => {
            assert_eq!(err.status_and_code().0.as_u16(), 403);
            assert_eq!(err.details().expect("details")["missing"], axis, "{err:?}");
        }
        other => panic!("expected a 403 on {axis}, got {other:?}"),
    }
}

/// The target is exactly as it was, and its key still authenticates.
async fn unchanged(api: &ApiState, before: &KeyRecord, key: &Credential) {
    let after = api.store.get_key(&before.key_id).await.unwrap().expect("still there");
    assert!(after.revoked_at.is_none(), "not revoked");
    assert_eq!(after.name, before.name);
    assert_eq!(after.permissions, before.permissions);
    assert_eq!(after.tier, before.tier);
    assert_eq!(after.expires_at, before.expires_at);
    assert!(after.secret_hash.matches(&before.secret_hash), "not rolled");
    identify(api, key).await;
}

/// Tries every verb on `target` as `caller`, each refused on `axis` (`None`: refused as not found,
/// which is what a test key gets for a live key it cannot see).
async fn every_verb_refused(
    api: &ApiState,
    caller: &Identity,
    target: &KeyRecord,
    key: &Credential,
    axis: Option<&str>,
) {
    let secret = api.hashing_secret().await.unwrap();
    let c = ctx(api, caller);
    let patch = KeyPatch { name: Some("taken over".into()), ..KeyPatch::default() };
    let outcomes: Vec<(&str, Result<(), ApiError>)> = vec![
        ("patch", rules::update_key(&c, &target.key_id, patch).await.map(|_| ())),
        ("roll", rules::roll_key(&c, &api.config.key_prefix, secret, &target.key_id, 0).await.map(|_| ())),
        ("revoke", rules::revoke_key(&c, &target.key_id).await.map(|_| ())),
    ];
    for (verb, outcome) in outcomes {
        match axis {
            Some(axis) => refused_on(outcome, axis),
            None => assert!(matches!(outcome, Err(ApiError::NotFound(_))), "{verb}: {outcome:?}"),
        }
    }
    unchanged(api, target, key).await;
}

#[tokio::test]
async fn a_caller_weaker_on_permissions_can_neither_create_nor_manage_a_stronger_key() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (weak_key, _) = make(&api, &admin, &Spec::base(), "weak").await;
    let weak = identify(&api, &weak_key).await;
    let stronger = Spec { permissions: json!({"apiKeys": ["read"], "sandboxes": ["read", "delete"]}), ..Spec::base() };
    let (target_key, target) = make(&api, &admin, &stronger, "target").await;

    let secret = api.hashing_secret().await.unwrap();
    let created = rules::create_key(&ctx(&api, &weak), &api.config.key_prefix, secret, stronger.new_key("x")).await;
    refused_on(created, "permissions");
    every_verb_refused(&api, &weak, &target, &target_key, Some("permissions")).await;
}

#[tokio::test]
async fn a_test_key_can_neither_create_nor_manage_live_keys() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (weak_key, _) = make(&api, &admin, &Spec { environment: Environment::Test, ..Spec::base() }, "weak").await;
    let weak = identify(&api, &weak_key).await;
    let (target_key, target) = make(&api, &admin, &Spec::base(), "target").await;

    let secret = api.hashing_secret().await.unwrap();
    let created = rules::create_key(&ctx(&api, &weak), &api.config.key_prefix, secret, Spec::base().new_key("x")).await;
    refused_on(created, "environment");
    // A live key does not exist for a test key: managing one is 404, as reading it is.
    every_verb_refused(&api, &weak, &target, &target_key, None).await;
}

#[tokio::test]
async fn a_caller_with_a_lower_rate_limit_can_neither_create_nor_manage_a_faster_key() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (weak_key, _) = make(&api, &admin, &Spec::base(), "weak").await;
    let weak = identify(&api, &weak_key).await;
    let faster = Spec { tier: Tier::Enterprise(9000), ..Spec::base() };
    let (target_key, target) = make(&api, &admin, &faster, "target").await;

    let secret = api.hashing_secret().await.unwrap();
    let created = rules::create_key(&ctx(&api, &weak), &api.config.key_prefix, secret, faster.new_key("x")).await;
    refused_on(created, "rate_limit");
    every_verb_refused(&api, &weak, &target, &target_key, Some("rate_limit")).await;

    // Nor may a PATCH of a key it does dominate lift that key above the caller's own limit.
    let (peer_key, peer) = make(&api, &admin, &Spec::base(), "peer").await;
    let lift = KeyPatch { tier: Some("enterprise".into()), rate_limit_per_minute: Some(9000), ..KeyPatch::default() };
    refused_on(rules::update_key(&ctx(&api, &weak), &peer.key_id, lift).await, "rate_limit");
    unchanged(&api, &peer, &peer_key).await;
}

#[tokio::test]
async fn an_expiring_caller_can_neither_create_nor_manage_a_key_that_outlives_it() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let soon = now() + Duration::hours(1);
    let (weak_key, weak_record) = make(&api, &admin, &Spec { expires_at: Some(soon), ..Spec::base() }, "weak").await;
    let weak = identify(&api, &weak_key).await;
    assert_eq!(weak.expires_at, Some(soon.unix_timestamp()));
    let (target_key, target) = make(&api, &admin, &Spec::base(), "target").await;

    let secret = api.hashing_secret().await.unwrap();
    let forever = rules::create_key(&ctx(&api, &weak), &api.config.key_prefix, secret, Spec::base().new_key("x")).await;
    refused_on(forever, "expires_at");
    let later = Spec { expires_at: Some(soon + Duration::seconds(1)), ..Spec::base() };
    refused_on(
        rules::create_key(&ctx(&api, &weak), &api.config.key_prefix, secret, later.new_key("x")).await,
        "expires_at",
    );
    every_verb_refused(&api, &weak, &target, &target_key, Some("expires_at")).await;

    // It can make keys that expire with it or before, and manage those.
    let within = Spec { expires_at: Some(soon), ..Spec::base() };
    let (_, made) = make(&api, &weak, &within, "within").await;
    let rename = KeyPatch { name: Some("renamed".into()), ..KeyPatch::default() };
    rules::update_key(&ctx(&api, &weak), &made.key_id, rename).await.expect("a key within its power");

    // And it can never remove or push out its own expiry.
    for expires_at in [None, Some(soon + Duration::days(30))] {
        let patch = KeyPatch { expires_at: Some(expires_at), ..KeyPatch::default() };
        refused_on(rules::update_key(&ctx(&api, &weak), &weak.key_id, patch).await, "expires_at");
    }
    unchanged(&api, &weak_record, &weak_key).await;
}

#[tokio::test]
async fn a_rolled_out_secret_authenticates_but_cannot_manage_its_key_or_mint_a_lasting_one() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (old_key, target) = make(&api, &admin, &Spec::base(), "target").await;
    let secret = api.hashing_secret().await.unwrap();
    let (rolled, new_key, until) =
        rules::roll_key(&ctx(&api, &admin), &api.config.key_prefix, secret, &target.key_id, 3600).await.unwrap();
    let old = identify(&api, &old_key).await;
    assert!(old.rolled_out_secret);
    assert_eq!(old.expires_at, until.map(OffsetDateTime::unix_timestamp), "the old secret lives until its grace ends");
    assert!(!identify(&api, &new_key).await.rolled_out_secret);

    every_verb_refused(&api, &old, &rolled, &new_key, Some("secret")).await;
    let lasting = rules::create_key(&ctx(&api, &old), &api.config.key_prefix, secret, Spec::base().new_key("x")).await;
    refused_on(lasting, "expires_at");
    // The new owner still holds the key: the new secret manages it.
    let owner = identify(&api, &new_key).await;
    let rename = KeyPatch { name: Some("mine".into()), ..KeyPatch::default() };
    assert_eq!(rules::update_key(&ctx(&api, &owner), &target.key_id, rename).await.unwrap().0.name, "mine");
}

#[tokio::test]
async fn a_patch_with_only_the_rate_limit_reads_the_stored_enterprise_tier() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (_, target) = make(&api, &admin, &Spec { tier: Tier::Enterprise(2000), ..Spec::base() }, "target").await;
    let c = ctx(&api, &admin);
    let limit_only = KeyPatch { rate_limit_per_minute: Some(3000), ..KeyPatch::default() };
    assert_eq!(rules::update_key(&c, &target.key_id, limit_only).await.unwrap().0.tier, Tier::Enterprise(3000));
    let tier_only = KeyPatch { tier: Some("enterprise".into()), ..KeyPatch::default() };
    assert_eq!(rules::update_key(&c, &target.key_id, tier_only).await.unwrap().0.tier, Tier::Enterprise(3000));
    let down = KeyPatch { tier: Some("standard".into()), ..KeyPatch::default() };
    assert_eq!(rules::update_key(&c, &target.key_id, down).await.unwrap().0.tier, Tier::Standard);
    let limit_on_standard = KeyPatch { rate_limit_per_minute: Some(50), ..KeyPatch::default() };
    let err = rules::update_key(&c, &target.key_id, limit_on_standard).await.unwrap_err();
    assert!(matches!(err, ApiError::Validation { ref field, .. } if field == "rate_limit_per_minute"), "{err:?}");
}

/// Removing a member revokes their user key: the remover must be able to revoke that key, and a
/// rolled-out secret of the key cannot remove its own member.
#[tokio::test]
async fn removing_a_member_needs_the_power_to_revoke_their_key() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let member =
        rules::create_member(&ctx(&api, &admin), None, "Boss".into(), "boss@example.com".into()).await.unwrap();
    let strong = NewKey {
        name: "boss".into(),
        key_type: KeyType::User,
        user_id: Some(member.user_id.clone()),
        permissions: perms(
            json!({"apiKeys": ["create", "read", "update", "delete"], "members": ["read", "delete"], "audit": ["read"]}),
        ),
        environment: None,
        expires_at: None,
        tier: Tier::Enterprise(5000),
        meta: Default::default(),
    };
    let secret = api.hashing_secret().await.unwrap();
    let (boss_record, _, boss_key) =
        rules::create_key(&ctx(&api, &admin), &api.config.key_prefix, secret, strong).await.unwrap();
    let remover_spec = Spec { permissions: json!({"members": ["read", "delete"]}), ..Spec::base() };
    let (_, remover_record) = make(&api, &admin, &remover_spec, "remover").await;
    let remover = identity_of(&remover_record);
    refused_on(rules::remove_member(&ctx(&api, &remover), &member.user_id).await, "permissions");
    assert!(api.store.get_member(&admin.org_id, &member.user_id).await.unwrap().is_some(), "still a member");
    unchanged(&api, &boss_record, &boss_key).await;

    // The boss's own key, rolled with a grace period: the old secret cannot remove its member.
    let (_, new_key, _) =
        rules::roll_key(&ctx(&api, &admin), &api.config.key_prefix, secret, &boss_record.key_id, 600).await.unwrap();
    let old = identify(&api, &boss_key).await;
    refused_on(rules::remove_member(&ctx(&api, &old), &member.user_id).await, "secret");
    identify(&api, &new_key).await;
}

/// A user key acts as its member: making one for another member is member management.
#[tokio::test]
async fn a_user_key_for_another_member_needs_members_create() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let member = rules::create_member(&ctx(&api, &admin), None, "Ann".into(), "ann@example.com".into()).await.unwrap();
    let (_, keymaker_record) = make(&api, &admin, &Spec::base(), "keymaker").await;
    let keymaker = identity_of(&keymaker_record);
    let for_ann = NewKey {
        name: "ann".into(),
        key_type: KeyType::User,
        user_id: Some(member.user_id.clone()),
        permissions: Permissions::default(),
        environment: None,
        expires_at: None,
        tier: Tier::Standard,
        meta: Default::default(),
    };
    let secret = api.hashing_secret().await.unwrap();
    let refused = rules::create_key(&ctx(&api, &keymaker), &api.config.key_prefix, secret, for_ann.clone()).await;
    match refused {
        Err(err @ ApiError::Escalation { .. }) => {
            assert_eq!(err.details().unwrap(), json!({"missing": "permissions", "permissions": ["members:create"]}))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(api.store.user_key_of(&member).await.unwrap(), None, "the slot is free");
    rules::create_key(&ctx(&api, &admin), &api.config.key_prefix, secret, for_ann).await.expect("with members:create");
}

/// The rules judge a key as read; a change to any axis of it before the write (here its tier
/// and expiry, its permissions untouched) makes the write fail instead of acting on a stronger key.
#[tokio::test]
async fn a_key_strengthened_between_the_check_and_the_write_is_not_changed() {
    use keys::store::{KeyAdminStore, KeyChange};
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let soon = now() + Duration::hours(1);
    let (key, read) = make(&api, &admin, &Spec { expires_at: Some(soon), ..Spec::base() }, "target").await;
    let upgrade = KeyPatch {
        tier: Some("enterprise".into()),
        rate_limit_per_minute: Some(5000),
        expires_at: Some(None),
        ..KeyPatch::default()
    };
    rules::update_key(&ctx(&api, &admin), &read.key_id, upgrade).await.unwrap();
    // A roll decided on the stale read (standard, expiring) must not land.
    let stale_roll = KeyChange::Roll { secret_hash: read.secret_hash.clone(), last4: "XXXX".into(), previous: None };
    let log = keyhive::change::ChangeLog::default();
    let outcome = api.store.change_key(&read, &stale_roll, &log).await;
    assert!(matches!(outcome, Err(keyhive::store::ChangeError::Stale)), "{outcome:?}");
    let revoke = api.store.change_key(&read, &KeyChange::Revoke { at: now(), leaked: None }, &log).await;
    assert!(matches!(revoke, Err(keyhive::store::ChangeError::Stale)), "{revoke:?}");
    identify(&api, &key).await;
}
