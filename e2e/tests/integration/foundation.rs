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
    assert_eq!(answer.header("allow"), Some("GET"));
}

#[tokio::test]
async fn every_response_gets_a_distinct_request_id() {
    let stack = Stack::from_env();
    let a = stack.get("/health").await.envelope(200);
    let b = stack.get("/health").await.envelope(200);
    assert_ne!(a["meta"]["request_id"], b["meta"]["request_id"]);
}

/// Walks the route table: every route, sent through the local router to its function with the
/// admin key, reaches a handler arm of that function. A route that fell through would answer the
/// "no route" 404; a missing resource (a made-up id) is a different 404.
#[tokio::test]
async fn every_route_of_the_route_table_reaches_a_real_handler() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let no_route = keyhive::ApiError::NoRoute.to_string();
    assert_eq!(stack.get("/v1/nope").await.envelope(404)["error"]["message"], no_route.as_str(), "the marker is real");
    // The local-only API reference page is a page, not an envelope: its own test below.
    for route in keyhive::http::routes::deployed_routes() {
        let path = route
            .pattern
            .replace("{id}", "AbCdEf123456")
            .replace("{user_id}", "usr_walk")
            .replace("{slug}", "walk-slug")
            .replace("{file}", "index-walk.js");
        // An empty JSON object: each body-taking route answers it with its own 400 (or acts on it).
        let body = (route.method != http::Method::GET && route.method != http::Method::DELETE).then_some("{}");
        let headers = [("x-api-key", admin.as_str()), ("content-type", "application/json")];
        let answer = stack.send(route.method.as_str(), &path, &headers, body).await;
        if route.method == http::Method::HEAD {
            // No body to read the marker from: its GET twin is walked too.
            assert!(
                answer.status != 405 && answer.status < 500,
                "{} {}: {}",
                route.method,
                route.pattern,
                answer.status
            );
            continue;
        }
        if answer.header("content-type").is_some_and(|t| t.starts_with("text/html")) {
            // A page (the console's), not an envelope: answered at all, it was reached.
            assert_eq!(answer.status, 200, "{} {}", route.method, route.pattern);
            continue;
        }
        let envelope = answer.json();
        assert_ne!(envelope["error"]["message"], no_route.as_str(), "{} {} fell through", route.method, route.pattern);
        assert!(answer.status != 405 && answer.status < 500, "{} {}: {envelope}", route.method, route.pattern);
    }
}

/// `/docs`: the page `make docs` rendered (make test renders it first), self-contained, served by
/// the local stack; as AWS carries the API (the REST front) the path is only a reserved slug, 404.
#[tokio::test]
async fn the_local_stack_serves_the_api_reference_at_docs_and_aws_does_not() {
    let stack = Stack::from_env();
    let answer = stack.get("/docs").await;
    if Stack::through_rest_front() {
        assert_eq!(answer.envelope(404)["error"]["code"], "NOT_FOUND");
        return;
    }
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(answer.header("x-request-id").is_some());
    let page = String::from_utf8_lossy(&answer.body);
    assert!(page.contains("<title>keyhive"), "not the API reference");
    assert!(!page.contains("cdn.redocly.com/redoc/"), "the page loads Redoc from the CDN instead of inlining it");
    let rendered = std::fs::read_to_string(keyhive::testkit::workspace_root().join("target/docs/index.html"));
    assert_eq!(Some(page.as_ref()), rendered.ok().as_deref(), "the page make docs rendered");
    assert_eq!(stack.send("POST", "/docs", &[], None).await.envelope(405)["error"]["code"], "METHOD_NOT_ALLOWED");
}

/// CORS: the one origin the test stack allows gets its preflight answered and may read answers
/// (errors included); any other origin gets no CORS header, and the browser refuses.
#[tokio::test]
async fn only_an_allowed_origin_gets_cors_headers_and_its_preflight_answered() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let allowed = "https://app.example.test";
    let preflight = stack
        .send(
            "OPTIONS",
            "/v1/keys",
            &[
                ("origin", allowed),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "x-api-key, content-type"),
            ],
            None,
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some(allowed));
    let methods = preflight.header("access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST") && methods.contains("GET"), "{methods}");
    let allowed_headers = preflight.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(allowed_headers.contains("x-api-key") && allowed_headers.contains("content-type"));

    let answer = stack.send("GET", "/v1/keys/self", &[("x-api-key", &admin), ("origin", allowed)], None).await;
    answer.envelope(200);
    assert_eq!(answer.header("access-control-allow-origin"), Some(allowed));
    assert!(answer.header("access-control-expose-headers").unwrap_or_default().contains("X-Request-Id"));
    let refused = stack.send("GET", "/v1/keys/self", &[("x-api-key", "nope"), ("origin", allowed)], None).await;
    refused.envelope(401);

    let other = "https://evil.example.test";
    let answer = stack.send("GET", "/v1/keys/self", &[("x-api-key", &admin), ("origin", other)], None).await;
    answer.envelope(200);
    assert!(answer.header("access-control-allow-origin").is_none(), "no CORS for {other}");
    let preflight =
        stack.send("OPTIONS", "/v1/keys", &[("origin", other), ("access-control-request-method", "POST")], None).await;
    assert_ne!(preflight.status, 204);
    assert!(preflight.header("access-control-allow-origin").is_none());
}
