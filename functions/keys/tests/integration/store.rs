//! Authentication, rate limiting and key/member transactions against DynamoDB Local through the
//! real SDK. Clocks are passed in, so windows, grace periods and expiry are exact.

use keyhive::auth::permissions::Permissions;
use keyhive::auth::KeyStore;
use keyhive::auth::{authenticate, read_credential};
use keyhive::auth::{Credential, Environment, Identity, KeyType, Tier};
use keyhive::model::{now, UserId};
use keyhive::schema;
use keyhive::testkit::{api_key_headers, identity_of, new_org, stack_api};
use keyhive::{ApiError, ApiState};
use keys::rules::{self, Ctx, KeyPatch, NewKey};
use keys::store::MemberStore;
use serde_json::json;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// A rules context for `actor` at the current time, without an idempotency claim.
fn rules_ctx<'a>(
    api: &'a ApiState,
    actor: &'a Identity,
    request_id: &'a str,
) -> Ctx<'a, keyhive::store::dynamo::DynamoStore> {
    Ctx { store: &api.store, actor, request_id, now: now(), idempotency: None, max_keys: api.config.limits.keys }
}

async fn auth_at(api: &ApiState, key: &str, at: OffsetDateTime) -> Result<keyhive::auth::Identity, ApiError> {
    let secret = api.hashing_secret().await.expect("secret");
    let credential = read_credential(&api_key_headers(key), &api.config.key_prefix)?;
    authenticate(&api.store, secret, &credential, at, None, &api.refusals).await
}

fn code(r: &Result<keyhive::auth::Identity, ApiError>) -> &'static str {
    match r {
        Ok(_) => "OK",
        Err(e) => {
            if e.is_server_side() {
                eprintln!("server-side error: {}", keyhive::error::source_chain(e));
            }
            e.status_and_code().1
        }
    }
}

/// A minute boundary plus `s` seconds: all requests of a test land in one window.
fn window_start_plus(s: i64) -> OffsetDateTime {
    let t = now().unix_timestamp();
    OffsetDateTime::from_unix_timestamp(t - t.rem_euclid(60) + 60 + s).unwrap()
}

async fn bot_key(
    api: &ApiState,
    admin: &keyhive::auth::KeyRecord,
    tier: Tier,
    expires_at: Option<OffsetDateTime>,
) -> (Credential, keyhive::auth::KeyRecord) {
    let actor = identity_of(admin);
    let ctx = rules_ctx(api, &actor, "req_test");
    let new = NewKey {
        name: "bot".into(),
        key_type: KeyType::Bot,
        user_id: None,
        permissions: Permissions::from_json("p", &json!({"sandboxes": ["read"]})).unwrap(),
        environment: None,
        expires_at,
        tier,
        meta: Default::default(),
    };
    let (record, _, credential) =
        rules::create_key(&ctx, &api.config.key_prefix, api.hashing_secret().await.unwrap(), new)
            .await
            .expect("create key");
    (credential, record)
}

#[tokio::test]
async fn a_valid_key_authenticates_with_its_identity_and_is_counted() {
    let api = stack_api().await;
    let (admin, record) = new_org(&api, Environment::Live).await;
    let at = window_start_plus(5);
    let identity = auth_at(&api, admin.reveal(), at).await.expect("valid key");
    assert_eq!(identity.key_id, record.key_id);
    assert_eq!(identity.org_id, record.org_id);
    assert_eq!(identity.permissions, Permissions::all());
    assert_eq!((identity.rate.limit, identity.rate.remaining), (10_000, 9_999));
    assert_eq!(identity.rate.reset, at.unix_timestamp() - 5 + 60);
    let again = auth_at(&api, admin.reveal(), at).await.expect("valid key");
    assert_eq!(again.rate.remaining, 9_998);
    let stored = api.store.get_key(&record.key_id).await.unwrap().unwrap();
    assert!(stored.last_used_at.is_some(), "last_used_at is set by the same write");
}

#[tokio::test]
async fn unknown_wrong_revoked_and_foreign_prefix_keys_are_all_the_same_401() {
    let api = stack_api().await;
    let (admin, record) = new_org(&api, Environment::Live).await;
    let at = now();
    let unknown = Credential::mint(&api.config.key_prefix, Environment::Live, keyhive::auth::KeyId::generate());
    let wrong_secret = Credential::mint(&api.config.key_prefix, Environment::Live, record.key_id.clone());
    let wrong_env = admin.reveal().replacen("_live_", "_test_", 1);
    let foreign = admin.reveal().replacen(&format!("{}_", api.config.key_prefix), "zz_", 1);
    for key in [unknown.reveal(), wrong_secret.reveal(), wrong_env.as_str(), foreign.as_str(), "", "garbage"] {
        assert_eq!(code(&auth_at(&api, key, at).await), "UNAUTHORIZED", "{key}");
    }
    // Wrong secrets are never counted against the real key's window.
    let identity = auth_at(&api, admin.reveal(), at).await.unwrap();
    assert_eq!(identity.rate.remaining, identity.rate.limit - 1);
}

#[tokio::test]
async fn exactly_the_limit_passes_under_200_concurrent_requests() {
    let api = Arc::new(stack_api().await);
    let (_, admin) = new_org(&api, Environment::Live).await;
    let (key, _) = bot_key(&api, &admin, Tier::Enterprise(100), None).await;
    let at = window_start_plus(1);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (api, key) = (api.clone(), key.reveal().to_string());
            tokio::spawn(async move { code(&auth_at(&api, &key, at).await) })
        })
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for task in tasks {
        *counts.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(counts.get("OK"), Some(&100), "{counts:?}");
    assert_eq!(counts.get("RATE_LIMITED"), Some(&100), "{counts:?}");
    // The next window starts afresh, and the old window's counter is removed by the same write.
    let next = auth_at(&api, key.reveal(), at + Duration::seconds(60)).await.expect("next window");
    assert_eq!(next.rate.remaining, 99);
}

#[tokio::test]
async fn a_rate_limited_answer_says_when_to_retry() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let (key, _) = bot_key(&api, &admin, Tier::Enterprise(2), None).await;
    let at = window_start_plus(45);
    auth_at(&api, key.reveal(), at).await.unwrap();
    auth_at(&api, key.reveal(), at).await.unwrap();
    match auth_at(&api, key.reveal(), at).await {
        Err(ApiError::RateLimited { retry_after, limit, reset }) => {
            assert_eq!((retry_after, limit), (15, 2));
            assert_eq!(reset, at.unix_timestamp() + 15);
        }
        other => panic!("expected 429, got {other:?}"),
    }
    // A wrong secret on a limited key is still a 401, never a 429.
    let wrong = Credential::mint(&api.config.key_prefix, Environment::Live, key.key_id.clone());
    assert_eq!(code(&auth_at(&api, wrong.reveal(), at).await), "UNAUTHORIZED");
}

#[tokio::test]
async fn stale_window_counters_are_cleaned_after_an_idle_gap() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let (key, record) = bot_key(&api, &admin, Tier::Standard, None).await;
    let at = window_start_plus(0);
    auth_at(&api, key.reveal(), at).await.unwrap();
    auth_at(&api, key.reveal(), at + Duration::minutes(10)).await.unwrap();
    let item = api
        .store
        .client()
        .get_item()
        .table_name(api.store.table())
        .key(schema::PK, aws_sdk_dynamodb::types::AttributeValue::S(schema::key_pk(record.key_id.as_str())))
        .key(schema::SK, aws_sdk_dynamodb::types::AttributeValue::S(schema::KEY_SK.into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let windows: Vec<_> = item.keys().filter(|k| k.starts_with("rl_")).collect();
    assert_eq!(windows.len(), 1, "{windows:?}");
}

#[tokio::test]
async fn expiry_and_revocation_apply_on_the_very_next_request() {
    let api = stack_api().await;
    let (admin_key, admin) = new_org(&api, Environment::Live).await;
    let expires = now() + Duration::hours(1);
    let (key, record) = bot_key(&api, &admin, Tier::Standard, Some(expires)).await;
    assert_eq!(code(&auth_at(&api, key.reveal(), expires - Duration::seconds(1)).await), "OK");
    assert_eq!(code(&auth_at(&api, key.reveal(), expires).await), "UNAUTHORIZED");

    let actor = identity_of(&admin);
    let ctx = rules_ctx(&api, &actor, "req_revoke");
    rules::revoke_key(&ctx, &record.key_id).await.expect("revoke");
    assert_eq!(code(&auth_at(&api, key.reveal(), now()).await), "UNAUTHORIZED");
    assert!(matches!(rules::revoke_key(&ctx, &record.key_id).await, Err(ApiError::NotFound(_))), "revocation is final");
    let page = rules::list_keys(&api.store, &actor, None, None, None, 100).await.unwrap();
    assert!(page.items.iter().all(|(k, _)| k.key_id != record.key_id), "revoked keys leave the list");
    assert_eq!(code(&auth_at(&api, admin_key.reveal(), now()).await), "OK");
}

#[tokio::test]
async fn a_roll_keeps_the_old_secret_only_for_the_grace_period() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let (old, record) = bot_key(&api, &admin, Tier::Standard, None).await;
    let actor = identity_of(&admin);
    let t0 = now();
    let ctx = Ctx {
        store: &api.store,
        actor: &actor,
        request_id: "req_roll",
        now: t0,
        idempotency: None,
        max_keys: api.config.limits.keys,
    };
    let secret = api.hashing_secret().await.unwrap();
    let (rolled, new, until) =
        rules::roll_key(&ctx, &api.config.key_prefix, secret, &record.key_id, 3600).await.unwrap();
    assert_eq!(rolled.key_id, record.key_id);
    assert_eq!(new.key_id, record.key_id);
    assert_ne!(new.reveal(), old.reveal());
    assert_eq!(until, Some(t0 + Duration::hours(1)));
    assert_eq!(code(&auth_at(&api, old.reveal(), t0 + Duration::minutes(59)).await), "OK");
    assert_eq!(code(&auth_at(&api, new.reveal(), t0 + Duration::minutes(59)).await), "OK");
    assert_eq!(code(&auth_at(&api, old.reveal(), t0 + Duration::minutes(61)).await), "UNAUTHORIZED");
    assert_eq!(code(&auth_at(&api, new.reveal(), t0 + Duration::minutes(61)).await), "OK");

    // Without grace the old secret stops at once.
    let (_, newer, until) = rules::roll_key(&ctx, &api.config.key_prefix, secret, &record.key_id, 0).await.unwrap();
    assert_eq!(until, None);
    assert_eq!(code(&auth_at(&api, new.reveal(), now()).await), "UNAUTHORIZED");
    assert_eq!(code(&auth_at(&api, newer.reveal(), now()).await), "OK");
}

#[tokio::test]
async fn fifty_concurrent_user_key_creations_for_one_member_create_exactly_one() {
    let api = Arc::new(stack_api().await);
    let (_, admin) = new_org(&api, Environment::Live).await;
    let actor = identity_of(&admin);
    let ctx = rules_ctx(&api, &actor, "req_member");
    let member =
        rules::create_member(&ctx, UserId::parse("usr_race"), "Race".into(), "race@example.com".into()).await.unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (api, actor, user) = (api.clone(), actor.clone(), member.user_id.clone());
            tokio::spawn(async move {
                let ctx = rules_ctx(&api, &actor, "req_race");
                let new = NewKey {
                    name: format!("user key {i}"),
                    key_type: KeyType::User,
                    user_id: Some(user),
                    permissions: Permissions::default(),
                    environment: None,
                    expires_at: None,
                    tier: Tier::Standard,
                    meta: Default::default(),
                };
                match rules::create_key(&ctx, &api.config.key_prefix, api.hashing_secret().await.unwrap(), new).await {
                    Ok(_) => "CREATED",
                    Err(e) => e.status_and_code().1,
                }
            })
        })
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for task in tasks {
        *counts.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(counts.get("CREATED"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("CONFLICT"), Some(&49), "{counts:?}");
    let page = rules::list_keys(&api.store, &actor, None, None, None, 100).await.unwrap();
    let user_keys: Vec<_> = page.items.iter().filter(|(k, _)| k.key_type == KeyType::User).collect();
    assert_eq!(user_keys.len(), 1);
    assert_eq!(user_keys[0].0.owner(), "Race");
}

#[tokio::test]
async fn removing_a_member_deletes_their_key_with_audit_and_event_in_one_transaction() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let actor = identity_of(&admin);
    let ctx = rules_ctx(&api, &actor, "req_remove");
    let member = rules::create_member(&ctx, None, "Bob".into(), "bob@example.com".into()).await.unwrap();
    let new = NewKey {
        name: "bob's key".into(),
        key_type: KeyType::User,
        user_id: Some(member.user_id.clone()),
        permissions: Permissions::default(),
        environment: None,
        expires_at: None,
        tier: Tier::Standard,
        meta: Default::default(),
    };
    let (record, _, credential) =
        rules::create_key(&ctx, &api.config.key_prefix, api.hashing_secret().await.unwrap(), new).await.unwrap();
    assert_eq!(code(&auth_at(&api, credential.reveal(), now()).await), "OK");

    let removed = rules::remove_member(&ctx, &member.user_id).await.unwrap();
    assert_eq!(removed["removed_key_id"], record.key_id.as_str());
    assert!(api.store.get_key(&record.key_id).await.unwrap().is_none(), "the key item is gone");
    assert!(api.store.get_member(&actor.org_id, &member.user_id).await.unwrap().is_none());
    assert_eq!(code(&auth_at(&api, credential.reveal(), now()).await), "UNAUTHORIZED");
    assert!(matches!(rules::remove_member(&ctx, &member.user_id).await, Err(ApiError::NotFound(_))));

    // The same user may join again and get a key again: the one-key slot was freed with it.
    let again = rules::create_member(&ctx, Some(member.user_id.clone()), "Bob".into(), "bob@example.com".into()).await;
    assert!(again.is_ok());

    let query = |pk: String| {
        api.store
            .client()
            .query()
            .table_name(api.store.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
            .send()
    };
    let audit = query(schema::audit_pk(actor.org_id.as_str())).await.unwrap();
    let actions: Vec<_> = audit.items().iter().filter_map(|i| i.get("action")?.as_s().ok().cloned()).collect();
    for action in ["org.bootstrapped", "member.created", "key.created", "member.removed"] {
        assert!(actions.iter().any(|a| a == action), "audit lacks {action}: {actions:?}");
    }
    let outbox = query(schema::outbox_pk(actor.org_id.as_str(), "live")).await.unwrap();
    let events: Vec<_> = outbox.items().iter().filter_map(|i| i.get("event_type")?.as_s().ok().cloned()).collect();
    assert!(
        events.contains(&"key.created".to_string()) && events.contains(&"member.removed".to_string()),
        "{events:?}"
    );
    for item in outbox.items() {
        let payload = item["payload"].as_s().unwrap();
        assert!(!payload.contains(credential.reveal()), "no secret in events");
    }
}

#[tokio::test]
async fn settings_changes_apply_to_the_next_authentication() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let (key, record) = bot_key(&api, &admin, Tier::Standard, None).await;
    let actor = identity_of(&admin);
    let ctx = rules_ctx(&api, &actor, "req_patch");
    // A key stored before permissions were kept as letters: its long form is still read, and
    // still matched by the change's condition.
    api.store
        .client()
        .update_item()
        .table_name(api.store.table())
        .key(schema::PK, aws_sdk_dynamodb::types::AttributeValue::S(schema::key_pk(record.key_id.as_str())))
        .key(schema::SK, aws_sdk_dynamodb::types::AttributeValue::S(schema::KEY_SK.into()))
        .update_expression("SET #p = :long")
        .expression_attribute_names("#p", "permissions")
        .expression_attribute_values(
            ":long",
            aws_sdk_dynamodb::types::AttributeValue::S(record.permissions.to_long_compact()),
        )
        .send()
        .await
        .unwrap();
    let patch = KeyPatch {
        permissions: Some(Permissions::from_json("p", &json!({"apiKeys": ["read"]})).unwrap()),
        tier: Some("professional".into()),
        ..KeyPatch::default()
    };
    rules::update_key(&ctx, &record.key_id, patch).await.unwrap();
    let identity = auth_at(&api, key.reveal(), now()).await.unwrap();
    assert!(identity
        .permissions
        .allows(keyhive::auth::permissions::Resource::ApiKeys, keyhive::auth::permissions::Action::Read));
    assert!(!identity
        .permissions
        .allows(keyhive::auth::permissions::Resource::Sandboxes, keyhive::auth::permissions::Action::Read));
    assert_eq!(identity.rate.limit, 500);
}

#[tokio::test]
async fn list_cursors_page_through_and_cannot_cross_organizations() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    for _ in 0..3 {
        bot_key(&api, &admin, Tier::Standard, None).await;
    }
    let actor = identity_of(&admin);
    let first = rules::list_keys(&api.store, &actor, None, None, None, 2).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let cursor = first.next.expect("more pages");
    let second = rules::list_keys(&api.store, &actor, None, None, Some(&cursor), 2).await.unwrap();
    let mut ids: Vec<_> = first.items.iter().chain(&second.items).map(|(k, _)| k.key_id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4, "three bots and the admin, no repeats");
    assert!(first.items[0].0.created_at >= first.items[1].0.created_at, "newest first");

    let (_, other_admin) = new_org(&api, Environment::Live).await;
    let other = identity_of(&other_admin);
    let err = rules::list_keys(&api.store, &other, None, None, Some(&cursor), 2).await.unwrap_err();
    assert_eq!(err.status_and_code().1, "VALIDATION_FAILED");
    let bogus = keyhive::store::cursor::Position::from([("PK".to_string(), "not-a-cursor".to_string())]);
    assert!(rules::list_keys(&api.store, &actor, None, None, Some(&bogus), 2).await.is_err());
}

#[tokio::test]
async fn authenticating_a_request_is_one_dynamodb_round_trip_whatever_the_outcome() {
    let api = stack_api().await;
    let (admin, record) = new_org(&api, Environment::Live).await;
    let (tiny, _) = bot_key(&api, &record, Tier::Enterprise(1), None).await;
    let counter = keyhive::aws::RequestCounter::default();
    let client = keyhive::aws::counted_dynamodb(api.store.client(), &counter);
    let store = keyhive::store::dynamo::DynamoStore::new(client, api.store.table());
    let secret = api.hashing_secret().await.unwrap();
    let at = window_start_plus(3);
    let wrong = Credential::mint(&api.config.key_prefix, Environment::Live, record.key_id.clone());
    let unknown = Credential::mint(&api.config.key_prefix, Environment::Live, keyhive::auth::KeyId::generate());
    let cases = [
        (admin.reveal(), "OK"),
        (admin.reveal(), "OK"),
        (wrong.reveal(), "UNAUTHORIZED"),
        (unknown.reveal(), "UNAUTHORIZED"),
        (tiny.reveal(), "OK"),
        (tiny.reveal(), "RATE_LIMITED"),
    ];
    for (key, expected) in cases {
        let before = counter.count();
        let credential = read_credential(&api_key_headers(key), &api.config.key_prefix).unwrap();
        let result = authenticate(&store, secret, &credential, at, None, &Default::default()).await;
        assert_eq!(code(&result), expected);
        assert_eq!(counter.count() - before, 1, "round trips for {expected}");
    }
    // A malformed credential never gets as far as the table.
    assert!(read_credential(&api_key_headers("kh_live_nope"), &api.config.key_prefix).is_err());
}

/// An `Idempotency-Key` record is claimed in the creation's transaction: while it lives, a second
/// creation with it is refused as taken (and `api::serve` replays); once expired (24 h), the key
/// may be used again, though DynamoDB has not deleted the record yet.
#[tokio::test]
async fn an_idempotency_record_blocks_a_second_creation_until_it_expires() {
    use keyhive::change::idempotency::IdempotencyStore;
    use keyhive::change::idempotency::{Claim, LIFETIME};
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let actor = identity_of(&admin);
    let claim = Claim { key_hash: "a".repeat(64), fingerprint: "f".repeat(64) };
    let long_ago = now() - LIFETIME - Duration::minutes(1);
    let at = |now| Ctx {
        store: &api.store,
        actor: &actor,
        request_id: "req_idem",
        now,
        idempotency: Some(&claim),
        max_keys: api.config.limits.keys,
    };
    let scope = keyhive::change::idempotency::Scope {
        org_id: actor.org_id.clone(),
        environment: actor.environment,
        key_id: actor.key_id.clone(),
    };

    let first = rules::create_member(&at(long_ago), None, "Idem".into(), "first@example.com".into())
        .await
        .expect("first creation");
    let record = api.store.get_idempotency(&scope, &claim.key_hash).await.unwrap().unwrap();
    assert_eq!(record.resource_id, first.user_id.as_str());
    assert_eq!(record.data, Some(first.to_json()), "what a replay answers");
    assert!(!record.is_live(now()), "claimed long ago: expired now");

    let second = rules::create_member(&at(now()), None, "Idem".into(), "second@example.com".into())
        .await
        .expect("an expired record is no claim");
    let third = rules::create_member(&at(now()), None, "Idem".into(), "third@example.com".into()).await;
    assert!(matches!(third, Err(ApiError::IdempotencyTaken)), "{third:?}");
    let members = api.store.list_members(&actor.org_id, None, 100).await.unwrap();
    let emails: Vec<_> = members.items.iter().map(|m| m.email.as_str()).collect();
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(emails.contains(&"second@example.com") && !emails.contains(&"third@example.com"));
    let record = api.store.get_idempotency(&scope, &claim.key_hash).await.unwrap().unwrap();
    assert_eq!(record.resource_id, second.user_id.as_str(), "the expired record was replaced");
}

/// A user key for `user` in `environment` (the caller's when `None`), no permissions.
fn user_key(user: &UserId, environment: Option<Environment>) -> NewKey {
    NewKey {
        name: format!("{} key", user.as_str()),
        key_type: KeyType::User,
        user_id: Some(user.clone()),
        permissions: Permissions::default(),
        environment,
        expires_at: None,
        tier: Tier::Standard,
        meta: Default::default(),
    }
}

/// A request stamped minute M that arrives after one stamped M+1 (an SDK retry) is counted in its
/// own window and never resets the newer one.
#[tokio::test]
async fn a_late_request_never_resets_a_newer_rate_window() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let (key, _) = bot_key(&api, &admin, Tier::Enterprise(3), None).await;
    let edge = window_start_plus(0);
    // Three requests at M+1 use up its window of 3.
    for _ in 0..3 {
        assert_eq!(code(&auth_at(&api, key.reveal(), edge + Duration::seconds(1)).await), "OK");
    }
    // A late request stamped M (one second before the edge).
    assert_eq!(code(&auth_at(&api, key.reveal(), edge - Duration::seconds(1)).await), "OK");
    // M+1's count survived: the next request there is still over the limit.
    assert_eq!(code(&auth_at(&api, key.reveal(), edge + Duration::seconds(2)).await), "RATE_LIMITED");
}

#[tokio::test]
async fn every_key_records_who_created_it_and_the_list_filters_on_it() {
    let api = stack_api().await;
    let (_, admin_record) = new_org(&api, Environment::Live).await;
    assert_eq!(admin_record.created_by, keyhive::auth::CreatedBy::Bootstrap);
    let admin = identity_of(&admin_record);
    let ctx = Ctx {
        store: &api.store,
        actor: &admin,
        request_id: "req_creator",
        now: now(),
        idempotency: None,
        max_keys: api.config.limits.keys,
    };
    let member = rules::create_member(&ctx, None, "Cleo".into(), "cleo@example.com".into()).await.unwrap();
    let secret = api.hashing_secret().await.unwrap();
    let new = |key_type, user_id| NewKey {
        name: "k".into(),
        key_type,
        user_id,
        permissions: Permissions::from_json("p", &json!({"apiKeys": ["create"]})).unwrap(),
        environment: None,
        expires_at: None,
        tier: Tier::Standard,
        meta: Default::default(),
    };
    let (user_key, _, _) =
        rules::create_key(&ctx, &api.config.key_prefix, secret, new(KeyType::User, Some(member.user_id.clone())))
            .await
            .unwrap();
    let cleo = identity_of(&user_key);
    let cleo_ctx = Ctx {
        actor: &cleo,
        ..Ctx {
            store: &api.store,
            actor: &admin,
            request_id: "r",
            now: now(),
            idempotency: None,
            max_keys: api.config.limits.keys,
        }
    };
    let (minted, _, _) =
        rules::create_key(&cleo_ctx, &api.config.key_prefix, secret, new(KeyType::Bot, None)).await.unwrap();
    assert_eq!(
        minted.created_by,
        keyhive::auth::CreatedBy::Key { key_id: user_key.key_id.clone(), user_id: Some(member.user_id.clone()) }
    );
    let stored = api.store.get_key(&minted.key_id).await.unwrap().unwrap();
    assert_eq!(
        stored.to_json()["created_by"],
        json!({"key_id": user_key.key_id.as_str(), "user_id": member.user_id.as_str()})
    );

    for filter in [user_key.key_id.as_str(), member.user_id.as_str()] {
        let page = rules::list_keys(&api.store, &admin, Some(filter.to_string()), None, None, 100).await.unwrap();
        let ids: Vec<_> = page.items.iter().map(|(k, _)| k.key_id.clone()).collect();
        assert_eq!(ids, vec![minted.key_id.clone()], "created_by={filter}");
    }
    let by_admin = rules::list_keys(&api.store, &admin, Some(admin.key_id.to_string()), None, None, 100).await.unwrap();
    assert!(by_admin.items.iter().any(|(k, _)| k.key_id == user_key.key_id));
    assert!(by_admin.items.iter().all(|(k, _)| k.key_id != minted.key_id));
    let bootstrap = rules::list_keys(&api.store, &admin, Some("bootstrap".into()), None, None, 100).await.unwrap();
    assert_eq!(bootstrap.items.len(), 1);
}

/// A test key's listing filters on the environment in the query: with live keys between test
/// keys, every page is full and none is empty while more remain.
#[tokio::test]
async fn a_test_keys_pages_are_full_and_never_empty_while_more_remain() {
    let api = stack_api().await;
    let (_, admin_record) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin_record);
    let secret = api.hashing_secret().await.unwrap();
    let mut test_ids = Vec::new();
    for i in 0..9 {
        let environment = if i % 3 == 0 { Environment::Test } else { Environment::Live };
        let ctx = Ctx {
            store: &api.store,
            actor: &admin,
            request_id: "req_page",
            now: now(),
            idempotency: None,
            max_keys: api.config.limits.keys,
        };
        let new = NewKey {
            name: format!("k{i}"),
            key_type: KeyType::Bot,
            user_id: None,
            permissions: Permissions::default(),
            environment: Some(environment),
            expires_at: None,
            tier: Tier::Standard,
            meta: Default::default(),
        };
        let (record, _, _) = rules::create_key(&ctx, &api.config.key_prefix, secret, new).await.unwrap();
        if environment == Environment::Test {
            test_ids.push(record.key_id);
        }
    }
    let mut tester = identity_of(&admin_record);
    tester.environment = Environment::Test;
    let mut seen = Vec::new();
    let mut start = None;
    loop {
        let page = rules::list_keys(&api.store, &tester, None, None, start.as_ref(), 1).await.unwrap();
        assert_eq!(page.items.len(), 1, "a page is never empty while there are more");
        assert!(page.items.iter().all(|(k, _)| k.environment == Environment::Test));
        seen.extend(page.items.iter().map(|(k, _)| k.key_id.clone()));
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    // Keys made within one second sort by id among themselves: compare as sets, without repeats.
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    test_ids.sort();
    assert_eq!(sorted.len(), seen.len(), "no key twice: {seen:?}");
    assert_eq!(sorted, test_ids, "all test keys and nothing else");
}

/// Removing a member while a user key for them is being created never leaves an orphan: either
/// the key is created first and removed with the member, or its creation fails.
#[tokio::test]
async fn member_removal_racing_a_user_key_creation_leaves_no_orphan_key() {
    let api = Arc::new(stack_api().await);
    let (_, admin_record) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin_record);
    for round in 0..8 {
        let ctx = Ctx {
            store: &api.store,
            actor: &admin,
            request_id: "req_orphan",
            now: now(),
            idempotency: None,
            max_keys: api.config.limits.keys,
        };
        let member =
            rules::create_member(&ctx, None, format!("M{round}"), format!("m{round}@example.com")).await.unwrap();
        let (a1, a2, user) = (api.clone(), api.clone(), member.user_id.clone());
        let (actor1, actor2) = (admin.clone(), admin.clone());
        let user2 = user.clone();
        let create = tokio::spawn(async move {
            let ctx = Ctx {
                store: &a1.store,
                actor: &actor1,
                request_id: "req_c",
                now: now(),
                idempotency: None,
                max_keys: a1.config.limits.keys,
            };
            let new = user_key(&user, None);
            rules::create_key(&ctx, &a1.config.key_prefix, a1.hashing_secret().await.unwrap(), new).await.map(|r| r.0)
        });
        let remove = tokio::spawn(async move {
            let ctx = Ctx {
                store: &a2.store,
                actor: &actor2,
                request_id: "req_r",
                now: now(),
                idempotency: None,
                max_keys: a2.config.limits.keys,
            };
            rules::remove_member(&ctx, &user2).await
        });
        let (created, removed) = (create.await.unwrap(), remove.await.unwrap());
        assert!(removed.is_ok(), "round {round}: {removed:?}");
        if let Ok(key) = created {
            assert!(
                api.store.get_key(&key.key_id).await.unwrap().is_none(),
                "round {round}: orphan key {}",
                key.key_id
            );
        }
        assert!(api.store.get_member(&admin.org_id, &member.user_id).await.unwrap().is_none());
    }
}

/// Members belong to the organization: a test key may read them, never add or remove them, and
/// never make a user key (nor probe a member's one-key slot).
#[tokio::test]
async fn test_keys_cannot_add_or_remove_members_or_make_user_keys() {
    let api = stack_api().await;
    let (_, admin_record) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin_record);
    let ctx = Ctx {
        store: &api.store,
        actor: &admin,
        request_id: "req_m",
        now: now(),
        idempotency: None,
        max_keys: api.config.limits.keys,
    };
    let member = rules::create_member(&ctx, None, "Dee".into(), "dee@example.com".into()).await.unwrap();
    let mut tester = admin.clone();
    tester.environment = Environment::Test;
    let tctx = Ctx {
        store: &api.store,
        actor: &tester,
        request_id: "req_t",
        now: now(),
        idempotency: None,
        max_keys: api.config.limits.keys,
    };
    let forbidden_env = |r: Result<serde_json::Value, ApiError>| match r {
        Err(err @ ApiError::Escalation { .. }) => assert_eq!(err.details().unwrap()["missing"], "environment"),
        other => panic!("{other:?}"),
    };
    forbidden_env(rules::create_member(&tctx, None, "X".into(), "x@example.com".into()).await.map(|m| m.to_json()));
    forbidden_env(rules::remove_member(&tctx, &member.user_id).await);
    let user_key = user_key(&member.user_id, Some(Environment::Test));
    let made = rules::create_key(&tctx, &api.config.key_prefix, api.hashing_secret().await.unwrap(), user_key).await;
    forbidden_env(made.map(|(r, _, _)| r.to_json()));
    assert!(api.store.get_member(&admin.org_id, &member.user_id).await.unwrap().is_some(), "still a member");
    assert_eq!(api.store.user_key_of(&member).await.unwrap(), None, "the slot is untouched");
}

/// A member's removal records `member.removed` (live: members are the organization's) and, for
/// their key, `key.revoked` in the key's own environment, audit entries included.
#[tokio::test]
async fn member_removal_records_the_revoked_key_in_its_own_environment() {
    let api = stack_api().await;
    let (_, admin_record) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin_record);
    let ctx = Ctx {
        store: &api.store,
        actor: &admin,
        request_id: "req_env",
        now: now(),
        idempotency: None,
        max_keys: api.config.limits.keys,
    };
    let member = rules::create_member(&ctx, None, "Eve".into(), "eve@example.com".into()).await.unwrap();
    let new = user_key(&member.user_id, Some(Environment::Test));
    let (key, _, _) =
        rules::create_key(&ctx, &api.config.key_prefix, api.hashing_secret().await.unwrap(), new).await.unwrap();
    rules::remove_member(&ctx, &member.user_id).await.unwrap();
    let events = |items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>]| -> Vec<String> {
        items.iter().filter_map(|i| i.get("event_type")?.as_s().ok().cloned()).collect()
    };
    let live = keyhive::testkit::partition(&api, schema::outbox_pk(admin.org_id.as_str(), "live")).await;
    let test = keyhive::testkit::partition(&api, schema::outbox_pk(admin.org_id.as_str(), "test")).await;
    assert!(events(&live).contains(&"member.removed".to_string()));
    assert!(!events(&live).contains(&"key.revoked".to_string()));
    assert!(events(&test).contains(&"key.revoked".to_string()), "{:?}", events(&test));
    let audit = keyhive::testkit::partition(&api, schema::audit_pk(admin.org_id.as_str())).await;
    let revoked = audit
        .iter()
        .find(|i| i.get("action").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("key.revoked"))
        .expect("an audit entry for the removed key");
    assert_eq!(revoked["target_id"].as_s().unwrap(), key.key_id.as_str());
    assert_eq!(revoked["environment"].as_s().unwrap(), "test");
}

/// The key list shows `last_used_at`, which the index does not carry: it is read from the items.
#[tokio::test]
async fn the_key_list_shows_when_each_key_was_last_used() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let (used, used_record) = bot_key(&api, &admin, Tier::Standard, None).await;
    let (_, unused_record) = bot_key(&api, &admin, Tier::Standard, None).await;
    let at = window_start_plus(7);
    auth_at(&api, used.reveal(), at).await.expect("valid key");
    let page = rules::list_keys(&api.store, &identity_of(&admin), None, None, None, 100).await.unwrap();
    let last_used =
        |id: &keyhive::auth::KeyId| page.items.iter().find(|(k, _)| &k.key_id == id).map(|(k, _)| k.last_used_at);
    assert_eq!(last_used(&used_record.key_id), Some(Some(at)));
    assert_eq!(last_used(&unused_record.key_id), Some(None));
}

/// An organization holds at most `Limits::keys` unrevoked keys, however many creations race: no
/// key can multiply its own rate limit by minting keys without bound. A revocation frees a slot.
#[tokio::test]
async fn the_key_ceiling_holds_under_concurrent_creations_and_a_revocation_frees_a_slot() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let actor = identity_of(&admin);
    let ctx =
        Ctx { store: &api.store, actor: &actor, request_id: "req_ceiling", now: now(), idempotency: None, max_keys: 5 };
    let secret = api.hashing_secret().await.unwrap();
    let new = || NewKey {
        name: "minted".into(),
        key_type: KeyType::Bot,
        user_id: None,
        permissions: Permissions::from_json("p", &json!({"sandboxes": ["read"]})).unwrap(),
        environment: None,
        expires_at: None,
        tier: Tier::Standard,
        meta: Default::default(),
    };
    let creations = (0..12).map(|_| rules::create_key(&ctx, &api.config.key_prefix, secret, new()));
    let results = futures_util::future::join_all(creations).await;
    let made: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let full = results.iter().filter(|r| matches!(r, Err(ApiError::QuotaExceeded(_)))).count();
    // The bootstrap key counts: four minted keys beside it, eight refused.
    assert_eq!((made.len(), full), (4, 8));
    rules::revoke_key(&ctx, &made[0].0.key_id).await.unwrap();
    rules::create_key(&ctx, &api.config.key_prefix, secret, new()).await.expect("the revoked key's slot");
    let over = rules::create_key(&ctx, &api.config.key_prefix, secret, new()).await;
    assert!(matches!(over, Err(ApiError::QuotaExceeded(_))), "{:?}", over.map(|r| r.0.key_id));
}

/// `enabled: false` refuses a key on its very next request, `true` lets it in again; switching a
/// key off is managing it: a weaker key cannot, and the change is audited as `key.updated`.
#[tokio::test]
async fn a_disabled_key_is_refused_on_its_next_request_until_enabled_again() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let (key, record) = bot_key(&api, &admin, Tier::Standard, None).await;
    let actor = identity_of(&admin);
    let ctx = rules_ctx(&api, &actor, "req_disable");
    assert_eq!(code(&auth_at(&api, key.reveal(), now()).await), "OK");
    let off = KeyPatch { enabled: Some(false), ..KeyPatch::default() };
    let disabled = rules::update_key(&ctx, &record.key_id, off).await.unwrap();
    assert_eq!(disabled.0.to_json()["enabled"], false);
    assert_eq!(code(&auth_at(&api, key.reveal(), now()).await), "UNAUTHORIZED", "the very next request");
    let stored = rules::visible_key(&api.store, &actor, &record.key_id).await.unwrap();
    assert!(stored.disabled_at.is_some());
    let listed = rules::list_keys(&api.store, &actor, None, None, None, 100).await.unwrap();
    let shown = listed.items.iter().find(|(k, _)| k.key_id == record.key_id).expect("listed");
    assert_eq!(shown.0.to_json()["enabled"], false, "lists show it off");
    // A key weaker than the one it would switch off cannot.
    let weak = Identity {
        permissions: Permissions::from_json("p", &json!({"apiKeys": ["update"]})).unwrap(),
        ..actor.clone()
    };
    let weak_ctx = Ctx { actor: &weak, ..ctx };
    let refused =
        rules::update_key(&weak_ctx, &record.key_id, KeyPatch { enabled: Some(true), ..KeyPatch::default() }).await;
    assert!(matches!(refused, Err(ApiError::Forbidden { .. }) | Err(ApiError::Escalation { .. })), "{refused:?}");
    assert_eq!(code(&auth_at(&api, key.reveal(), now()).await), "UNAUTHORIZED");
    let on = KeyPatch { enabled: Some(true), ..KeyPatch::default() };
    assert_eq!(rules::update_key(&ctx, &record.key_id, on).await.unwrap().0.to_json()["enabled"], true);
    assert_eq!(code(&auth_at(&api, key.reveal(), now()).await), "OK", "switched on again");
}

/// A key's reads that show its metadata take the key item and the metadata item in one Query of
/// the key's partition: one round trip, both items, and the partition's other item (the expiry
/// notice, which sorts before both) left alone; a key without metadata reads as empty metadata.
#[tokio::test]
async fn a_key_and_its_metadata_are_one_round_trip() {
    use keys::store::KeyAdminStore;
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let actor = identity_of(&admin);
    let ctx = rules_ctx(&api, &actor, "req_test");
    let meta = keys::model::KeyMeta {
        meta: json!({"team": "payments"}).as_object().cloned().unwrap(),
        external_id: Some("customer-42".into()),
    };
    let new = NewKey {
        name: "with meta".into(),
        key_type: KeyType::Bot,
        user_id: None,
        permissions: Permissions::from_json("p", &json!({"sandboxes": ["read"]})).unwrap(),
        environment: None,
        // An expiry: the partition then holds its notice item too.
        expires_at: Some(now() + Duration::days(30)),
        tier: Tier::Standard,
        meta: meta.clone(),
    };
    let (record, _, _) =
        rules::create_key(&ctx, &api.config.key_prefix, api.hashing_secret().await.unwrap(), new).await.unwrap();

    let counter = keyhive::aws::RequestCounter::default();
    let store = keyhive::store::dynamo::DynamoStore::new(
        keyhive::aws::counted_dynamodb(api.store.client(), &counter),
        api.store.table(),
    );
    let (key, read_meta) = rules::visible_key_with_meta(&store, &actor, &record.key_id).await.unwrap();
    assert_eq!(counter.count(), 1);
    assert_eq!(key.key_id, record.key_id);
    assert_eq!(key.expires_at, record.expires_at);
    assert_eq!(read_meta, meta);

    // The admin's own key has no metadata item: empty, not an error; an unknown key: none.
    let (own, own_meta) = store.get_key_with_meta(&admin.key_id).await.unwrap();
    assert_eq!(own.map(|k| k.key_id), Some(admin.key_id.clone()));
    assert_eq!(own_meta, keys::model::KeyMeta::default());
    let (missing, _) = store.get_key_with_meta(&keyhive::auth::KeyId::generate()).await.unwrap();
    assert!(missing.is_none());
    assert!(matches!(
        rules::visible_key_with_meta(&store, &actor, &keyhive::auth::KeyId::generate()).await,
        Err(ApiError::NotFound(_))
    ));
}
