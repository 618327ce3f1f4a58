//! Key usage: every counted request and refusal tally, read from the key items' stream records
//! (`record`), folded into minute, hour and day buckets per key, by outcome and by permission
//! (`Delta`), and written exactly once (`store`: each key's use sequence guards its buckets in
//! one transaction). `report` answers the usage and access routes from the buckets.
//!
//! The use sequence (`u_n`) goes up by one with every write that authentication makes to a key
//! item for a request or a refusal tally, and the stream delivers one item's records in order;
//! the aggregator remembers the last sequence it counted for each key, in the same transaction as
//! the counts, so a batch delivered twice, a retried window or a shard's records read again count
//! nothing twice.

pub mod record;
pub mod report;
pub mod store;

use futures_util::StreamExt;
use keyhive::auth::permissions::{permission_name, Action, Resource};
use keyhive::model::{KeyId, Tenant};
use keyhive::store::stream::StreamRecord;
use keyhive::store::StoreError;
use std::collections::BTreeMap;
use store::{UsageStore, MAX_BUCKETS_PER_WRITE};
use time::{Duration, OffsetDateTime};

pub use record::UseRecord;

/// The size of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Granularity {
    Minute,
    Hour,
    Day,
}

impl Granularity {
    pub const ALL: [Granularity; 3] = [Granularity::Minute, Granularity::Hour, Granularity::Day];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "minute" => Some(Granularity::Minute),
            "hour" => Some(Granularity::Hour),
            "day" => Some(Granularity::Day),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    /// The bucket kind in the sort key (`M#…`, `H#…`, `D#…`).
    pub fn tag(self) -> &'static str {
        match self {
            Granularity::Minute => "M",
            Granularity::Hour => "H",
            Granularity::Day => "D",
        }
    }

    pub fn step(self) -> Duration {
        match self {
            Granularity::Minute => Duration::MINUTE,
            Granularity::Hour => Duration::HOUR,
            Granularity::Day => Duration::DAY,
        }
    }

    /// The longest span one request may ask for in this granularity.
    pub fn max_span(self) -> Duration {
        match self {
            Granularity::Minute => Duration::HOUR * 24,
            Granularity::Hour => Duration::DAY * 31,
            Granularity::Day => Duration::DAY * 400,
        }
    }

    /// How long a bucket is kept (the table's TTL removes it then).
    pub fn retention(self) -> Duration {
        match self {
            Granularity::Minute => Duration::DAY * 7,
            Granularity::Hour => Duration::DAY * 90,
            Granularity::Day => Duration::DAY * 400,
        }
    }

    /// The start of the bucket holding `at`.
    pub fn floor(self, at: OffsetDateTime) -> OffsetDateTime {
        let step = self.step().whole_seconds();
        let epoch = at.unix_timestamp();
        OffsetDateTime::from_unix_timestamp(epoch - epoch.rem_euclid(step)).unwrap_or(at)
    }
}

/// Requests by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub success: u64,
    pub forbidden: u64,
    pub rate_limited: u64,
    pub unauthorized: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.success + self.forbidden + self.rate_limited + self.unauthorized
    }

    pub fn add(&mut self, other: &Counts) {
        self.success += other.success;
        self.forbidden += other.forbidden;
        self.rate_limited += other.rate_limited;
        self.unauthorized += other.unauthorized;
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "success": self.success,
            "forbidden": self.forbidden,
            "rate_limited": self.rate_limited,
            "unauthorized": self.unauthorized,
        })
    }
}

/// One permission's requests: allowed, and refused for the want of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PermissionCounts {
    pub success: u64,
    pub forbidden: u64,
}

/// `resource:action`, as the API names a permission.
pub type PermissionName = String;

/// What one bucket gains from a run of records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketDelta {
    pub counts: Counts,
    pub by_permission: BTreeMap<PermissionName, PermissionCounts>,
}

/// A bucket: its granularity and start.
pub type BucketKey = (Granularity, OffsetDateTime);

/// What a run of one key's records adds to its usage: the buckets' counts, each permission's
/// last use, and the last sequence number counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub buckets: BTreeMap<BucketKey, BucketDelta>,
    pub last_used: BTreeMap<PermissionName, OffsetDateTime>,
    pub last_sequence: u64,
    /// The key's organization and environment, whose day totals the day buckets also add to.
    pub tenant: Option<Tenant>,
}

/// How a counted request ended, from the key's permissions as its own write left them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Forbidden,
}

impl Delta {
    /// The buckets `record` adds to (three: its minute, hour and day).
    pub fn bucket_keys(record: &UseRecord) -> [BucketKey; 3] {
        Granularity::ALL.map(|g| (g, g.floor(record.at)))
    }

    /// The items a transaction of this delta writes besides the access item: its buckets, and
    /// for each day bucket the tenant's day total.
    pub fn writes(&self) -> usize {
        let days = self.buckets.keys().filter(|(g, _)| *g == Granularity::Day).count();
        self.buckets.len() + if self.tenant.is_some() { days } else { 0 }
    }

    /// Folds one record in (records come in sequence order).
    pub fn add(&mut self, record: &UseRecord) {
        if self.tenant.is_none() {
            self.tenant = record.tenant.clone();
        }
        for key in Self::bucket_keys(record) {
            let bucket = self.buckets.entry(key).or_default();
            match &record.event {
                record::Counted::Request { permission, outcome } => {
                    match outcome {
                        Outcome::Success => bucket.counts.success += 1,
                        Outcome::Forbidden => bucket.counts.forbidden += 1,
                    }
                    if let Some((resource, action)) = permission {
                        let per = bucket.by_permission.entry(permission_name(*resource, *action)).or_default();
                        match outcome {
                            Outcome::Success => per.success += 1,
                            Outcome::Forbidden => per.forbidden += 1,
                        }
                    }
                }
                record::Counted::Refused { rate_limited, unauthorized } => {
                    bucket.counts.rate_limited += u64::from(*rate_limited);
                    bucket.counts.unauthorized += u64::from(*unauthorized);
                }
            }
        }
        if let record::Counted::Request { permission: Some((resource, action)), outcome: Outcome::Success } =
            &record.event
        {
            self.last_used.insert(permission_name(*resource, *action), record.at);
        }
        self.last_sequence = self.last_sequence.max(record.sequence);
    }
}

/// Counts a run of records (in stream order, several keys mixed), key by key, each record once
/// whatever was counted before. Returns the keys whose records could not all be counted, with
/// why: the caller has them delivered again (what was counted stays counted, once).
pub async fn count_uses<S: UsageStore + ?Sized>(store: &S, records: &[UseRecord]) -> Vec<(KeyId, StoreError)> {
    let mut by_key: BTreeMap<&KeyId, Vec<&UseRecord>> = BTreeMap::new();
    for record in records {
        by_key.entry(&record.key_id).or_default().push(record);
    }
    let runs = by_key.into_iter().map(|(key_id, mut run)| async move {
        run.sort_by_key(|r| r.sequence);
        count_key(store, key_id, &run).await.err().map(|err| (key_id.clone(), err))
    });
    futures_util::stream::iter(runs).buffer_unordered(8).filter_map(|failed| async move { failed }).collect().await
}

/// Counts a batch of stream records. `None` when every use in it is counted; otherwise the
/// sequence number of the first record of a key that could not be counted, from which the batch
/// must be delivered again (Lambda's `ReportBatchItemFailures`; what was counted stays counted).
pub async fn count_batch<S: UsageStore + ?Sized>(store: &S, records: &[StreamRecord]) -> Option<String> {
    let read: Vec<(&StreamRecord, Option<UseRecord>)> =
        records.iter().map(|r| (r, UseRecord::from_stream(r))).collect();
    let uses: Vec<UseRecord> = read.iter().filter_map(|(_, u)| u.clone()).collect();
    let failed = count_uses(store, &uses).await;
    for (key_id, err) in &failed {
        tracing::warn!(key_id = %key_id, error = %keyhive::error::source_chain(err), "usage not counted; delivered again");
    }
    read.iter()
        .find(|(_, u)| u.as_ref().is_some_and(|u| failed.iter().any(|(key_id, _)| *key_id == u.key_id)))
        .map(|(r, _)| r.sequence_number.clone())
}

/// Counts one key's records past its counted sequence, in transactions of at most
/// `MAX_BUCKETS_PER_WRITE` buckets; reads the counted sequence again when another run moved it.
async fn count_key<S: UsageStore + ?Sized>(store: &S, key_id: &KeyId, run: &[&UseRecord]) -> Result<(), StoreError> {
    let mut attempts = 0;
    'read: loop {
        let mut counted = store.counted_sequence(key_id).await?;
        let fresh: Vec<&UseRecord> = run.iter().copied().filter(|r| r.sequence > counted).collect();
        for chunk in chunks(&fresh) {
            if !store.add_usage(key_id, counted, &chunk).await? {
                attempts += 1;
                if attempts >= 5 {
                    return Err(StoreError::Other("the counted sequence kept moving".into()));
                }
                continue 'read;
            }
            counted = chunk.last_sequence;
        }
        return Ok(());
    }
}

/// The records folded into deltas of at most `MAX_BUCKETS_PER_WRITE` buckets each, in order.
fn chunks(records: &[&UseRecord]) -> Vec<Delta> {
    let mut deltas = vec![Delta::default()];
    for record in records {
        let full = deltas.last().is_some_and(|d| {
            let mut grown = d.clone();
            grown.add(record);
            grown.writes() > MAX_BUCKETS_PER_WRITE
        });
        if full {
            deltas.push(Delta::default());
        }
        if let Some(delta) = deltas.last_mut() {
            delta.add(record);
        }
    }
    deltas.retain(|d| d.last_sequence > 0);
    deltas
}

/// The permissions a key's usage is reported by, in the route table's order of resources.
pub fn every_permission() -> impl Iterator<Item = (Resource, Action)> {
    Resource::ALL.into_iter().flat_map(|r| Action::ALL.into_iter().map(move |a| (r, a)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn request(sequence: u64, at: OffsetDateTime, outcome: Outcome) -> UseRecord {
        UseRecord {
            key_id: KeyId::parse("AAAAAAAAAAAA").unwrap(),
            sequence,
            at,
            event: record::Counted::Request { permission: Some((Resource::ShortLinks, Action::Create)), outcome },
            tenant: None,
        }
    }

    #[test]
    fn buckets_start_at_their_minute_hour_and_day() {
        let at = datetime!(2026-12-06 05:41:59 UTC);
        assert_eq!(Granularity::Minute.floor(at), datetime!(2026-12-06 05:41:00 UTC));
        assert_eq!(Granularity::Hour.floor(at), datetime!(2026-12-06 05:00:00 UTC));
        assert_eq!(Granularity::Day.floor(at), datetime!(2026-12-06 00:00:00 UTC));
    }

    #[test]
    fn a_run_of_records_folds_into_each_bucket_by_outcome_and_permission() {
        let mut delta = Delta::default();
        delta.add(&request(1, datetime!(2026-12-06 05:41:10 UTC), Outcome::Success));
        delta.add(&request(2, datetime!(2026-12-06 05:42:10 UTC), Outcome::Forbidden));
        delta.add(&UseRecord {
            key_id: KeyId::parse("AAAAAAAAAAAA").unwrap(),
            sequence: 3,
            at: datetime!(2026-12-06 05:40:00 UTC),
            event: record::Counted::Refused { rate_limited: 2, unauthorized: 5 },
            tenant: None,
        });
        assert_eq!(delta.last_sequence, 3);
        assert_eq!(delta.buckets.len(), 3 + 2, "three minutes, one hour, one day");
        let day = &delta.buckets[&(Granularity::Day, datetime!(2026-12-06 00:00:00 UTC))];
        assert_eq!(day.counts, Counts { success: 1, forbidden: 1, rate_limited: 2, unauthorized: 5 });
        assert_eq!(day.by_permission["shortLinks:create"], PermissionCounts { success: 1, forbidden: 1 });
        assert_eq!(delta.last_used["shortLinks:create"], datetime!(2026-12-06 05:41:10 UTC), "a denial is no use");
    }

    #[test]
    fn a_long_run_is_cut_into_writes_of_at_most_96_buckets_in_order() {
        let start = datetime!(2026-12-06 00:00:00 UTC);
        let records: Vec<UseRecord> =
            (0..100u64).map(|n| request(n + 1, start + Duration::minutes(n as i64), Outcome::Success)).collect();
        let refs: Vec<&UseRecord> = records.iter().collect();
        let deltas = chunks(&refs);
        assert!(deltas.iter().all(|d| d.buckets.len() <= MAX_BUCKETS_PER_WRITE));
        assert_eq!(deltas.iter().map(|d| d.last_sequence).collect::<Vec<_>>(), vec![93, 100]);
        let minutes: u64 = deltas
            .iter()
            .flat_map(|d| d.buckets.iter())
            .filter(|((g, _), _)| *g == Granularity::Minute)
            .map(|(_, b)| b.counts.success)
            .sum();
        assert_eq!(minutes, 100);
    }
}
