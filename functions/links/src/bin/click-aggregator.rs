//! The click aggregator: adds every counted redirect to its link's day statistics (by referrer
//! and country), and deletes a deleted link's statistics. In AWS a `lambda_runtime` function on
//! the table's stream (slug-item modifications and link-item removals only; a record that cannot
//! be counted is reported with `ReportBatchItemFailures` and delivered again, counted once).
//! Locally (`KEYHIVE_AGGREGATE_EVERY_MS` set, as `make dev` and the test stack do) the same code
//! in a loop over DynamoDB Local's stream.

use keyhive::store::stream::{follow_locally, records_of_event};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use links::clicks::count_batch;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let api = keyhive::ApiState::from_env().await;
    let store = &api.store;
    let every = std::env::var("KEYHIVE_AGGREGATE_EVERY_MS").ok().and_then(|v| v.parse::<u64>().ok());
    match every {
        Some(millis) => {
            follow_locally(&api.config, store, Duration::from_millis(millis.max(50)), |records| async move {
                let resume = count_batch(store, &records).await;
                (records, resume)
            })
            .await;
            Ok(())
        }
        None => {
            run(service_fn(move |event: LambdaEvent<Value>| async move {
                let records = records_of_event(&event.payload);
                let failures: Vec<Value> = count_batch(store, &records)
                    .await
                    .map(|sequence| json!({ "itemIdentifier": sequence }))
                    .into_iter()
                    .collect();
                Ok::<_, Error>(json!({ "batchItemFailures": failures }))
            }))
            .await
        }
    }
}
