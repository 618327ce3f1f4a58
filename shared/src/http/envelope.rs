//! The response envelope every keyhive response uses, and request ids.
//!
//! `{"success": true, "data": ..., "meta": {"request_id": ...}}` or
//! `{"success": false, "error": {"code", "message", "details"?}, "meta": {"request_id": ...}}`,
//! with the same request id in the `X-Request-Id` header.

use crate::error::ApiError;
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use rand::Rng;
use serde_json::{json, Map, Value};
use std::fmt;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const RATE_LIMIT_LIMIT: &str = "x-ratelimit-limit";
pub const RATE_LIMIT_REMAINING: &str = "x-ratelimit-remaining";
pub const RATE_LIMIT_RESET: &str = "x-ratelimit-reset";

/// API Gateway's own request id, unprefixed (the contract: one id in `meta.request_id`,
/// `X-Request-Id`, `x-amzn-RequestId` and every log line); locally `cargo lambda watch`'s. Without
/// a usable one, a random id of the same shape (a version-4 UUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn from_gateway(gateway_request_id: Option<&str>) -> Self {
        match gateway_request_id {
            Some(id)
                if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
            {
                RequestId(id.to_string())
            }
            _ => Self::random(),
        }
    }

    pub fn random() -> Self {
        let mut bytes: [u8; 16] = rand::rng().random();
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        RequestId(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a handler returns on success: a status, what the body carries, and extra headers.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub payload: Payload,
    pub headers: Vec<(http::HeaderName, HeaderValue)>,
}

/// The body of a successful answer.
#[derive(Debug)]
pub enum Payload {
    /// The envelope: `data`, and extra `meta` fields (paging for lists).
    Data { data: Value, meta: Map<String, Value> },
    /// No body at all (204).
    Empty,
    /// A redirect (302) to the location; the body is an envelope naming it, and `HEAD` gets the
    /// same answer without a body.
    Redirect { location: String },
    /// A web page (`text/html`): the local stack's rendered API reference, not an API answer.
    Html(String),
    /// JSON in another party's format, not the envelope (GitHub's secret-scanning answer).
    Foreign(Value),
    /// Bytes of their own type (a QR code image); errors are envelopes still.
    Bytes { content_type: &'static str, body: Vec<u8> },
}

impl Reply {
    pub fn ok(data: Value) -> Self {
        Reply { status: StatusCode::OK, payload: Payload::Data { data, meta: Map::new() }, headers: Vec::new() }
    }

    pub fn created(data: Value) -> Self {
        Reply { status: StatusCode::CREATED, ..Reply::ok(data) }
    }

    /// 201 with the new resource's `Location` (left out if it could not be a header value).
    pub fn created_at(data: Value, location: &str) -> Self {
        let reply = Reply::created(data);
        match HeaderValue::from_str(location) {
            Ok(value) => reply.with_header(http::header::LOCATION, value),
            Err(_) => reply,
        }
    }

    /// 202: accepted for work that happens later.
    pub fn accepted(data: Value) -> Self {
        Reply { status: StatusCode::ACCEPTED, ..Reply::ok(data) }
    }

    pub fn no_content() -> Self {
        Reply { status: StatusCode::NO_CONTENT, payload: Payload::Empty, headers: Vec::new() }
    }

    pub fn html(page: String) -> Self {
        Reply { status: StatusCode::OK, payload: Payload::Html(page), headers: Vec::new() }
    }

    /// 200 with `body` as it is, outside the envelope: only for a caller that expects its own
    /// format (GitHub's secret scanning).
    pub fn foreign_json(body: Value) -> Self {
        Reply { status: StatusCode::OK, payload: Payload::Foreign(body), headers: Vec::new() }
    }

    /// 200 with bytes of `content_type` (an image).
    pub fn bytes(content_type: &'static str, body: Vec<u8>) -> Self {
        Reply { status: StatusCode::OK, payload: Payload::Bytes { content_type, body }, headers: Vec::new() }
    }

    pub fn redirect(location: impl Into<String>) -> Self {
        Reply {
            status: StatusCode::FOUND,
            payload: Payload::Redirect { location: location.into() },
            headers: Vec::new(),
        }
    }

    /// Adds a `meta` field (only envelopes have `meta`).
    pub fn with_meta(mut self, key: &str, value: Value) -> Self {
        if let Payload::Data { meta, .. } = &mut self.payload {
            meta.insert(key.to_string(), value);
        }
        self
    }

    pub fn with_header(mut self, name: http::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The `data` of an envelope reply.
    pub fn data(&self) -> Option<&Value> {
        match &self.payload {
            Payload::Data { data, .. } => Some(data),
            _ => None,
        }
    }
}

/// An answer with what every keyhive answer carries (`Cache-Control: no-store`, `nosniff`, the request id),
/// and its body's type when it has a body.
fn response_with(
    status: StatusCode,
    body: Body,
    content_type: Option<&'static str>,
    request_id: &RequestId,
) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(content_type) = content_type {
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The console shares the API's origin: no answer may be sniffed into a page or script.
    headers.insert(http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    response
}

fn json_response(status: StatusCode, body: &Value, request_id: &RequestId) -> Response<Body> {
    response_with(status, Body::from(body.to_string()), Some("application/json"), request_id)
}

pub fn success_response(reply: Reply, request_id: &RequestId) -> Response<Body> {
    let mut response = match reply.payload {
        Payload::Data { data, mut meta } => {
            meta.insert("request_id".into(), Value::String(request_id.to_string()));
            let body = json!({ "success": true, "data": data, "meta": meta });
            json_response(reply.status, &body, request_id)
        }
        Payload::Empty => response_with(reply.status, Body::Empty, None, request_id),
        Payload::Redirect { location } => {
            let body = json!({ "success": true, "data": { "location": location }, "meta": { "request_id": request_id.as_str() } });
            let mut response = json_response(reply.status, &body, request_id);
            match HeaderValue::from_str(&location) {
                Ok(value) => _ = response.headers_mut().insert(http::header::LOCATION, value),
                // A location that cannot be a header was refused when it was stored; never redirect blind.
                Err(_) => {
                    return error_response(&ApiError::internal("redirect location is not a valid header"), request_id)
                }
            }
            response
        }
        Payload::Foreign(body) => json_response(reply.status, &body, request_id),
        Payload::Bytes { content_type, body } => {
            response_with(reply.status, Body::Binary(body), Some(content_type), request_id)
        }
        Payload::Html(page) => {
            response_with(reply.status, Body::from(page), Some("text/html; charset=utf-8"), request_id)
        }
    };
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value);
    }
    response
}

pub fn error_body(error: &ApiError, request_id: &RequestId) -> Value {
    let (_, code) = error.status_and_code();
    let mut err = Map::new();
    err.insert("code".into(), Value::String(code.into()));
    err.insert("message".into(), Value::String(error.to_string()));
    if let Some(details) = error.details() {
        err.insert("details".into(), details);
    }
    json!({ "success": false, "error": err, "meta": { "request_id": request_id.as_str() } })
}

/// The error envelope. Server-side errors are logged here, once, with their source chain.
pub fn error_response(error: &ApiError, request_id: &RequestId) -> Response<Body> {
    let (status, code) = error.status_and_code();
    if error.is_server_side() {
        tracing::error!(request_id = %request_id, code, error = %crate::error::source_chain(error), "request failed");
    }
    let mut response = json_response(status, &error_body(error, request_id), request_id);
    let headers = response.headers_mut();
    match error {
        ApiError::MethodNotAllowed { allowed, .. } => {
            if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                headers.insert(http::header::ALLOW, value);
            }
        }
        ApiError::RateLimited { retry_after, limit, reset } => {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(*retry_after));
            headers.insert(RATE_LIMIT_LIMIT, HeaderValue::from(*limit));
            headers.insert(RATE_LIMIT_REMAINING, HeaderValue::from(0));
            headers.insert(RATE_LIMIT_RESET, HeaderValue::from(*reset));
        }
        _ => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_request_id_is_the_request_id() {
        let id = RequestId::from_gateway(Some("c6af9ac6-7b61-11e6-9a41-93e8deadbeef"));
        assert_eq!(id.as_str(), "c6af9ac6-7b61-11e6-9a41-93e8deadbeef");
    }

    #[test]
    fn a_hostile_gateway_request_id_is_replaced_by_a_random_one() {
        let id = RequestId::from_gateway(Some("abc\r\nx-injected: 1"));
        assert_eq!(id.as_str().len(), 36);
        assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'), "{}", id.as_str());
        assert_eq!(id.as_str().as_bytes()[14], b'4');
        assert_ne!(RequestId::random(), RequestId::random());
    }

    #[test]
    fn validation_errors_name_the_field_and_reason_in_details() {
        let rid = RequestId::random();
        let body = error_body(&ApiError::validation("name", "must not be empty"), &rid);
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "VALIDATION_FAILED");
        assert_eq!(body["error"]["details"]["field"], "name");
        assert_eq!(body["error"]["details"]["reason"], "must not be empty");
        assert_eq!(body["meta"]["request_id"], rid.as_str());
    }

    #[test]
    fn internal_errors_say_nothing_internal() {
        let rid = RequestId::random();
        let err = ApiError::internal(std::io::Error::other("table keyhive-secret-xyz exploded"));
        let body = error_body(&err, &rid);
        assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
        assert!(!body.to_string().contains("exploded"));
        assert!(body["error"].get("details").is_none());
    }

    #[test]
    fn rate_limited_and_405_responses_carry_their_headers() {
        let rid = RequestId::random();
        let r = error_response(&ApiError::RateLimited { retry_after: 17, limit: 100, reset: 1_800_000_000 }, &rid);
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "17");
        assert_eq!(r.headers()["x-ratelimit-limit"], "100");
        assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
        assert_eq!(r.headers()["x-request-id"], rid.as_str());
        // Every answer, errors and data alike: never sniffed into a page on the console's origin.
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(success_response(Reply::ok(json!({})), &rid).headers()["x-content-type-options"], "nosniff");
        let r =
            error_response(&ApiError::MethodNotAllowed { method: "PUT".into(), allowed: vec!["GET", "POST"] }, &rid);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()["allow"], "GET, POST");
    }

    #[test]
    fn empty_redirect_and_page_replies_render_as_they_say() {
        let rid = RequestId::random();
        let empty = success_response(Reply::no_content(), &rid);
        assert_eq!(empty.status(), StatusCode::NO_CONTENT);
        assert!(empty.body().is_empty());
        assert_eq!(empty.headers()["x-request-id"], rid.as_str());
        let redirect = success_response(Reply::redirect("https://example.com/a?b=c"), &rid);
        assert_eq!(redirect.status(), StatusCode::FOUND);
        assert_eq!(redirect.headers()["location"], "https://example.com/a?b=c");
        let page = success_response(Reply::html("<title>t</title>".into()), &rid);
        assert_eq!(page.headers()[http::header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(page.headers()[REQUEST_ID_HEADER], rid.as_str());
        assert!(matches!(page.body(), Body::Text(t) if t == "<title>t</title>"));
        let broken = success_response(Reply::redirect("https://example.com/\r\nx: y"), &rid);
        assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR, "never a header injection");
    }
}
