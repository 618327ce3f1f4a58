//! `authorizer_cpu_us_median`: the authorizer handler's own CPU for one allowed request (parse
//! the event, hash and check the key, build the UpdateItem, read its answer, build the policy),
//! over canned DynamoDB and Secrets Manager answers served in memory, so DynamoDB Local's noise
//! is out of the figure. The SDK's whole client stack still runs: serialization, signing,
//! retries and timeouts, response parsing.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use keyhive::auth::permissions::Permissions;
use keyhive::auth::secrets::HashingSecret;
use keyhive::auth::{CreatedBy, KeyRecord};
use keyhive::auth::{Credential, Environment, KeyId, KeyType, Tier};
use keyhive::model::OrgId;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";

/// Answers every call in memory: the secret for Secrets Manager, the key item for DynamoDB.
#[derive(Clone)]
struct Canned {
    secrets: Arc<Vec<u8>>,
    dynamodb: Arc<Vec<u8>>,
}

impl std::fmt::Debug for Canned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Canned")
    }
}

impl HttpConnector for Canned {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let body = if target.starts_with("secretsmanager") { &self.secrets } else { &self.dynamodb };
        let mut response = HttpResponse::new(200u16.try_into().expect("200"), SdkBody::from(body.as_slice().to_vec()));
        response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Canned {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// An attribute value in DynamoDB's JSON wire format.
fn wire(value: &aws_sdk_dynamodb::types::AttributeValue) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match value {
        A::S(s) => json!({ "S": s }),
        A::N(n) => json!({ "N": n }),
        A::B(b) => json!({ "B": base64::engine::general_purpose::STANDARD.encode(b.as_ref()) }),
        A::Bool(v) => json!({ "BOOL": v }),
        A::Null(_) => json!({ "NULL": true }),
        A::Ss(v) => json!({ "SS": v }),
        A::L(items) => json!({ "L": items.iter().map(wire).collect::<Vec<_>>() }),
        A::M(map) => json!({ "M": map.iter().map(|(k, v)| (k.clone(), wire(v))).collect::<Map<_, _>>() }),
        other => panic!("no wire form for {other:?}"),
    }
}

fn authorizer_cpu(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let secret = HashingSecret::new(SECRET.as_bytes().to_vec()).expect("secret");
    let credential = Credential::mint("kh", Environment::Live, KeyId::generate());
    let now = time::OffsetDateTime::now_utc();
    let record = KeyRecord {
        key_id: credential.key_id.clone(),
        org_id: OrgId::generate(),
        environment: Environment::Live,
        key_type: KeyType::Bot,
        user_id: None,
        owner_name: None,
        name: "bench".into(),
        permissions: Permissions::all(),
        tier: Tier::Enterprise(100_000),
        secret_hash: credential.hash(&secret),
        previous: None,
        last4: credential.last4(),
        created_at: now,
        last_used_at: Some(now),
        expires_at: None,
        revoked_at: None,
        disabled_at: None,
        created_by: CreatedBy::Bootstrap,
    };
    let mut item = keyhive::auth::store::key_item(&record);
    // The current window's counter, as the UpdateItem leaves it.
    item.insert(
        keyhive::auth::store::window_attribute(now.unix_timestamp().div_euclid(60)),
        aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
    );
    let attributes: Map<String, Value> = item.iter().map(|(k, v)| (k.clone(), wire(v))).collect();
    let canned = Canned {
        secrets: Arc::new(
            json!({"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench", "Name": "bench",
                   "SecretString": SECRET, "VersionId": "v1", "VersionStages": ["AWSCURRENT"]})
            .to_string()
            .into_bytes(),
        ),
        dynamodb: Arc::new(json!({ "Attributes": attributes }).to_string().into_bytes()),
    };

    let api = runtime.block_on(async {
        let config = keyhive::config::Config::from_lookup(|name| match name {
            "KEYHIVE_TABLE" => Some("keyhive".into()),
            _ => None,
        });
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::new("AKIDBENCH", "bench", None, None, "bench"),
            ))
            .http_client(canned.clone())
            .build();
        let store = keyhive::store::dynamo::DynamoStore::new(keyhive::aws::dynamodb(&sdk), config.table_name.clone());
        keyhive::ApiState::new(config, store, keyhive::aws::secretsmanager(&sdk))
    });
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/authorizer-request.json"))
            .expect("events/authorizer-request.json"),
    )
    .expect("event JSON");
    event["headers"]["X-API-Key"] = json!(credential.reveal());
    event["multiValueHeaders"]["X-API-Key"] = json!([credential.reveal()]);
    let event: lambda_runtime::LambdaEvent<Value> =
        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
    let request = || serde_json::from_value(event.payload.clone()).expect("an authorizer event");
    // The first call loads the secret; every measured call is an instance's second or later.
    let allowed = runtime.block_on(authorizer::handler(&api, request())).expect("allowed");
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow", "{allowed}");

    c.bench_function("authorizer_cpu", |b| {
        b.iter(|| runtime.block_on(authorizer::handler(&api, std::hint::black_box(request()))).expect("allowed"))
    });
}

criterion_group!(benches, authorizer_cpu);
criterion_main!(benches);
