//! Webhooks end to end, as a new user tries them under the local stack: a receiver on loopback
//! gets `key.created` within about 2 s of the key's creation (the stack runs the dispatcher
//! loop), signed with the secret shown once, and with both secrets after a rotation; the audit
//! log lists the creation.

use base64::Engine;
use hmac::{Hmac, Mac};
use keyhive_e2e::Stack;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Request = (String, String, String, String);

/// A receiver on loopback answering 200 and keeping (webhook-id, timestamp, signature, body).
async fn receiver() -> (String, Arc<Mutex<Vec<Request>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buffer).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else { continue };
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| {
                                l.split_once(':')
                                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                                    .map(|(_, v)| v.trim().to_string())
                            })
                            .unwrap_or_default()
                    };
                    let length: usize = header("content-length").parse().unwrap_or(0);
                    if body.len() < length {
                        continue;
                    }
                    keep.lock().unwrap().push((
                        header("webhook-id"),
                        header("webhook-timestamp"),
                        header("webhook-signature"),
                        body[..length].to_string(),
                    ));
                    let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
                    return;
                }
            });
        }
    });
    (url, received)
}

fn verifies(secret: &str, (id, timestamp, signatures, body): &Request) -> bool {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    signatures.split(' ').any(|s| s == expected)
}

/// Waits (up to 30 s: a delivery that never comes fails, a slow one does not) for a delivery of
/// `event_type` about `id`; returns it and how long it took.
async fn wait_for(
    received: &Arc<Mutex<Vec<Request>>>,
    event_type: &str,
    id: &str,
    since: Instant,
) -> (Request, Duration) {
    loop {
        let found = received
            .lock()
            .unwrap()
            .iter()
            .find(|r| {
                let body: Value = serde_json::from_str(&r.3).unwrap_or_default();
                body["type"] == event_type && body["data"]["id"] == id
            })
            .cloned();
        if let Some(request) = found {
            return (request, since.elapsed());
        }
        assert!(since.elapsed() < Duration::from_secs(30), "no {event_type} for {id} within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_local_receiver_gets_key_created_signed_and_both_signatures_after_a_rotation() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let (url, received) = receiver().await;
    let created = stack
        .call(&admin, "POST", "/v1/webhooks", Some(&json!({"url": url, "events": ["key.created", "key.revoked"]})))
        .await
        .envelope(201);
    let hook = created["data"]["id"].as_str().unwrap().to_string();
    let secret = created["data"]["secret"].as_str().unwrap().to_string();
    let shown_again = stack.call(&admin, "GET", &format!("/v1/webhooks/{hook}"), None).await;
    assert!(!String::from_utf8_lossy(&shown_again.body).contains("whsec_"));

    let started = Instant::now();
    let key = stack
        .call(
            &admin,
            "POST",
            "/v1/keys",
            Some(&json!({"name": "webhook e2e", "type": "bot", "permissions": {"apiKeys": ["read"]}})),
        )
        .await
        .envelope(201);
    let key_id = key["data"]["id"].as_str().unwrap().to_string();
    let (delivery, took) = wait_for(&received, "key.created", &key_id, started).await;
    assert!(verifies(&secret, &delivery), "signed with the secret shown at creation");
    // How soon is make bench's figure (event_to_delivery_ms_median): a shared machine makes any
    // bound here a flaky one (5.5 s seen once in CI), so this test only needs the delivery.
    eprintln!("event_to_delivery_ms={}", took.as_millis());

    let rotated = stack.call(&admin, "POST", &format!("/v1/webhooks/{hook}/rotate-secret"), None).await.envelope(200);
    let new_secret = rotated["data"]["secret"].as_str().unwrap().to_string();
    let started = Instant::now();
    stack.call(&admin, "DELETE", &format!("/v1/keys/{key_id}"), None).await.envelope(200);
    let (delivery, _) = wait_for(&received, "key.revoked", &key_id, started).await;
    assert!(verifies(&new_secret, &delivery) && verifies(&secret, &delivery), "both secrets during the overlap");

    let deliveries = stack.call(&admin, "GET", &format!("/v1/webhooks/{hook}/deliveries"), None).await.envelope(200);
    assert!(deliveries["data"].as_array().unwrap().iter().any(|a| a["status_code"] == 204));
    let audit = stack.call(&admin, "GET", "/v1/audit-log?action=key.created", None).await.envelope(200);
    assert!(audit["data"].as_array().unwrap().iter().any(|e| e["target_id"] == key_id.as_str()), "{audit}");
    stack.call(&admin, "DELETE", &format!("/v1/webhooks/{hook}"), None).await.envelope(200);
}

#[tokio::test]
async fn unsafe_urls_are_refused_with_the_field_named() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    for url in
        ["https://10.0.0.1/x", "https://169.254.169.254/latest/meta-data/", "ftp://example.com/", "https://[fd00::1]/"]
    {
        let answer = stack.call(&admin, "POST", "/v1/webhooks", Some(&json!({"url": url, "events": ["*"]}))).await;
        assert_eq!(answer.envelope(400)["error"]["details"]["field"], "url", "{url}");
    }
}

/// A weak key (`webhooks:*` but no `apiKeys:read`) cannot take over an endpoint subscribed to key
/// events: not by pointing it elsewhere, nor by rotating its secret, re-sending or recovering its
/// deliveries; and the readers never see the URL's query values.
#[tokio::test]
async fn a_weak_key_cannot_redirect_rotate_resend_or_recover_an_endpoint_it_could_not_subscribe() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let (url, received) = receiver().await;
    let url = format!("{url}?token=s3cret");
    let created = stack
        .call(&admin, "POST", "/v1/webhooks", Some(&json!({"url": url, "events": ["key.created"]})))
        .await
        .envelope(201);
    let hook = created["data"]["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let key = stack
        .call(&admin, "POST", "/v1/keys", Some(&json!({"name": "takeover bait", "type": "bot", "permissions": {}})))
        .await
        .envelope(201);
    let bait = key["data"]["id"].as_str().unwrap().to_string();
    let (delivery, _) = wait_for(&received, "key.created", &bait, started).await;

    let weak_permissions = json!({"webhooks": ["create", "read", "update", "delete"]});
    let weak = stack
        .call(
            &admin,
            "POST",
            "/v1/keys",
            Some(&json!({"name": "weak", "type": "bot", "permissions": weak_permissions})),
        )
        .await
        .envelope(201)["data"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = stack.call(&weak, "GET", &format!("/v1/webhooks/{hook}"), None).await.envelope(200);
    assert!(shown["data"]["url"].as_str().unwrap().ends_with("?token=***"), "{shown}");

    let (elsewhere, stolen) = receiver().await;
    let since = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let attempts = [
        ("PATCH", format!("/v1/webhooks/{hook}"), Some(json!({"url": elsewhere}))),
        ("POST", format!("/v1/webhooks/{hook}/rotate-secret"), None),
        ("POST", format!("/v1/webhooks/{hook}/enable"), None),
        ("POST", format!("/v1/webhooks/{hook}/deliveries/{}/resend", delivery.0), None),
        ("POST", format!("/v1/webhooks/{hook}/recover?since={since}"), None),
    ];
    for (method, path, body) in &attempts {
        let answer = stack.call(&weak, method, path, body.as_ref()).await;
        let refusal = answer.envelope(403);
        assert_eq!(refusal["error"]["details"]["required"], "apiKeys:read", "{method} {path}: {refusal}");
        assert!(!String::from_utf8_lossy(&answer.body).contains("whsec_"), "{method} {path}");
    }
    let unchanged = stack.call(&admin, "GET", &format!("/v1/webhooks/{hook}"), None).await.envelope(200);
    assert_eq!(unchanged["data"]["updated_at"], created["data"]["updated_at"], "nothing changed");

    // The admin's next key event still goes to the admin's receiver only.
    let started = Instant::now();
    let second = stack
        .call(&admin, "POST", "/v1/keys", Some(&json!({"name": "after", "type": "bot", "permissions": {}})))
        .await
        .envelope(201)["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for(&received, "key.created", &second, started).await;
    assert!(stolen.lock().unwrap().is_empty(), "nothing reached the weak key's receiver");
    for id in [&bait, &second] {
        stack.call(&admin, "DELETE", &format!("/v1/keys/{id}"), None).await.envelope(200);
    }
    stack.call(&admin, "DELETE", &format!("/v1/webhooks/{hook}"), None).await.envelope(200);
}

#[tokio::test]
async fn a_receiver_hears_key_expiring_for_a_key_expiring_within_a_day() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let (url, received) = receiver().await;
    let hook = stack
        .call(&admin, "POST", "/v1/webhooks", Some(&json!({"url": url, "events": ["key.expiring", "key.expired"]})))
        .await
        .envelope(201);
    let secret = hook["data"]["secret"].as_str().unwrap().to_string();
    let expires_at = time::OffsetDateTime::now_utc() + time::Duration::hours(12);
    let expires_at = expires_at.format(&time::format_description::well_known::Rfc3339).unwrap();
    let expires_at = format!("{}Z", &expires_at[..19]);
    let started = Instant::now();
    let key = stack
        .call(
            &admin,
            "POST",
            "/v1/keys",
            Some(&json!({"name": "expiring e2e", "type": "bot", "permissions": {}, "expires_at": expires_at})),
        )
        .await
        .envelope(201);
    let key_id = key["data"]["id"].as_str().unwrap().to_string();
    // The stack runs the notices job every 2 s and the dispatcher loop: the last-day notice comes.
    let (delivery, _) = wait_for(&received, "key.expiring", &key_id, started).await;
    assert!(verifies(&secret, &delivery));
    let body: Value = serde_json::from_str(&delivery.3).unwrap();
    assert_eq!((body["data"]["days_left"].clone(), body["data"]["expires_at"].clone()), (json!(1), json!(expires_at)));
    // Once: a few more rounds of the job send nothing more for it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let count = received.lock().unwrap().iter().filter(|r| r.3.contains(&key_id)).count();
    assert_eq!(count, 1, "key.expiring sent once");
}
