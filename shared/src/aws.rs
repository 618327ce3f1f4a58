//! SDK clients, built once per function instance (never per request).

use crate::config::Config;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls;
use std::time::Duration;

/// The shared SDK configuration: region, credentials and endpoints come from the usual
/// environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...). Every call is bounded in time so
/// that an unreachable dependency becomes a quick 503, not a hung Lambda.
pub async fn sdk_config(config: &Config) -> aws_config::SdkConfig {
    let attempt = (config.dynamodb_timeout / 2).max(Duration::from_millis(50));
    // rustls on ring with the system's root certificates: the SDK's default client, minus aws-lc
    // (a smaller zip). shared/tests/tls.rs runs it through a real TLS handshake.
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500).min(attempt))
                .operation_attempt_timeout(attempt)
                .operation_timeout(config.dynamodb_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_max_backoff(Duration::from_millis(200)))
        .load()
        .await
}

pub fn dynamodb(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}

pub fn secretsmanager(sdk: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(sdk)
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
