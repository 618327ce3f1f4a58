//! A small S3 client for the files bucket: presigned PUT/GET URLs for the browser, and the few
//! calls the function makes itself (ranged and bounded GETs, DELETE, the local bucket). SigV4 by
//! `aws-sigv4` over hyper: the SDK for S3 would add megabytes to the zip for five operations.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    self as sigv4, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningInstructions, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{header, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use keyhive::aws::BucketSite;
use rustls::pki_types::{pem::PemObject, CertificateDer};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Connect, send and receive the headers, the one retry included.
const HEADERS_TIMEOUT: Duration = Duration::from_secs(5);
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// SigV4's longest presigned validity.
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);
/// S3's error documents are a few hundred bytes.
const ERROR_BODY_BYTES: u64 = 16 * 1024;

type Reply = Result<Response<Incoming>, S3Error>;

/// `Debug` shows the access key id, never the secret or the session token (`Credentials` redacts).
#[derive(Debug)]
pub struct S3 {
    /// `endpoint` `None`: AWS, virtual-hosted. `Some`: path style under that base (moto).
    site: BucketSite,
    identity: Identity,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// A presigned request: the URL, and the headers the client must send exactly (they are signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Error {
    NotFound,
    TooLarge,
    /// Network, timeouts, 5xx, throttling: worth a 503.
    Unavailable(String),
    /// Any other 4xx: the status and S3's error code.
    Refused(String),
    Config(String),
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            S3Error::NotFound => f.write_str("no such object"),
            S3Error::TooLarge => f.write_str("object larger than allowed"),
            S3Error::Unavailable(why) => write!(f, "S3 unavailable: {why}"),
            S3Error::Refused(why) => write!(f, "S3 refused the request: {why}"),
            S3Error::Config(why) => write!(f, "S3 configuration: {why}"),
        }
    }
}

impl std::error::Error for S3Error {}

impl S3 {
    /// From the environment as Lambda gives it (credentials, region), the bucket from
    /// `KEYHIVE_FILES_BUCKET`, and `AWS_ENDPOINT_URL_S3` (else `AWS_ENDPOINT_URL`) for moto.
    pub fn from_env() -> Result<S3, S3Error> {
        S3::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<S3, S3Error> {
        let var = |name: &str| get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let site = BucketSite::from_lookup(&get);
        let (access, secret) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"));
        let (Some(site), Some(access), Some(secret)) = (site.clone(), access.clone(), secret.clone()) else {
            let missing = [("AWS_ACCESS_KEY_ID", access.is_none()), ("AWS_SECRET_ACCESS_KEY", secret.is_none())]
                .into_iter()
                .chain([("KEYHIVE_FILES_BUCKET", site.is_none())])
                .filter(|(_, missing)| *missing)
                .map(|(name, _)| name)
                .collect::<Vec<_>>();
            return Err(S3Error::Config(format!("missing {}", missing.join(", "))));
        };
        if let Some(endpoint) = &site.endpoint {
            let uri = endpoint.parse::<http::Uri>().ok();
            if !uri.is_some_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()) {
                return Err(S3Error::Config(format!("endpoint {endpoint}: not an http(s) URL")));
            }
        }
        Ok(S3::new(site, access, secret, var("AWS_SESSION_TOKEN")))
    }

    /// Builds the client once: rustls on ring, trusting the compiled-in AWS roots only (no
    /// trust-store read at cold start); plain http is allowed for a local endpoint.
    pub fn new(site: BucketSite, access_key: String, secret_key: String, session_token: Option<String>) -> S3 {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(
            CertificateDer::pem_slice_iter(keyhive::aws::AWS_ROOTS_PEM).filter_map(Result::ok),
        );
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
        // S3 closes idle connections after about 20 s: ours are dropped first.
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(15))
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(https);
        let credentials = Credentials::new(access_key, secret_key, session_token, None, "keyhive-files");
        S3 { site, identity: credentials.into(), client }
    }

    /// A presigned PUT whose signature covers Content-Type and Content-Length: S3 refuses any
    /// other type or size than the one the API accepted.
    pub fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
        now: SystemTime,
    ) -> Result<Presigned, S3Error> {
        let (length, content_type) = (content_length.to_string(), content_type.to_string());
        let signed = [("content-length", length.clone()), ("content-type", content_type.clone())];
        let url = self.presign_url(&Method::PUT, &self.object_url(key)?, &signed, expires_in, now)?;
        let headers = vec![("Content-Type".to_string(), content_type), ("Content-Length".to_string(), length)];
        Ok(Presigned { url, headers })
    }

    pub fn presign_get(&self, key: &str, expires_in: Duration, now: SystemTime) -> Result<String, S3Error> {
        self.presign_url(&Method::GET, &self.object_url(key)?, &[], expires_in, now)
    }

    /// The first `max_bytes` of the object and its total size. A range past the end is served
    /// whole (206, or 200 from some servers); an empty object answers 416 to any range.
    pub async fn get_start(&self, key: &str, max_bytes: u64) -> Result<(Vec<u8>, u64), S3Error> {
        let range = format!("bytes=0-{}", max_bytes.max(1) - 1);
        let response = self.send(&Method::GET, &self.object_url(key)?, &[("range", range)], b"").await?;
        let total = match response.status() {
            StatusCode::PARTIAL_CONTENT => total_of_range(&response).or_else(|| content_length(&response)),
            StatusCode::OK => content_length(&response),
            StatusCode::RANGE_NOT_SATISFIABLE => return Ok((Vec::new(), 0)),
            _ => return Err(rejection(response).await),
        };
        let total = total.ok_or_else(|| S3Error::Unavailable("S3 answered without the object's size".into()))?;
        Ok((read(response.into_body(), max_bytes, true).await?, total))
    }

    /// The whole object, refused past `max_bytes`: by its Content-Length at once, else while
    /// reading (never buffered beyond the limit).
    pub async fn get(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, S3Error> {
        let response = self.send(&Method::GET, &self.object_url(key)?, &[], b"").await?;
        if !response.status().is_success() {
            return Err(rejection(response).await);
        }
        if content_length(&response).is_some_and(|length| length > max_bytes) {
            return Err(S3Error::TooLarge);
        }
        read(response.into_body(), max_bytes, false).await
    }

    /// Copies the object at `from` to `to` inside the bucket (`NotFound` when there is none).
    pub async fn copy(&self, from: &str, to: &str) -> Result<(), S3Error> {
        let source = format!("/{}/{from}", self.site.bucket);
        let response = self.send(&Method::PUT, &self.object_url(to)?, &[("x-amz-copy-source", source)], b"").await?;
        if !response.status().is_success() {
            return Err(rejection(response).await);
        }
        // S3 may answer 200 and put an error in the body of a copy that failed on the way.
        let body = read(response.into_body(), 64 * 1024, true).await?;
        match String::from_utf8_lossy(&body).contains("<CopyObjectResult") {
            true => Ok(()),
            false => Err(S3Error::Unavailable("S3 answered a copy without its result".into())),
        }
    }

    /// Deletes the object; a missing one is no error (S3 answers 204 for it too).
    pub async fn delete(&self, key: &str) -> Result<(), S3Error> {
        let response = self.send(&Method::DELETE, &self.object_url(key)?, &[], b"").await?;
        match response.status().is_success() {
            true => Ok(()),
            false => match rejection(response).await {
                S3Error::NotFound => Ok(()),
                err => Err(err),
            },
        }
    }

    /// Creates the bucket if missing: local development and tests only (moto).
    pub async fn ensure_bucket(&self) -> Result<(), S3Error> {
        let body = match self.site.region.as_str() {
            "us-east-1" => String::new(),
            region => format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            ),
        };
        let url = self.bucket_url();
        let length = [("content-length", body.len().to_string())];
        let response = self.send(&Method::PUT, &url, &length, body.as_bytes()).await?;
        if response.status().is_success() {
            return Ok(());
        }
        let (status, code) = failure(response).await;
        let ours = matches!(code.as_deref(), Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists"));
        match status == StatusCode::CONFLICT && ours {
            true => Ok(()),
            false => Err(classify(status, code)),
        }
    }

    /// The keys that begin with `prefix` (ListObjectsV2, its first 1000: a file has a copy or
    /// two). Keys are this function's own (letters, digits, `_`, `/`), so none needs unescaping.
    pub async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, S3Error> {
        let url = format!("{}?list-type=2&prefix={}", self.bucket_url(), uri_encode(prefix, false));
        let response = self.send(&Method::GET, &url, &[], b"").await?;
        if !response.status().is_success() {
            return Err(rejection(response).await);
        }
        let body = read(response.into_body(), 1024 * 1024, true).await?;
        let listing = String::from_utf8_lossy(&body);
        Ok(listing
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key))
            .filter(|key| key.starts_with(prefix))
            .map(str::to_string)
            .collect())
    }

    /// The bucket's URL; virtual-hosted on AWS, where the bucket is the host and its root `/`.
    fn bucket_url(&self) -> String {
        let url = self.site.url();
        if self.site.endpoint.is_none() {
            url + "/"
        } else {
            url
        }
    }

    /// Virtual-hosted on AWS, path style on a custom endpoint; each key segment URI-encoded.
    fn object_url(&self, key: &str) -> Result<String, S3Error> {
        if key.is_empty() || key.len() > 1024 {
            return Err(S3Error::Config(format!("object keys are 1 to 1024 bytes, not {}", key.len())));
        }
        let key = uri_encode(key, true);
        Ok(format!("{}/{key}", self.site.url()))
    }

    /// Signs the way S3 wants: the path as sent (encoded once, never normalized); presigned in
    /// the query with UNSIGNED-PAYLOAD (the browser's bytes are unknown here), else in the
    /// headers with the body's hash in `x-amz-content-sha256`.
    fn sign(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, String)],
        body: SignableBody<'_>,
        presign: Option<Duration>,
        now: SystemTime,
    ) -> Result<SigningInstructions, S3Error> {
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        match presign {
            Some(expires_in) => {
                settings.signature_location = SignatureLocation::QueryParams;
                settings.expires_in = Some(expires_in);
            }
            None => settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256,
        }
        let failed = |e: &dyn std::error::Error| S3Error::Config(format!("signing {method} {url}: {e}"));
        let signed = headers.iter().map(|(name, value)| (*name, value.as_str()));
        let request = SignableRequest::new(method.as_str(), url, signed, body).map_err(|e| failed(&e))?;
        let params: sigv4::SigningParams<'_> = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.site.region)
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| failed(&e))?
            .into();
        Ok(sigv4::sign(request, &params).map_err(|e| failed(&e))?.into_parts().0)
    }

    fn presign_url(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, String)],
        expires_in: Duration,
        now: SystemTime,
    ) -> Result<String, S3Error> {
        if expires_in.as_secs() == 0 || expires_in > MAX_PRESIGN {
            return Err(S3Error::Config(format!("presigned URLs last 1 s to 7 days, not {expires_in:?}")));
        }
        let instructions = self.sign(method, url, headers, SignableBody::UnsignedPayload, Some(expires_in), now)?;
        let query = instructions
            .params()
            .iter()
            .map(|(name, value)| format!("{}={}", uri_encode(name, false), uri_encode(value, false)));
        Ok(format!("{url}?{}", query.collect::<Vec<_>>().join("&")))
    }

    fn signed(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
        now: SystemTime,
    ) -> Result<http::Request<Full<Bytes>>, S3Error> {
        let instructions = self.sign(method, url, headers, SignableBody::Bytes(body), None, now)?;
        let mut request = http::Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers.iter().map(|(name, value)| (*name, value.as_str())).chain(instructions.headers()) {
            request = request.header(name, value);
        }
        request.body(Full::new(Bytes::copy_from_slice(body))).map_err(|e| S3Error::Config(format!("{url}: {e}")))
    }

    /// Sends within `HEADERS_TIMEOUT` (an unreachable S3 is a quick 503), retrying once, newly
    /// signed: a pooled connection S3 closed while the Lambda was frozen fails at once, and
    /// every request here is idempotent.
    async fn send(&self, method: &Method, url: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
        let deadline = tokio::time::Instant::now() + HEADERS_TIMEOUT;
        let mut retried = false;
        loop {
            let request = self.signed(method, url, headers, body, SystemTime::now())?;
            match tokio::time::timeout_at(deadline, self.client.request(request)).await {
                Ok(Ok(response)) => return Ok(response),
                Ok(Err(err)) if !retried => {
                    tracing::debug!(error = %chain(&err), "S3 {method} failed; retrying once");
                    retried = true;
                }
                Ok(Err(err)) => return Err(S3Error::Unavailable(format!("{method}: {}", chain(&err)))),
                Err(_) => return Err(S3Error::Unavailable(format!("{method}: no answer within {HEADERS_TIMEOUT:?}"))),
            }
        }
    }
}

/// Reads `body` within `BODY_TIMEOUT`, holding at most `limit` bytes: past it, `TooLarge`, or
/// with `truncate` the first `limit` bytes (the rest is never read).
async fn read(body: Incoming, limit: u64, truncate: bool) -> Result<Vec<u8>, S3Error> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    tokio::time::timeout(BODY_TIMEOUT, read_limited(body, limit, truncate))
        .await
        .map_err(|_| S3Error::Unavailable(format!("body timed out after {BODY_TIMEOUT:?}")))?
}

async fn read_limited(mut body: Incoming, limit: usize, truncate: bool) -> Result<Vec<u8>, S3Error> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| S3Error::Unavailable(format!("reading the body: {}", chain(&e))))?;
        let Ok(data) = frame.into_data() else { continue };
        let room = limit - out.len();
        if data.len() > room {
            if !truncate {
                return Err(S3Error::TooLarge);
            }
            out.extend_from_slice(&data[..room]);
            return Ok(out);
        }
        out.extend_from_slice(&data);
    }
    Ok(out)
}

/// A failed response's status and S3 error code (the `<Code>` of its XML document).
async fn failure(response: Response<Incoming>) -> (StatusCode, Option<String>) {
    let status = response.status();
    let body = read(response.into_body(), ERROR_BODY_BYTES, true).await.unwrap_or_default();
    (status, error_code(&body))
}

async fn rejection(response: Response<Incoming>) -> S3Error {
    let (status, code) = failure(response).await;
    classify(status, code)
}

fn classify(status: StatusCode, code: Option<String>) -> S3Error {
    let what = format!("{} {}", status.as_u16(), code.as_deref().unwrap_or("")).trim_end().to_string();
    match (status, code.as_deref()) {
        (StatusCode::NOT_FOUND, None | Some("NoSuchKey")) => S3Error::NotFound,
        (status, _) if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
            S3Error::Unavailable(what)
        }
        _ => S3Error::Refused(what),
    }
}

fn error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    Some(text[start..end].trim().to_string()).filter(|code| !code.is_empty())
}

fn content_length(response: &Response<Incoming>) -> Option<u64> {
    response.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// The total of `Content-Range: bytes 0-99/1234`.
fn total_of_range(response: &Response<Incoming>) -> Option<u64> {
    parse_total(response.headers().get(header::CONTENT_RANGE)?.to_str().ok()?)
}

fn parse_total(content_range: &str) -> Option<u64> {
    content_range.rsplit_once('/')?.1.trim().parse().ok()
}

/// AWS's URI encoding (RFC 3986 unreserved characters kept, every other byte `%XX`), which is
/// also the canonical form SigV4 signs; with `keep_slash`, a key's segments are encoded apart.
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const KEY: &str = "files/fil_abc123";
    /// The credentials and time of AWS's published S3 SigV4 examples (2013-05-24T00:00:00Z).
    const AWS_EXAMPLE_TIME: u64 = 1_369_353_600;
    const AWS_EXAMPLE_URL: &str = "https://examplebucket.s3.amazonaws.com/test.txt";

    fn s3(region: &str, endpoint: Option<&str>, token: Option<&str>) -> S3 {
        let site = BucketSite {
            bucket: "examplebucket".into(),
            region: region.into(),
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
        };
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string();
        S3::new(site, "AKIAIOSFODNN7EXAMPLE".into(), secret, token.map(String::from))
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn presign_put_signs_type_and_length_for_the_day_region_and_service() {
        let ten_minutes = Duration::from_secs(600);
        let put = s3("eu-west-1", None, None).presign_put(KEY, "image/png", 1234, ten_minutes, at(1_704_164_645));
        let put = put.unwrap();
        let (url, query) = put.url.split_once('?').unwrap();
        assert_eq!(url, "https://examplebucket.s3.eu-west-1.amazonaws.com/files/fil_abc123");
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240102%2Feu-west-1%2Fs3%2Faws4_request",
            "X-Amz-Date=20240102T030405Z",
            "X-Amz-Expires=600",
            "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost",
        ] {
            assert!(query.split('&').any(|p| p == part), "{part} missing from {query}");
        }
        assert!(query.contains("X-Amz-Signature=") && !query.contains("X-Amz-Security-Token"));
        let headers = [("Content-Type", "image/png"), ("Content-Length", "1234")];
        assert_eq!(put.headers, headers.map(|(n, v)| (n.to_string(), v.to_string())));
    }

    #[test]
    fn a_session_token_travels_in_the_presigned_url() {
        let url = s3("us-east-1", None, Some("tok/en+==")).presign_get(KEY, Duration::from_secs(60), at(0)).unwrap();
        assert!(url.contains("&X-Amz-Security-Token=tok%2Fen%2B%3D%3D"), "{url}");
    }

    #[test]
    fn a_custom_endpoint_is_path_style_and_aws_is_virtual_hosted() {
        let local = s3("us-east-1", Some("http://127.0.0.1:4566/"), None);
        let url = local.presign_get(KEY, Duration::from_secs(60), at(0)).unwrap();
        assert!(url.starts_with("http://127.0.0.1:4566/examplebucket/files/fil_abc123?X-Amz-"), "{url}");
        let aws = s3("ap-south-1", None, None).object_url(KEY).unwrap();
        assert_eq!(aws, "https://examplebucket.s3.ap-south-1.amazonaws.com/files/fil_abc123");
    }

    #[test]
    fn keys_are_encoded_segment_by_segment() {
        let url = s3("us-east-1", Some("http://localhost:9000"), None).object_url("files/a b+c/é~x.png").unwrap();
        assert_eq!(url, "http://localhost:9000/examplebucket/files/a%20b%2Bc/%C3%A9~x.png");
        assert!(s3("us-east-1", None, None).object_url("").is_err());
    }

    #[test]
    fn presigning_matches_aws_published_example() {
        // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
        let s3 = s3("us-east-1", None, None);
        let day = Duration::from_secs(86400);
        let url = s3.presign_url(&Method::GET, AWS_EXAMPLE_URL, &[], day, at(AWS_EXAMPLE_TIME)).unwrap();
        assert!(url.ends_with("&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"));
        let too_long = MAX_PRESIGN + Duration::from_secs(1);
        assert!(s3.presign_url(&Method::GET, AWS_EXAMPLE_URL, &[], too_long, at(AWS_EXAMPLE_TIME)).is_err());
    }

    #[test]
    fn header_signing_matches_aws_published_ranged_get() {
        // docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "GET Object"
        let range = [("range", "bytes=0-9".to_string())];
        let request =
            s3("us-east-1", None, None).signed(&Method::GET, AWS_EXAMPLE_URL, &range, b"", at(AWS_EXAMPLE_TIME));
        let request = request.unwrap();
        let authorization = request.headers()["authorization"].to_str().unwrap();
        assert!(authorization.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date"), "{authorization}");
        assert!(authorization.ends_with("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
        assert_eq!(request.headers()["range"], "bytes=0-9");
    }

    #[test]
    fn from_env_names_what_is_missing_and_prefers_the_s3_endpoint() {
        let err = S3::from_lookup(|name| (name == "AWS_ACCESS_KEY_ID").then(|| "AKID".to_string())).unwrap_err();
        assert_eq!(err, S3Error::Config("missing AWS_SECRET_ACCESS_KEY, KEYHIVE_FILES_BUCKET".into()));
        let s3 = S3::from_lookup(|name| match name {
            "AWS_ENDPOINT_URL_S3" => Some("http://127.0.0.1:5000".into()),
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:1".into()),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "KEYHIVE_FILES_BUCKET" => Some("x".into()),
            _ => None,
        });
        let s3 = s3.unwrap();
        assert_eq!(
            (s3.site.region.as_str(), s3.site.endpoint.as_deref()),
            ("us-east-1", Some("http://127.0.0.1:5000"))
        );
    }

    #[test]
    fn failures_are_classified_by_status_and_code() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>x</Message></Error>";
        assert_eq!(error_code(body).as_deref(), Some("NoSuchBucket"));
        let classified = |status, code: &str| classify(status, Some(code.to_string()).filter(|c| !c.is_empty()));
        assert_eq!(classified(StatusCode::NOT_FOUND, "NoSuchKey"), S3Error::NotFound);
        assert_eq!(classified(StatusCode::NOT_FOUND, "NoSuchBucket"), S3Error::Refused("404 NoSuchBucket".into()));
        assert_eq!(
            classified(StatusCode::SERVICE_UNAVAILABLE, "SlowDown"),
            S3Error::Unavailable("503 SlowDown".into())
        );
        assert_eq!(classified(StatusCode::FORBIDDEN, ""), S3Error::Refused("403".into()));
        assert_eq!((parse_total("bytes 0-99/1234"), parse_total("bytes */0")), (Some(1234), Some(0)));
    }
}
