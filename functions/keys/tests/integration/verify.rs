//! Keys for other services, on REST v1 events against DynamoDB Local and moto: verification
//! (codes, the permission query, no oracle, exact rate limits), metadata and external ids, and
//! the attacker's paths (a weak key verifying or disabling a stronger one, a test key verifying
//! live keys).

use keyhive::auth::store::key_record;
use keyhive::auth::{Environment, Identity, KeyStore};
use keyhive::schema;
use keyhive::store::items::key_of;
use keyhive::testkit::{assert_envelope, identity_of, new_org, stack_api, tally, Event};
use keyhive::ApiState;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

async fn send(api: &ApiState, event: Event) -> Response<Body> {
    keys::handle(api, &Default::default(), event.request()).await
}

/// Creates a key as `creator`: its id, full key and the identity the authorizer would pass.
async fn create(api: &ApiState, creator: &Identity, body: Value) -> (String, String, Identity) {
    let made = send(api, Event::load("keys-create.json").authorized_as(creator).body(&body)).await;
    let data = assert_envelope(&made, 201)["data"].clone();
    let id = data["id"].as_str().expect("id").to_string();
    let key = data["key"].as_str().expect("key").to_string();
    let record = api.store.get_key(&keyhive::auth::KeyId::parse(&id).expect("id")).await.expect("read").expect("key");
    (id, key, identity_of(&record))
}

async fn verify(api: &ApiState, caller: &Identity, body: Value) -> Value {
    let response = send(api, Event::load("keys-verify.json").authorized_as(caller).body(&body)).await;
    assert_envelope(&response, 200)["data"].clone()
}

fn bot(name: &str, permissions: Value) -> Value {
    json!({ "name": name, "type": "bot", "permissions": permissions })
}

#[tokio::test]
async fn a_key_verifies_with_and_without_a_permission_query() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let body = json!({
        "name": "checkout service", "type": "bot",
        "permissions": { "shortLinks": ["read"], "stats": ["read"] },
        "meta": { "plan": "pro", "seats": 12 }, "external_id": "cus_42",
    });
    let (id, key, _) = create(&api, &admin, body).await;
    let plain = verify(&api, &admin, json!({ "key": key })).await;
    assert_eq!(plain["valid"], true);
    assert_eq!(plain["code"], "VALID");
    assert_eq!(plain["key_id"], id.as_str());
    assert_eq!(plain["name"], "checkout service");
    assert_eq!(plain["environment"], "live");
    assert_eq!(plain["meta"], json!({ "plan": "pro", "seats": 12 }));
    assert_eq!(plain["external_id"], "cus_42");
    assert_eq!(plain["permissions"], json!({ "shortLinks": ["read"], "stats": ["read"] }));
    assert_eq!(plain["ratelimit"]["limit"], 100);
    assert_eq!(plain["ratelimit"]["remaining"], 99);
    let allowed =
        verify(&api, &admin, json!({ "key": key, "permissions": "shortLinks:read AND (stats:read OR domains:read)" }))
            .await;
    assert_eq!((allowed["valid"].clone(), allowed["code"].clone()), (json!(true), json!("VALID")));
    let refused = verify(&api, &admin, json!({ "key": key, "permissions": "shortLinks:read AND domains:read" })).await;
    assert_eq!((refused["valid"].clone(), refused["code"].clone()), (json!(false), json!("INSUFFICIENT_PERMISSIONS")));
    assert_eq!(refused["key_id"], id.as_str(), "the right secret earns the key's description");
    // Each verification was the key's use: its window counted three, and it was used.
    assert_eq!(refused["ratelimit"]["remaining"], 97);
    let read = send(&api, Event::load("keys-get.json").authorized_as(&admin).param("id", &id)).await;
    assert!(assert_envelope(&read, 200)["data"]["last_used_at"].is_string());
    // A malformed query is the caller's mistake: 400 on `permissions`.
    let bad = send(
        &api,
        Event::load("keys-verify.json")
            .authorized_as(&admin)
            .body(&json!({ "key": key, "permissions": "shortLinks:read AND" })),
    )
    .await;
    let body = assert_envelope(&bad, 400);
    assert_eq!(body["error"]["details"]["field"], "permissions");
}

#[tokio::test]
async fn everything_but_the_callers_live_key_answers_the_same_not_found() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (_, key, _) = create(&api, &admin, bot("target", json!({ "shortLinks": ["read"] }))).await;
    let (revoked_id, revoked_key, _) = create(&api, &admin, bot("gone", json!({}))).await;
    assert_envelope(
        &send(&api, Event::load("keys-revoke.json").authorized_as(&admin).param("id", &revoked_id)).await,
        200,
    );
    let (_, foreign_admin) = new_org(&api, Environment::Live).await;
    let (_, foreign_key, _) = create(&api, &identity_of(&foreign_admin), bot("theirs", json!({}))).await;
    let (_, test_key, _) =
        create(&api, &admin, json!({ "name": "t", "type": "bot", "permissions": {}, "environment": "test" })).await;
    let (public, secret) = key.split_once('.').expect("a key");
    let wrong_secret = format!("{public}.{}", "A".repeat(secret.len()));
    let unknown_id = format!("kh_live_ZZZZZZZZZZZZ.{secret}");
    for case in [
        wrong_secret.as_str(),
        unknown_id.as_str(),
        "not a key",
        "",
        &revoked_key,
        &foreign_key,
        &test_key,
        &key[..key.len() - 1],
    ] {
        let body = if case.is_empty() { json!({ "key": "x" }) } else { json!({ "key": case }) };
        let answer = verify(&api, &admin, body).await;
        assert_eq!(answer, json!({ "valid": false, "code": "NOT_FOUND" }), "for {case:?}");
    }
    // The foreign key was not counted by the attempt: its own window is untouched.
    let foreign = verify(&api, &identity_of(&foreign_admin), json!({ "key": foreign_key })).await;
    assert_eq!(foreign["ratelimit"]["remaining"], 99, "another organization's verification counted against it");
}

#[tokio::test]
async fn a_disabled_or_expired_key_says_so_only_to_its_right_secret() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (id, key, _) = create(&api, &admin, bot("switch", json!({}))).await;
    let off = send(
        &api,
        Event::load("keys-update.json").authorized_as(&admin).param("id", &id).body(&json!({ "enabled": false })),
    )
    .await;
    assert_eq!(assert_envelope(&off, 200)["data"]["enabled"], false);
    let answer = verify(&api, &admin, json!({ "key": key })).await;
    assert_eq!((answer["valid"].clone(), answer["code"].clone()), (json!(false), json!("DISABLED")));
    assert!(answer.get("ratelimit").is_none());
    let (public, _) = key.split_once('.').expect("a key");
    let guessed = verify(&api, &admin, json!({ "key": format!("{public}.{}", "B".repeat(43)) })).await;
    assert_eq!(guessed, json!({ "valid": false, "code": "NOT_FOUND" }));
    let on = send(
        &api,
        Event::load("keys-update.json").authorized_as(&admin).param("id", &id).body(&json!({ "enabled": true })),
    )
    .await;
    assert_envelope(&on, 200);
    assert_eq!(verify(&api, &admin, json!({ "key": key })).await["code"], "VALID");
    // Expired: the stored item past its expiry (an expiry cannot be set in the past).
    let item_key = key_of(schema::key_pk(&id), schema::KEY_SK);
    api.store
        .client()
        .update_item()
        .table_name(api.store.table())
        .set_key(Some(item_key.clone()))
        .update_expression("SET expires_at = :at, expires_epoch = :epoch")
        .expression_attribute_values(":at", aws_sdk_dynamodb::types::AttributeValue::S("2026-01-01T00:00:00Z".into()))
        .expression_attribute_values(":epoch", aws_sdk_dynamodb::types::AttributeValue::N("1767225600".into()))
        .send()
        .await
        .expect("expire the key");
    let answer = verify(&api, &admin, json!({ "key": key })).await;
    assert_eq!(
        (answer["code"].clone(), answer["expires_at"].clone()),
        (json!("EXPIRED"), json!("2026-01-01T00:00:00Z"))
    );
    let stored = api.store.get_consistent(item_key).await.expect("read").expect("item");
    assert!(key_record(&stored).expect("record").revoked_at.is_none());
}

#[tokio::test]
async fn rate_limited_is_exact_under_concurrent_verifications() {
    let api = std::sync::Arc::new(stack_api().await);
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let body = json!({ "name": "metered", "type": "bot", "permissions": {}, "tier": "enterprise", "rate_limit_per_minute": 7 });
    let (_, key, _) = create(&api, &admin, body).await;
    let counts = tally(30, |_| {
        let (api, admin, key) = (api.clone(), admin.clone(), key.clone());
        async move {
            match verify(&api, &admin, json!({ "key": key })).await["code"].as_str() {
                Some("VALID") => "VALID",
                Some("RATE_LIMITED") => "RATE_LIMITED",
                _ => "OTHER",
            }
        }
    })
    .await;
    // A window that turned during the burst allows another 7: never more than the limit per window.
    let valid = counts.get("VALID").copied().unwrap_or(0);
    assert!(valid == 7 || valid == 14, "{counts:?}");
    assert_eq!(valid + counts.get("RATE_LIMITED").copied().unwrap_or(0), 30, "{counts:?}");
}

#[tokio::test]
async fn a_weak_key_verifies_nothing_it_could_not_read_and_disables_nothing_stronger() {
    let api = stack_api().await;
    let (admin_credential, admin_record) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin_record);
    // No apiKeys:read: no verification at all.
    let (_, _, blind) = create(&api, &admin, bot("blind", json!({ "shortLinks": ["read"] }))).await;
    let refused = send(
        &api,
        Event::load("keys-verify.json").authorized_as(&blind).body(&json!({ "key": admin_credential.reveal() })),
    )
    .await;
    assert_eq!(assert_envelope(&refused, 403)["error"]["details"]["required"], "apiKeys:read");
    // A test key may read test keys only: the live admin key is not found.
    let (_, _, tester) = create(
        &api,
        &admin,
        json!({ "name": "t", "type": "bot", "permissions": { "apiKeys": ["read"] }, "environment": "test" }),
    )
    .await;
    let answer = verify(&api, &tester, json!({ "key": admin_credential.reveal() })).await;
    assert_eq!(answer, json!({ "valid": false, "code": "NOT_FOUND" }));
    // A key that may update keys, but holds less than the admin: it cannot switch the admin off.
    let (_, _, updater) = create(&api, &admin, bot("updater", json!({ "apiKeys": ["read", "update"] }))).await;
    let off = send(
        &api,
        Event::load("keys-update.json")
            .authorized_as(&updater)
            .param("id", admin_record.key_id.as_str())
            .body(&json!({ "enabled": false })),
    )
    .await;
    assert_eq!(assert_envelope(&off, 403)["error"]["details"]["missing"], "permissions");
    assert_eq!(verify(&api, &admin, json!({ "key": admin_credential.reveal() })).await["code"], "VALID");
}

#[tokio::test]
async fn metadata_and_external_ids_are_kept_changed_and_listed_by() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let with = |name: &str, external: &str| json!({ "name": name, "type": "bot", "permissions": {}, "external_id": external, "meta": { "tenant": name } });
    let (a, _, _) = create(&api, &admin, with("a", "cus_1")).await;
    let (b, _, _) = create(&api, &admin, with("b", "cus_1")).await;
    let (c, _, _) = create(&api, &admin, with("c", "cus_2")).await;
    let list = |external: &str| {
        let event = Event::load("keys-list.json").authorized_as(&admin).query("external_id", external);
        let api = &api;
        async move {
            let body = assert_envelope(&send(api, event).await, 200);
            let mut ids = body["data"]
                .as_array()
                .expect("list")
                .iter()
                .map(|k| k["id"].as_str().expect("id").to_string())
                .collect::<Vec<_>>();
            // Newest first by the second of creation; keys of one second in id order: compare as sets.
            ids.sort();
            ids
        }
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert_eq!(list("cus_1").await, sorted(vec![b.clone(), a.clone()]), "only that external id");
    assert_eq!(list("cus_2").await, vec![c.clone()]);
    // A new external id moves the key; meta is replaced as a whole; null clears.
    let patch =
        |id: &str, body: Value| Event::load("keys-update.json").authorized_as(&admin).param("id", id).body(&body);
    let moved =
        assert_envelope(&send(&api, patch(&b, json!({ "external_id": "cus_2", "meta": { "x": 1 } }))).await, 200);
    assert_eq!(
        (moved["data"]["external_id"].clone(), moved["data"]["meta"].clone()),
        (json!("cus_2"), json!({ "x": 1 }))
    );
    assert_eq!(list("cus_1").await, vec![a.clone()]);
    assert_eq!(list("cus_2").await, sorted(vec![b.clone(), c.clone()]));
    let cleared = assert_envelope(&send(&api, patch(&b, json!({ "external_id": null, "meta": null }))).await, 200);
    assert_eq!((cleared["data"]["external_id"].clone(), cleared["data"]["meta"].clone()), (json!(null), json!({})));
    assert_eq!(list("cus_2").await, vec![c.clone()]);
    let read =
        assert_envelope(&send(&api, Event::load("keys-get.json").authorized_as(&admin).param("id", &a)).await, 200);
    assert_eq!(read["data"]["meta"], json!({ "tenant": "a" }));
    // Revoked keys leave the external id's listing.
    assert_envelope(&send(&api, Event::load("keys-revoke.json").authorized_as(&admin).param("id", &c)).await, 200);
    assert!(list("cus_2").await.is_empty());
    // Bounds, each a 400 naming its field.
    let big: serde_json::Map<String, Value> = (0..21).map(|i| (format!("k{i}"), json!(i))).collect();
    let heavy = json!({ "blob": "x".repeat(2100) });
    for (body, field) in [
        (json!({ "meta": big }), "meta"),
        (json!({ "meta": heavy }), "meta"),
        (json!({ "meta": [1] }), "meta"),
        (json!({ "external_id": "e".repeat(256) }), "external_id"),
        (json!({ "external_id": "" }), "external_id"),
        (json!({ "external_id": "a\u{0007}b" }), "external_id"),
    ] {
        let response = send(&api, patch(&a, body)).await;
        assert_eq!(assert_envelope(&response, 400)["error"]["details"]["field"], field);
    }
}

#[tokio::test]
async fn the_authentication_write_stays_one_unit_with_meta_at_its_largest() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let meta: serde_json::Map<String, Value> = (0..20).map(|i| (format!("k{i:02}"), json!("v".repeat(88)))).collect();
    assert!(Value::Object(meta.clone()).to_string().len() <= 2048);
    let body = json!({
        "name": "n".repeat(100), "type": "bot", "permissions": { "shortLinks": ["create", "read", "update", "delete"] },
        "meta": meta, "external_id": "e".repeat(255), "expires_at": "2099-01-01T00:00:00Z",
    });
    let (_, key, _) = create(&api, &admin, body).await;
    let secret = api.hashing_secret().await.expect("secret");
    let credential = keyhive::auth::Credential::parse(&key, &api.config.key_prefix).expect("key");
    let event = keyhive::auth::usage::UseEvent::Request { permission: None };
    let touched = api
        .store
        .touch_key(
            &credential.key_id,
            &credential.hash(secret),
            credential.environment,
            None,
            keyhive::model::now(),
            &event,
        )
        .await
        .expect("touch");
    match touched {
        keyhive::auth::KeyUse::Counted { write_units, .. } => assert_eq!(write_units, Some(1.0)),
        other => panic!("not counted: {other:?}"),
    }
}
