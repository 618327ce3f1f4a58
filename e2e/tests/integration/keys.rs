//! Keys end to end over HTTP through `cargo lambda watch`, starting from the bootstrapped admin key.

use keyhive_e2e::Stack;
use serde_json::json;

async fn create_key(stack: &Stack, admin: &str, body: serde_json::Value) -> (String, String) {
    let created = stack.call(admin, "POST", "/v1/keys", Some(&body)).await.envelope(201);
    (created["data"]["id"].as_str().unwrap().to_string(), created["data"]["key"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_admin_key_works_in_every_credential_form() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    for headers in [
        vec![("X-API-Key", admin.clone())],
        vec![("x-api-key", admin.clone())],
        vec![("Authorization", format!("Bearer {admin}"))],
        vec![("Authorization", admin.clone())],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let answer = stack.send("GET", "/v1/keys/self", &headers, None).await;
        let body = answer.envelope(200);
        assert_eq!(body["data"]["type"], "bot");
        for header in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
            assert!(answer.headers.contains_key(header), "{header} missing");
        }
    }
}

#[tokio::test]
async fn bad_credentials_are_401_envelopes() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let (public, _) = admin.split_once('.').unwrap();
    for headers in [
        vec![],
        vec![("X-API-Key", format!("{public}.{}", "A".repeat(43)))],
        vec![("Authorization", format!("Basic {admin}"))],
        vec![("X-API-Key", "hello".to_string())],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let body = stack.send("GET", "/v1/keys", &headers, None).await.envelope(401);
        assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    }
}

#[tokio::test]
async fn a_key_created_over_http_works_until_revoked_and_not_one_request_longer() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let (id, key) =
        create_key(&stack, &admin, json!({"name": "e2e", "type": "bot", "permissions": {"apiKeys": ["read"]}})).await;
    assert_eq!(stack.call(&key, "GET", "/v1/keys/self", None).await.envelope(200)["data"]["id"], id.as_str());
    assert_eq!(stack.call(&key, "GET", "/v1/keys", None).await.status, 200);
    let forbidden = stack
        .call(&key, "POST", "/v1/keys", Some(&json!({"name": "x", "type": "bot", "permissions": {}})))
        .await
        .envelope(403);
    assert_eq!(forbidden["error"]["details"]["required"], "apiKeys:create");

    // Permission changes apply to the very next request.
    let patch = json!({"permissions": {"members": ["read"]}});
    stack.call(&admin, "PATCH", &format!("/v1/keys/{id}"), Some(&patch)).await.envelope(200);
    assert_eq!(
        stack.call(&key, "GET", "/v1/keys", None).await.envelope(403)["error"]["details"]["required"],
        "apiKeys:read"
    );
    assert_eq!(stack.call(&key, "GET", "/v1/members", None).await.status, 200);

    stack.call(&admin, "DELETE", &format!("/v1/keys/{id}"), None).await.envelope(200);
    assert_eq!(stack.call(&key, "GET", "/v1/keys/self", None).await.envelope(401)["error"]["code"], "UNAUTHORIZED");
}

#[tokio::test]
async fn exactly_one_hundred_of_two_hundred_parallel_requests_pass_a_100_per_minute_key() {
    let stack = std::sync::Arc::new(Stack::from_env());
    let admin = Stack::admin_key();
    let (_, key) = create_key(&stack, &admin, json!({"name": "limited", "type": "bot", "permissions": {}, "tier": "enterprise", "rate_limit_per_minute": 100})).await;
    // All 200 must land in one fixed window: start early in a minute.
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % 60;
    if second > 30 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - second)).await;
    }
    // At most 50 in flight: cargo lambda watch stops answering for good when more than about
    // 128 connections arrive at once (seen with 150). Exactness under 200 truly concurrent
    // writers is proven against DynamoDB Local in functions/keys/tests/integration/store.rs.
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(50));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (stack, key, in_flight) = (stack.clone(), key.clone(), in_flight.clone());
            tokio::spawn(async move {
                let _permit = in_flight.acquire().await.expect("semaphore");
                let answer = stack.call(&key, "GET", "/v1/keys/self", None).await;
                if answer.status == 429 {
                    let body = answer.envelope(429);
                    assert_eq!(body["error"]["code"], "RATE_LIMITED");
                    assert!(answer.headers.contains_key("retry-after"));
                    assert_eq!(answer.headers["x-ratelimit-remaining"], "0");
                }
                answer.status
            })
        })
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for task in tasks {
        *counts.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(counts.get(&200), Some(&100), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&100), "{counts:?}");
}

#[tokio::test]
async fn members_and_user_keys_over_http() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let user_id = format!("usr_e2e{}", std::process::id());
    let member = json!({"user_id": user_id, "name": "Eve", "email": "eve@example.com"});
    stack.call(&admin, "POST", "/v1/members", Some(&member)).await.envelope(201);
    let (key_id, key) =
        create_key(&stack, &admin, json!({"name": "eve", "type": "user", "user_id": user_id, "permissions": {}})).await;
    let listed = stack.call(&admin, "GET", "/v1/keys?limit=100", None).await.envelope(200);
    let mine = listed["data"].as_array().unwrap().iter().find(|k| k["id"] == key_id.as_str()).expect("listed").clone();
    assert_eq!(mine["owner"], "Eve");
    assert_eq!(stack.call(&key, "GET", "/v1/keys/self", None).await.status, 200);
    stack.call(&admin, "DELETE", &format!("/v1/members/{user_id}"), None).await.envelope(200);
    assert_eq!(stack.call(&key, "GET", "/v1/keys/self", None).await.status, 401, "the member's key went with them");
}

/// The bad-input sweep over HTTP (the handler tests hold the same on API Gateway events, with
/// bodies that are not UTF-8 too, which watch itself cannot carry): every answer an enveloped 4xx,
/// nothing written.
#[tokio::test]
async fn hostile_input_over_http_is_an_enveloped_4xx_and_writes_nothing() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let marker = format!("hostile-{}", std::process::id());
    let headers = [("x-api-key", admin.as_str()), ("content-type", "application/json")];
    let nested =
        format!("{{\"name\":\"{marker}\",\"type\":\"bot\",\"permissions\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
    let bodies = [
        (format!("{{\"name\":\"{marker}\",\"pad\":\"{}\"}}", "x".repeat(70 * 1024)), 413, "PAYLOAD_TOO_LARGE"),
        (nested, 400, "INVALID_JSON"),
        (
            format!("{{\"name\":\"{marker}\",\"name\":\"{marker}\",\"type\":\"bot\",\"permissions\":{{}}}}"),
            400,
            "INVALID_JSON",
        ),
        (format!("{{\"name\":\"{marker}\",\"type\":\"bot\""), 400, "INVALID_JSON"),
        (format!("[\"{marker}\"]"), 400, "INVALID_JSON"),
        (
            format!("{{\"name\":\"{marker}\",\"type\":\"bot\",\"permissions\":{{}},\"admin\":true}}"),
            400,
            "VALIDATION_FAILED",
        ),
    ];
    for (body, status, code) in &bodies {
        let answer = stack.send("POST", "/v1/keys", &headers, Some(body)).await;
        assert_eq!(answer.envelope(*status)["error"]["code"], *code, "{}", &body[..body.len().min(60)]);
    }

    // Huge headers: a large unrelated header is ignored; a large credential is a 401.
    let padding = "a".repeat(8 * 1024);
    let padded = stack.send("GET", "/v1/keys/self", &[("x-api-key", &admin), ("x-padding", &padding)], None).await;
    padded.envelope(200);
    let huge_key = format!("{admin}{padding}");
    stack.send("GET", "/v1/keys/self", &[("x-api-key", &huge_key)], None).await.envelope(401);

    // Path traversal and malformed ids: no such key, no other route reached, nothing changed.
    for (method, path) in [
        ("GET", "/v1/keys/..%2F..%2Fhealth"),
        ("GET", "/v1/keys/%2e%2e"),
        ("DELETE", "/v1/keys/..%2Fself"),
        ("PATCH", "/v1/keys/%2e%2e%2f%2e%2e%2fv1%2fkeys"),
        ("POST", "/v1/keys/..%2F..%2Fv1%2Fkeys/roll"),
        ("DELETE", "/v1/members/..%2F..%2Fv1%2Fkeys"),
        ("GET", "/v1/keys/AAAAAAAAAAAA"),
    ] {
        let answer = stack.send(method, path, &headers, Some("{}")).await;
        assert_eq!(answer.envelope(404)["error"]["code"], "NOT_FOUND", "{method} {path}");
    }
    stack.send("GET", "/v1/keys/self", &headers, None).await.envelope(200);

    // Nothing was written: no key carries the marker.
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/keys?limit=100&cursor={c}"),
            None => "/v1/keys?limit=100".to_string(),
        };
        let page = stack.call(&admin, "GET", &path, None).await.envelope(200);
        for key in page["data"].as_array().unwrap() {
            assert_ne!(key["name"], marker.as_str(), "a hostile request wrote a key");
        }
        match page["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
}

/// Rolling another member's user key would hand its caller a credential that acts as that member:
/// it needs `members:create`, as creating that key does; so does changing it. Revoking does not.
#[tokio::test]
async fn a_key_without_members_create_cannot_roll_or_change_another_members_user_key() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let nonce = time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000;
    let user_id = format!("usr_roll{}x{nonce}", std::process::id());
    let member = json!({"user_id": user_id, "name": "Ann", "email": "ann@example.com"});
    stack.call(&admin, "POST", "/v1/members", Some(&member)).await.envelope(201);
    let permissions = json!({"shortLinks": ["read"]});
    let (ann_key_id, _) = create_key(
        &stack,
        &admin,
        json!({"name": "ann", "type": "user", "user_id": user_id, "permissions": permissions}),
    )
    .await;
    // Every permission of Ann's key and every key permission, but not members:create.
    let weak_permissions = json!({"shortLinks": ["read"], "apiKeys": ["read", "update", "delete"]});
    let (_, weak) =
        create_key(&stack, &admin, json!({"name": "key admin", "type": "bot", "permissions": weak_permissions})).await;

    let rolled = stack.call(&weak, "POST", &format!("/v1/keys/{ann_key_id}/roll"), Some(&json!({}))).await;
    let body = rolled.envelope(403);
    assert_eq!(body["error"]["details"]["missing"], "permissions", "{body}");
    assert!(!String::from_utf8_lossy(&rolled.body).contains("_live_"), "no credential in the refusal");
    let patched =
        stack.call(&weak, "PATCH", &format!("/v1/keys/{ann_key_id}"), Some(&json!({"name": "mine now"}))).await;
    assert_eq!(patched.envelope(403)["error"]["code"], "FORBIDDEN");
    let still = stack.call(&admin, "GET", &format!("/v1/keys/{ann_key_id}"), None).await.envelope(200);
    assert_eq!(still["data"]["name"], "ann", "nothing changed");

    // With members:create it is member management, and allowed.
    let rolled = stack.call(&admin, "POST", &format!("/v1/keys/{ann_key_id}/roll"), Some(&json!({}))).await;
    assert!(rolled.envelope(200)["data"]["key"].as_str().is_some());
    // Revoking hands nothing over: apiKeys:delete is enough.
    stack.call(&weak, "DELETE", &format!("/v1/keys/{ann_key_id}"), None).await.envelope(200);
    stack.call(&admin, "DELETE", &format!("/v1/members/{user_id}"), None).await.envelope(200);
}

/// Every authentication case answers the same on every front: `cargo lambda watch` with the
/// functions authenticating inline, and the REST front that plays API Gateway with the authorizer
/// (what `make dev` serves, and what AWS runs). Watch hands a function only the first value of a
/// repeated header, so the cases with a header sent twice are sent only where the request
/// reaches keyhive whole: through the REST front, where they are refused as in AWS.
#[tokio::test]
async fn every_authentication_case_answers_alike_through_both_fronts() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let (public, _) = admin.split_once('.').unwrap();
    let forged = format!("{public}.{}", "A".repeat(43));
    let (_, other) = create_key(&stack, &admin, json!({"name": "second", "type": "bot", "permissions": {}})).await;
    let bearer = |key: &str| format!("Bearer {key}");
    // (case, headers, status, whether watch carries the request whole)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, u16, bool);
    let cases: Vec<Case> = vec![
        ("X-API-Key", vec![("X-API-Key", admin.clone())], 200, true),
        ("Bearer", vec![("Authorization", bearer(&admin))], 200, true),
        ("lowercase bearer", vec![("Authorization", format!("bearer {admin}"))], 200, true),
        ("bare Authorization", vec![("Authorization", admin.clone())], 200, true),
        (
            "the same key in both headers",
            vec![("X-API-Key", admin.clone()), ("Authorization", bearer(&admin))],
            200,
            true,
        ),
        ("none", vec![], 401, true),
        ("a wrong secret", vec![("X-API-Key", forged.clone())], 401, true),
        ("a malformed key", vec![("X-API-Key", "kh_live_short".into())], 401, true),
        ("Basic", vec![("Authorization", format!("Basic {admin}"))], 401, true),
        ("two keys in two headers", vec![("X-API-Key", admin.clone()), ("Authorization", bearer(&other))], 401, true),
        ("two X-API-Key values", vec![("X-API-Key", admin.clone()), ("X-API-Key", other.clone())], 401, false),
        ("a wrong key then a good one", vec![("X-API-Key", forged.clone()), ("X-API-Key", admin.clone())], 401, false),
        (
            "two Authorization values",
            vec![("Authorization", bearer(&admin)), ("Authorization", bearer(&other))],
            401,
            false,
        ),
    ];
    let through_rest = Stack::through_rest_front();
    for (name, headers, status, watch_carries_it) in &cases {
        if !through_rest && !watch_carries_it {
            continue;
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let answer = stack.send("GET", "/v1/keys/self", &headers, None).await;
        let body = answer.envelope(*status);
        if *status == 401 {
            assert_eq!(body["error"]["code"], "UNAUTHORIZED", "{name}");
        } else {
            assert_eq!(body["data"]["name"], "admin (bootstrap)", "{name}: acts as the admin key");
        }
    }
}

#[tokio::test]
async fn a_key_switched_off_is_refused_on_its_next_request_and_back_when_switched_on() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let (id, key) =
        create_key(&stack, &admin, json!({"name": "switch", "type": "bot", "permissions": {"apiKeys": ["read"]}}))
            .await;
    assert_eq!(stack.call(&key, "GET", "/v1/keys/self", None).await.envelope(200)["data"]["enabled"], true);
    let off =
        stack.call(&admin, "PATCH", &format!("/v1/keys/{id}"), Some(&json!({"enabled": false}))).await.envelope(200);
    assert_eq!(off["data"]["enabled"], false);
    assert_eq!(stack.call(&key, "GET", "/v1/keys/self", None).await.envelope(401)["error"]["code"], "UNAUTHORIZED");
    let listed = stack.call(&admin, "GET", "/v1/keys?limit=100", None).await.envelope(200);
    let shown = listed["data"].as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).cloned();
    assert_eq!(shown.map(|k| k["enabled"].clone()), Some(json!(false)));
    let bad =
        stack.call(&admin, "PATCH", &format!("/v1/keys/{id}"), Some(&json!({"enabled": "no"}))).await.envelope(400);
    assert_eq!(bad["error"]["details"]["field"], "enabled");
    stack.call(&admin, "PATCH", &format!("/v1/keys/{id}"), Some(&json!({"enabled": true}))).await.envelope(200);
    assert_eq!(stack.call(&key, "GET", "/v1/keys/self", None).await.envelope(200)["data"]["id"], id.as_str());
}

#[tokio::test]
async fn another_service_verifies_a_key_with_and_without_a_permission_query() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let body = json!({
        "name": "verified e2e", "type": "bot", "permissions": {"shortLinks": ["read"]},
        "meta": {"plan": "pro"}, "external_id": "e2e-customer",
    });
    let (id, key) = create_key(&stack, &admin, body).await;
    let plain = stack.call(&admin, "POST", "/v1/keys/verify", Some(&json!({"key": key}))).await.envelope(200);
    assert_eq!((plain["data"]["code"].clone(), plain["data"]["key_id"].clone()), (json!("VALID"), json!(id)));
    assert_eq!(plain["data"]["meta"], json!({"plan": "pro"}));
    let asked = json!({"key": key, "permissions": "shortLinks:read AND (stats:read OR shortLinks:read)"});
    let allowed = stack.call(&admin, "POST", "/v1/keys/verify", Some(&asked)).await.envelope(200);
    assert_eq!(allowed["data"]["valid"], true);
    let asked = json!({"key": key, "permissions": "shortLinks:delete OR stats:read"});
    let refused = stack.call(&admin, "POST", "/v1/keys/verify", Some(&asked)).await.envelope(200);
    assert_eq!(refused["data"]["code"], "INSUFFICIENT_PERMISSIONS");
    let unknown = stack.call(&admin, "POST", "/v1/keys/verify", Some(&json!({"key": "kh_live_nope"}))).await;
    assert_eq!(unknown.envelope(200)["data"], json!({"valid": false, "code": "NOT_FOUND"}));
    // Disabled: DISABLED to a verification, 401 to the key itself; enabled again, both work.
    stack.call(&admin, "PATCH", &format!("/v1/keys/{id}"), Some(&json!({"enabled": false}))).await.envelope(200);
    let disabled = stack.call(&admin, "POST", "/v1/keys/verify", Some(&json!({"key": key}))).await.envelope(200);
    assert_eq!(disabled["data"]["code"], "DISABLED");
    stack.call(&key, "GET", "/v1/keys/self", None).await.envelope(401);
    stack.call(&admin, "PATCH", &format!("/v1/keys/{id}"), Some(&json!({"enabled": true}))).await.envelope(200);
    stack.call(&key, "GET", "/v1/keys/self", None).await.envelope(200);
    let listed = stack.call(&admin, "GET", "/v1/keys?external_id=e2e-customer", None).await.envelope(200);
    assert!(listed["data"].as_array().unwrap().iter().any(|k| k["id"] == id.as_str()));
}

/// A fixed P-256 key pair for this test alone (never GitHub's): fixed, so that a keys function
/// instance that cached the served document on an earlier run still verifies this run's reports.
const TEST_GITHUB_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgao1o6e40bhE76ogoimI+BVpqrtt8lNROPFao6VVL0u6hRANCAAQ/jukzFX88CMPZ1ySJb3xzYC+hnn4pVPeZbXoR4ZKkd+ZmC/+TFqxfLYdM/4fu0HU2ZeYkrnHW1W0U4NjLw7Qj";
const TEST_GITHUB_KEY_ID: &str = "e2e-test-key-not-githubs";

/// Serves `document` as GitHub's key list on the port the stack configured for it.
async fn serve_github_keys(document: String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = std::env::var("KEYHIVE_E2E_GITHUB_KEYS_PORT").expect("the test stack sets KEYHIVE_E2E_GITHUB_KEYS_PORT");
    let Ok(listener) = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await else {
        // An earlier module of this run serves it already: the same fixed document.
        return;
    };
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let document = document.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{document}",
                    document.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
}

#[tokio::test]
async fn a_key_reported_by_githubs_secret_scanning_is_revoked_and_a_forgery_changes_nothing() {
    use base64::Engine;
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let pkcs8 = base64::engine::general_purpose::STANDARD.decode(TEST_GITHUB_PKCS8).unwrap();
    let github = keys::github::testing::SigningKey::from_pkcs8(&pkcs8).unwrap();
    serve_github_keys(github.key_document(TEST_GITHUB_KEY_ID)).await;
    let (id, key) = create_key(&stack, &admin, json!({"name": "leaky", "type": "bot", "permissions": {}})).await;
    let report = json!([{"token": key, "type": "keyhive_api_key", "url": "https://github.com/o/r/blob/main/a.js", "source": "content"}])
        .to_string();
    let post = |signature: String| {
        let (stack, report) = (&stack, report.clone());
        async move {
            let headers = [
                ("Github-Public-Key-Identifier", TEST_GITHUB_KEY_ID),
                ("Github-Public-Key-Signature", signature.as_str()),
                ("Content-Type", "application/json"),
            ];
            stack.send("POST", "/v1/secret-scanning/github", &headers, Some(&report)).await
        }
    };
    // Signed by someone else: 401, and the key still works.
    let forger = keys::github::testing::SigningKey::generate().unwrap();
    post(forger.sign(report.as_bytes()).unwrap()).await.envelope(401);
    stack.call(&key, "GET", "/v1/keys/self", None).await.envelope(200);
    // Signed by "GitHub": GitHub's format back, the key revoked at once.
    let answer = post(github.sign(report.as_bytes()).unwrap()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()[0]["label"], "true_positive");
    stack.call(&key, "GET", "/v1/keys/self", None).await.envelope(401);
    let audit = stack.call(&admin, "GET", "/v1/audit-log?actor=secret-scanning", None).await.envelope(200);
    assert!(audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["target_id"] == id.as_str() && e["action"] == "key.leaked"));
}
