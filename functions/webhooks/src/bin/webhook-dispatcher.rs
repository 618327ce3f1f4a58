//! The webhook dispatcher: fans outbox events out to the endpoints subscribed to them and sends
//! due deliveries, signed, with retries. In AWS a `lambda_runtime` function on the table's stream
//! (inserts of outbox items only; a failed record is reported with `ReportBatchItemFailures` and
//! retried) and on a one-minute schedule (due retries, anything the stream missed). Locally
//! (`KEYHIVE_DISPATCH_EVERY_MS` set, as `make dev` and the test stack do) the same code in a loop.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};
use std::time::Duration;
use webhooks::rules::Budget;
use webhooks::store::WebhookStore;
use webhooks::Webhooks;

fn failure(err: &keyhive::ApiError) -> Error {
    Error::from(keyhive::error::source_chain(err))
}

/// A stream batch: each outbox insert fanned out, then every new delivery tried at once (each
/// bounded by the send timeout, well inside the function's). A record whose fan-out failed is
/// reported for the stream to retry; a failed send waits for its retry on the schedule.
async fn stream(webhooks: &Webhooks, records: &[Value]) -> Result<Value, Error> {
    let store = &webhooks.api.store;
    let key = webhooks.sealing_key().await.map_err(|e| failure(&e))?;
    let now = keyhive::model::now();
    let mut failed = Vec::new();
    let mut deliveries = Vec::new();
    for record in records {
        let keys = &record["dynamodb"]["Keys"];
        let (Some(pk), Some(sk)) = (keys["PK"]["S"].as_str(), keys["SK"]["S"].as_str()) else { continue };
        let sequence = record["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default().to_string();
        let outcome = async {
            let Some(event) = store.get_outbox(pk, sk).await? else { return Ok(Vec::new()) };
            webhooks::rules::fan_out(store, &event, now).await
        }
        .await;
        match outcome {
            Ok(created) => deliveries.extend(created.into_iter().map(|d| d.id)),
            Err(err) => {
                tracing::warn!(error = %keyhive::error::source_chain(&err), "outbox record failed; the stream retries it");
                failed.push(json!({ "itemIdentifier": sequence }));
            }
        }
    }
    // What the budget leaves stays due for the scheduled pass.
    webhooks::rules::attempt_all(store, key, &webhooks.outbound, &deliveries, now, Budget::LAMBDA).await;
    Ok(json!({ "batchItemFailures": failed }))
}

async fn pass(webhooks: &Webhooks) -> Result<Value, Error> {
    let key = webhooks.sealing_key().await.map_err(|e| failure(&e))?;
    let now = keyhive::model::now();
    let pass = webhooks::rules::dispatch(&webhooks.api.store, key, &webhooks.outbound, now, Budget::LAMBDA)
        .await
        .map_err(|e| failure(&e))?;
    if pass.events + pass.attempts > 0 {
        tracing::info!(events = pass.events, attempts = pass.attempts, "dispatched");
    }
    Ok(json!({ "events": pass.events, "attempts": pass.attempts }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let webhooks = Webhooks::from_env().await.map_err(Error::from)?;
    let every = std::env::var("KEYHIVE_DISPATCH_EVERY_MS").ok().and_then(|v| v.parse::<u64>().ok());
    match every {
        Some(millis) => loop {
            if let Err(err) = pass(&webhooks).await {
                tracing::warn!(error = %err, "dispatch pass failed; trying again next round");
            }
            tokio::time::sleep(Duration::from_millis(millis.max(50))).await;
        },
        None => {
            let webhooks = &webhooks;
            run(service_fn(move |event: LambdaEvent<Value>| async move {
                match event.payload["Records"].as_array() {
                    Some(records) => stream(webhooks, records).await,
                    None => pass(webhooks).await,
                }
            }))
            .await
        }
    }
}
