//! The usage aggregator: counts every authenticated request and refusal tally into its key's
//! usage buckets. In AWS a `lambda_runtime` function on the table's stream (key-item
//! modifications only; a record that cannot be counted is reported with
//! `ReportBatchItemFailures` and delivered again, counted once). Locally
//! (`KEYHIVE_AGGREGATE_EVERY_MS` set, as `make dev` and the test stack do) the same code in a loop
//! over DynamoDB Local's stream.

use keyhive::store::stream::{local_streams_client, records_of_event, StreamReader, StreamRecord};
use keys::usage::count_batch;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};
use std::time::Duration;

/// The local loop: what the stream added since the last round, counted; a round that could not
/// count everything keeps the rest for the next (as Lambda delivers a failed batch again).
async fn local_loop(api: &keyhive::ApiState, every: Duration) -> Result<(), Error> {
    let client = local_streams_client(&api.config).await;
    let mut reader = None;
    let mut carried: Vec<StreamRecord> = Vec::new();
    loop {
        if reader.is_none() {
            match StreamReader::stream_of(api.store.client(), api.store.table()).await {
                Ok(arn) => reader = Some(StreamReader::new(client.clone(), arn)),
                Err(err) => tracing::warn!(error = %keyhive::error::source_chain(&err), "no stream yet"),
            }
        }
        if let Some(reader) = reader.as_mut() {
            match reader.next_records().await {
                Ok(records) => carried.extend(records),
                Err(err) => {
                    tracing::warn!(error = %keyhive::error::source_chain(&err), "stream read failed; trying again next round")
                }
            }
        }
        if !carried.is_empty() {
            let resume = count_batch(&api.store, &carried).await;
            carried = match resume {
                Some(sequence) => carried.into_iter().skip_while(|r| r.sequence_number != sequence).collect(),
                None => Vec::new(),
            };
        }
        tokio::time::sleep(every).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let api = keyhive::ApiState::from_env().await;
    let every = std::env::var("KEYHIVE_AGGREGATE_EVERY_MS").ok().and_then(|v| v.parse::<u64>().ok());
    match every {
        Some(millis) => local_loop(&api, Duration::from_millis(millis.max(50))).await,
        None => {
            let api = &api;
            run(service_fn(move |event: LambdaEvent<Value>| async move {
                let records = records_of_event(&event.payload);
                let failures: Vec<Value> = count_batch(&api.store, &records)
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
