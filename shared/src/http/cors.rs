//! CORS for browser clients, the same rule locally and in AWS: only the origins the deployment
//! names (`KEYHIVE_CORS_ORIGINS`, the template's `CorsOrigins`; none by default) may read
//! responses, and their preflights are answered by the function (API Gateway routes `OPTIONS` to
//! the path's `ANY` method, without the authorizer). Keys travel in headers, never cookies: no
//! credentials mode.

use http::{HeaderMap, HeaderValue, Method};

/// Request headers a browser may send.
pub const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Idempotency-Key, X-API-Key";
/// Response headers a browser script may read.
pub const EXPOSED_HEADERS: &str =
    "Idempotent-Replayed, Location, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id";
/// How long a browser may cache a preflight answer, in seconds.
pub const MAX_AGE_SECONDS: u32 = 600;

/// The request's `Origin` when the deployment allows it.
pub fn allowed_origin(allowed: &[String], headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(http::header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    allowed.iter().any(|a| a.eq_ignore_ascii_case(text)).then(|| origin.clone())
}

/// The method a preflight asks about: an `OPTIONS` request with `Access-Control-Request-Method`.
pub fn preflight_method(method: &Method, headers: &HeaderMap) -> Option<Method> {
    if method != Method::OPTIONS {
        return None;
    }
    let requested = headers.get(http::header::ACCESS_CONTROL_REQUEST_METHOD)?.to_str().ok()?;
    Method::from_bytes(requested.trim().as_bytes()).ok()
}

/// What every answer to an allowed origin carries, a preflight's included.
fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(http::header::VARY, HeaderValue::from_static("Origin"));
}

/// The headers of an answer to an allowed origin.
pub fn add_response_headers(headers: &mut HeaderMap, origin: HeaderValue) {
    allow(headers, origin);
    headers.insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
}

/// The headers of a preflight answer for an allowed origin and the path's methods.
pub fn add_preflight_headers(headers: &mut HeaderMap, origin: HeaderValue, methods: &[&str]) {
    allow(headers, origin);
    if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, value);
    }
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS));
    headers.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECONDS));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_named_exactly_and_never_wildcards() {
        assert_eq!(
            crate::config::parse_origins(" https://App.example.com, http://localhost:3000 ,").unwrap(),
            vec!["https://app.example.com", "http://localhost:3000"]
        );
        for bad in ["*", "https://*.example.com", "app.example.com", "https://app.example.com/", "ftp://x"] {
            assert!(crate::config::parse_origins(bad).is_err(), "{bad}");
        }
        assert!(crate::config::parse_origins("").unwrap().is_empty());
    }

    #[test]
    fn only_a_listed_origin_is_allowed() {
        let allowed = crate::config::parse_origins("https://app.example.com").unwrap();
        let mut headers = HeaderMap::new();
        assert!(allowed_origin(&allowed, &headers).is_none());
        headers.insert(http::header::ORIGIN, HeaderValue::from_static("https://evil.example.com"));
        assert!(allowed_origin(&allowed, &headers).is_none());
        headers.insert(http::header::ORIGIN, HeaderValue::from_static("https://app.example.com"));
        assert_eq!(allowed_origin(&allowed, &headers).unwrap(), "https://app.example.com");
        assert!(allowed_origin(&[], &headers).is_none(), "none by default");
    }

    #[test]
    fn a_preflight_is_options_with_a_requested_method() {
        let mut headers = HeaderMap::new();
        assert!(preflight_method(&Method::OPTIONS, &headers).is_none());
        headers.insert(http::header::ACCESS_CONTROL_REQUEST_METHOD, HeaderValue::from_static("POST"));
        assert_eq!(preflight_method(&Method::OPTIONS, &headers), Some(Method::POST));
        assert!(preflight_method(&Method::GET, &headers).is_none());
    }
}
