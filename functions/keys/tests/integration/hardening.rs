//! The keys API's hardening, on REST v1 events (with the authorizer's context, and without it so
//! the function authenticates the credential itself), against DynamoDB Local and moto: escalation
//! on every axis, sealed cursors, idempotency records per key, one credential per request.

use keyhive::auth::Identity;
use keyhive::auth::KeyStore;
use keyhive::auth::{Environment, KeyId};
use keyhive::testkit::{assert_envelope, identity_of, new_org, stack_api, Event};
use keyhive::ApiState;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

async fn send(api: &ApiState, event: Event) -> Response<Body> {
    keys::handle(api, &Default::default(), event.request()).await
}

/// Creates a key as `creator` and returns its id, its full key and the identity the authorizer
/// would pass for it.
async fn create(api: &ApiState, creator: &Identity, body: Value) -> (String, String, Identity) {
    let made = send(api, Event::load("keys-create.json").authorized_as(creator).body(&body)).await;
    let made = assert_envelope(&made, 201);
    let id = made["data"]["id"].as_str().unwrap().to_string();
    let record = api.store.get_key(&KeyId::parse(&id).unwrap()).await.unwrap().unwrap();
    (id, made["data"]["key"].as_str().unwrap().to_string(), identity_of(&record))
}

fn bot(name: &str, permissions: Value) -> Value {
    json!({ "name": name, "type": "bot", "permissions": permissions })
}

fn missing(response: &Response<Body>) -> Value {
    assert_envelope(response, 403)["error"]["details"]["missing"].clone()
}

#[tokio::test]
async fn a_standard_key_cannot_roll_an_enterprise_key_and_take_its_limit() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let manager_perms = json!({"apiKeys": ["create", "read", "update", "delete"]});
    let (_, _, manager) = create(&api, &admin, bot("manager", manager_perms.clone())).await;
    let mut big = bot("big", json!({"apiKeys": ["read"]}));
    big["tier"] = json!("enterprise");
    big["rate_limit_per_minute"] = json!(9000);
    let (big_id, big_key, _) = create(&api, &admin, big).await;

    for event in [
        Event::load("keys-roll.json").param("id", &big_id),
        Event::load("keys-revoke.json").param("id", &big_id),
        Event::load("keys-update.json").param("id", &big_id).body(&json!({"name": "mine now"})),
    ] {
        assert_eq!(missing(&send(&api, event.authorized_as(&manager)).await), "rate_limit");
    }
    // Unchanged, and its own key still works.
    let own = send(&api, Event::load("keys-self.json").without_authorizer().header("X-API-Key", &big_key)).await;
    let own = assert_envelope(&own, 200);
    assert_eq!(
        (own["data"]["name"].as_str(), own["data"]["rate_limit_per_minute"].as_u64()),
        (Some("big"), Some(9000))
    );
}

#[tokio::test]
async fn an_expiring_key_cannot_make_itself_permanent_or_mint_a_permanent_key() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let soon = keyhive::model::rfc3339(keyhive::model::now() + time::Duration::hours(1));
    let mut body = bot("hour", json!({"apiKeys": ["create", "read", "update"]}));
    body["expires_at"] = json!(soon);
    let (id, key, _) = create(&api, &admin, body).await;
    let as_itself = |event: Event| event.without_authorizer().header("X-API-Key", &key);

    let forever =
        send(&api, as_itself(Event::load("keys-update.json").param("id", &id).body(&json!({"expires_at": null}))))
            .await;
    assert_eq!(missing(&forever), "expires_at");
    let permanent = send(&api, as_itself(Event::load("keys-create.json").body(&bot("child", json!({}))))).await;
    assert_eq!(missing(&permanent), "expires_at");
    let mut child = bot("child", json!({}));
    child["expires_at"] = json!(soon);
    assert_envelope(&send(&api, as_itself(Event::load("keys-create.json").body(&child))).await, 201);
    let own = assert_envelope(&send(&api, as_itself(Event::load("keys-self.json"))).await, 200);
    assert_eq!(own["data"]["expires_at"], soon.as_str(), "its expiry is unchanged");
}

#[tokio::test]
async fn a_rolled_out_secret_still_authenticates_but_cannot_manage_its_key() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (id, old_key, _) = create(&api, &admin, bot("rolled", json!({"apiKeys": ["read", "update", "delete"]}))).await;
    let rolled = send(
        &api,
        Event::load("keys-roll.json")
            .without_authorizer()
            .header("X-API-Key", &old_key)
            .param("id", &id)
            .body(&json!({"grace_seconds": 600})),
    )
    .await;
    let new_key = assert_envelope(&rolled, 200)["data"]["key"].as_str().unwrap().to_string();
    let with_old = |event: Event| event.without_authorizer().header("X-API-Key", &old_key);

    assert_envelope(&send(&api, with_old(Event::load("keys-self.json"))).await, 200);
    for event in [
        Event::load("keys-roll.json").param("id", &id),
        Event::load("keys-revoke.json").param("id", &id),
        Event::load("keys-update.json").param("id", &id).body(&json!({"name": "stolen"})),
    ] {
        assert_eq!(missing(&send(&api, with_old(event)).await), "secret");
    }
    let own = send(&api, Event::load("keys-self.json").without_authorizer().header("X-API-Key", &new_key)).await;
    assert_eq!(assert_envelope(&own, 200)["data"]["name"], "rolled", "the new owner keeps the key");
}

#[tokio::test]
async fn test_keys_cannot_touch_members_or_make_user_keys() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let member = send(
        &api,
        Event::load("members-create.json")
            .authorized_as(&admin)
            .body(&json!({"name": "Fay", "email": "fay@example.com"})),
    )
    .await;
    let user_id = assert_envelope(&member, 201)["data"]["user_id"].as_str().unwrap().to_string();
    let mut test_body = bot("tester", json!({"members": ["create", "read", "delete"], "apiKeys": ["create"]}));
    test_body["environment"] = json!("test");
    let (_, _, tester) = create(&api, &admin, test_body).await;

    let add = send(
        &api,
        Event::load("members-create.json").authorized_as(&tester).body(&json!({"name": "G", "email": "g@example.com"})),
    )
    .await;
    assert_eq!(missing(&add), "environment");
    let remove = send(&api, Event::load("members-remove.json").authorized_as(&tester).param("user_id", &user_id)).await;
    assert_eq!(missing(&remove), "environment");
    let user_key = json!({"name": "u", "type": "user", "user_id": user_id, "permissions": {}});
    assert_eq!(
        missing(&send(&api, Event::load("keys-create.json").authorized_as(&tester).body(&user_key)).await),
        "environment"
    );
    let read = send(&api, Event::load("members-list.json").authorized_as(&tester)).await;
    assert_eq!(assert_envelope(&read, 200)["data"][0]["user_id"], user_id.as_str(), "test keys may read members");
}

/// Pages through the key list one at a time, as `caller`, returning every cursor seen.
async fn cursors_of(api: &ApiState, caller: &Identity, event: &str) -> Vec<String> {
    let mut cursors = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut request = Event::load(event).authorized_as(caller).query("limit", "1");
        if let Some(cursor) = &next {
            request = request.query("cursor", cursor);
        }
        let page = assert_envelope(&send(api, request).await, 200);
        assert_eq!(page["data"].as_array().unwrap().len(), 1, "never empty while has_more: {page}");
        match page["meta"]["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page["meta"]["has_more"], true);
                cursors.push(cursor.to_string());
                next = Some(cursor.to_string());
            }
            None => return cursors,
        }
    }
}

#[tokio::test]
async fn tampered_foreign_or_reused_cursors_are_400_on_cursor() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    for i in 0..2 {
        create(&api, &admin, bot(&format!("k{i}"), json!({}))).await;
        let member = json!({"name": format!("M{i}"), "email": format!("m{i}@example.com")});
        assert_envelope(&send(&api, Event::load("members-create.json").authorized_as(&admin).body(&member)).await, 201);
    }
    let cursor = cursors_of(&api, &admin, "keys-list.json").await.remove(0);
    let member_cursor = cursors_of(&api, &admin, "members-list.json").await.remove(0);
    let (_, other) = new_org(&api, Environment::Live).await;
    let other = identity_of(&other);
    create(&api, &other, bot("o", json!({}))).await;
    let foreign = cursors_of(&api, &other, "keys-list.json").await.remove(0);

    let mut flipped = cursor.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let cases = [
        String::from_utf8(flipped).unwrap(),
        cursor[..cursor.len() - 3].to_string(),
        format!("{cursor}AAAA"),
        foreign,
        member_cursor,
        // The old, unsealed shape: base64 of the key attributes as JSON.
        "eyJQSyI6IktFWSNBYkNkRWYxMjM0NTYiLCJTSyI6IktFWSJ9".to_string(),
        "%%%".to_string(),
    ];
    for bad in &cases {
        let answer = send(&api, Event::load("keys-list.json").authorized_as(&admin).query("cursor", bad)).await;
        assert_eq!(assert_envelope(&answer, 400)["error"]["details"]["field"], "cursor", "{bad}");
    }
    // A cursor is bound to its filters too.
    let filtered =
        Event::load("keys-list.json").authorized_as(&admin).query("cursor", &cursor).query("created_by", "bootstrap");
    assert_eq!(assert_envelope(&send(&api, filtered).await, 400)["error"]["details"]["field"], "cursor");
    // And the untouched cursor still works.
    let fine =
        send(&api, Event::load("keys-list.json").authorized_as(&admin).query("limit", "1").query("cursor", &cursor))
            .await;
    assert_envelope(&fine, 200);
}

#[tokio::test]
async fn a_test_keys_cursors_never_carry_live_key_ids_and_its_pages_are_full() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let mut live_ids = Vec::new();
    for i in 0..4 {
        let mut body = bot(&format!("k{i}"), json!({"apiKeys": ["read"]}));
        if i % 2 == 0 {
            body["environment"] = json!("test");
        } else {
            live_ids.push(create(&api, &admin, body).await.0);
            continue;
        }
        create(&api, &admin, body).await;
    }
    let mut tester_body = bot("tester", json!({"apiKeys": ["read"]}));
    tester_body["environment"] = json!("test");
    let (_, _, tester) = create(&api, &admin, tester_body).await;
    let cursors = cursors_of(&api, &tester, "keys-list.json").await;
    assert_eq!(cursors.len(), 2, "three test keys, one a page");
    for cursor in cursors {
        for id in &live_ids {
            assert!(!cursor.contains(id.as_str()), "opaque: no key id shows through");
        }
    }
}

#[tokio::test]
async fn idempotency_records_belong_to_the_key_that_made_them() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let perms = json!({"members": ["create", "read"]});
    let (_, _, first) = create(&api, &admin, bot("first", perms.clone())).await;
    let (_, _, second) = create(&api, &admin, bot("second", perms)).await;
    let body = json!({"name": "Ida", "email": "ida@example.com"});
    let made = |who: &Identity| {
        Event::load("members-create.json").authorized_as(who).header("Idempotency-Key", "same-value").body(&body)
    };

    let one = send(&api, made(&first)).await;
    let one_id = assert_envelope(&one, 201)["data"]["user_id"].clone();
    let again = send(&api, made(&first)).await;
    assert_eq!(assert_envelope(&again, 201)["data"]["user_id"], one_id, "the same key replays");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let other = send(&api, made(&second)).await;
    assert_ne!(assert_envelope(&other, 201)["data"]["user_id"], one_id, "another key makes a new request");
    assert!(other.headers().get("idempotent-replayed").is_none());

    // The replay comes after the permission check: a key that lost the permission gets a 403.
    let mut weakened = first.clone();
    weakened.permissions = keyhive::auth::permissions::Permissions::default();
    let refused = send(&api, made(&weakened)).await;
    assert_eq!(assert_envelope(&refused, 403)["error"]["details"]["required"], "members:create");
    // ... and after the body check: a broken body is a 400, whatever the key.
    let broken =
        Event::load("members-create.json").authorized_as(&first).header("Idempotency-Key", "same-value").raw_body("{");
    assert_envelope(&send(&api, broken).await, 400);
}

#[tokio::test]
async fn two_different_credentials_in_one_request_are_401() {
    let api = stack_api().await;
    let (one, _) = new_org(&api, Environment::Live).await;
    let (two, _) = new_org(&api, Environment::Live).await;
    let both = Event::load("keys-self.json")
        .without_authorizer()
        .header("X-API-Key", one.reveal())
        .header("Authorization", &format!("Bearer {}", two.reveal()));
    assert_envelope(&send(&api, both).await, 401);
    // A repeated `X-API-Key` is refused by the authorizer, which reads the REST event's
    // `multiValueHeaders` (functions/authorizer/tests/integration/authorizer.rs); lambda_http lays
    // `headers` (the last value) over them, so a function never sees the repeat, and in AWS no
    // protected route reaches a function without the authorizer.
    let same = Event::load("keys-self.json")
        .without_authorizer()
        .header("X-API-Key", one.reveal())
        .header("Authorization", &format!("Bearer {}", one.reveal()));
    assert_envelope(&send(&api, same).await, 200);
}

#[tokio::test]
async fn names_with_bidi_controls_or_zero_width_characters_are_refused() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    for name in ["admin\u{202E}txt", "\u{2066}x\u{2069}", "ad\u{200B}min", "\u{FEFF}bot"] {
        let answer =
            send(&api, Event::load("keys-create.json").authorized_as(&admin).body(&bot(name, json!({})))).await;
        assert_eq!(assert_envelope(&answer, 400)["error"]["details"]["field"], "name", "{name:?}");
        let member = json!({"name": name, "email": "n@example.com"});
        let answer = send(&api, Event::load("members-create.json").authorized_as(&admin).body(&member)).await;
        assert_eq!(assert_envelope(&answer, 400)["error"]["details"]["field"], "name", "{name:?}");
    }
}

#[tokio::test]
async fn unknown_or_repeated_query_parameters_and_bad_filters_are_400() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let unknown = send(&api, Event::load("keys-list.json").authorized_as(&admin).query("sort", "name")).await;
    assert_eq!(assert_envelope(&unknown, 400)["error"]["details"]["field"], "sort");
    let bad =
        send(&api, Event::load("keys-list.json").authorized_as(&admin).query("created_by", "no spaces allowed")).await;
    assert_eq!(assert_envelope(&bad, 400)["error"]["details"]["field"], "created_by");
    let listed = send(&api, Event::load("keys-list.json").authorized_as(&admin).query("created_by", "bootstrap")).await;
    let listed = assert_envelope(&listed, 200);
    assert_eq!(listed["data"][0]["id"], admin.key_id.as_str());
    assert_eq!(listed["data"][0]["created_by"]["key_id"], "bootstrap");
}
