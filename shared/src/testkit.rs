//! Test support (feature `testkit`): the local stack `make test` started, REST v1 events from
//! `events/`, and response helpers. Tests that need the stack fail loudly without it.

use crate::api::Api;
use crate::config::Config;
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

/// An `Api` wired to the local stack, exactly as a function builds it at start.
pub async fn stack_api() -> Api {
    require_stack();
    Api::from_env().await
}

/// An `Api` whose DynamoDB endpoint is a loopback port nobody listens on.
pub async fn unreachable_api() -> Api {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        listener.local_addr().expect("local addr").port()
    };
    let config = Config::from_env();
    let sdk = crate::aws::sdk_config(&config).await;
    let dynamo = aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(format!("http://127.0.0.1:{port}")).build();
    Api::new(
        config.clone(),
        crate::store::dynamo::DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(dynamo), config.table_name),
    )
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

/// Asserts the envelope shape every response must have, and returns the body.
pub fn assert_envelope(response: &Response<Body>, status: u16) -> Value {
    let body = body_json(response);
    assert_eq!(response.status().as_u16(), status, "body: {body}");
    let request_id = body["meta"]["request_id"].as_str().expect("meta.request_id");
    assert!(request_id.starts_with("req_"), "{request_id}");
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
