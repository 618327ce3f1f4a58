//! The click aggregator: adds every counted redirect to its link's day statistics (by referrer
//! and country), and deletes a deleted link's statistics, from the table's stream (in AWS filtered
//! to slug-item modifications and link-item removals; locally a loop over DynamoDB Local's
//! stream: `keyhive::store::stream::serve_aggregator`).

use futures_util::future::LocalBoxFuture;
use keyhive::store::dynamo::DynamoStore;
use keyhive::store::stream::{serve_aggregator, StreamRecord};

fn count<'a>(store: &'a DynamoStore, records: &'a [StreamRecord]) -> LocalBoxFuture<'a, Option<String>> {
    Box::pin(links::clicks::count_batch(store, records))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve_aggregator(count).await
}
