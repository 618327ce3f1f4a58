//! Through `cargo lambda watch`: health, and the envelope on unknown paths and methods.

use keyhive_e2e::Stack;

#[tokio::test]
async fn health_answers_200_envelope_with_version() {
    let stack = Stack::from_env();
    let body = stack.get("/health").await.envelope(200);
    assert_eq!(body["data"]["status"], "ok");
    assert!(body["data"]["version"].as_str().is_some_and(|v| !v.is_empty()));
}

#[tokio::test]
async fn unknown_paths_answer_the_404_envelope() {
    let stack = Stack::from_env();
    for path in
        ["/", "/nope", "/v1/", "/v1/nope", "/v1/keys-nope/x/y", "/a/b/c", "/health/", "/health/x", "/%2e%2e/etc/passwd"]
    {
        let body = stack.get(path).await.envelope(404);
        assert_eq!(body["error"]["code"], "NOT_FOUND", "{path}");
    }
}

#[tokio::test]
async fn a_known_path_with_an_unknown_method_answers_405_naming_the_allowed_ones() {
    let stack = Stack::from_env();
    let answer = stack.send("DELETE", "/health", &[], None).await;
    let body = answer.envelope(405);
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(answer.headers.get("allow").and_then(|v| v.to_str().ok()), Some("GET"));
}

#[tokio::test]
async fn every_response_gets_a_distinct_request_id() {
    let stack = Stack::from_env();
    let a = stack.get("/health").await.envelope(200);
    let b = stack.get("/health").await.envelope(200);
    assert_ne!(a["meta"]["request_id"], b["meta"]["request_id"]);
}
