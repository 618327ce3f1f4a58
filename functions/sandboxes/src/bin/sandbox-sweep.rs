//! The sandbox expiry sweep: marks running sandboxes past their deadline `expired`, frees their
//! slots and records `sandbox.expired`, one transaction each. In AWS a `lambda_runtime` function
//! on a one-minute schedule; locally (`KEYHIVE_SWEEP_EVERY_SECONDS` set, as `make dev` and the
//! test stack do) the same code in a loop.

use keyhive::config::Config;
use keyhive::store::dynamo::DynamoStore;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use std::time::Duration;

async fn sweep(store: &DynamoStore) -> Result<serde_json::Value, Error> {
    let ended = sandboxes::rules::expire_overdue(store, None, keyhive::model::now())
        .await
        .map_err(|err| Error::from(keyhive::error::source_chain(&err)))?;
    if ended > 0 {
        tracing::info!(ended, "expired overdue sandboxes");
    }
    Ok(serde_json::json!({ "expired": ended }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let config = Config::from_env();
    let sdk = keyhive::aws::sdk_config(&config).await;
    let store = DynamoStore::new(keyhive::aws::dynamodb(&sdk), config.table_name.clone());
    let every = std::env::var("KEYHIVE_SWEEP_EVERY_SECONDS").ok().and_then(|v| v.parse::<u64>().ok());
    match every {
        Some(seconds) => loop {
            if let Err(err) = sweep(&store).await {
                tracing::warn!(error = %err, "sweep failed; trying again next round");
            }
            tokio::time::sleep(Duration::from_secs(seconds.max(1))).await;
        },
        None => run(service_fn(|_event: LambdaEvent<serde_json::Value>| sweep(&store))).await,
    }
}
