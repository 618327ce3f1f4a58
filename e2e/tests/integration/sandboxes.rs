//! Sandboxes end to end over HTTP through `cargo lambda watch`, with the expiry sweep the test
//! stack runs in a loop. A test-environment key of the bootstrapped organization keeps this test's
//! quota its own.

use keyhive_e2e::Stack;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn tester(stack: &Stack) -> String {
    let admin = Stack::admin_key();
    let body = json!({"name": "sandbox e2e", "type": "bot", "environment": "test",
        "permissions": {"sandboxes": ["create", "read", "update", "delete"]}});
    stack.call(&admin, "POST", "/v1/keys", Some(&body)).await.envelope(201)["data"]["key"].as_str().unwrap().to_string()
}

fn id(body: &Value) -> String {
    body["data"]["id"].as_str().unwrap_or_else(|| panic!("no id: {body}")).to_string()
}

#[tokio::test]
async fn a_new_user_creates_lists_extends_and_kills_sandboxes_within_the_quota() {
    let stack = Stack::from_env();
    let key = tester(&stack).await;
    let templates = stack.call(&key, "GET", "/v1/templates", None).await.envelope(200);
    assert!(templates["data"].as_array().unwrap().iter().any(|t| t["id"] == "52"));

    let created =
        stack.call(&key, "POST", "/v1/sandboxes", Some(&json!({"template_id": "52", "timeout_seconds": 3600}))).await;
    assert!(created.header("location").is_some());
    let sandbox = id(&created.envelope(201));
    let listed = stack.call(&key, "GET", "/v1/sandboxes?status=running", None).await.envelope(200);
    assert!(listed["data"].as_array().unwrap().iter().any(|s| s["id"] == sandbox.as_str()));
    assert_eq!(
        stack.call(&key, "GET", &format!("/v1/sandboxes/{sandbox}"), None).await.envelope(200)["data"]["status"],
        "running"
    );
    let extended = stack
        .call(&key, "POST", &format!("/v1/sandboxes/{sandbox}/timeout"), Some(&json!({"timeout_seconds": 7200})))
        .await;
    assert_eq!(extended.envelope(200)["data"]["timeout_seconds"], 7200);
    for _ in 0..2 {
        let killed = stack.call(&key, "DELETE", &format!("/v1/sandboxes/{sandbox}"), None).await.envelope(200);
        assert_eq!(killed["data"]["status"], "killed");
    }

    // A repeated Idempotency-Key gives the same sandbox, marked as replayed.
    let headers =
        [("x-api-key", key.as_str()), ("content-type", "application/json"), ("idempotency-key", "e2e-sandbox-1")];
    let body = json!({"template_id": "73"}).to_string();
    let first = stack.send("POST", "/v1/sandboxes", &headers, Some(&body)).await;
    let again = stack.send("POST", "/v1/sandboxes", &headers, Some(&body)).await;
    assert_eq!(id(&first.envelope(201)), id(&again.envelope(201)));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("location"), Some(format!("/v1/sandboxes/{}", id(&first.json()))).as_deref());
    assert_eq!(again.header("location"), first.header("location"), "a replayed 201 names the first creation");

    // Ten running in all (the replayed one counts once), then the eleventh is refused.
    let mut running = vec![id(&first.json())];
    for _ in 0..9 {
        let created =
            stack.call(&key, "POST", "/v1/sandboxes", Some(&json!({"template_id": "12"}))).await.envelope(201);
        running.push(id(&created));
    }
    let eleventh = stack.call(&key, "POST", "/v1/sandboxes", Some(&json!({"template_id": "12"}))).await.envelope(409);
    assert_eq!(eleventh["error"]["code"], "QUOTA_EXCEEDED");

    // Killing frees the slots (and leaves the environment's quota as this test found it: the
    // suite runs twice on one stack, through watch and through the REST front).
    for sandbox in &running {
        stack.call(&key, "DELETE", &format!("/v1/sandboxes/{sandbox}"), None).await.envelope(200);
    }
    let freed = stack.call(&key, "POST", "/v1/sandboxes", Some(&json!({"template_id": "12"}))).await.envelope(201);
    stack.call(&key, "DELETE", &format!("/v1/sandboxes/{}", id(&freed)), None).await.envelope(200);
}

#[tokio::test]
async fn a_one_second_sandbox_reads_expired_at_once_and_the_sweep_records_it() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let created =
        stack.call(&admin, "POST", "/v1/sandboxes", Some(&json!({"template_id": "52", "timeout_seconds": 1}))).await;
    let sandbox = id(&created.envelope(201));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let seen = stack.call(&admin, "GET", &format!("/v1/sandboxes/{sandbox}"), None).await.envelope(200);
    assert_eq!(seen["data"]["status"], "expired");

    // The sweep (every 2 s in the test stack) records the expiry, freeing the slot.
    let api = keyhive::testkit::stack_api().await;
    let sandbox_id = sandboxes::model::SandboxId::parse(&sandbox).unwrap();
    let started = Instant::now();
    loop {
        let stored = sandboxes::store::SandboxStore::get_sandbox(&api.store, &sandbox_id).await.unwrap().unwrap();
        if stored.status == sandboxes::model::Status::Expired {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the sweep did not record the expiry within a minute");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
