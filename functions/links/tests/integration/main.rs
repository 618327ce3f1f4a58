//! The links function's one integration-test binary: handler and store tests, and the click
//! aggregator's work they share.

mod handler;
mod store;

use keyhive::store::stream::StreamRecord;
use keyhive::ApiState;
use links::model::LinkId;

/// The table's stream from its oldest record, as a new reader sees it.
async fn whole_stream(api: &ApiState) -> Vec<StreamRecord> {
    use keyhive::store::stream::{local_streams_client, StreamReader};
    let arn = StreamReader::stream_of(api.store.client(), api.store.table()).await.expect("stream");
    StreamReader::new(local_streams_client(&api.config).await, arn).next_records().await.expect("records")
}

/// The click aggregator's work for one link, over everything the stream holds (the test stack's
/// own aggregator loop may have counted some already: each click counts once whoever counts it).
/// Returns the link's records.
pub async fn count_clicks_of(api: &ApiState, link: &LinkId) -> Vec<StreamRecord> {
    use links::clicks::StatsRecord;
    let records: Vec<StreamRecord> = whole_stream(api)
        .await
        .into_iter()
        .filter(|r| match StatsRecord::from_stream(r) {
            Some(StatsRecord::Click { link_id, .. } | StatsRecord::LinkGone(link_id)) => link_id == *link,
            None => false,
        })
        .collect();
    assert_eq!(links::clicks::count_batch(&api.store, &records).await, None, "counted");
    records
}
