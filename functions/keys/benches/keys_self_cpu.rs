//! `function_cpu_us_median.keys_self`: the keys function's own CPU for `GET /v1/keys/self` as
//! API Gateway delivers it after the authorizer (read the REST event from its bytes, route,
//! take the identity from the authorizer's context, read the key and its metadata, build the
//! envelope), over a canned DynamoDB answer served in memory (`keyhive::testkit::canned`). The
//! SDK's whole client stack runs as the function configures it.

use criterion::{criterion_group, criterion_main, Criterion};
use keyhive::auth::secrets::HashingSecret;
use keyhive::testkit::canned::{bot_key, wire_item, CannedAws};
use keyhive::testkit::{identity_of, Event};
use serde_json::json;

fn keys_self_cpu(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    // The function's log lines, formatted as in Lambda and thrown away.
    keyhive::telemetry::init_to(std::io::sink);
    let secret = HashingSecret::new(vec![7; 32]).expect("secret");
    let (_, record) = bot_key(&secret);
    let key = wire_item(&keyhive::auth::store::key_item(&record));
    let meta = json!({
        "PK": {"S": keyhive::schema::key_pk(record.key_id.as_str())}, "SK": {"S": keyhive::schema::KEY_META_SK},
        "key_id": {"S": record.key_id.as_str()}, "org_id": {"S": record.org_id.as_str()}, "environment": {"S": "live"},
        "meta": {"S": r#"{"team":"payments","deploy":"ci"}"#}, "external_id": {"S": "customer-42"},
    });
    let api = CannedAws::default()
        .answer("Query", &json!({ "Items": [key, meta], "Count": 2, "ScannedCount": 2 }))
        .api("keyhive");
    let github = keys::leaks::GitHubKeySource::from_env(false);

    // The bytes the Runtime API hands the function: each measured call parses them, as lambda_http does.
    let event = Event::load("keys-self.json").authorized_as(&identity_of(&record));
    let bytes = serde_json::to_string(&event.0).expect("event bytes");
    let request = || lambda_http::request::from_str(std::hint::black_box(&bytes)).expect("a REST event");
    let answer = runtime.block_on(keys::handle(&api, &github, request()));
    assert_eq!(answer.status(), 200, "{:?}", answer.body());
    let body = keyhive::testkit::body_json(&answer);
    assert_eq!(body["data"]["external_id"], "customer-42", "{body}");

    c.bench_function("keys_self_cpu", |b| b.iter(|| runtime.block_on(keys::handle(&api, &github, request()))));
}

criterion_group!(benches, keys_self_cpu);
criterion_main!(benches);
