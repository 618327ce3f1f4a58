//! The links function's one integration-test binary: handler and store tests, and the click
//! aggregator's work they share.

mod handler;
mod store;

use keyhive::store::stream::StreamRecord;
use keyhive::ApiState;
use links::model::LinkId;

/// The click aggregator's work for one link, over everything the stream holds (the test stack's
/// own aggregator loop may have counted some already: each click counts once whoever counts it).
/// Returns the link's records.
pub async fn count_clicks_of(api: &ApiState, link: &LinkId) -> Vec<StreamRecord> {
    use links::clicks::StatsRecord;
    let records: Vec<StreamRecord> = keyhive::testkit::whole_stream(api)
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
