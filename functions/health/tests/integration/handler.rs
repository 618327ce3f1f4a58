//! The health handler fed REST v1 events from `events/`, against DynamoDB Local.

use keyhive::testkit::{assert_envelope, event, stack_api, unreachable_api, Event};
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

/// `GET /docs` as `cargo lambda watch` delivers it: the local stack serves the page `make docs`
/// rendered; without one configured (every deployment) or before the first render, a 404 that
/// says why.
#[tokio::test]
async fn the_local_stack_serves_the_rendered_api_reference_at_docs() {
    let docs_event = || {
        let mut event = Event::load("health.json");
        event.0["resource"] = "/docs".into();
        event.0["path"] = "/docs".into();
        event.without_authorizer().request()
    };
    let mut api = stack_api().await;
    api.config.dev_mode = true;
    let dir = std::env::temp_dir().join(format!("keyhive-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("index.html");
    api.config.docs_file = Some(page.clone());

    let missing = health::handle(&api, docs_event()).await;
    assert!(assert_envelope(&missing, 404)["error"]["message"].as_str().unwrap().contains("make docs"));

    std::fs::write(&page, "<!DOCTYPE html><title>keyhive API</title>").unwrap();
    let served = health::handle(&api, docs_event()).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(String::from_utf8_lossy(served.body()), "<!DOCTYPE html><title>keyhive API</title>");

    api.config.docs_file = None;
    let unconfigured = health::handle(&api, docs_event()).await;
    assert!(assert_envelope(&unconfigured, 404)["error"]["message"].as_str().unwrap().contains("local stack only"));

    // Outside local development (every deployment) the route does not exist, page or not.
    api.config.docs_file = Some(page);
    api.config.dev_mode = false;
    let deployed = health::handle(&api, docs_event()).await;
    assert_eq!(assert_envelope(&deployed, 404)["error"]["message"], keyhive::ApiError::NoRoute.to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}
