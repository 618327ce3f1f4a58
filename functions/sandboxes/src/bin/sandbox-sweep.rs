//! The sandbox expiry sweep: marks running sandboxes past their deadline `expired`, frees their
//! slots and records `sandbox.expired`, one transaction each. In AWS a `lambda_runtime` function
//! on a one-minute schedule; locally (`KEYHIVE_SWEEP_EVERY_SECONDS` set, as `make dev` and the
//! test stack do) the same run in a loop.

use keyhive::store::dynamo::DynamoStore;

async fn sweep(store: &DynamoStore) -> Result<serde_json::Value, String> {
    let ended = sandboxes::rules::expire_overdue(store, None, keyhive::model::now())
        .await
        .map_err(|err| keyhive::error::source_chain(&err))?;
    if ended > 0 {
        tracing::info!(ended, "expired overdue sandboxes");
    }
    Ok(serde_json::json!({ "expired": ended }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    keyhive::jobs::serve_schedule("KEYHIVE_SWEEP_EVERY_SECONDS", |store| Box::pin(sweep(store))).await
}
