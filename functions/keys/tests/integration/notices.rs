//! Key expiry notices against DynamoDB Local: the job finds a key by its expiry day in the sparse
//! index, sends `key.expiring` 7 days and 1 day before and `key.expired` when it lapses, each once
//! (also when two runs race), each with its audit entry, and afresh when the expiry changes.

use keyhive::auth::{Environment, Identity, KeyId};
use keyhive::model::{parse_rfc3339, rfc3339};
use keyhive::schema;
use keyhive::store::items::{key_of, opt_s};
use keyhive::testkit::{assert_envelope, identity_of, new_org, partition, stack_api, Event};
use keyhive::ApiState;
use keys::notices::{notify, send_due};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

async fn create_expiring(api: &ApiState, admin: &Identity, expires_at: OffsetDateTime) -> KeyId {
    let body = json!({ "name": "expiring", "type": "bot", "permissions": {}, "expires_at": rfc3339(expires_at) });
    let event = Event::load("keys-create.json").authorized_as(admin).body(&body);
    let made = keys::handle(api, &Default::default(), event.request()).await;
    KeyId::parse(assert_envelope(&made, 201)["data"]["id"].as_str().expect("id")).expect("id")
}

/// The key's notices in its outbox, oldest first: (type, days_left).
async fn notices_of(api: &ApiState, admin: &Identity, key_id: &KeyId) -> Vec<(String, Value)> {
    let mut found: Vec<(String, String, Value)> = partition(api, schema::outbox_pk(admin.org_id.as_str(), "live"))
        .await
        .iter()
        .filter_map(|item| {
            let payload: Value = serde_json::from_str(opt_s(item, "payload")?).ok()?;
            let kind = payload["type"].as_str()?.to_string();
            (kind.starts_with("key.expir") && payload["data"]["id"] == key_id.as_str()).then(|| {
                (opt_s(item, "SK").unwrap_or_default().to_string(), kind, payload["data"]["days_left"].clone())
            })
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.into_iter().map(|(_, kind, days)| (kind, days)).collect()
}

#[tokio::test]
async fn each_notice_is_sent_once_in_its_window_with_its_audit_entry() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    // A month ahead of the stack's own notices job (it runs at the real time meanwhile): only
    // this test's runs can find the key due.
    let now = keyhive::model::now() + Duration::days(30);
    let expires_at = parse_rfc3339(&rfc3339(now + Duration::days(3))).expect("whole seconds");
    let key_id = create_expiring(&api, &admin, expires_at).await;
    // Three days left: the first notice at once, saying 3; not twice, even from racing runs.
    let (first, second) = tokio::join!(notify(&api.store, &key_id, now), notify(&api.store, &key_id, now));
    assert_eq!([first.expect("run"), second.expect("run")].iter().filter(|sent| **sent).count(), 1);
    assert!(!notify(&api.store, &key_id, now + Duration::hours(1)).await.expect("run"));
    // The job finds it through the index by itself, and has nothing more to send yet.
    send_due(&api.store, now + Duration::hours(2)).await.expect("run");
    assert_eq!(notices_of(&api, &admin, &key_id).await, vec![("key.expiring".to_string(), json!(3))]);
    // The last day.
    let last_day = expires_at - Duration::hours(20);
    assert!(send_due(&api.store, last_day).await.expect("run") >= 1);
    assert!(!notify(&api.store, &key_id, last_day).await.expect("run"));
    // Lapsed: key.expired, and the key leaves the index.
    let lapsed = expires_at + Duration::seconds(1);
    assert!(notify(&api.store, &key_id, lapsed).await.expect("run"));
    assert!(!notify(&api.store, &key_id, lapsed + Duration::minutes(5)).await.expect("run"));
    let notice_item = key_of(schema::key_pk(key_id.as_str()), schema::KEY_EXPIRY_SK);
    assert!(api.store.get_consistent(notice_item).await.expect("read").is_none());
    assert_eq!(
        notices_of(&api, &admin, &key_id).await,
        vec![
            ("key.expiring".to_string(), json!(3)),
            ("key.expiring".to_string(), json!(1)),
            ("key.expired".to_string(), Value::Null),
        ]
    );
    let audit = partition(&api, schema::audit_pk(admin.org_id.as_str())).await;
    let by_job: Vec<&str> = audit
        .iter()
        .filter(|item| {
            opt_s(item, "target_id") == Some(key_id.as_str()) && opt_s(item, "actor_system") == Some("key-notices")
        })
        .filter_map(|item| opt_s(item, "action"))
        .collect();
    assert_eq!(by_job.iter().filter(|a| **a == "key.expiring").count(), 2);
    assert_eq!(by_job.iter().filter(|a| **a == "key.expired").count(), 1);
}

#[tokio::test]
async fn a_changed_expiry_gets_its_notices_afresh_and_a_cleared_or_revoked_one_none() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    // The stack's own notices job runs meanwhile at the real time, and the test above sends what
    // is due a month ahead: every expiry here is two months out, so only this test's runs (at
    // `now`) can find a notice due.
    let now = keyhive::model::now() + Duration::days(60);
    let soon = parse_rfc3339(&rfc3339(now + Duration::days(6))).expect("time");
    let key_id = create_expiring(&api, &admin, soon).await;
    assert!(notify(&api.store, &key_id, now).await.expect("run"));
    // Moved 30 days out: nothing due now; 7 days before the new expiry, the first notice again.
    let later = soon + Duration::days(30);
    let patch = |body: Value| {
        Event::load("keys-update.json").authorized_as(&admin).param("id", key_id.as_str()).body(&body).request()
    };
    assert_envelope(
        &keys::handle(&api, &Default::default(), patch(json!({ "expires_at": rfc3339(later) }))).await,
        200,
    );
    assert!(!notify(&api.store, &key_id, now).await.expect("run"));
    assert!(notify(&api.store, &key_id, later - Duration::days(7)).await.expect("run"));
    let sent = notices_of(&api, &admin, &key_id).await;
    assert_eq!(sent, vec![("key.expiring".to_string(), json!(6)), ("key.expiring".to_string(), json!(7))]);
    // Cleared: the key leaves the index, nothing more is sent.
    assert_envelope(&keys::handle(&api, &Default::default(), patch(json!({ "expires_at": null }))).await, 200);
    assert!(!notify(&api.store, &key_id, later).await.expect("run"));
    // Revoked with an expiry: nothing either.
    let other = create_expiring(&api, &admin, soon).await;
    let revoke = Event::load("keys-revoke.json").authorized_as(&admin).param("id", other.as_str());
    assert_envelope(&keys::handle(&api, &Default::default(), revoke.request()).await, 200);
    assert!(!notify(&api.store, &other, soon + Duration::seconds(1)).await.expect("run"));
    assert!(notices_of(&api, &admin, &other).await.is_empty());
}
