//! Key usage end to end: requests made with a key over HTTP show in its usage within seconds (the
//! stack's aggregator loop reads DynamoDB Local's stream, as the Lambda reads the table's stream
//! in AWS), by outcome and by permission; the access report names what the key never used, and
//! its suggestion is a permission map `PATCH` accepts. Through both fronts.

use keyhive_e2e::Stack;
use serde_json::{json, Value};
use std::time::Duration;

/// The key's usage as the admin reads it, once the aggregator has counted `expected` requests
/// (within 30 s).
async fn usage_once_counted(stack: &Stack, admin: &str, id: &str, expected: u64) -> Value {
    let path = format!("/v1/keys/{id}/usage?granularity=minute&from={}", from_minutes_ago(30));
    for _ in 0..150 {
        let usage = stack.call(admin, "GET", &path, None).await.envelope(200);
        let totals = &usage["data"]["totals"];
        if totals["success"].as_u64().unwrap_or(0) + totals["forbidden"].as_u64().unwrap_or(0) >= expected {
            return usage;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{id}: {expected} requests not counted within 30 s");
}

fn from_minutes_ago(minutes: i64) -> String {
    let at = time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes);
    at.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap()
}

#[tokio::test]
async fn a_keys_requests_show_in_its_usage_by_permission_and_its_access_report_names_the_unused() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let body = json!({"name": "usage e2e", "type": "bot", "permissions": {"shortLinks": ["read", "delete"], "apiKeys": ["read"]}});
    let created = stack.call(&admin, "POST", "/v1/keys", Some(&body)).await.envelope(201);
    let (id, key) = (created["data"]["id"].as_str().unwrap(), created["data"]["key"].as_str().unwrap());

    for _ in 0..3 {
        stack.call(key, "GET", "/short-link/list", None).await.envelope(200);
    }
    let link = json!({"destination": {"type": "link", "value": "https://example.com/"}});
    for _ in 0..2 {
        stack.call(key, "POST", "/short-link", Some(&link)).await.envelope(403);
    }
    stack.call(key, "GET", "/v1/keys/self", None).await.envelope(200);

    let usage = usage_once_counted(&stack, &admin, id, 6).await;
    let data = &usage["data"];
    assert_eq!(data["totals"], json!({"success": 4, "forbidden": 2, "rate_limited": 0, "unauthorized": 0}));
    assert_eq!(
        data["by_permission"],
        json!([
            {"permission": "shortLinks:create", "success": 0, "forbidden": 2},
            {"permission": "shortLinks:read", "success": 3, "forbidden": 0},
        ])
    );
    let series = data["series"].as_array().unwrap();
    assert_eq!(series.len(), 31, "zero-filled, minute by minute");
    assert_eq!(series.iter().map(|b| b["success"].as_u64().unwrap()).sum::<u64>(), 4);
    assert!(data["last_used_at"].is_string());

    let access = stack.call(&admin, "GET", &format!("/v1/keys/{id}/access"), None).await.envelope(200);
    let report = &access["data"];
    assert_eq!(report["unused"], json!(["shortLinks:delete", "apiKeys:read"]));
    assert_eq!(report["suggested_permissions"], json!({"shortLinks": ["read"]}));
    let denied: Vec<&Value> =
        report["permissions"].as_array().unwrap().iter().filter(|p| p["granted"] == false).collect();
    assert_eq!(
        denied,
        vec![&json!({"permission": "shortLinks:create", "granted": false, "last_used_at": null, "denied_count": 2})]
    );
    // Least privilege in one step: the suggestion goes straight back.
    let narrowed = stack
        .call(
            &admin,
            "PATCH",
            &format!("/v1/keys/{id}"),
            Some(&json!({"permissions": report["suggested_permissions"]})),
        )
        .await
        .envelope(200);
    assert_eq!(narrowed["data"]["permissions"], json!({"shortLinks": ["read"]}));

    // The organization's keys by use: this one is there, with the same totals.
    let mut cursor: Option<String> = None;
    let mut found = None;
    for _ in 0..50 {
        let path = match &cursor {
            Some(c) => format!("/v1/usage?limit=100&cursor={c}"),
            None => "/v1/usage?limit=100".to_string(),
        };
        let page = stack.call(&admin, "GET", &path, None).await.envelope(200);
        let totals: Vec<u64> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["totals"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum())
            .collect();
        assert!(totals.windows(2).all(|w| w[0] >= w[1]), "most used first: {totals:?}");
        if let Some(entry) = page["data"].as_array().unwrap().iter().find(|k| k["key_id"] == id) {
            found = Some(entry.clone());
        }
        match page["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let entry = found.expect("the key in /v1/usage");
    assert_eq!(entry["totals"]["forbidden"], 2);
}

#[tokio::test]
async fn usage_is_the_callers_own_and_a_bad_span_names_its_field() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let admin_id = admin.split('.').next().unwrap().rsplit('_').next().unwrap().to_string();
    let body =
        json!({"name": "test reader", "type": "bot", "environment": "test", "permissions": {"apiKeys": ["read"]}});
    let created = stack.call(&admin, "POST", "/v1/keys", Some(&body)).await.envelope(201);
    let test_key = created["data"]["key"].as_str().unwrap();
    // A test key reads no live key's usage, and lists test keys only.
    for path in [
        format!("/v1/keys/{admin_id}/usage"),
        format!("/v1/keys/{admin_id}/access"),
        "/v1/keys/AAAAAAAAAAAA/usage".into(),
    ] {
        assert_eq!(
            stack.call(test_key, "GET", &path, None).await.envelope(404)["error"]["code"],
            "NOT_FOUND",
            "{path}"
        );
    }
    let listed = stack.call(test_key, "GET", "/v1/usage", None).await.envelope(200);
    assert!(listed["data"].as_array().unwrap().iter().all(|k| k["environment"] == "test"));
    // Its own usage needs no permission.
    let own = stack.call(test_key, "GET", "/v1/keys/self/usage", None).await.envelope(200);
    assert_eq!(own["data"]["key_id"], created["data"]["id"]);
    for (query, field) in [
        ("granularity=week", "granularity"),
        ("from=yesterday", "from"),
        ("to=2026-02-30T00:00:00Z", "to"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("granularity=minute&from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z", "from"),
        ("granularity=hour&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
        ("granularity=day&from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("since=1", "since"),
    ] {
        let answer = stack.call(&admin, "GET", &format!("/v1/keys/self/usage?{query}"), None).await.envelope(400);
        assert_eq!(answer["error"]["details"]["field"], field, "{query}");
    }
}
