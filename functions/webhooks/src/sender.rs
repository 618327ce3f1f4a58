//! One webhook POST: to the address the SSRF check approved (never looked up again), within 10
//! seconds, following no redirect, reading at most 64 KiB of the answer.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What an endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status, when an answer came.
    pub status: Option<u16>,
    pub duration: Duration,
    /// Why it failed (a non-2xx status, a timeout, a connection error), for the attempt's record.
    pub error: Option<String>,
    /// `Retry-After` in seconds, on 429 and 503.
    pub retry_after: Option<u64>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The HTTPS client's TLS settings, built once per instance, on its first delivery: the root
/// certificates are read then, not at start (the API function, which never delivers, never
/// reads them).
#[derive(Clone)]
pub struct Sender {
    tls: Arc<std::sync::OnceLock<Result<tokio_rustls::TlsConnector, String>>>,
    /// 10 s (`TIMEOUT`); tests shorten it.
    pub timeout: Duration,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sender")
    }
}

impl Default for Sender {
    fn default() -> Self {
        Self::new()
    }
}

impl Sender {
    pub fn new() -> Self {
        Sender { tls: Arc::new(std::sync::OnceLock::new()), timeout: TIMEOUT }
    }

    /// Trusts the system's root certificates (those Lambda's image carries): receivers are
    /// anywhere on the public web.
    fn connector(&self) -> Result<&tokio_rustls::TlsConnector, String> {
        self.tls
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// POSTs `body` with `headers` to `url`, connecting to `address`.
    pub async fn post(&self, url: &url::Url, address: SocketAddr, headers: &[(&str, String)], body: &str) -> Outcome {
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, self.exchange(url, address, headers, body)).await;
        let duration = started.elapsed();
        match result {
            Err(_) => Outcome {
                status: None,
                duration,
                error: Some(format!("timed out after {} s", self.timeout.as_secs_f32())),
                retry_after: None,
            },
            Ok(Err(error)) => Outcome { status: None, duration, error: Some(error), retry_after: None },
            Ok(Ok((status, retry_after))) => {
                let error = (!(200..300).contains(&status)).then(|| format!("answered {status}"));
                Outcome { status: Some(status), duration, error, retry_after }
            }
        }
    }

    async fn exchange(
        &self,
        url: &url::Url,
        address: SocketAddr,
        headers: &[(&str, String)],
        body: &str,
    ) -> Result<(u16, Option<u64>), String> {
        let tcp = TcpStream::connect(address).await.map_err(|e| format!("connection failed: {e}"))?;
        let host = url.host_str().unwrap_or_default().to_string();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(path)
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "keyhive-webhooks/1");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request.body(Full::new(Bytes::from(body.to_string()))).map_err(|e| e.to_string())?;
        let response = if url.scheme() == "https" {
            let name =
                rustls::pki_types::ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
                    .map_err(|_| "not a TLS server name".to_string())?;
            let tls = self.connector()?.connect(name, tcp).await.map_err(|e| format!("TLS failed: {e}"))?;
            send(TokioIo::new(tls), request).await?
        } else {
            send(TokioIo::new(tcp), request).await?
        };
        let status = response.status().as_u16();
        let retry_after = match status {
            429 | 503 => response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok()),
            _ => None,
        };
        // Read (and drop) at most 64 KiB of the answer; more is not waited for.
        let _ = Limited::new(response.into_body(), MAX_RESPONSE_BYTES).collect().await;
        Ok((status, retry_after))
    }
}

async fn send<T>(io: T, request: http::Request<Full<Bytes>>) -> Result<http::Response<hyper::body::Incoming>, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP failed: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await.map_err(|e| format!("HTTP failed: {e}"))
}
