//! The health handler fed REST v1 events from `events/`, against DynamoDB Local.

use keyhive::testkit::{assert_envelope, event, stack_api, unreachable_api};
use std::time::{Duration, Instant};

#[tokio::test]
async fn health_is_200_with_status_and_version_when_the_table_answers() {
    let api = stack_api().await;
    let response = health::handle(&api, event("health.json")).await;
    let body = assert_envelope(&response, 200);
    assert_eq!(body["data"]["status"], "ok");
    assert_eq!(body["data"]["version"], health::VERSION);
    // The gateway's request id is the request id: one id in API Gateway's logs and ours.
    assert_eq!(body["meta"]["request_id"], "7f1d2c3b-4a5e-4f60-8a9b-0c1d2e3f4a5b");
}

#[tokio::test]
async fn health_is_a_quick_503_envelope_when_dynamodb_is_unreachable() {
    let api = unreachable_api().await;
    let started = Instant::now();
    let response = health::handle(&api, event("health.json")).await;
    let body = assert_envelope(&response, 503);
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    // Bounded by the SDK's operation timeout; generous margin for a loaded machine.
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(!body.to_string().contains("127.0.0.1"), "internals leaked: {body}");
}

#[tokio::test]
async fn other_methods_on_health_are_405_and_unknown_paths_404() {
    let api = stack_api().await;
    let response = health::handle(&api, event("health-delete.json")).await;
    let body = assert_envelope(&response, 405);
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(response.headers()["allow"], "GET");
    let response = health::handle(&api, event("unknown-path.json")).await;
    let body = assert_envelope(&response, 404);
    assert_eq!(body["error"]["code"], "NOT_FOUND");
}
