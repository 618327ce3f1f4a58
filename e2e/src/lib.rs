//! A small HTTP client for the end-to-end tests: plain HTTP to `cargo lambda watch` on loopback.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub struct Stack {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// A response header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("status {} body is not JSON ({e}): {:?}", self.status, String::from_utf8_lossy(&self.body))
        })
    }

    /// Asserts the envelope (status, success flag, request id in body and header) and returns it.
    pub fn envelope(&self, status: u16) -> Value {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        let rid = body["meta"]["request_id"].as_str().unwrap_or_else(|| panic!("no meta.request_id: {body}"));
        // API Gateway's (here watch's) own request id, unprefixed: openapi's `RequestId` pattern.
        assert!(
            rid.len() <= 128 && !rid.is_empty() && rid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{rid}"
        );
        assert_eq!(self.header("x-request-id"), Some(rid));
        assert_eq!(body["success"], status < 400, "{body}");
        body
    }
}

impl Stack {
    /// The stack `make test` started (`KEYHIVE_E2E_URL`).
    pub fn from_env() -> Self {
        let base = std::env::var("KEYHIVE_E2E_URL").expect(
            "KEYHIVE_E2E_URL is unset: end-to-end tests run under `make test`, which starts cargo lambda watch",
        );
        let client = Client::builder(TokioExecutor::new()).build_http();
        Stack { base, client }
    }

    /// Whether the run goes through the REST front that plays API Gateway as `template.yaml`
    /// configures it (`KEYHIVE_E2E_FRONT=rest`), rather than straight to `cargo lambda watch`.
    pub fn through_rest_front() -> bool {
        std::env::var("KEYHIVE_E2E_FRONT").is_ok_and(|front| front == "rest")
    }

    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Answer {
        let mut builder = http::Request::builder().method(method).uri(format!("{}{}", self.base, path));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default().to_string()))).expect("request");
        let response = self.client.request(request).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        Answer { status: parts.status.as_u16(), headers: parts.headers, body }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, &[], None).await
    }

    /// The admin key `make test` bootstrapped, as `make dev` writes `.dev/admin-key`.
    pub fn admin_key() -> String {
        let dir =
            std::env::var("KEYHIVE_TEST_STACK_DIR").expect("KEYHIVE_TEST_STACK_DIR is unset: run under `make test`");
        std::fs::read_to_string(std::path::Path::new(&dir).join("admin-key")).expect("admin-key").trim().to_string()
    }

    /// A request with `key` as `X-API-Key`.
    pub async fn call(&self, key: &str, method: &str, path: &str, body: Option<&serde_json::Value>) -> Answer {
        let body = body.map(|b| b.to_string());
        self.send(method, path, &[("x-api-key", key), ("content-type", "application/json")], body.as_deref()).await
    }
}
