//! The key expiry notices job: `key.expiring` (7 days and 1 day before) and `key.expired`, each
//! once per key and expiry (`keys::notices`). In AWS a `lambda_runtime` function on a five-minute
//! schedule; locally (`KEYHIVE_NOTICES_EVERY_SECONDS` set, as `make dev` and the test stack do)
//! the same run in a loop.

use keyhive::store::dynamo::DynamoStore;

async fn send(store: &DynamoStore) -> Result<serde_json::Value, String> {
    let sent = keys::notices::send_due(store, keyhive::model::now())
        .await
        .map_err(|err| keyhive::error::source_chain(&err))?;
    if sent > 0 {
        tracing::info!(sent, "sent key expiry notices");
    }
    Ok(serde_json::json!({ "sent": sent }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    keyhive::jobs::serve_schedule("KEYHIVE_NOTICES_EVERY_SECONDS", |store| Box::pin(send(store))).await
}
