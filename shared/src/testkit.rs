//! Test support (feature `testkit`): the local stack `make test` started, REST v1 events from
//! `events/`, and response helpers. Tests that need the stack fail loudly without it.

use crate::config::Config;
use crate::http::ApiState;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use std::path::PathBuf;

/// The workspace root (where `events/` and `template.yaml` live).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn require_stack() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "this test runs against the local stack: run it with `make test` (which starts DynamoDB Local and moto)"
    );
}

/// An `ApiState` wired to the local stack, exactly as a function builds it at start.
pub async fn stack_api() -> ApiState {
    require_stack();
    ApiState::from_env().await
}

/// An `ApiState` whose DynamoDB endpoint is a loopback port nobody listens on.
pub async fn unreachable_api() -> ApiState {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        listener.local_addr().expect("local addr").port()
    };
    let config = Config::from_env();
    let sdk = crate::aws::sdk_config(&config).await;
    let dynamo = aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(format!("http://127.0.0.1:{port}")).build();
    let store =
        crate::store::dynamo::DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(dynamo), config.table_name.clone());
    ApiState::new(config, store, crate::aws::secretsmanager(&sdk))
}

/// An `ApiState` on the real table whose Secrets Manager endpoint is a loopback port nobody listens
/// on: a function that started while Secrets Manager was away.
pub async fn secretless_api() -> ApiState {
    require_stack();
    let config = Config::from_env();
    let sdk = crate::aws::sdk_config(&config).await;
    let secrets = aws_sdk_secretsmanager::config::Builder::from(&sdk)
        .endpoint_url(format!("http://127.0.0.1:{}", closed_port()))
        .build();
    let store = crate::store::dynamo::DynamoStore::new(crate::aws::dynamodb(&sdk), config.table_name.clone());
    ApiState::new(config, store, aws_sdk_secretsmanager::Client::from_conf(secrets))
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Reads `events/<name>` as the Lambda runtime would hand it to `lambda_http`.
pub fn event(name: &str) -> Request {
    let path = workspace_root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The raw JSON of `events/<name>`, for tests that edit an event before using it.
pub fn event_json(name: &str) -> Value {
    let path = workspace_root().join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read event")).expect("event is JSON")
}

pub fn request_from_json(value: &Value) -> Request {
    lambda_http::request::from_str(&value.to_string()).expect("a valid Lambda HTTP event")
}

pub fn body_json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("response body is JSON")
}

/// Whether `id` has a request id's shape: API Gateway's (or watch's) id, unprefixed, as
/// openapi's `RequestId` pattern says.
pub fn is_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Asserts the envelope shape every response must have, and returns the body.
pub fn assert_envelope(response: &Response<Body>, status: u16) -> Value {
    let body = body_json(response);
    assert_eq!(response.status().as_u16(), status, "body: {body}");
    let request_id = body["meta"]["request_id"].as_str().expect("meta.request_id");
    assert!(is_request_id(request_id), "{request_id}");
    assert_eq!(response.headers()["x-request-id"], request_id);
    assert_eq!(body["success"], status < 400, "{body}");
    if status >= 400 {
        assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{body}");
        assert!(body.get("data").is_none());
    } else {
        assert!(body.get("data").is_some() && body.get("error").is_none(), "{body}");
    }
    body
}

/// A REST v1 event from `events/`, edited the way a test needs it. `request` hands it to the
/// function as API Gateway's REST front would, or, after `without_authorizer`, as `cargo lambda
/// watch` does: an HTTP API (v2) event with no authorizer.
#[derive(Debug, Clone)]
pub struct Event(pub Value, Front);

/// Which front delivers the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Front {
    Rest,
    Watch,
}

impl Event {
    pub fn load(name: &str) -> Self {
        Event(event_json(name), Front::Rest)
    }

    /// As API Gateway forwards it after the authorizer allowed `identity`.
    pub fn authorized_as(mut self, identity: &crate::auth::Identity) -> Self {
        let mut context = identity.to_context();
        context.insert("principalId".into(), Value::String(identity.key_id.to_string()));
        self.0["requestContext"]["authorizer"] = Value::Object(context);
        self
    }

    /// As `cargo lambda watch` delivers it: an HTTP API (v2) event without authorizer context,
    /// so the function authenticates the key itself.
    pub fn without_authorizer(mut self) -> Self {
        self.0["requestContext"]["authorizer"] = serde_json::json!({});
        self.1 = Front::Watch;
        self
    }

    /// A REST event whose authorizer context is missing (a misconfigured route): never trusted.
    pub fn rest_without_context(mut self) -> Self {
        self.0["requestContext"]["authorizer"] = serde_json::json!({});
        self.1 = Front::Rest;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0["headers"][name] = Value::String(value.into());
        self.0["multiValueHeaders"][name] = serde_json::json!([value]);
        self
    }

    pub fn body(self, body: &Value) -> Self {
        self.raw_body(&body.to_string())
    }

    pub fn raw_body(mut self, body: &str) -> Self {
        self.0["body"] = Value::String(body.into());
        self
    }

    /// Sets a path parameter and rebuilds `path` from `resource`.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.0["pathParameters"][name] = Value::String(value.into());
        let mut path = self.0["resource"].as_str().unwrap_or_default().to_string();
        if let Some(params) = self.0["pathParameters"].as_object() {
            for (k, v) in params {
                path = path.replace(&format!("{{{k}}}"), v.as_str().unwrap_or_default());
            }
        }
        self.0["path"] = Value::String(path);
        self
    }

    /// Drops the sample event's own query parameters.
    pub fn clear_query(mut self) -> Self {
        self.0["queryStringParameters"] = Value::Null;
        self.0["multiValueQueryStringParameters"] = Value::Null;
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        if !self.0["queryStringParameters"].is_object() {
            self.0["queryStringParameters"] = serde_json::json!({});
            self.0["multiValueQueryStringParameters"] = serde_json::json!({});
        }
        self.0["queryStringParameters"][name] = Value::String(value.into());
        self.0["multiValueQueryStringParameters"][name] = serde_json::json!([value]);
        self
    }

    pub fn request(&self) -> Request {
        match self.1 {
            Front::Rest => request_from_json(&self.0),
            Front::Watch => request_from_json(&http_api_event(&self.0)),
        }
    }
}

/// The HTTP API (payload 2.0) event `cargo lambda watch` would send for the same request.
fn http_api_event(rest: &Value) -> Value {
    let method = rest["httpMethod"].as_str().unwrap_or("GET");
    let path = rest["path"].as_str().unwrap_or("/");
    let mut headers = serde_json::Map::new();
    if let Some(all) = rest["multiValueHeaders"].as_object() {
        for (name, values) in all {
            let joined: Vec<&str> = values.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            headers.insert(name.to_ascii_lowercase(), Value::String(joined.join(",")));
        }
    }
    if let Some(single) = rest["headers"].as_object() {
        for (name, value) in single {
            headers.entry(name.to_ascii_lowercase()).or_insert_with(|| value.clone());
        }
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut query_map = serde_json::Map::new();
    if let Some(all) = rest["multiValueQueryStringParameters"].as_object() {
        for (name, values) in all {
            let values: Vec<&str> = values.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            for value in &values {
                query.append_pair(name, value);
            }
            query_map.insert(name.clone(), Value::String(values.join(",")));
        }
    }
    let user_agent = headers.get("user-agent").and_then(Value::as_str).unwrap_or_default().to_string();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query.finish(),
        "headers": headers,
        "queryStringParameters": if query_map.is_empty() { Value::Null } else { Value::Object(query_map) },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "localhost",
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent,
            },
            "requestId": rest["requestContext"]["requestId"].clone(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:10:30:00 +0000",
            "timeEpoch": 1795516200000_i64,
        },
        "body": rest["body"].clone(),
        "isBase64Encoded": rest["isBase64Encoded"].as_bool().unwrap_or(false),
    })
}

/// A fresh organization with an admin bot key (every permission, enterprise 10000/min), made by
/// the same code as `keyhive-admin bootstrap`. Each test gets its own tenant.
pub async fn new_org(
    api: &ApiState,
    environment: crate::auth::Environment,
) -> (crate::auth::Credential, crate::auth::KeyRecord) {
    new_org_with_tier(api, environment, crate::auth::Tier::Enterprise(10_000)).await
}

/// A fresh organization whose admin key has the given rate-limit tier.
pub async fn new_org_with_tier(
    api: &ApiState,
    environment: crate::auth::Environment,
    tier: crate::auth::Tier,
) -> (crate::auth::Credential, crate::auth::KeyRecord) {
    let secret = api.hashing_secret().await.expect("hashing secret from moto");
    let (_, record, credential) =
        crate::bootstrap::bootstrap_org(&api.store, &api.config.key_prefix, secret, "test org", environment, tier)
            .await
            .expect("bootstrap");
    (credential, record)
}

/// The identity the authorizer would pass for `record` (fresh rate figures).
pub fn identity_of(record: &crate::auth::KeyRecord) -> crate::auth::Identity {
    let limit = record.tier.limit_per_minute();
    crate::auth::Identity {
        org_id: record.org_id.clone(),
        key_id: record.key_id.clone(),
        environment: record.environment,
        key_type: record.key_type,
        user_id: record.user_id.clone(),
        permissions: record.permissions.clone(),
        rate: crate::auth::RateStatus { limit, remaining: limit - 1, reset: 0 },
        expires_at: record.expires_at.map(time::OffsetDateTime::unix_timestamp),
        rolled_out_secret: false,
    }
}

/// Headers carrying `key` as `X-API-Key`.
pub fn api_key_headers(key: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-api-key", http::HeaderValue::from_str(key).expect("ASCII key"));
    headers
}

/// Runs `n` copies of a task at once and counts their outcomes (an envelope code, or `CREATED`),
/// for the concurrency tests.
pub async fn tally<F, Fut>(n: usize, task: F) -> std::collections::BTreeMap<&'static str, usize>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = &'static str> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(task(i))).collect();
    let mut counts = std::collections::BTreeMap::new();
    for task in tasks {
        *counts.entry(task.await.expect("task")).or_insert(0) += 1;
    }
    counts
}

/// Every item of one partition of the table (audit trails, outboxes), for assertions.
pub async fn partition(api: &ApiState, pk: String) -> Vec<crate::store::items::Item> {
    let out = api
        .store
        .client()
        .query()
        .table_name(api.store.table())
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .send()
        .await
        .expect("query a partition");
    out.items.unwrap_or_default()
}

/// Everything the stack table's stream holds, from its oldest record, as a new reader sees it
/// (the aggregators' tests count it themselves, and count it again).
#[cfg(feature = "streams")]
pub async fn whole_stream(api: &ApiState) -> Vec<crate::store::stream::StreamRecord> {
    use crate::store::stream::{local_streams_client, StreamReader};
    let arn = StreamReader::stream_of(api.store.client(), api.store.table()).await.expect("the table's stream");
    StreamReader::new(local_streams_client(&api.config).await, arn).next_records().await.expect("stream records")
}

/// A plain HTTP/1.1 server on loopback that answers every request with `body` (as
/// `content_type`), keeping each connection open for more, and counts what it takes.
pub struct LoopbackHttp {
    /// `http://127.0.0.1:<port>`, without a trailing `/`.
    pub url: String,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl LoopbackHttp {
    pub async fn serve(content_type: &'static str, body: String) -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (accepted, answered) = (connections.clone(), requests.clone());
        let response = std::sync::Arc::new(format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                accepted.fetch_add(1, SeqCst);
                let (answered, response) = (answered.clone(), response.clone());
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // One request: its head, then the body its Content-Length names.
                        let head_end = loop {
                            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                                break at + 4;
                            }
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|line| line.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        while buffer.len() < head_end + length {
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buffer.drain(..head_end + length);
                        answered.fetch_add(1, SeqCst);
                        if socket.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        LoopbackHttp { url, connections, requests }
    }

    /// The connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// AWS answered in memory, per operation, for the CPU benches (`make bench`): the functions'
/// own SDK configuration and client stack run whole (serialization, signing, retries and
/// timeouts, response parsing), and only the network and the services are left out, so the
/// figure is the function's CPU, not DynamoDB Local's noise.
pub mod canned {
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::body::SdkBody;
    use base64::Engine;
    use serde_json::{json, Map, Value};
    use std::collections::HashMap;
    use std::sync::Arc;

    /// Answers by the operation an `X-Amz-Target` names (`GetSecretValue`, `UpdateItem`, ...);
    /// an operation without an answer gets a 500, so a bench that calls it fails loudly.
    #[derive(Clone, Default)]
    pub struct CannedAws {
        answers: Arc<HashMap<&'static str, Vec<u8>>>,
        /// With `recording`: each call's header names, in order.
        sent: Option<Arc<std::sync::Mutex<Vec<Vec<String>>>>>,
    }

    impl std::fmt::Debug for CannedAws {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_list().entries(self.answers.keys()).finish()
        }
    }

    impl CannedAws {
        /// `body` answers every call of `operation`.
        pub fn answer(mut self, operation: &'static str, body: &Value) -> Self {
            Arc::make_mut(&mut self.answers).insert(operation, body.to_string().into_bytes());
            self
        }

        /// Records the header names of every call (`requests`); off in the benches, whose
        /// figures it would add to.
        pub fn recording(mut self) -> Self {
            self.sent = Some(Arc::default());
            self
        }

        /// The header names of every call so far (with `recording`).
        pub fn requests(&self) -> Vec<Vec<String>> {
            self.sent.as_ref().map(|sent| sent.lock().expect("not poisoned").clone()).unwrap_or_default()
        }

        /// Every secret reads as `secret`.
        pub fn secret(self, secret: &str) -> Self {
            self.answer(
                "GetSecretValue",
                &json!({"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench", "Name": "bench",
                        "SecretString": secret, "VersionId": "v1", "VersionStages": ["AWSCURRENT"]}),
            )
        }

        /// An `ApiState` as a function builds it (`keyhive::aws::function_sdk_config`), whose
        /// calls these answers serve.
        pub fn api(&self, table: &str) -> crate::ApiState {
            let table = table.to_string();
            let config = crate::config::Config::from_lookup(|name| (name == "KEYHIVE_TABLE").then(|| table.clone()));
            let credentials = aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("AKIDBENCH", "bench", None, None, "bench"),
            );
            let sdk = crate::aws::function_sdk_config(
                &config,
                Some(aws_config::Region::new("us-east-1")),
                credentials,
                SharedHttpClient::new(self.clone()),
            );
            let store = crate::store::dynamo::DynamoStore::new(crate::aws::dynamodb(&sdk), config.table_name.clone());
            crate::ApiState::new(config, store, crate::aws::secretsmanager(&sdk))
        }
    }

    impl HttpConnector for CannedAws {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            if let Some(sent) = &self.sent {
                let names = request.headers().iter().map(|(name, _)| name.to_ascii_lowercase()).collect();
                sent.lock().expect("not poisoned").push(names);
            }
            let target = request.headers().get("x-amz-target").unwrap_or_default();
            let operation = target.rsplit('.').next().unwrap_or_default();
            let (status, body) = match self.answers.get(operation) {
                Some(body) => (200u16, body.clone()),
                None => (500, format!(r#"{{"__type":"NoCannedAnswer","message":"{operation}"}}"#).into_bytes()),
            };
            let status = status.try_into().unwrap_or_else(|_| unreachable!("200 and 500 are status codes"));
            let mut response = HttpResponse::new(status, SdkBody::from(body));
            response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
            HttpConnectorFuture::ready(Ok(response))
        }
    }

    impl HttpClient for CannedAws {
        fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    /// A live bot key holding every permission, hashed under `secret`, and its credential.
    pub fn bot_key(secret: &crate::auth::secrets::HashingSecret) -> (crate::auth::Credential, crate::auth::KeyRecord) {
        use crate::auth::{CreatedBy, Credential, Environment, KeyId, KeyRecord, KeyType, Tier};
        let credential = Credential::mint("kh", Environment::Live, KeyId::generate());
        let now = time::OffsetDateTime::now_utc();
        let record = KeyRecord {
            key_id: credential.key_id.clone(),
            org_id: crate::model::OrgId::generate(),
            environment: Environment::Live,
            key_type: KeyType::Bot,
            user_id: None,
            owner_name: None,
            name: "bench".into(),
            permissions: crate::auth::permissions::Permissions::all(),
            tier: Tier::Enterprise(100_000),
            secret_hash: credential.hash(secret),
            previous: None,
            last4: credential.last4(),
            created_at: now,
            last_used_at: Some(now),
            expires_at: None,
            revoked_at: None,
            disabled_at: None,
            created_by: CreatedBy::Bootstrap,
        };
        (credential, record)
    }

    /// An attribute value in DynamoDB's JSON wire format.
    pub fn wire(value: &AttributeValue) -> Value {
        match value {
            AttributeValue::S(s) => json!({ "S": s }),
            AttributeValue::N(n) => json!({ "N": n }),
            AttributeValue::B(b) => json!({ "B": base64::engine::general_purpose::STANDARD.encode(b.as_ref()) }),
            AttributeValue::Bool(v) => json!({ "BOOL": v }),
            AttributeValue::Null(_) => json!({ "NULL": true }),
            AttributeValue::Ss(v) => json!({ "SS": v }),
            AttributeValue::L(items) => json!({ "L": items.iter().map(wire).collect::<Vec<_>>() }),
            AttributeValue::M(map) => json!({ "M": wire_item(map) }),
            other => panic!("no wire form for {other:?} in the benches' items"),
        }
    }

    /// An item in DynamoDB's JSON wire format.
    pub fn wire_item(item: &HashMap<String, AttributeValue>) -> Map<String, Value> {
        item.iter().map(|(k, v)| (k.clone(), wire(v))).collect()
    }
}
