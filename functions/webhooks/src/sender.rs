//! One webhook POST: to the address the SSRF check approved (never looked up again), within 10
//! seconds, following no redirect, reading at most 64 KiB of the answer.
//!
//! What an attempt records as its error is shown to API readers (`GET
//! /v1/webhooks/{id}/deliveries`), so it says which stage failed and nothing more: one text for
//! every failure to connect (refused, reset, unreachable, or no TCP handshake in time alike), so
//! the record is no port scanner telling closed from filtered ports; one for a failed TLS
//! handshake; one for an answer that is not HTTP; one for a timeout once connected. A stage
//! says no more than anyone learns by connecting to the same public address themselves, and a
//! receiver's owner needs it (a certificate or a slow handler is theirs to fix). The detail
//! (the OS's or TLS library's error, which carries no secret) is logged at debug level, with the
//! address, never the URL (whose path or query may hold a customer's token).

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
        let deadline = tokio::time::Instant::from_std(started + self.timeout);
        let result = match tokio::time::timeout_at(deadline, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => tokio::time::timeout_at(deadline, self.exchange(url, tcp, headers, body))
                .await
                .unwrap_or(Err(Failure::TimedOut)),
            Ok(Err(error)) => Err(Failure::Connect(error.to_string())),
            Err(_) => Err(Failure::Connect("no TCP handshake in time".into())),
        };
        let duration = started.elapsed();
        match result {
            Err(failure) => {
                if let Some(detail) = failure.detail() {
                    tracing::debug!(%address, detail, "webhook attempt failed: {}", failure.text(self.timeout));
                }
                Outcome { status: None, duration, error: Some(failure.text(self.timeout)), retry_after: None }
            }
            Ok((status, retry_after)) => {
                let error = (!(200..300).contains(&status)).then(|| format!("answered {status}"));
                Outcome { status: Some(status), duration, error, retry_after }
            }
        }
    }

    /// The request over the connected `tcp`: TLS for `https`, then HTTP/1.1.
    async fn exchange(
        &self,
        url: &url::Url,
        tcp: TcpStream,
        headers: &[(&str, String)],
        body: &str,
    ) -> Result<(u16, Option<u64>), Failure> {
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
        let request =
            request.body(Full::new(Bytes::from(body.to_string()))).map_err(|e| Failure::Request(e.to_string()))?;
        let response = if url.scheme() == "https" {
            let name =
                rustls::pki_types::ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
                    .map_err(|_| Failure::Request("the host is not a TLS server name".into()))?;
            let tls = self
                .connector()
                .map_err(Failure::Setup)?
                .connect(name, tcp)
                .await
                .map_err(|e| Failure::Tls(e.to_string()))?;
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

async fn send<T>(io: T, request: http::Request<Full<Bytes>>) -> Result<http::Response<hyper::body::Incoming>, Failure>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| Failure::Http(e.to_string()))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await.map_err(|e| Failure::Http(e.to_string()))
}

/// Why an attempt got no answer: the stage that failed, and the detail, which is logged only.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// No TCP connection: refused, reset, unreachable, or no handshake before the deadline.
    Connect(String),
    Tls(String),
    /// Connected, but no valid HTTP answer (closed early, or not HTTP).
    Http(String),
    /// Connected, and the deadline passed before the answer.
    TimedOut,
    /// The request could not be formed from the URL and headers.
    Request(String),
    /// The TLS client could not be built (ours, not the endpoint's).
    Setup(String),
}

impl Failure {
    /// The attempt's recorded error: the stage only.
    fn text(&self, timeout: Duration) -> String {
        match self {
            Failure::Connect(_) => "could not connect to the endpoint".into(),
            Failure::Tls(_) => "the TLS handshake with the endpoint failed".into(),
            Failure::Http(_) => "the endpoint did not answer with valid HTTP".into(),
            Failure::TimedOut => format!("timed out after {} s", timeout.as_secs_f32()),
            Failure::Request(reason) => format!("the request could not be made: {reason}"),
            Failure::Setup(_) => "the TLS client could not be set up".into(),
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Failure::Connect(detail) | Failure::Tls(detail) | Failure::Http(detail) | Failure::Setup(detail) => {
                Some(detail)
            }
            Failure::TimedOut | Failure::Request(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn hook(address: SocketAddr, scheme: &str) -> url::Url {
        url::Url::parse(&format!("{scheme}://{address}/hook?token=s3cret")).unwrap()
    }

    const CONNECT: &str = "could not connect to the endpoint";

    #[tokio::test]
    async fn every_connect_failure_reads_the_same() {
        let sender = Sender { timeout: Duration::from_millis(500), ..Sender::new() };
        // A closed port: connection refused.
        let closed = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap()
        };
        let refused = sender.post(&hook(closed, "http"), closed, &[], "{}").await;
        assert_eq!(refused.error.as_deref(), Some(CONNECT), "{refused:?}");
        assert_eq!(refused.status, None);
        // Whatever the OS said (refused, reset, unreachable, or no handshake in time), the
        // recorded text is the same; only the debug log has the detail.
        for detail in [
            "Connection refused (os error 111)",
            "Connection reset by peer (os error 104)",
            "No route to host (os error 113)",
            "no TCP handshake in time",
        ] {
            let failure = Failure::Connect(detail.into());
            assert_eq!(failure.text(TIMEOUT), CONNECT);
            assert_eq!(failure.detail(), Some(detail));
        }
    }

    #[tokio::test]
    async fn a_reset_a_non_http_answer_and_a_hang_are_stages_without_detail() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // 1: closed at once, unread (a reset); 2: not HTTP; 3: TLS expected, gets garbage;
            // 4: accepted and never answered.
            for round in 0.. {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    match round {
                        0 => drop(socket),
                        1 | 2 => {
                            let _ = socket.read(&mut buffer).await;
                            let _ = socket.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
                        }
                        _ => tokio::time::sleep(Duration::from_secs(5)).await,
                    }
                });
            }
        });
        let sender = Sender { timeout: Duration::from_millis(700), ..Sender::new() };
        let reset = sender.post(&hook(address, "http"), address, &[], "{}").await;
        assert_eq!(reset.error.as_deref(), Some("the endpoint did not answer with valid HTTP"), "{reset:?}");
        let garbage = sender.post(&hook(address, "http"), address, &[], "{}").await;
        assert_eq!(garbage.error.as_deref(), Some("the endpoint did not answer with valid HTTP"), "{garbage:?}");
        let tls = sender.post(&hook(address, "https"), address, &[], "{}").await;
        assert_eq!(tls.error.as_deref(), Some("the TLS handshake with the endpoint failed"), "{tls:?}");
        let hang = sender.post(&hook(address, "http"), address, &[], "{}").await;
        assert_eq!(hang.error.as_deref(), Some("timed out after 0.7 s"), "{hang:?}");
        for outcome in [&reset, &garbage, &tls, &hang] {
            let text = outcome.error.as_deref().unwrap();
            assert!(!text.contains("os error") && !text.contains("s3cret") && !text.contains("127.0.0.1"), "{text}");
        }
    }
}
