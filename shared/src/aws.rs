//! SDK clients, built once per function instance (never per request).

use crate::config::Config;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use std::time::Duration;

/// The shared SDK configuration: region, credentials and endpoints come from the usual
/// environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...). Every call is bounded in time so
/// that an unreachable dependency becomes a quick 503, not a hung Lambda.
pub async fn sdk_config(config: &Config) -> aws_config::SdkConfig {
    let attempt = (config.dynamodb_timeout / 2).max(Duration::from_millis(50));
    aws_config::defaults(BehaviorVersion::latest())
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
