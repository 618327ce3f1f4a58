//! GitHub's secret-scanning callback on REST v1 events against DynamoDB Local and moto, with
//! GitHub's key document served by the test over loopback and reports signed by a key pair the
//! test generates: a true positive is revoked in one transaction with `key.leaked` and an audit
//! entry by `secret-scanning`; forged reports change nothing.

use keyhive::auth::{Environment, KeyId, KeyStore};
use keyhive::schema;
use keyhive::store::items::{opt_s, Item};
use keyhive::testkit::{assert_envelope, body_json, new_org, partition, stack_api, Event, LoopbackHttp};
use keyhive::ApiState;
use keys::github::testing::SigningKey;
use keys::leaks::GitHubKeySource;
use serde_json::{json, Value};

const KEY_ID: &str = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";

/// Serves `document` to every request on a loopback port, as GitHub's keys URL; counts fetches.
async fn serve(document: String) -> (String, LoopbackHttp) {
    let server = LoopbackHttp::serve("application/json", document).await;
    (format!("{}/meta/public_keys/secret_scanning", server.url), server)
}

fn report(api_key: &str) -> String {
    json!([{ "token": api_key, "type": "keyhive_api_key", "url": "https://github.com/octo/repo/blob/main/.env#L3", "source": "content" }])
        .to_string()
}

async fn post(
    api: &ApiState,
    source: &GitHubKeySource,
    body: &str,
    key_id: &str,
    signature: &str,
) -> lambda_http::Response<lambda_http::Body> {
    let event = Event::load("secret-scanning-github.json")
        .raw_body(body)
        .header("Github-Public-Key-Identifier", key_id)
        .header("Github-Public-Key-Signature", signature);
    keys::handle(api, source, event.request()).await
}

fn actions(items: &[Item], target: &str) -> Vec<(String, Option<String>)> {
    items
        .iter()
        .filter(|item| opt_s(item, "target_id") == Some(target))
        .map(|item| {
            (opt_s(item, "action").unwrap_or_default().to_string(), opt_s(item, "actor_system").map(str::to_string))
        })
        .collect()
}

#[tokio::test]
async fn a_signed_report_of_a_live_key_revokes_it_once_and_answers_in_githubs_format() {
    let api = stack_api().await;
    let github = SigningKey::generate().expect("key pair");
    let (url, _) = serve(github.key_document(KEY_ID)).await;
    let source = GitHubKeySource::new(url, true);
    let (credential, record) = new_org(&api, Environment::Live).await;
    let body = report(credential.reveal());
    let response = post(&api, &source, &body, KEY_ID, &github.sign(body.as_bytes()).expect("sign")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        body_json(&response),
        json!([{ "token_raw": credential.reveal(), "token_type": "keyhive_api_key", "label": "true_positive" }])
    );
    let stored = api.store.get_key(&record.key_id).await.expect("read").expect("still stored");
    assert!(stored.revoked_at.is_some(), "the leaked key is revoked");
    let audit = partition(&api, schema::audit_pk(record.org_id.as_str())).await;
    assert!(actions(&audit, record.key_id.as_str()).contains(&("key.leaked".into(), Some("secret-scanning".into()))));
    let outbox = partition(&api, schema::outbox_pk(record.org_id.as_str(), "live")).await;
    let types: Vec<&str> = outbox.iter().filter_map(|item| opt_s(item, "event_type")).collect();
    assert!(types.contains(&"key.leaked") && types.contains(&"key.revoked"), "{types:?}");
    let leaked = outbox.iter().find(|item| opt_s(item, "event_type") == Some("key.leaked")).expect("event");
    let payload: Value = serde_json::from_str(opt_s(leaked, "payload").expect("payload")).expect("JSON");
    assert_eq!(payload["data"]["url"], "https://github.com/octo/repo/blob/main/.env#L3");
    assert_eq!(payload["data"]["source"], "content");
    assert_eq!(payload["data"]["id"], record.key_id.as_str());
    assert!(payload["data"]["revoked_at"].is_string());
    // The same report again (GitHub retries): still a true positive, nothing more written.
    let again = post(&api, &source, &body, KEY_ID, &github.sign(body.as_bytes()).expect("sign")).await;
    assert_eq!(body_json(&again)[0]["label"], "true_positive");
    let audit_again = partition(&api, schema::audit_pk(record.org_id.as_str())).await;
    assert_eq!(actions(&audit_again, record.key_id.as_str()), actions(&audit, record.key_id.as_str()));
}

#[tokio::test]
async fn forged_unsigned_and_foreign_reports_change_nothing() {
    let api = stack_api().await;
    let github = SigningKey::generate().expect("key pair");
    let forger = SigningKey::generate().expect("key pair");
    let (url, fetches) = serve(github.key_document(KEY_ID)).await;
    let source = GitHubKeySource::new(url, true);
    let (credential, record) = new_org(&api, Environment::Live).await;
    let body = report(credential.reveal());
    let signed_by_forger = forger.sign(body.as_bytes()).expect("sign");
    let genuine = github.sign(body.as_bytes()).expect("sign");
    for (key_id, signature) in
        [(KEY_ID, signed_by_forger.as_str()), ("another-key-id", genuine.as_str()), (KEY_ID, "bm90IGEgc2lnbmF0dXJl")]
    {
        let response = post(&api, &source, &body, key_id, signature).await;
        assert_eq!(assert_envelope(&response, 401)["error"]["code"], "UNAUTHORIZED");
    }
    // A genuine signature over another body does not carry over.
    let tampered = report(&format!("{} ", credential.reveal()));
    assert_envelope(&post(&api, &source, &tampered, KEY_ID, &genuine).await, 401);
    // No signature headers at all.
    let bare = Event::load("secret-scanning-github.json").raw_body(&body);
    let mut event = bare.request();
    event.headers_mut().remove("github-public-key-signature");
    assert_envelope(&keys::handle(&api, &source, event).await, 401);
    // An unknown key id refetched at most once a minute: the forged ids cost one fetch in all.
    assert_eq!(fetches.requests(), 1);
    let stored = api.store.get_key(&record.key_id).await.expect("read").expect("key");
    assert!(stored.revoked_at.is_none(), "nothing was revoked");
    // Signed, but not a live key of this deployment with its secret: false positives, no change.
    let (public, secret) = credential.reveal().split_once('.').expect("key");
    let wrong_secret = format!("{public}.{}", "A".repeat(secret.len()));
    let other_prefix = credential.reveal().replacen("kh_", "zz_", 1);
    for token in [wrong_secret.as_str(), other_prefix.as_str(), "ghp_notakey"] {
        let body = report(token);
        let response = post(&api, &source, &body, KEY_ID, &github.sign(body.as_bytes()).expect("sign")).await;
        assert_eq!(body_json(&response)[0]["label"], "false_positive", "{token}");
    }
    let stored =
        api.store.get_key(&KeyId::parse(record.key_id.as_str()).expect("id")).await.expect("read").expect("key");
    assert!(stored.revoked_at.is_none(), "nothing was revoked");
}

#[tokio::test]
async fn an_oversized_body_is_413_and_unusable_keys_are_fetched_at_most_once_a_minute() {
    let api = stack_api().await;
    let github = SigningKey::generate().expect("key pair");
    let (url, fetches) = serve("not GitHub's key document".into()).await;
    let source = GitHubKeySource::new(url, true);
    let huge = format!("[{}]", vec![r#"{"token":"x","type":"t"}"#; 4000].join(","));
    assert!(huge.len() > keyhive::http::body::MAX_JSON_BODY_BYTES);
    let response = post(&api, &source, &huge, KEY_ID, &github.sign(huge.as_bytes()).expect("sign")).await;
    assert_eq!(assert_envelope(&response, 413)["error"]["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!((fetches.connections(), fetches.requests()), (0, 0), "nothing fetched for an oversized body");
    // The keys cannot be had: 503 (GitHub retries), and the next reports within the minute fetch
    // nothing more, whatever key id they name.
    let body = report("kh_live_AbCdEf123456.x");
    for key_id in [KEY_ID, "another-id", "yet-another-id"] {
        let response = post(&api, &source, &body, key_id, &github.sign(body.as_bytes()).expect("sign")).await;
        assert_eq!(assert_envelope(&response, 503)["error"]["code"], "SERVICE_UNAVAILABLE");
    }
    assert_eq!(fetches.requests(), 1);
}
