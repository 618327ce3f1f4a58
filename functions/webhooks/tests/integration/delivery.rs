//! Webhook delivery against DynamoDB Local and moto, to a real HTTP receiver on loopback that
//! verifies signatures the Standard Webhooks way and plays failures. Clocks are passed in: no
//! test waits for a retry schedule.

use base64::Engine;
use hmac::{Hmac, Mac};
use keyhive::auth::{Environment, Identity};
use keyhive::change::{Change, ChangeLog, EventType};
use keyhive::model::{now, Tenant};
use keyhive::schema;
use keyhive::testkit::{identity_of, new_org, stack_api};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use webhooks::model::{DeliveryId, DeliveryStatus, Subscription};
use webhooks::rules::{self, Outbound};
use webhooks::store::WebhookStore;
use webhooks::Webhooks;

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
enum Play {
    Status(u16),
    RetryAfter(u16, u64),
    Hang,
}

#[derive(Default)]
struct Received {
    /// (webhook-id, webhook-timestamp, webhook-signature, body)
    requests: Vec<(String, String, String, String)>,
}

/// A webhook receiver on loopback: answers each request with the next scripted play (200 once
/// the script is done), and keeps what it received.
struct Receiver {
    address: SocketAddr,
    received: Arc<Mutex<Received>>,
}

impl Receiver {
    async fn start(script: &[Play]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Received::default()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (r, s) = (received.clone(), script.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (r, s) = (r.clone(), s.clone());
                tokio::spawn(async move {
                    let request = read_request(&mut socket).await;
                    let play = s.lock().unwrap().pop_front().unwrap_or(Play::Status(200));
                    if let Some(request) = request {
                        r.lock().unwrap().requests.push(request);
                    }
                    let answer = match play {
                        Play::Hang => {
                            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                            return;
                        }
                        Play::Status(code) => format!("HTTP/1.1 {code} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"),
                        Play::RetryAfter(code, seconds) => format!(
                            "HTTP/1.1 {code} X\r\nretry-after: {seconds}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        ),
                    };
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Receiver { address, received }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.address)
    }

    fn requests(&self) -> Vec<(String, String, String, String)> {
        self.received.lock().unwrap().requests.clone()
    }
}

/// Reads one HTTP/1.1 request: the three webhook headers and the body.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<(String, String, String, String)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
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
            if body.len() >= length {
                return Some((
                    header("webhook-id"),
                    header("webhook-timestamp"),
                    header("webhook-signature"),
                    body[..length].to_string(),
                ));
            }
        }
    }
}

/// Verifies a delivery the way a Standard Webhooks receiver does: the signature over
/// `{id}.{timestamp}.{body}` under the base64-decoded part of `whsec_…`, any of the listed ones.
fn verifies(secret: &str, (id, timestamp, signatures, body): &(String, String, String, String)) -> bool {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    signatures.split(' ').any(|s| s == expected)
}

/// The webhooks state over a table of the test's own: dispatcher passes (the stack's running
/// loop, other tests at other simulated times) never see another test's work.
async fn webhooks_on_stack() -> Webhooks {
    let mut api = stack_api().await;
    let table = format!("keyhive-wh-{}", keyhive::model::random_id("t", 10).split_off(2).to_lowercase());
    keyhive::store::dynamo::ensure_table(api.store.client(), &table, &schema::table_definition()).await.unwrap();
    api.store = keyhive::store::dynamo::DynamoStore::new(api.store.client().clone(), table.clone());
    api.config.table_name = table;
    api.config.dev_mode = true;
    let mut sender = webhooks::sender::Sender::new();
    sender.timeout = std::time::Duration::from_millis(800);
    let outbound = Outbound {
        policy: webhooks::ssrf::Policy { local: true },
        resolver: webhooks::ssrf::Resolver::new(api.config.dns_resolver).unwrap(),
        sender,
    };
    Webhooks::new(api, outbound)
}

async fn tenant(webhooks: &Webhooks) -> Identity {
    let (_, admin) = new_org(&webhooks.api, Environment::Live).await;
    identity_of(&admin)
}

/// Writes an outbox event for the tenant, as any change's transaction does.
async fn emit(webhooks: &Webhooks, who: &Identity, event_type: EventType, data: Value) -> String {
    let change = Change::by(who, "req_webhook_test", now());
    let event = change.event(who.environment, event_type, data);
    let id = event.event_id.clone();
    let mut tx = webhooks.api.store.transaction();
    tx.log(&ChangeLog { audits: Vec::new(), events: vec![event], idempotency: None }).unwrap();
    tx.commit().await.unwrap();
    id
}

async fn endpoint(
    webhooks: &Webhooks,
    who: &Identity,
    url: &str,
    events: Subscription,
) -> (webhooks::model::Endpoint, String) {
    let key = webhooks.sealing_key().await.unwrap();
    let change = Change::by(who, "req_webhook_test", now());
    let (endpoint, secret) =
        rules::create(&webhooks.api.store, key, &change, url.to_string(), events, None, 50).await.unwrap();
    (endpoint, secret.reveal())
}

/// Runs dispatcher passes at `at` until nothing more is due then.
async fn dispatch_at(webhooks: &Webhooks, at: OffsetDateTime) {
    let key = webhooks.sealing_key().await.unwrap();
    for _ in 0..5 {
        let pass =
            rules::dispatch(&webhooks.api.store, key, &webhooks.outbound, at, rules::Budget::LAMBDA).await.unwrap();
        if pass.events + pass.attempts == 0 {
            break;
        }
    }
}

#[tokio::test]
async fn an_event_reaches_every_subscribed_endpoint_once_signed_and_deduplicable() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    let (all, only_keys, only_links) =
        (Receiver::start(&[]).await, Receiver::start(&[]).await, Receiver::start(&[]).await);
    let (_, all_secret) = endpoint(&webhooks, &who, &all.url(), Subscription::All).await;
    let (_, keys_secret) =
        endpoint(&webhooks, &who, &only_keys.url(), Subscription::parse(&["key.created".into()]).unwrap()).await;
    endpoint(&webhooks, &who, &only_links.url(), Subscription::parse(&["link.created".into()]).unwrap()).await;
    // Another tenant's endpoint never sees this tenant's events.
    let stranger = tenant(&webhooks).await;
    let theirs = Receiver::start(&[]).await;
    endpoint(&webhooks, &stranger, &theirs.url(), Subscription::All).await;

    let event_id = emit(&webhooks, &who, EventType::KeyCreated, json!({"id": "AbCdEf123456"})).await;
    dispatch_at(&webhooks, now()).await;
    dispatch_at(&webhooks, now()).await;

    let got = all.requests();
    assert_eq!(got.len(), 1, "once");
    assert!(verifies(&all_secret, &got[0]));
    assert!(!verifies(&keys_secret, &got[0]), "each endpoint has its own secret");
    let body: Value = serde_json::from_str(&got[0].3).unwrap();
    assert_eq!((body["type"].as_str(), body["data"]["id"].as_str()), (Some("key.created"), Some("AbCdEf123456")));
    assert!(got[0].0.starts_with("dlv_"));
    assert!((got[0].1.parse::<i64>().unwrap() - now().unix_timestamp()).abs() < 60);
    assert_eq!(only_keys.requests().len(), 1);
    assert!(verifies(&keys_secret, &only_keys.requests()[0]));
    assert!(only_links.requests().is_empty() && theirs.requests().is_empty());
    let _ = event_id;
}

#[tokio::test]
async fn failures_back_off_honour_retry_after_and_end_delivered_under_one_webhook_id() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    let receiver =
        Receiver::start(&[Play::Status(500), Play::Hang, Play::RetryAfter(429, 600), Play::Status(302)]).await;
    let (hook, secret) = endpoint(&webhooks, &who, &receiver.url(), Subscription::All).await;
    emit(&webhooks, &who, EventType::LinkCreated, json!({"id": "lnk_x"})).await;
    let start = now();
    dispatch_at(&webhooks, start).await; // 500
    dispatch_at(&webhooks, start + Duration::seconds(3)).await; // not due yet (5 s)
    assert_eq!(receiver.requests().len(), 1);
    dispatch_at(&webhooks, start + Duration::seconds(7)).await; // hangs: a timeout
    dispatch_at(&webhooks, start + Duration::minutes(7)).await; // 429, Retry-After 600 s
                                                                // The schedule says 30 min: 600 s is shorter, so the schedule wins; a longer ask would not.
    dispatch_at(&webhooks, start + Duration::minutes(20)).await;
    assert_eq!(receiver.requests().len(), 3, "not before the schedule");
    dispatch_at(&webhooks, start + Duration::minutes(45)).await; // 302: a redirect is a failure
    dispatch_at(&webhooks, start + Duration::hours(4)).await; // 200 (2 h, jittered up to 2.4 h, after the 302)
    let got = receiver.requests();
    assert_eq!(got.len(), 5);
    assert!(got.iter().all(|r| r.0 == got[0].0), "one webhook-id for every attempt");
    assert!(got.iter().all(|r| verifies(&secret, r)));

    let attempts = webhooks.api.store.list_attempts(&hook.id, None, 20).await.unwrap().items;
    let codes: Vec<_> = attempts.iter().rev().map(|a| a.status_code).collect();
    assert_eq!(codes, vec![Some(500), None, Some(429), Some(302), Some(200)]);
    assert!(attempts.iter().any(|a| a.error.as_deref().is_some_and(|e| e.contains("timed out"))));
    assert!(attempts[1].next_retry_at.is_some() && attempts[0].next_retry_at.is_none());
    let endpoint = webhooks.api.store.get_endpoint(&hook.id).await.unwrap().unwrap();
    assert!(endpoint.last_success_at.is_some() && endpoint.failing_since.is_none());
}

#[tokio::test]
async fn a_long_retry_after_is_honoured() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    let receiver = Receiver::start(&[Play::RetryAfter(503, 3600)]).await;
    endpoint(&webhooks, &who, &receiver.url(), Subscription::All).await;
    emit(&webhooks, &who, EventType::KeyRevoked, json!({"id": "k"})).await;
    let start = now();
    dispatch_at(&webhooks, start).await;
    dispatch_at(&webhooks, start + Duration::minutes(30)).await;
    assert_eq!(receiver.requests().len(), 1, "the endpoint asked for an hour");
    dispatch_at(&webhooks, start + Duration::minutes(61)).await;
    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test]
async fn a_410_disables_the_endpoint_with_an_event_and_enable_brings_it_back() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    let receiver = Receiver::start(&[Play::Status(410)]).await;
    let (hook, _) =
        endpoint(&webhooks, &who, &receiver.url(), Subscription::parse(&["key.created".into()]).unwrap()).await;
    emit(&webhooks, &who, EventType::KeyCreated, json!({"id": "k1"})).await;
    dispatch_at(&webhooks, now()).await;
    let disabled = webhooks.api.store.get_endpoint(&hook.id).await.unwrap().unwrap();
    assert!(!disabled.enabled);
    assert!(disabled.disabled_reason.unwrap().contains("410"));
    let outbox = keyhive::testkit::partition(&webhooks.api, schema::outbox_pk(who.org_id.as_str(), "live")).await;
    assert!(outbox
        .iter()
        .any(|e| e.get("event_type").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("webhook.disabled")));
    // Disabled: a new event is not fanned out to it.
    emit(&webhooks, &who, EventType::KeyCreated, json!({"id": "k2"})).await;
    dispatch_at(&webhooks, now()).await;
    assert_eq!(receiver.requests().len(), 1);
    let change = Change::by(&who, "req_enable", now());
    rules::enable(&webhooks.api.store, &change, &who.permissions, &hook.id).await.unwrap();
    emit(&webhooks, &who, EventType::KeyCreated, json!({"id": "k3"})).await;
    dispatch_at(&webhooks, now()).await;
    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test]
async fn five_days_without_a_success_disable_the_endpoint() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    let receiver = Receiver::start(&[Play::Status(500); 40]).await;
    let (hook, _) = endpoint(&webhooks, &who, &receiver.url(), Subscription::All).await;
    // An event a day, each failing: the endpoint has not succeeded since the first.
    let start = now();
    for day in 0..6 {
        let at = start + Duration::days(day);
        emit(&webhooks, &who, EventType::SandboxCreated, json!({"day": day})).await;
        dispatch_at(&webhooks, at).await;
        let endpoint = webhooks.api.store.get_endpoint(&hook.id).await.unwrap().unwrap();
        assert_eq!(endpoint.enabled, day < 5, "day {day}: {endpoint:?}");
    }
    let endpoint = webhooks.api.store.get_endpoint(&hook.id).await.unwrap().unwrap();
    assert!(endpoint.disabled_reason.unwrap().contains("5 days"));
}

#[tokio::test]
async fn receiver_down_then_back_gets_everything_and_a_dispatcher_dying_mid_send_loses_nothing() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    // Down: a port nobody listens on.
    let down = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = down.local_addr().unwrap().port();
    drop(down);
    let url = format!("http://127.0.0.1:{port}/hook");
    let (hook, secret) = endpoint(&webhooks, &who, &url, Subscription::All).await;
    for i in 0..3 {
        emit(&webhooks, &who, EventType::KeyUpdated, json!({"n": i})).await;
    }
    let start = now();
    dispatch_at(&webhooks, start).await;
    let pending = webhooks.api.store.deliveries_since(&hook.id, start - Duration::minutes(1), 10).await.unwrap();
    assert_eq!(pending.len(), 3);
    assert!(pending.iter().all(|d| d.status == DeliveryStatus::Pending && d.attempts == 1));

    // A dispatcher claims one and dies before recording anything.
    let key = webhooks.sealing_key().await.unwrap();
    let later = start + Duration::seconds(10);
    assert!(webhooks.api.store.claim(&pending[0].id, later).await.unwrap().is_some());
    // Back up, on the same port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    drop(listener);
    let receiver = Receiver::start(&[]).await;
    let change = Change::by(&who, "req_patch", now());
    let patch = rules::EndpointPatch { url: Some(receiver.url()), ..Default::default() };
    rules::update(&webhooks.api.store, &change, &who.permissions, &hook.id, patch).await.unwrap();
    dispatch_at(&webhooks, later).await;
    assert_eq!(receiver.requests().len(), 2, "the claimed one waits for its lease");
    dispatch_at(&webhooks, later + Duration::seconds(31)).await;
    let got = receiver.requests();
    assert_eq!(got.len(), 3, "nothing lost");
    assert!(got.iter().all(|r| verifies(&secret, r)));
    let mut ids: Vec<_> = got.iter().map(|r| r.0.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);

    // A resend repeats one under the same webhook-id, so the receiver can deduplicate it.
    let first = DeliveryId::parse(&got[0].0).expect("webhook-id is the delivery id");
    let resent = rules::resend(&webhooks.api.store, &change, &who.permissions, &hook.id, &first).await.unwrap();
    dispatch_at(&webhooks, now() + Duration::minutes(2)).await;
    let got = receiver.requests();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].0, resent.id.as_str());
    let _ = key;
}

#[tokio::test]
async fn a_rotation_signs_with_both_secrets_for_a_day() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    let receiver = Receiver::start(&[]).await;
    let (hook, old) = endpoint(&webhooks, &who, &receiver.url(), Subscription::All).await;
    let key = webhooks.sealing_key().await.unwrap();
    let change = Change::by(&who, "req_rotate", now());
    let (_, new) = rules::rotate(&webhooks.api.store, key, &change, &who.permissions, &hook.id).await.unwrap();
    let new = new.reveal();
    emit(&webhooks, &who, EventType::KeyRolled, json!({"id": "k"})).await;
    dispatch_at(&webhooks, now()).await;
    let got = receiver.requests();
    assert!(verifies(&new, &got[0]) && verifies(&old, &got[0]));
    assert_eq!(got[0].2.split(' ').count(), 2);
    // A day later, only the new one.
    emit(&webhooks, &who, EventType::KeyRolled, json!({"id": "k2"})).await;
    dispatch_at(&webhooks, now() + Duration::hours(25)).await;
    let got = receiver.requests();
    assert!(verifies(&new, &got[1]) && !verifies(&old, &got[1]));
}

#[tokio::test]
async fn urls_to_non_public_addresses_are_refused_when_set_and_when_delivered() {
    let mut webhooks = webhooks_on_stack().await;
    webhooks.outbound.policy = webhooks::ssrf::Policy { local: false };
    // Names that resolve to refused addresses, through the test stack's loopback DNS server.
    let records_path = std::env::var("KEYHIVE_DNS_RECORDS").expect("KEYHIVE_DNS_RECORDS: run under make test");
    let tag = keyhive::model::random_id("r", 8).split_off(2).to_lowercase();
    let mut records: Value =
        std::fs::read_to_string(&records_path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(json!({}));
    let cases = [
        ("loopback", json!({"A": ["127.0.0.1"]})),
        ("private", json!({"A": ["10.1.2.3"]})),
        ("metadata", json!({"A": ["169.254.169.254"]})),
        ("mixed", json!({"A": ["93.184.215.14", "192.168.0.1"]})),
        ("ula", json!({"AAAA": ["fd00:ec2::254"]})),
        ("v6loopback", json!({"AAAA": ["::1"]})),
    ];
    for (name, value) in &cases {
        records[format!("{name}-{tag}.hooks.test")] = value.clone();
    }
    std::fs::write(&records_path, records.to_string()).unwrap();
    for (name, _) in &cases {
        let url = format!("https://{name}-{tag}.hooks.test/hook");
        let refused = rules::check_url(&webhooks.outbound, "url", &url).await;
        assert!(
            matches!(&refused, Err(keyhive::ApiError::Validation { reason, .. }) if reason.contains("non-public") && !reason.contains('.')),
            "{url}: {refused:?}"
        );
    }
    let unknown = rules::check_url(&webhooks.outbound, "url", &format!("https://nowhere-{tag}.hooks.test/")).await;
    assert!(unknown.is_err());
    for literal in [
        "https://127.0.0.1/",
        "https://0x7f.1/",
        "https://2130706433/",
        "https://[::ffff:127.0.0.1]/",
        "http://93.184.215.14/",
    ] {
        assert!(rules::check_url(&webhooks.outbound, "url", literal).await.is_err(), "{literal}");
    }

    // A name that was public when set and points inside now: refused at delivery, nothing sent.
    let webhooks_local = webhooks_on_stack().await;
    let who = tenant(&webhooks_local).await;
    let receiver = Receiver::start(&[]).await;
    let name = format!("turncoat-{tag}.hooks.test");
    records[&name] = json!({"A": ["127.0.0.1"]});
    std::fs::write(&records_path, records.to_string()).unwrap();
    // Set directly (as if it had resolved publicly when created).
    let url = format!("https://{name}:{}/hook", receiver.address.port());
    let (hook, _) = endpoint(&webhooks_local, &who, &url, Subscription::All).await;
    emit(&webhooks_local, &who, EventType::KeyCreated, json!({"id": "k"})).await;
    let key = webhooks_local.sealing_key().await.unwrap();
    rules::dispatch(&webhooks_local.api.store, key, &webhooks.outbound, now(), rules::Budget::LAMBDA).await.unwrap();
    assert!(receiver.requests().is_empty());
    let attempts = webhooks_local.api.store.list_attempts(&hook.id, None, 5).await.unwrap().items;
    assert!(attempts[0].error.as_deref().is_some_and(|e| e.contains("non-public")), "{attempts:?}");
}

// Endpoint cap, fan-out, fairness and re-send bounds (issue 21 findings 1, 3 and 4).

async fn try_endpoint(
    webhooks: &Webhooks,
    who: &Identity,
    url: &str,
    max: u32,
) -> Result<webhooks::model::Endpoint, keyhive::ApiError> {
    let key = webhooks.sealing_key().await.unwrap();
    let change = Change::by(who, "req_cap", now());
    rules::create(&webhooks.api.store, key, &change, url.to_string(), Subscription::All, None, max).await.map(|r| r.0)
}

#[tokio::test]
async fn the_endpoint_cap_holds_under_100_concurrent_creates_and_a_deletion_frees_a_slot() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    // A creation that collided with others past the store's own retries (a 409 to retry, or a
    // 503 when DynamoDB kept cancelling it: on a cold, busy machine) is sent again, as a client
    // would: each ends made or refused for the cap.
    let creates = (0..100).map(|i| {
        let (webhooks, who) = (&webhooks, &who);
        async move {
            let url = format!("http://127.0.0.1:9/{i}");
            let mut result = try_endpoint(webhooks, who, &url, 50).await;
            for _ in 0..20 {
                match &result {
                    Ok(_) | Err(keyhive::ApiError::QuotaExceeded(_)) => break,
                    Err(_) => result = try_endpoint(webhooks, who, &url, 50).await,
                }
            }
            result
        }
    });
    let results = futures_util::future::join_all(creates).await;
    let made: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let refused = results.iter().filter(|r| matches!(r, Err(keyhive::ApiError::QuotaExceeded(_)))).count();
    assert_eq!(
        (made.len(), refused),
        (50, 50),
        "{:?}",
        results
            .iter()
            .filter(|r| !matches!(r, Ok(_) | Err(keyhive::ApiError::QuotaExceeded(_))))
            .take(3)
            .collect::<Vec<_>>()
    );
    let listed = webhooks.api.store.endpoints_of(&Tenant::new(who.org_id.clone(), who.environment)).await.unwrap();
    assert_eq!(listed.len(), 50);

    let change = Change::by(&who, "req_cap_delete", now());
    rules::delete(&webhooks.api.store, &change, &made[0].id).await.unwrap();
    try_endpoint(&webhooks, &who, "http://127.0.0.1:9/again", 50).await.expect("the freed slot");
    let full = try_endpoint(&webhooks, &who, "http://127.0.0.1:9/over", 50).await;
    assert!(matches!(full, Err(keyhive::ApiError::QuotaExceeded(_))), "{full:?}");
}

#[tokio::test]
async fn an_event_reaches_every_endpoint_past_the_first_page() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    for i in 0..60 {
        try_endpoint(&webhooks, &who, &format!("http://127.0.0.1:9/{i}"), 99).await.unwrap();
    }
    let event_id = emit(&webhooks, &who, EventType::LinkCreated, json!({"id": "lnk_1"})).await;
    let key = webhooks.sealing_key().await.unwrap();
    let pass = rules::dispatch(
        &webhooks.api.store,
        key,
        &webhooks.outbound,
        now(),
        rules::Budget { time: std::time::Duration::from_secs(30), attempts: 0 },
    )
    .await
    .unwrap();
    assert_eq!(pass.events, 1);
    let endpoints = webhooks.api.store.endpoints_of(&Tenant::new(who.org_id.clone(), who.environment)).await.unwrap();
    assert_eq!(endpoints.len(), 60);
    for endpoint in &endpoints {
        let id = webhooks::model::DeliveryId::of(&event_id, &endpoint.id);
        assert!(
            webhooks.api.store.get_delivery(&id).await.unwrap().is_some(),
            "no delivery for {}",
            endpoint.id.as_str()
        );
    }
}

#[tokio::test]
async fn one_tenants_backlog_never_starves_another_tenants_delivery() {
    let webhooks = webhooks_on_stack().await;
    let (flooder, other) = (tenant(&webhooks).await, tenant(&webhooks).await);
    let (flood_receiver, other_receiver) = (Receiver::start(&[]).await, Receiver::start(&[]).await);
    let (flood_hook, _) = endpoint(&webhooks, &flooder, &flood_receiver.url(), Subscription::All).await;
    let (other_hook, _) = endpoint(&webhooks, &other, &other_receiver.url(), Subscription::All).await;
    // The flooder's 60 deliveries are all older than the other tenant's one.
    let start = now();
    for i in 0..60 {
        let change = Change::by(&flooder, "req_flood", start - Duration::minutes(10) + Duration::seconds(i));
        rules::send_test(&webhooks.api.store, &change, &flood_hook.id).await.unwrap();
    }
    let change = Change::by(&other, "req_other", start);
    rules::send_test(&webhooks.api.store, &change, &other_hook.id).await.unwrap();

    let key = webhooks.sealing_key().await.unwrap();
    let budget = rules::Budget { time: std::time::Duration::from_secs(30), attempts: 10 };
    let pass = rules::dispatch(&webhooks.api.store, key, &webhooks.outbound, start, budget).await.unwrap();
    assert_eq!(pass.attempts, 10, "the pass stops at its budget");
    assert_eq!(other_receiver.requests().len(), 1, "the other tenant's delivery went in the first round");
    assert_eq!(flood_receiver.requests().len(), 9);
    // Later passes go on with the backlog.
    let budget = rules::Budget { time: std::time::Duration::from_secs(30), attempts: usize::MAX };
    let pass = rules::dispatch(&webhooks.api.store, key, &webhooks.outbound, start, budget).await.unwrap();
    assert_eq!(pass.attempts, 51);
    assert_eq!(flood_receiver.requests().len(), 60);
}

#[tokio::test]
async fn re_sends_are_bounded_per_endpoint_and_hour() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    let receiver = Receiver::start(&[Play::Status(410)]).await;
    let (hook, _) = endpoint(&webhooks, &who, &receiver.url(), Subscription::All).await;
    let change = Change::by(&who, "req_resend", now());
    let delivery = rules::send_test(&webhooks.api.store, &change, &hook.id).await.unwrap();
    dispatch_at(&webhooks, now()).await;
    let failed = webhooks.api.store.get_delivery(&delivery.id).await.unwrap().unwrap();
    assert_eq!(failed.status, DeliveryStatus::Failed);

    let since = now() - Duration::hours(1);
    let recover = || rules::recover(&webhooks.api.store, &change, &who.permissions, &hook.id, since);
    assert_eq!(recover().await.unwrap(), 1, "recover, resend and test share the hour's sends");
    // The test and the recovery took two of them.
    for _ in 2..rules::REQUEUES_PER_HOUR {
        rules::resend(&webhooks.api.store, &change, &who.permissions, &hook.id, &delivery.id).await.unwrap();
    }
    let over = rules::resend(&webhooks.api.store, &change, &who.permissions, &hook.id, &delivery.id).await;
    assert!(matches!(over, Err(keyhive::ApiError::QuotaExceeded(_))), "{over:?}");
    // Failed again, and still over the hour's bound.
    let store = &webhooks.api.store;
    let pending = store.get_delivery(&delivery.id).await.unwrap().unwrap();
    let lease = store.claim(&delivery.id, now()).await.unwrap().unwrap();
    let attempt = webhooks::model::Attempt {
        delivery_id: delivery.id.clone(),
        event_id: pending.event_id.clone(),
        event_type: pending.event_type.clone(),
        attempt: pending.attempts + 1,
        at: now(),
        status_code: Some(500),
        duration_ms: 1,
        error: None,
        next_retry_at: None,
    };
    let effect = webhooks::store::AttemptEffect {
        status: DeliveryStatus::Failed,
        next_at: None,
        success: false,
        disable: None,
        touches_endpoint: true,
    };
    store.record_attempt(&pending, &lease, &attempt, &effect).await.unwrap();
    assert!(matches!(recover().await, Err(keyhive::ApiError::QuotaExceeded(_))));
    // The next hour has its own.
    let later = Change::by(&who, "req_resend_later", now() + Duration::hours(1));
    rules::resend(&webhooks.api.store, &later, &who.permissions, &hook.id, &delivery.id).await.unwrap();
}

#[tokio::test]
async fn a_delivery_goes_only_where_the_endpoint_is_subscribed_when_it_is_sent() {
    let webhooks = webhooks_on_stack().await;
    let who = tenant(&webhooks).await;
    let receiver = Receiver::start(&[]).await;
    let (hook, _) =
        endpoint(&webhooks, &who, &receiver.url(), Subscription::parse(&["key.created".into()]).unwrap()).await;
    let event_id = emit(&webhooks, &who, EventType::KeyCreated, json!({"id": "k"})).await;
    let key = webhooks.sealing_key().await.unwrap();
    let events_only = rules::Budget { time: std::time::Duration::from_secs(30), attempts: 0 };
    rules::dispatch(&webhooks.api.store, key, &webhooks.outbound, now(), events_only).await.unwrap();
    // Unsubscribed before it is sent.
    let change = Change::by(&who, "req_unsubscribe", now());
    let patch = rules::EndpointPatch {
        events: Some(Subscription::parse(&["link.created".into()]).unwrap()),
        ..Default::default()
    };
    rules::update(&webhooks.api.store, &change, &who.permissions, &hook.id, patch).await.unwrap();
    dispatch_at(&webhooks, now()).await;
    assert!(receiver.requests().is_empty());
    let delivery =
        webhooks.api.store.get_delivery(&webhooks::model::DeliveryId::of(&event_id, &hook.id)).await.unwrap();
    assert_eq!(delivery.unwrap().status, DeliveryStatus::Failed);
    let hook = webhooks.api.store.get_endpoint(&hook.id).await.unwrap().unwrap();
    assert!(hook.enabled && hook.failing_since.is_none(), "not the endpoint's failure");
}
/// A delivery queued before the due queue was ordered by organization (`<next_at>#<id>`) is
/// still found and sent, and the queue goes on to the organizations after it.
#[tokio::test]
async fn a_delivery_queued_in_the_old_order_is_still_sent() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let webhooks = webhooks_on_stack().await;
    let (old, new) = (tenant(&webhooks).await, tenant(&webhooks).await);
    let (old_receiver, new_receiver) = (Receiver::start(&[]).await, Receiver::start(&[]).await);
    let (old_hook, _) = endpoint(&webhooks, &old, &old_receiver.url(), Subscription::All).await;
    let (new_hook, _) = endpoint(&webhooks, &new, &new_receiver.url(), Subscription::All).await;
    let at = now() - Duration::minutes(1);
    let queued = rules::send_test(&webhooks.api.store, &Change::by(&old, "req_old", at), &old_hook.id).await;
    let queued = queued.unwrap();
    rules::send_test(&webhooks.api.store, &Change::by(&new, "req_new", at), &new_hook.id).await.unwrap();
    webhooks
        .api
        .store
        .client()
        .update_item()
        .table_name(webhooks.api.store.table())
        .key(schema::PK, AttributeValue::S(schema::delivery_pk(queued.id.as_str())))
        .key(schema::SK, AttributeValue::S(schema::DELIVERY_SK.into()))
        .update_expression("SET #sk = :old")
        .expression_attribute_names("#sk", schema::GSI2SK)
        .expression_attribute_values(
            ":old",
            AttributeValue::S(format!("{}#{}", keyhive::model::rfc3339(at), queued.id.as_str())),
        )
        .send()
        .await
        .unwrap();
    dispatch_at(&webhooks, now()).await;
    assert_eq!(old_receiver.requests().len(), 1, "the old-order entry was sent");
    assert_eq!(new_receiver.requests().len(), 1, "and the organizations after it");
}
