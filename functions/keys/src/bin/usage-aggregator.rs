//! The usage aggregator: counts every authenticated request and refusal tally into its key's
//! usage buckets, from the table's stream (in AWS filtered to key-item modifications; locally a
//! loop over DynamoDB Local's stream: `keyhive::store::stream::serve_aggregator`).

use futures_util::future::LocalBoxFuture;
use keyhive::store::dynamo::DynamoStore;
use keyhive::store::stream::{serve_aggregator, StreamRecord};

fn count<'a>(store: &'a DynamoStore, records: &'a [StreamRecord]) -> LocalBoxFuture<'a, Option<String>> {
    Box::pin(keys::usage::count_batch(store, records))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve_aggregator(count).await
}
