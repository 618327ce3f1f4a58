//! SDK clients, built once per function instance (never per request).

use crate::config::Config;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls;
use std::time::Duration;

/// The roots AWS service endpoints (DynamoDB, Secrets Manager, STS) chain to: Amazon Trust
/// Services' Root CA 1-4 and the Starfield Services root that cross-signs them. Compiled in, so
/// a cold start reads no trust-store file; the trade-off is that a change of AWS's roots needs a
/// new build (these are valid until 2037-2040).
pub const AWS_ROOTS_PEM: &[u8] = include_bytes!("aws-roots.pem");

/// The functions' SDK configuration: credentials and region from the environment alone (Lambda
/// sets them: no profile, web-identity, IMDS or ECS provider is built), endpoints from the usual
/// variables (`AWS_ENDPOINT_URL_DYNAMODB`, ...), TLS against the compiled-in AWS roots (plus
/// `KEYHIVE_EXTRA_CA_FILE`, for the test stack's TLS front). Every call is bounded in time so
/// that an unreachable dependency becomes a quick 503, not a hung Lambda.
pub async fn sdk_config(config: &Config) -> aws_config::SdkConfig {
    function_aws(config).0
}

/// `sdk_config`, with the HTTPS connector its clients share (for `Https::preconnect`).
pub fn function_aws(config: &Config) -> (aws_config::SdkConfig, Https) {
    let mut trust = tls::TrustStore::empty().with_pem_certificate(AWS_ROOTS_PEM);
    if let Some(extra) = &config.extra_ca_pem {
        trust = trust.with_pem_certificate(extra.clone());
    }
    // Built by hand rather than by `aws_config::defaults().load()`: that loader links every
    // credential provider it might choose (STS, SSO, IMDS, profiles), hundreds of KB of every
    // function's zip that a Lambda function, whose credentials are in its environment, never runs.
    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .map(aws_config::Region::new);
    let credentials = aws_credential_types::provider::SharedCredentialsProvider::new(
        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
    );
    let https = Https::new(config, trust);
    let sdk = function_sdk_config(
        config,
        region,
        credentials,
        aws_smithy_runtime_api::client::http::SharedHttpClient::new(https.clone()),
    );
    (sdk, https)
}

/// Where `client` sends its calls, by the SDK's own endpoint rules (the region's DynamoDB, or
/// the endpoint the environment names; `dynamodb` turns account-ID endpoints off, so these are
/// the parameters its calls resolve with).
pub async fn dynamodb_endpoint(client: &aws_sdk_dynamodb::Client) -> Option<String> {
    use aws_sdk_dynamodb::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
    let params = Params::builder()
        .set_region(client.config().region().map(ToString::to_string))
        .set_endpoint(endpoint_from_env("DYNAMODB"))
        .build()
        .ok()?;
    DefaultResolver::new().resolve_endpoint(&params).await.ok().map(|endpoint| endpoint.url().to_string())
}

/// The functions' SDK settings over a given region, credentials and HTTP client: what
/// `sdk_config` builds from the environment, and what the CPU benches build over canned answers.
pub fn function_sdk_config(
    config: &Config,
    region: Option<aws_config::Region>,
    credentials: aws_credential_types::provider::SharedCredentialsProvider,
    http: aws_smithy_runtime_api::client::http::SharedHttpClient,
) -> aws_config::SdkConfig {
    let mut sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(credentials)
        .http_client(http)
        .timeout_config(timeouts(config))
        .retry_config(retries())
        // The operation and attempt timeouts already bound a stalled answer; the stall monitor's
        // per-request interceptor and body wrapper are CPU on every call (make bench, profile).
        .stalled_stream_protection(aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled())
        .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(aws_smithy_async::rt::sleep::TokioSleep::new()))
        .time_source(aws_smithy_async::time::SharedTimeSource::default());
    sdk.set_region(region);
    sdk.build()
}

/// An operator's SDK configuration (`keyhive-admin`): the default credential chain (profiles,
/// SSO, ...) and the system's root certificates, with the same time bounds.
pub async fn operator_sdk_config(config: &Config) -> aws_config::SdkConfig {
    bounded(config, tls::TrustStore::default()).load().await
}

/// The SDK's defaults with keyhive's HTTPS connector (trusting `trust`), time bounds and retries.
fn bounded(config: &Config, trust: tls::TrustStore) -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(aws_smithy_runtime_api::client::http::SharedHttpClient::new(Https::new(config, trust)))
        .timeout_config(timeouts(config))
        .retry_config(retries())
}

/// A function's one HTTPS connector (one connection pool; rustls on ring: the SDK's default
/// client minus aws-lc, a smaller zip; shared/tests/integration/tls.rs runs it through a real TLS
/// handshake), which every SDK client of the function (and of `keyhive-admin`) uses, built once at start with the functions' connect timeout, and kept beside
/// the clients so that start-up can open the first connection to DynamoDB itself
/// (`Https::preconnect`) while the first request still waits for a secret.
///
/// (The SDK's own client caches a connector per timeout setting, and built a throwaway one per
/// SDK client at start to validate its configuration; the functions have one setting, so one
/// connector is the same pool, without that TLS set-up at start.)
#[derive(Debug, Clone)]
pub struct Https(aws_smithy_runtime_api::client::http::SharedHttpConnector);

impl Https {
    pub fn new(config: &Config, trust: tls::TrustStore) -> Self {
        let context = tls::TlsContext::builder().with_trust_store(trust).build().unwrap_or_default();
        let settings = aws_smithy_runtime_api::client::http::HttpConnectorSettings::builder()
            .connect_timeout(connect_timeout(config))
            .build();
        let connector = aws_smithy_http_client::Connector::builder()
            .connector_settings(settings)
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .tls_context(context)
            .build();
        Https(aws_smithy_runtime_api::client::http::SharedHttpConnector::new(connector))
    }

    /// Opens a connection to `endpoint` and leaves it in the pool: an unsigned `GET /` (DynamoDB
    /// answers it with its health line, without authorization), its answer read to the end so
    /// the connection is kept, all within `within`. Best effort: `false` when it failed, and the
    /// first call then connects itself.
    pub async fn preconnect(&self, endpoint: &str, within: Duration) -> bool {
        use aws_smithy_runtime_api::client::http::HttpConnector;
        let request = http::Request::get(format!("{}/", endpoint.trim_end_matches('/')))
            .body(aws_smithy_types::body::SdkBody::empty())
            .ok()
            .and_then(|r| aws_smithy_runtime_api::client::orchestrator::HttpRequest::try_from(r).ok());
        let Some(request) = request else { return false };
        let exchange = async {
            match self.0.call(request).await {
                Ok(response) => {
                    aws_smithy_types::byte_stream::ByteStream::new(response.into_body()).collect().await.is_ok()
                }
                Err(err) => {
                    tracing::debug!(error = %crate::error::source_chain(&err), "preconnect failed");
                    false
                }
            }
        };
        tokio::time::timeout(within, exchange).await.unwrap_or(false)
    }
}

impl aws_smithy_runtime_api::client::http::HttpClient for Https {
    fn http_connector(
        &self,
        _: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        self.0.clone()
    }
}

/// The functions' connect timeout: at most 500 ms, and within an attempt's time.
fn connect_timeout(config: &Config) -> Duration {
    Duration::from_millis(500).min(attempt_timeout(config))
}

/// How long one attempt of an SDK call may take, to any service (half the operation's time, at
/// least 50 ms).
pub fn attempt_timeout(config: &Config) -> Duration {
    (config.dynamodb_timeout / 2).max(Duration::from_millis(50))
}

/// Every call bounded in time, so that an unreachable dependency becomes a quick 503.
fn timeouts(config: &Config) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(connect_timeout(config))
        .operation_attempt_timeout(attempt_timeout(config))
        .operation_timeout(config.dynamodb_timeout)
        .build()
}

fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3).with_max_backoff(Duration::from_millis(200))
}

/// A service's endpoint from the environment, as the SDK's own loader reads it
/// (`AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`): the local stack's emulators.
fn endpoint_from_env(service: &str) -> Option<String> {
    [format!("AWS_ENDPOINT_URL_{service}"), "AWS_ENDPOINT_URL".to_string()]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// Where the files bucket is, as the functions read it from their environment: its name
/// (`KEYHIVE_FILES_BUCKET`), its region, and a custom S3 endpoint (`AWS_ENDPOINT_URL_S3`, else
/// `AWS_ENDPOINT_URL`: moto locally). The files function signs for it; the console's policy
/// names its origin, where the browser puts an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSite {
    pub bucket: String,
    pub region: String,
    /// Without a trailing `/`.
    pub endpoint: Option<String>,
}

impl BucketSite {
    /// `None` without a bucket name. Values are trimmed; the region defaults to `us-east-1`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let var = |name: &str| get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        Some(BucketSite {
            bucket: var("KEYHIVE_FILES_BUCKET")?,
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into()),
            endpoint: var("AWS_ENDPOINT_URL_S3")
                .or_else(|| var("AWS_ENDPOINT_URL"))
                .map(|e| e.trim_end_matches('/').to_string()),
        })
    }

    /// The bucket's base URL, without a trailing `/`: virtual-hosted on AWS, path style on a
    /// custom endpoint.
    pub fn url(&self) -> String {
        match &self.endpoint {
            None => format!("https://{}.s3.{}.amazonaws.com", self.bucket, self.region),
            Some(base) => format!("{base}/{}", self.bucket),
        }
    }
}

pub fn dynamodb(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    // The region's endpoint, never one named after the account: Lambda gives no account id, so
    // that is what the calls used anyway, and it is the endpoint `dynamodb_endpoint` names for
    // the connection opened at start.
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .account_id_endpoint_mode(aws_types::endpoint_config::AccountIdEndpointMode::Disabled);
    if sdk.endpoint_url().is_none() {
        config.set_endpoint_url(endpoint_from_env("DYNAMODB"));
    }
    aws_sdk_dynamodb::Client::from_conf(config.interceptor(NoUserAgent).build())
}

pub fn secretsmanager(sdk: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
    let mut config = aws_sdk_secretsmanager::config::Builder::from(sdk);
    if sdk.endpoint_url().is_none() {
        config.set_endpoint_url(endpoint_from_env("SECRETS_MANAGER"));
    }
    aws_sdk_secretsmanager::Client::from_conf(config.interceptor(NoUserAgent).build())
}

/// keyhive's clients send no SDK user-agent headers: the services need none, and building
/// them (the SDK's and the environment's names, its feature metrics) and signing them was about
/// 5% of the authorizer's CPU per request (make bench, profile). The SDK disables an interceptor
/// by a marker in the request's configuration; the client builder cannot set one, so this
/// interceptor does, in the first hook of every call. Every other header stays.
#[derive(Debug)]
struct NoUserAgent;

impl aws_smithy_runtime_api::client::interceptors::Intercept for NoUserAgent {
    fn name(&self) -> &'static str {
        "NoUserAgent"
    }

    fn read_before_execution(
        &self,
        _: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        cfg.interceptor_state().store_put(aws_smithy_runtime_api::client::interceptors::disable_interceptor::<
            aws_runtime::user_agent::UserAgentInterceptor,
        >("keyhive sends no user agent"));
        Ok(())
    }
}

/// Counts every HTTP request an SDK client transmits (retries included): how the tests and
/// `make bench` prove that authenticating a request costs one DynamoDB round trip.
#[derive(Debug, Default, Clone)]
pub struct RequestCounter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl RequestCounter {
    pub fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// A copy of `client` whose requests `counter` counts.
pub fn counted_dynamodb(client: &aws_sdk_dynamodb::Client, counter: &RequestCounter) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(client.config().to_builder().interceptor(counter.clone()).build())
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    #[test]
    fn the_compiled_in_roots_are_the_five_aws_roots_and_all_parse() {
        let certs = CertificateDer::pem_slice_iter(super::AWS_ROOTS_PEM)
            .collect::<Result<Vec<_>, _>>()
            .expect("every certificate of aws-roots.pem parses");
        assert_eq!(certs.len(), 5);
    }

    #[test]
    fn the_files_bucket_is_virtual_hosted_on_aws_and_path_style_on_a_custom_endpoint() {
        use super::BucketSite;
        let site = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            BucketSite::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        };
        assert_eq!(site(&[("AWS_REGION", "eu-west-1")]), None);
        let aws = site(&[("KEYHIVE_FILES_BUCKET", " files-1 "), ("AWS_DEFAULT_REGION", "eu-west-1")]).unwrap();
        assert_eq!(aws.url(), "https://files-1.s3.eu-west-1.amazonaws.com");
        assert_eq!(site(&[("KEYHIVE_FILES_BUCKET", "b")]).unwrap().region, "us-east-1");
        let local = site(&[
            ("KEYHIVE_FILES_BUCKET", "b"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5000/"),
        ])
        .unwrap();
        assert_eq!(local.url(), "http://127.0.0.1:5000/b");
    }
}
