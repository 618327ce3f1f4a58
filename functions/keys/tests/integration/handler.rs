//! The keys function fed REST v1 events from `events/` (authorizer context included, as API
//! Gateway sends them), against DynamoDB Local and moto.

use keyhive::auth::Environment;
use keyhive::testkit::{assert_envelope, identity_of, new_org, stack_api, Event};
use keyhive::ApiState;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

async fn send(api: &ApiState, event: Event) -> Response<Body> {
    keys::handle(api, &Default::default(), event.request()).await
}

/// The admin of a fresh organization, as the authorizer would describe it.
async fn admin(api: &ApiState) -> (keyhive::auth::Credential, keyhive::auth::Identity) {
    let (credential, record) = new_org(api, Environment::Live).await;
    (credential, identity_of(&record))
}

fn create_body(name: &str, permissions: Value) -> Value {
    json!({ "name": name, "type": "bot", "permissions": permissions })
}

#[tokio::test]
async fn create_shows_the_key_once_and_never_again() {
    let api = stack_api().await;
    let (_, admin) = admin(&api).await;
    let response = send(&api, Event::load("keys-create.json").authorized_as(&admin)).await;
    let created = assert_envelope(&response, 201);
    let key = created["data"]["key"].as_str().expect("key shown at creation").to_string();
    let id = created["data"]["id"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("kh_live_{id}.")), "{key}");
    assert_eq!(created["data"]["owner"], "Bot");
    assert_eq!(created["data"]["last4"], &key[key.len() - 4..]);
    assert_eq!(created["data"]["permissions"], json!({"sandboxes": ["create", "read"]}));

    let secret = key.split_once('.').unwrap().1.to_string();
    let get = send(&api, Event::load("keys-get.json").authorized_as(&admin).param("id", &id)).await;
    let listed = send(&api, Event::load("keys-list.json").authorized_as(&admin)).await;
    for response in [&get, &listed] {
        let text = String::from_utf8_lossy(response.body().as_ref()).to_string();
        assert!(!text.contains(&secret), "the secret came back: {text}");
        assert!(!text.contains("secret_hash") && !text.contains("\"key\""), "{text}");
    }
    assert_eq!(assert_envelope(&get, 200)["data"]["id"], id.as_str());
    let list = assert_envelope(&listed, 200);
    assert!(list["data"].as_array().unwrap().iter().any(|k| k["id"] == id.as_str()));
    assert_eq!(list["meta"]["limit"], 20);
    assert_eq!(list["meta"]["has_more"], false);
    // The authenticated response reports the rate figures the authorizer passed.
    assert_eq!(listed.headers()["x-ratelimit-limit"], "10000");
}

#[tokio::test]
async fn update_replaces_named_fields_and_revoke_makes_the_key_disappear() {
    let api = stack_api().await;
    let (_, admin) = admin(&api).await;
    let created = assert_envelope(&send(&api, Event::load("keys-create.json").authorized_as(&admin)).await, 201);
    let id = created["data"]["id"].as_str().unwrap();

    let patched = send(
        &api,
        Event::load("keys-update.json")
            .authorized_as(&admin)
            .param("id", id)
            .body(&json!({"name": "renamed", "permissions": {"stats": ["read"]}})),
    )
    .await;
    let body = assert_envelope(&patched, 200);
    assert_eq!(body["data"]["name"], "renamed");
    assert_eq!(body["data"]["permissions"], json!({"stats": ["read"]}), "the map is replaced, not merged");
    assert_eq!(body["data"]["tier"], "standard", "unnamed fields stay");

    let revoked = send(&api, Event::load("keys-revoke.json").authorized_as(&admin).param("id", id)).await;
    assert_eq!(assert_envelope(&revoked, 200)["data"]["id"], id);
    let gone = send(&api, Event::load("keys-get.json").authorized_as(&admin).param("id", id)).await;
    assert_eq!(assert_envelope(&gone, 404)["error"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn no_key_can_grant_or_manage_more_than_it_holds() {
    let api = stack_api().await;
    let (_, admin) = admin(&api).await;
    // A manager that may create and update keys, and read sandboxes.
    let manager_perms = json!({"apiKeys": ["create", "read", "update"], "sandboxes": ["read"]});
    let made =
        send(&api, Event::load("keys-create.json").authorized_as(&admin).body(&create_body("manager", manager_perms)))
            .await;
    let manager_id = assert_envelope(&made, 201)["data"]["id"].as_str().unwrap().to_string();
    let api_store = &api.store;
    let manager_record =
        keyhive::auth::KeyStore::get_key(api_store, &keyhive::auth::KeyId::parse(&manager_id).unwrap())
            .await
            .unwrap()
            .unwrap();
    let manager = identity_of(&manager_record);

    let escalate = send(
        &api,
        Event::load("keys-create.json")
            .authorized_as(&manager)
            .body(&create_body("more", json!({"sandboxes": ["read", "delete"]}))),
    )
    .await;
    let body = assert_envelope(&escalate, 403);
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    assert_eq!(body["error"]["details"]["missing"], "permissions", "the axis");
    assert_eq!(body["error"]["details"]["permissions"], json!(["sandboxes:delete"]));

    let within = send(
        &api,
        Event::load("keys-create.json")
            .authorized_as(&manager)
            .body(&create_body("less", json!({"sandboxes": ["read"]}))),
    )
    .await;
    assert_envelope(&within, 201);

    // Nor raise itself, nor touch the more powerful admin key (its secret would be a roll away).
    let raise_self = send(
        &api,
        Event::load("keys-update.json")
            .authorized_as(&manager)
            .param("id", &manager_id)
            .body(&json!({"permissions": {"apiKeys": ["create", "read", "update", "delete"]}})),
    )
    .await;
    assert_envelope(&raise_self, 403);
    let roll_admin =
        send(&api, Event::load("keys-roll.json").authorized_as(&manager).param("id", admin.key_id.as_str())).await;
    assert_envelope(&roll_admin, 403);
    let higher_tier = send(
        &api,
        Event::load("keys-create.json")
            .authorized_as(&manager)
            .body(&json!({"name": "big", "type": "bot", "permissions": {}, "tier": "professional"})),
    )
    .await;
    assert_envelope(&higher_tier, 403);

    // The body's own values (400) are judged before escalation (403), as openapi.yaml orders the checks.
    let mut past_and_more = create_body("late", json!({"sandboxes": ["read", "delete"]}));
    past_and_more["expires_at"] = json!("2000-01-01T00:00:00Z");
    let late = send(&api, Event::load("keys-create.json").authorized_as(&manager).body(&past_and_more)).await;
    assert_eq!(assert_envelope(&late, 400)["error"]["details"]["field"], "expires_at");
    let bot_with_user = send(
        &api,
        Event::load("keys-create.json")
            .authorized_as(&manager)
            .body(&json!({"name": "b", "type": "bot", "user_id": "usr_x", "permissions": {"audit": ["read"]}})),
    )
    .await;
    assert_eq!(assert_envelope(&bot_with_user, 400)["error"]["details"]["field"], "user_id");
    let late_admin = send(
        &api,
        Event::load("keys-update.json")
            .authorized_as(&manager)
            .param("id", admin.key_id.as_str())
            .body(&json!({"expires_at": "2000-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(assert_envelope(&late_admin, 400)["error"]["details"]["field"], "expires_at");

    // A route's own permission is checked before anything else of the request: 403 with `required`.
    let reader = json!({"sandboxes": ["read"]});
    let made =
        send(&api, Event::load("keys-create.json").authorized_as(&admin).body(&create_body("reader", reader))).await;
    let reader_id = assert_envelope(&made, 201)["data"]["id"].as_str().unwrap().to_string();
    let reader_record = keyhive::auth::KeyStore::get_key(api_store, &keyhive::auth::KeyId::parse(&reader_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let forbidden = send(&api, Event::load("keys-list.json").authorized_as(&identity_of(&reader_record))).await;
    assert_eq!(assert_envelope(&forbidden, 403)["error"]["details"]["required"], "apiKeys:read");
    // ...while its own record needs no permission at all.
    let own = send(&api, Event::load("keys-self.json").authorized_as(&identity_of(&reader_record))).await;
    assert_eq!(assert_envelope(&own, 200)["data"]["id"], reader_id.as_str());
}

#[tokio::test]
async fn another_organizations_keys_are_indistinguishable_from_missing_ones() {
    let api = stack_api().await;
    let (_, alice) = admin(&api).await;
    let (_, mallory) = admin(&api).await;
    let target = alice.key_id.as_str();
    for event in [
        Event::load("keys-get.json").param("id", target),
        Event::load("keys-update.json").param("id", target),
        Event::load("keys-revoke.json").param("id", target),
        Event::load("keys-roll.json").param("id", target),
    ] {
        let response = send(&api, event.authorized_as(&mallory)).await;
        assert_eq!(assert_envelope(&response, 404)["error"]["code"], "NOT_FOUND");
    }
    let list = assert_envelope(&send(&api, Event::load("keys-list.json").authorized_as(&mallory)).await, 200);
    assert!(list["data"].as_array().unwrap().iter().all(|k| k["id"] != target));
}

#[tokio::test]
async fn test_keys_cannot_see_or_mint_live_keys() {
    let api = stack_api().await;
    let (_, live_admin) = admin(&api).await;
    let made = send(
        &api,
        Event::load("keys-create.json").authorized_as(&live_admin).body(
            &json!({"name": "t", "type": "bot", "environment": "test", "permissions": {"apiKeys": ["create", "read"]}}),
        ),
    )
    .await;
    let test_id = assert_envelope(&made, 201)["data"]["id"].as_str().unwrap().to_string();
    let test_record = keyhive::auth::KeyStore::get_key(&api.store, &keyhive::auth::KeyId::parse(&test_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let test_key = identity_of(&test_record);
    let live =
        send(&api, Event::load("keys-get.json").authorized_as(&test_key).param("id", live_admin.key_id.as_str())).await;
    assert_envelope(&live, 404);
    let mint_live = send(
        &api,
        Event::load("keys-create.json")
            .authorized_as(&test_key)
            .body(&json!({"name": "x", "type": "bot", "environment": "live", "permissions": {}})),
    )
    .await;
    assert_envelope(&mint_live, 403);
    let mint_default = send(
        &api,
        Event::load("keys-create.json")
            .authorized_as(&test_key)
            .body(&json!({"name": "x", "type": "bot", "permissions": {}})),
    )
    .await;
    assert_eq!(
        assert_envelope(&mint_default, 201)["data"]["environment"],
        "test",
        "defaults to the caller's environment"
    );
}

#[tokio::test]
async fn bad_bodies_are_enveloped_4xx_that_write_nothing() {
    let api = stack_api().await;
    let (_, admin) = admin(&api).await;
    let cases: Vec<(String, &str, &str)> = vec![
        ("not json".into(), "INVALID_JSON", ""),
        ("[1,2]".into(), "INVALID_JSON", ""),
        (r#"{"name":"a","name":"b","type":"bot","permissions":{}}"#.into(), "INVALID_JSON", ""),
        (json!({"type": "bot", "permissions": {}}).to_string(), "VALIDATION_FAILED", "name"),
        (json!({"name": "", "type": "bot", "permissions": {}}).to_string(), "VALIDATION_FAILED", "name"),
        (json!({"name": "x", "type": "robot", "permissions": {}}).to_string(), "VALIDATION_FAILED", "type"),
        (
            json!({"name": "x", "type": "bot", "permissions": {"links": ["read"]}}).to_string(),
            "VALIDATION_FAILED",
            "permissions.links",
        ),
        (
            json!({"name": "x", "type": "bot", "permissions": {"sandboxes": ["fly"]}}).to_string(),
            "VALIDATION_FAILED",
            "permissions.sandboxes",
        ),
        (
            json!({"name": "x", "type": "bot", "permissions": {}, "colour": "red"}).to_string(),
            "VALIDATION_FAILED",
            "colour",
        ),
        (
            json!({"name": "x", "type": "bot", "permissions": {}, "tier": "enterprise"}).to_string(),
            "VALIDATION_FAILED",
            "rate_limit_per_minute",
        ),
        (
            json!({"name": "x", "type": "bot", "permissions": {}, "expires_at": "tomorrow"}).to_string(),
            "VALIDATION_FAILED",
            "expires_at",
        ),
        (
            json!({"name": "x", "type": "bot", "permissions": {}, "expires_at": "2001-01-01T00:00:00Z"}).to_string(),
            "VALIDATION_FAILED",
            "expires_at",
        ),
        (json!({"name": "x", "type": "user", "permissions": {}}).to_string(), "VALIDATION_FAILED", "user_id"),
        (
            // Well-formed, but names no member of this organization: a missing resource.
            json!({"name": "x", "type": "user", "user_id": "nobody", "permissions": {}}).to_string(),
            "NOT_FOUND",
            "user_id",
        ),
        (format!("{{\"name\":\"{}\"}}", "x".repeat(70 * 1024)), "PAYLOAD_TOO_LARGE", ""),
    ];
    for (body, code, field) in cases {
        let response = send(&api, Event::load("keys-create.json").authorized_as(&admin).raw_body(&body)).await;
        let status = match code {
            "PAYLOAD_TOO_LARGE" => 413,
            "NOT_FOUND" => 404,
            _ => 400,
        };
        let envelope = assert_envelope(&response, status);
        assert_eq!(envelope["error"]["code"], code, "{}", &body[..body.len().min(80)]);
        if !field.is_empty() {
            assert_eq!(envelope["error"]["details"]["field"], field, "{envelope}");
        }
    }
    let list = assert_envelope(&send(&api, Event::load("keys-list.json").authorized_as(&admin)).await, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "only the admin key exists: nothing was written");
    let bad_limit = send(&api, Event::load("keys-list.json").authorized_as(&admin).query("limit", "0")).await;
    assert_eq!(assert_envelope(&bad_limit, 400)["error"]["details"]["field"], "limit");
}

#[tokio::test]
async fn without_authorizer_context_the_function_authenticates_every_credential_form_itself() {
    let api = stack_api().await;
    let (credential, admin) = admin(&api).await;
    let key = credential.reveal();
    for (header, value) in [
        ("X-API-Key", key.to_string()),
        ("x-api-key", key.to_string()),
        ("Authorization", format!("Bearer {key}")),
        ("Authorization", key.to_string()),
    ] {
        let response = send(&api, Event::load("keys-self.json").without_authorizer().header(header, &value)).await;
        let body = assert_envelope(&response, 200);
        assert_eq!(body["data"]["id"], admin.key_id.as_str(), "{header}");
        assert_eq!(response.headers()["x-ratelimit-limit"], "10000");
    }
    let wrong = keyhive::auth::Credential::mint("kh", Environment::Live, admin.key_id.clone());
    let mut messages = std::collections::BTreeSet::new();
    for (header, value) in [
        ("X-API-Key", wrong.reveal().to_string()),
        ("Authorization", format!("Basic {key}")),
        ("X-API-Key", "kh_live_short.x".to_string()),
        ("X-API-Key", format!("{key}{}", "A".repeat(5000))),
        // Not ASCII: API Gateway passes such header values through as text.
        ("X-API-Key", format!("{key}\u{e9}")),
        ("Authorization", "Bearer \u{fc}ber".to_string()),
    ] {
        let response = send(&api, Event::load("keys-self.json").without_authorizer().header(header, &value)).await;
        let body = assert_envelope(&response, 401);
        assert_eq!(body["error"]["code"], "UNAUTHORIZED");
        messages.insert(body["error"]["message"].as_str().unwrap().to_string());
    }
    let missing = send(&api, Event::load("keys-self.json").without_authorizer()).await;
    assert_envelope(&missing, 401);
    assert_eq!(messages.len(), 1, "the message never says which failure it was: {messages:?}");
}

#[tokio::test]
async fn a_rest_event_without_authorizer_context_is_401_even_with_a_valid_key() {
    // API Gateway always adds the authorizer's context to a protected route: a REST event
    // without it is a misconfiguration, and the function does not fall back to checking the key.
    let api = stack_api().await;
    let (credential, _) = admin(&api).await;
    let response =
        send(&api, Event::load("keys-self.json").rest_without_context().header("X-API-Key", credential.reveal())).await;
    let body = assert_envelope(&response, 401);
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    // The same request as `cargo lambda watch` delivers it authenticates inline.
    let response =
        send(&api, Event::load("keys-self.json").without_authorizer().header("X-API-Key", credential.reveal())).await;
    assert_envelope(&response, 200);
}

#[tokio::test]
async fn members_user_keys_and_removal_through_the_routes() {
    let api = stack_api().await;
    let (_, admin) = admin(&api).await;
    let member = send(&api, Event::load("members-create.json").authorized_as(&admin)).await;
    assert_eq!(assert_envelope(&member, 201)["data"]["user_id"], "usr_alice");
    assert_eq!(member.headers()["location"], "/v1/members/usr_alice");
    let duplicate = send(&api, Event::load("members-create.json").authorized_as(&admin)).await;
    assert_eq!(assert_envelope(&duplicate, 409)["error"]["code"], "CONFLICT");
    let bad_email = send(
        &api,
        Event::load("members-create.json").authorized_as(&admin).body(&json!({"name": "x", "email": "nope"})),
    )
    .await;
    let bad_email = assert_envelope(&bad_email, 400);
    assert_eq!(bad_email["error"]["details"]["field"], "email");
    // The message alone says what to fix: the field, then the reason.
    let message = bad_email["error"]["message"].as_str().unwrap();
    assert_eq!(message, format!("email: {}", bad_email["error"]["details"]["reason"].as_str().unwrap()));

    let user_key = json!({"name": "alice's key", "type": "user", "user_id": "usr_alice", "permissions": {}});
    let first = send(&api, Event::load("keys-create.json").authorized_as(&admin).body(&user_key)).await;
    let location = first.headers()["location"].to_str().unwrap().to_string();
    let first = assert_envelope(&first, 201);
    assert_eq!(first["data"]["owner"], "Alice");
    assert_eq!(location, format!("/v1/keys/{}", first["data"]["id"].as_str().unwrap()));
    let second = send(&api, Event::load("keys-create.json").authorized_as(&admin).body(&user_key)).await;
    let second = assert_envelope(&second, 409);
    assert_eq!(second["error"]["code"], "CONFLICT");
    // The member's existing key, to roll or revoke instead.
    assert_eq!(second["error"]["details"]["id"], first["data"]["id"]);
    // A caller that may create user keys but not read keys learns no key id from the conflict.
    let weak = json!({"name": "weak", "type": "bot", "permissions": {"apiKeys": ["create"], "members": ["create"]}});
    let weak =
        assert_envelope(&send(&api, Event::load("keys-create.json").authorized_as(&admin).body(&weak)).await, 201);
    let weak_id = keyhive::auth::KeyId::parse(weak["data"]["id"].as_str().unwrap()).unwrap();
    let weak = identity_of(&keyhive::auth::KeyStore::get_key(&api.store, &weak_id).await.unwrap().unwrap());
    let blind = send(&api, Event::load("keys-create.json").authorized_as(&weak).body(&user_key)).await;
    let blind = assert_envelope(&blind, 409);
    assert_eq!(blind["error"]["code"], "CONFLICT");
    assert!(blind["error"].get("details").is_none_or(|d| d.get("id").is_none()), "{blind}");

    let members = assert_envelope(&send(&api, Event::load("members-list.json").authorized_as(&admin)).await, 200);
    assert_eq!(members["data"].as_array().unwrap().len(), 1);
    let removed = send(&api, Event::load("members-remove.json").authorized_as(&admin)).await;
    assert_eq!(assert_envelope(&removed, 200)["data"]["removed_key_id"], first["data"]["id"]);
    let key_gone = send(
        &api,
        Event::load("keys-get.json").authorized_as(&admin).param("id", first["data"]["id"].as_str().unwrap()),
    )
    .await;
    // A 404 names the kind of thing that is missing.
    assert_eq!(assert_envelope(&key_gone, 404)["error"]["message"], "key not found");
}

#[tokio::test]
async fn roll_returns_a_new_key_for_the_same_id_and_validates_grace() {
    let api = stack_api().await;
    let (_, admin) = admin(&api).await;
    let created = assert_envelope(&send(&api, Event::load("keys-create.json").authorized_as(&admin)).await, 201);
    let id = created["data"]["id"].as_str().unwrap();
    let rolled = send(&api, Event::load("keys-roll.json").authorized_as(&admin).param("id", id)).await;
    let body = assert_envelope(&rolled, 200);
    assert_eq!(body["data"]["id"], id);
    assert_ne!(body["data"]["key"], created["data"]["key"]);
    assert!(body["data"]["old_secret_valid_until"].is_string());
    for grace in [json!(-1), json!(604_801), json!("soon")] {
        let response = send(
            &api,
            Event::load("keys-roll.json").authorized_as(&admin).param("id", id).body(&json!({"grace_seconds": grace})),
        )
        .await;
        assert_eq!(assert_envelope(&response, 400)["error"]["details"]["field"], "grace_seconds");
    }
    let no_body = send(&api, Event::load("keys-roll.json").authorized_as(&admin).param("id", id).raw_body("")).await;
    assert_eq!(assert_envelope(&no_body, 200)["data"]["old_secret_valid_until"], Value::Null);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_creation_and_refuses_another_body() {
    let api = stack_api().await;
    let (_, ida_admin) = admin(&api).await;
    let create = |key: &str, body: &Value| {
        Event::load("members-create.json").authorized_as(&ida_admin).header("Idempotency-Key", key).body(body)
    };
    let ida = json!({"name": "Ida", "email": "ida@example.com"});
    let first = send(&api, create("idem-1", &ida)).await;
    let created = assert_envelope(&first, 201)["data"].clone();
    assert!(first.headers().get("idempotent-replayed").is_none());

    let again = send(&api, create("idem-1", &ida)).await;
    assert_eq!(assert_envelope(&again, 201)["data"], created, "the first response, replayed");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let location = format!("/v1/members/{}", created["user_id"].as_str().unwrap());
    assert_eq!(first.headers()["location"], location.as_str());
    assert_eq!(again.headers()["location"], location.as_str(), "a replayed 201 names what was created");

    let other_body = send(&api, create("idem-1", &json!({"name": "Eve", "email": "eve@example.com"}))).await;
    assert_eq!(assert_envelope(&other_body, 409)["error"]["code"], "CONFLICT");
    let bad_key = send(&api, create(&"k".repeat(256), &ida)).await;
    assert_eq!(assert_envelope(&bad_key, 400)["error"]["details"]["field"], "Idempotency-Key");

    // Another organization's use of the same key is its own.
    let (_, other_admin) = admin(&api).await;
    let theirs = send(
        &api,
        Event::load("members-create.json").authorized_as(&other_admin).header("Idempotency-Key", "idem-1").body(&ida),
    )
    .await;
    assert!(assert_envelope(&theirs, 201)["data"]["user_id"] != created["user_id"]);

    let members = assert_envelope(&send(&api, Event::load("members-list.json").authorized_as(&ida_admin)).await, 200);
    assert_eq!(members["data"].as_array().unwrap().len(), 1, "one member, however many retries");
}

#[tokio::test]
async fn a_repeated_key_creation_never_shows_the_secret_again() {
    let api = stack_api().await;
    let (_, admin) = admin(&api).await;
    let body = create_body("retried", json!({"audit": ["read"]}));
    let create =
        || Event::load("keys-create.json").authorized_as(&admin).header("Idempotency-Key", "mint-1").body(&body);
    let first = assert_envelope(&send(&api, create()).await, 201);
    let id = first["data"]["id"].as_str().unwrap().to_string();
    let secret = first["data"]["key"].as_str().unwrap().split_once('.').unwrap().1.to_string();

    let again = send(&api, create()).await;
    let text = String::from_utf8(again.body().to_vec()).unwrap();
    let refused = assert_envelope(&again, 409);
    assert_eq!(refused["error"]["details"]["id"], id.as_str(), "names what the first request created");
    assert!(!text.contains(&secret), "the secret is shown once");

    let list = assert_envelope(&send(&api, Event::load("keys-list.json").authorized_as(&admin)).await, 200);
    let named = list["data"].as_array().unwrap().iter().filter(|k| k["name"] == "retried").count();
    assert_eq!(named, 1, "one key, however many retries");
}

#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_create_once_and_all_answer_alike() {
    let api = std::sync::Arc::new(stack_api().await);
    let (_, admin) = admin(&api).await;
    let body = json!({"name": "Rae", "email": "rae@example.com"});
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (api, admin, body) = (api.clone(), admin.clone(), body.clone());
            tokio::spawn(async move {
                let event = Event::load("members-create.json")
                    .authorized_as(&admin)
                    .header("Idempotency-Key", "race")
                    .body(&body);
                let answer = send(&api, event).await;
                assert_envelope(&answer, 201)["data"]["user_id"].as_str().unwrap().to_string()
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "every retry answers the one creation: {ids:?}");
    let members = assert_envelope(&send(&api, Event::load("members-list.json").authorized_as(&admin)).await, 200);
    assert_eq!(members["data"].as_array().unwrap().len(), 1);
}

/// The usage routes on REST events: a fresh key's usage is zero-filled, bucket by bucket; the
/// access report lists what it holds, all unused; another organization's key is a 404; a bad span
/// is a 400 naming its field.
#[tokio::test]
async fn the_usage_routes_answer_from_rest_events() {
    let api = stack_api().await;
    let (_, admin) = admin(&api).await;
    let created = assert_envelope(&send(&api, Event::load("keys-create.json").authorized_as(&admin)).await, 201);
    let id = created["data"]["id"].as_str().unwrap().to_string();

    let usage =
        assert_envelope(&send(&api, Event::load("keys-usage.json").authorized_as(&admin).param("id", &id)).await, 200);
    assert_eq!(usage["data"]["key_id"], id.as_str());
    assert_eq!(usage["data"]["granularity"], "hour");
    let series = usage["data"]["series"].as_array().unwrap();
    assert_eq!(series.len(), 25, "the hour holding `from` to the hour holding now");
    assert!(series.iter().all(|b| b["success"] == 0 && b["forbidden"] == 0 && b["start"].is_string()));
    assert_eq!(usage["data"]["totals"], json!({"success": 0, "forbidden": 0, "rate_limited": 0, "unauthorized": 0}));
    assert_eq!(usage["data"]["by_permission"], json!([]));

    let own = assert_envelope(&send(&api, Event::load("keys-self-usage.json").authorized_as(&admin)).await, 200);
    assert_eq!(own["data"]["key_id"], admin.key_id.as_str());
    assert_eq!(own["data"]["granularity"], "minute");

    let access =
        assert_envelope(&send(&api, Event::load("keys-access.json").authorized_as(&admin).param("id", &id)).await, 200);
    assert_eq!(access["data"]["unused"], json!(["sandboxes:create", "sandboxes:read"]));
    assert_eq!(access["data"]["suggested_permissions"], json!({}));
    assert_eq!(
        access["data"]["permissions"][0],
        json!({"permission": "sandboxes:create", "granted": true, "last_used_at": null, "denied_count": 0})
    );

    let listed = assert_envelope(&send(&api, Event::load("usage-list.json").authorized_as(&admin)).await, 200);
    let ids: Vec<&str> = listed["data"].as_array().unwrap().iter().filter_map(|k| k["key_id"].as_str()).collect();
    assert!(ids.contains(&id.as_str()) && ids.contains(&admin.key_id.as_str()), "{ids:?}");
    assert!(listed["meta"]["from"].is_string() && listed["meta"]["to"].is_string());

    let (_, stranger) = crate::handler::admin(&api).await;
    for event in ["keys-usage.json", "keys-access.json"] {
        let foreign = send(&api, Event::load(event).authorized_as(&stranger).param("id", &id)).await;
        assert_eq!(assert_envelope(&foreign, 404)["error"]["code"], "NOT_FOUND", "{event}");
    }
    let stranger_list =
        assert_envelope(&send(&api, Event::load("usage-list.json").authorized_as(&stranger)).await, 200);
    assert!(!stranger_list["data"].as_array().unwrap().iter().any(|k| k["key_id"] == id.as_str()));

    for (name, value, field) in [
        ("granularity", "week", "granularity"),
        ("from", "yesterday", "from"),
        ("to", "2026-13-01T00:00:00Z", "to"),
        ("from", "2099-01-01T00:00:00Z", "from"),
        ("nope", "1", "nope"),
    ] {
        let bad =
            send(&api, Event::load("keys-usage.json").authorized_as(&admin).param("id", &id).query(name, value)).await;
        let body = assert_envelope(&bad, 400);
        assert_eq!(body["error"]["details"]["field"], field, "{name}={value}");
    }
    let too_long =
        send(&api, Event::load("keys-self-usage.json").authorized_as(&admin).query("from", "2026-01-01T00:00:00Z"))
            .await;
    assert_eq!(assert_envelope(&too_long, 400)["error"]["details"]["field"], "from", "two days and more by minute");
}

/// The aggregator's Lambda event: a key item's stream record, read as one numbered use, and
/// counted into that key's buckets once however often it is delivered.
#[tokio::test]
async fn the_aggregator_counts_a_stream_event_once() {
    use keyhive::store::stream::records_of_event;
    let api = stack_api().await;
    let key_id = keyhive::model::KeyId::generate();
    let mut event = keyhive::testkit::event_json("usage-stream.json");
    let change = &mut event["Records"][0]["dynamodb"];
    change["Keys"]["PK"]["S"] = json!(keyhive::schema::key_pk(key_id.as_str()));
    change["NewImage"]["key_id"]["S"] = json!(key_id.as_str());
    let records = records_of_event(&event);
    let record = keys::usage::UseRecord::from_stream(&records[0]).expect("a use");
    assert_eq!((record.key_id.clone(), record.sequence), (key_id.clone(), 57));
    for _ in 0..3 {
        assert_eq!(keys::usage::count_batch(&api.store, &records).await, None);
    }
    let at = record.at;
    let minute = keys::usage::Granularity::Minute.floor(at);
    let buckets =
        keys::usage::store::UsageStore::buckets(&api.store, &key_id, keys::usage::Granularity::Minute, minute, minute)
            .await
            .expect("buckets");
    assert_eq!(buckets.len(), 1);
    assert_eq!(buckets[0].1.counts, keys::usage::Counts { forbidden: 1, ..Default::default() });
    assert_eq!(buckets[0].1.by_permission["shortLinks:create"].forbidden, 1);
}
