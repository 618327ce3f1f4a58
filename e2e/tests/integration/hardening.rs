//! The keys API's no-escalation rules and sealed cursors over HTTP through `cargo lambda watch`,
//! tried the way an attacker holding a weak key of the same organization would.

use keyhive_e2e::Stack;
use serde_json::{json, Value};

async fn create_key(stack: &Stack, creator: &str, body: Value) -> (String, String) {
    let created = stack.call(creator, "POST", "/v1/keys", Some(&body)).await.envelope(201);
    (created["data"]["id"].as_str().unwrap().to_string(), created["data"]["key"].as_str().unwrap().to_string())
}

fn missing(body: &Value) -> &str {
    body["error"]["details"]["missing"].as_str().unwrap_or_else(|| panic!("no details.missing: {body}"))
}

#[tokio::test]
async fn a_weak_key_is_refused_on_every_axis_and_verb_and_its_targets_keep_working() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let manage = json!({"apiKeys": ["create", "read", "update", "delete"]});
    let (_, weak) = create_key(&stack, &admin, json!({"name": "weak", "type": "bot", "permissions": manage})).await;
    let targets = [
        ("permissions", json!({"name": "t", "type": "bot", "permissions": {"audit": ["read"]}})),
        (
            "rate_limit",
            json!({"name": "t", "type": "bot", "permissions": {}, "tier": "enterprise", "rate_limit_per_minute": 9000}),
        ),
    ];
    for (axis, body) in targets {
        let refused = stack.call(&weak, "POST", "/v1/keys", Some(&body)).await.envelope(403);
        assert_eq!(missing(&refused), axis);
        let (id, key) = create_key(&stack, &admin, body).await;
        for (method, path, body) in [
            ("PATCH", format!("/v1/keys/{id}"), Some(json!({"name": "mine"}))),
            ("POST", format!("/v1/keys/{id}/roll"), None),
            ("DELETE", format!("/v1/keys/{id}"), None),
        ] {
            let answer = stack.call(&weak, method, &path, body.as_ref()).await.envelope(403);
            assert_eq!(missing(&answer), axis, "{method} {path}");
        }
        let own = stack.call(&key, "GET", "/v1/keys/self", None).await.envelope(200);
        assert_eq!(own["data"]["name"], "t", "the target is unchanged and works");
    }
}

#[tokio::test]
async fn an_expiring_key_and_a_rolled_out_secret_cannot_extend_themselves() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let soon = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let soon = soon.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
    let body = json!({"name": "hour", "type": "bot", "permissions": {"apiKeys": ["create", "read", "update"]}, "expires_at": soon});
    let (id, key) = create_key(&stack, &admin, body).await;
    let forever = stack.call(&key, "PATCH", &format!("/v1/keys/{id}"), Some(&json!({"expires_at": null}))).await;
    assert_eq!(missing(&forever.envelope(403)), "expires_at");
    let child = json!({"name": "child", "type": "bot", "permissions": {}});
    assert_eq!(missing(&stack.call(&key, "POST", "/v1/keys", Some(&child)).await.envelope(403)), "expires_at");

    let (id, old) =
        create_key(&stack, &admin, json!({"name": "r", "type": "bot", "permissions": {"apiKeys": ["update"]}})).await;
    let rolled = stack.call(&admin, "POST", &format!("/v1/keys/{id}/roll"), Some(&json!({"grace_seconds": 600}))).await;
    let new = rolled.envelope(200)["data"]["key"].as_str().unwrap().to_string();
    assert_eq!(stack.call(&old, "GET", "/v1/keys/self", None).await.status, 200, "the old secret still works");
    let again = stack.call(&old, "POST", &format!("/v1/keys/{id}/roll"), None).await.envelope(403);
    assert_eq!(missing(&again), "secret");
    assert_eq!(stack.call(&new, "GET", "/v1/keys/self", None).await.status, 200, "the new owner is not locked out");
}

#[tokio::test]
async fn a_test_key_can_read_members_but_not_change_them() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let body = json!({"name": "tester", "type": "bot", "environment": "test", "permissions": {"members": ["create", "read", "delete"]}});
    let (_, tester) = create_key(&stack, &admin, body).await;
    assert_eq!(stack.call(&tester, "GET", "/v1/members", None).await.status, 200);
    let member = json!({"name": "T", "email": "tester-made@example.com"});
    assert_eq!(missing(&stack.call(&tester, "POST", "/v1/members", Some(&member)).await.envelope(403)), "environment");
}

#[tokio::test]
async fn tampered_and_foreign_cursors_are_400_over_http() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    for i in 0..2 {
        create_key(&stack, &admin, json!({"name": format!("c{i}"), "type": "bot", "permissions": {}})).await;
    }
    let page = stack.call(&admin, "GET", "/v1/keys?limit=1", None).await.envelope(200);
    let cursor = page["meta"]["next_cursor"].as_str().expect("more than one key").to_string();
    let member = json!({"name": "Cursor", "email": "cursor-e2e@example.com"});
    stack.call(&admin, "POST", "/v1/members", Some(&member)).await;
    stack
        .call(&admin, "POST", "/v1/members", Some(&json!({"name": "Cursor 2", "email": "cursor-e2e2@example.com"})))
        .await;
    let members = stack.call(&admin, "GET", "/v1/members?limit=1", None).await.envelope(200);
    let member_cursor = members["meta"]["next_cursor"].as_str().expect("two members").to_string();

    let mut flipped = cursor.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(flipped).unwrap(),
        cursor[..cursor.len() - 4].to_string(),
        format!("{cursor}AAAA"),
        member_cursor,
    ] {
        let answer = stack.call(&admin, "GET", &format!("/v1/keys?limit=1&cursor={bad}"), None).await.envelope(400);
        assert_eq!(answer["error"]["details"]["field"], "cursor", "{bad}");
    }
    let fine = stack.call(&admin, "GET", &format!("/v1/keys?limit=1&cursor={cursor}"), None).await.envelope(200);
    assert_eq!(fine["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn one_request_carries_one_credential() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let (_, other) = create_key(&stack, &admin, json!({"name": "second", "type": "bot", "permissions": {}})).await;
    let bearer = format!("Bearer {other}");
    let two = stack.send("GET", "/v1/keys/self", &[("X-API-Key", &admin), ("Authorization", &bearer)], None).await;
    assert_eq!(two.envelope(401)["error"]["code"], "UNAUTHORIZED");
    // A repeated `X-API-Key` cannot be tried here: `cargo lambda watch` keeps one value of a
    // repeated header before any function runs. API Gateway REST keeps them all in
    // `multiValueHeaders`; the keys handler and authorizer tests send exactly that.
}
