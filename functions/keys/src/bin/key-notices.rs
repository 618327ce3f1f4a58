//! The key expiry notices job: `key.expiring` (7 days and 1 day before) and `key.expired`, each
//! once per key and expiry (`keys::notices`). In AWS a `lambda_runtime` function on a five-minute
//! schedule; locally (`KEYHIVE_NOTICES_EVERY_SECONDS` set, as `make dev` and the test stack do)
//! the same code in a loop.

use keyhive::config::Config;
use keyhive::store::dynamo::DynamoStore;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use std::time::Duration;

async fn send(store: &DynamoStore) -> Result<serde_json::Value, Error> {
    let sent = keys::notices::send_due(store, keyhive::model::now())
        .await
        .map_err(|err| Error::from(keyhive::error::source_chain(&err)))?;
    if sent > 0 {
        tracing::info!(sent, "sent key expiry notices");
    }
    Ok(serde_json::json!({ "sent": sent }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let config = Config::from_env();
    let sdk = keyhive::aws::sdk_config(&config).await;
    let store = DynamoStore::new(keyhive::aws::dynamodb(&sdk), config.table_name.clone());
    let every = std::env::var("KEYHIVE_NOTICES_EVERY_SECONDS").ok().and_then(|v| v.parse::<u64>().ok());
    match every {
        Some(seconds) => loop {
            if let Err(err) = send(&store).await {
                tracing::warn!(error = %err, "key notices failed; trying again next round");
            }
            tokio::time::sleep(Duration::from_secs(seconds.max(1))).await;
        },
        None => run(service_fn(|_event: LambdaEvent<serde_json::Value>| send(&store))).await,
    }
}
