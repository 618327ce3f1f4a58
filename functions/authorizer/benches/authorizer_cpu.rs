//! `authorizer_cpu_us_median`: the authorizer's own CPU for one allowed request (read the event
//! from its bytes, hash and check the key, build the UpdateItem, read its answer, build the
//! policy), over canned DynamoDB and Secrets Manager answers served in memory
//! (`keyhive::testkit::canned`), so DynamoDB Local's noise is out of the figure. The SDK's whole
//! client stack still runs, as the function configures it: serialization, signing, retries and
//! timeouts, response parsing.

use criterion::{criterion_group, criterion_main, Criterion};
use keyhive::auth::secrets::HashingSecret;
use keyhive::testkit::canned::{bot_key, wire_item, CannedAws};
use serde_json::json;

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";

fn authorizer_cpu(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    // The function's log lines, formatted as in Lambda and thrown away.
    keyhive::telemetry::init_to(std::io::sink);
    let secret = HashingSecret::new(SECRET.as_bytes().to_vec()).expect("secret");
    let (credential, record) = bot_key(&secret);
    let now = time::OffsetDateTime::now_utc();
    let mut item = keyhive::auth::store::key_item(&record);
    // The current window's counter, as the UpdateItem leaves it.
    item.insert(
        keyhive::auth::store::window_attribute(now.unix_timestamp().div_euclid(60)),
        aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
    );
    let api = CannedAws::default()
        .secret(SECRET)
        .answer("UpdateItem", &json!({ "Attributes": wire_item(&item) }))
        .api("keyhive");

    let mut event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/authorizer-request.json"))
            .expect("events/authorizer-request.json"),
    )
    .expect("event JSON");
    event["headers"]["X-API-Key"] = json!(credential.reveal());
    event["multiValueHeaders"]["X-API-Key"] = json!([credential.reveal()]);
    // The bytes the Runtime API hands the function: each measured call parses them, as
    // lambda_runtime does.
    let bytes = serde_json::to_vec(&event).expect("event bytes");
    let request = || serde_json::from_slice(std::hint::black_box(&bytes)).expect("an authorizer event");
    // The first call loads the secret; every measured call is an instance's second or later.
    let allowed = runtime.block_on(authorizer::handler(&api, request())).expect("allowed");
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow", "{allowed}");

    c.bench_function("authorizer_cpu", |b| {
        b.iter(|| runtime.block_on(authorizer::handler(&api, request())).expect("allowed"))
    });

    // The floor under it (`sdk_call_cpu_us_median`): one bare UpdateItem of the same item through
    // the same client, answered the same way; what the SDK's client stack costs per call.
    let key = keyhive::store::items::key_of(keyhive::schema::key_pk(record.key_id.as_str()), keyhive::schema::KEY_SK);
    let client = api.store.client();
    let update = || {
        client
            .update_item()
            .table_name("keyhive")
            .set_key(Some(key.clone()))
            .update_expression("ADD #w :one")
            .expression_attribute_names("#w", "rl_0")
            .expression_attribute_values(":one", aws_sdk_dynamodb::types::AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
    };
    c.bench_function("sdk_call_cpu", |b| b.iter(|| runtime.block_on(update()).expect("updated")));
}

criterion_group!(benches, authorizer_cpu);
criterion_main!(benches);
