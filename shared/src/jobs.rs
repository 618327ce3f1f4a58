//! Scheduled jobs (the sandbox sweep, the key expiry notices): one run over the table, in AWS a
//! `lambda_runtime` function on its schedule, locally the same run in a loop.

use crate::store::dynamo::DynamoStore;
use std::time::Duration;

/// One run of a job: what it did, as its Lambda answer; an error is the run's failure (the next
/// run tries again).
pub type ScheduledRun =
    for<'a> fn(&'a DynamoStore) -> futures_util::future::LocalBoxFuture<'a, Result<serde_json::Value, String>>;

/// A scheduled job's whole life, for its `main`: in AWS a `lambda_runtime` function answering its
/// schedule's events with `run`; locally (`every_seconds_variable` set, as `make dev` and the test
/// stacks do) `run` again and again, that many seconds apart, until the process ends.
pub async fn serve_schedule(every_seconds_variable: &str, run: ScheduledRun) -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{service_fn, LambdaEvent};
    crate::telemetry::init();
    let config = crate::config::Config::from_env();
    let sdk = crate::aws::sdk_config(&config).await;
    let store = DynamoStore::new(crate::aws::dynamodb(&sdk), config.table_name.clone());
    match std::env::var(every_seconds_variable).ok().and_then(|v| v.parse::<u64>().ok()) {
        Some(seconds) => loop {
            if let Err(err) = run(&store).await {
                tracing::warn!(error = %err, "scheduled run failed; trying again next round");
            }
            tokio::time::sleep(Duration::from_secs(seconds.max(1))).await;
        },
        None => {
            let store = &store;
            lambda_http::lambda_runtime::run(service_fn(move |_event: LambdaEvent<serde_json::Value>| async move {
                run(store).await.map_err(lambda_http::Error::from)
            }))
            .await
        }
    }
}
