//! Where key usage is kept: per key, one partition (`USAGE#<key_id>`) of buckets (`M|H|D#<start>`:
//! counts by outcome, and `s:<permission>` / `f:<permission>` per permission, with a TTL) and one
//! access item (`ACCESS`: the last use sequence counted, `seq`, and each permission's last use,
//! `lu:<permission>`). Only the usage aggregator writes here; the keys function reads.

use super::{BucketDelta, Counts, Delta, Granularity, PermissionCounts, PermissionName};
use async_trait::async_trait;
use keyhive::model::{parse_rfc3339, rfc3339, KeyId, Tenant};
use keyhive::schema;
use keyhive::store::dynamo::DynamoStore;
use keyhive::store::items::{key_of, opt_n, string_attr, Item};
use keyhive::store::query::SortRange;
use keyhive::store::StoreError;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The most buckets one transaction adds to (with the access item: within DynamoDB's 100).
pub const MAX_BUCKETS_PER_WRITE: usize = 96;

const SEQUENCE: &str = "seq";
const LAST_USED_PREFIX: &str = "lu:";
const SUCCESS_PREFIX: &str = "s:";
const FORBIDDEN_PREFIX: &str = "f:";

#[async_trait]
pub trait UsageStore: Send + Sync {
    /// The last use sequence number counted for the key (0: none yet).
    async fn counted_sequence(&self, key_id: &KeyId) -> Result<u64, StoreError>;
    /// Adds `delta` to the key's buckets and moves its counted sequence from `from` to
    /// `delta.last_sequence`, all in one transaction. `Ok(false)`, and nothing written, when the
    /// counted sequence is no longer `from` (another run counted meanwhile).
    async fn add_usage(&self, key_id: &KeyId, from: u64, delta: &Delta) -> Result<bool, StoreError>;
    /// The key's buckets of `granularity` starting in `from..=to`, ascending.
    async fn buckets(
        &self,
        key_id: &KeyId,
        granularity: Granularity,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(OffsetDateTime, BucketDelta)>, StoreError>;
    /// When each permission of the key was last used (with success).
    async fn last_uses(&self, key_id: &KeyId) -> Result<BTreeMap<PermissionName, OffsetDateTime>, StoreError>;
    /// Each key's totals of a tenant on one UTC day (the keys with any use that day).
    async fn tenant_day(&self, tenant: &Tenant, day: OffsetDateTime) -> Result<Vec<(KeyId, Counts)>, StoreError>;
}

fn tenant_day_key(tenant: &Tenant, day: OffsetDateTime, key_id: &KeyId) -> Item {
    key_of(tenant_day_pk(tenant, day), key_id.as_str())
}

fn tenant_day_pk(tenant: &Tenant, day: OffsetDateTime) -> String {
    schema::usage_org_day_pk(tenant.org_id.as_str(), tenant.environment.as_str(), &rfc3339(day)[..10])
}

fn counts_of(item: &Item) -> Counts {
    Counts {
        success: count(item, "success"),
        forbidden: count(item, "forbidden"),
        rate_limited: count(item, "rate_limited"),
        unauthorized: count(item, "unauthorized"),
    }
}

fn bucket_key(key_id: &KeyId, granularity: Granularity, start: OffsetDateTime) -> Item {
    key_of(schema::usage_pk(key_id.as_str()), schema::usage_bucket_sk(granularity.tag(), &rfc3339(start)))
}

fn access_key(key_id: &KeyId) -> Item {
    key_of(schema::usage_pk(key_id.as_str()), schema::USAGE_ACCESS_SK)
}

fn count(item: &Item, name: &str) -> u64 {
    opt_n(item, name).and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn bucket_record(item: &Item) -> BucketDelta {
    let mut by_permission: BTreeMap<PermissionName, PermissionCounts> = BTreeMap::new();
    for name in item.keys() {
        if let Some(permission) = name.strip_prefix(SUCCESS_PREFIX) {
            by_permission.entry(permission.to_string()).or_default().success = count(item, name);
        } else if let Some(permission) = name.strip_prefix(FORBIDDEN_PREFIX) {
            by_permission.entry(permission.to_string()).or_default().forbidden = count(item, name);
        }
    }
    BucketDelta { counts: counts_of(item), by_permission }
}

/// A bucket's counters by attribute name: by outcome, and per permission.
fn counters(bucket: &BucketDelta) -> Vec<(String, i64)> {
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut counters: Vec<(String, i64)> = [
        ("success", bucket.counts.success),
        ("forbidden", bucket.counts.forbidden),
        ("rate_limited", bucket.counts.rate_limited),
        ("unauthorized", bucket.counts.unauthorized),
    ]
    .into_iter()
    .map(|(name, n)| (name.to_string(), as_i64(n)))
    .collect();
    for (permission, counts) in &bucket.by_permission {
        counters.push((format!("{SUCCESS_PREFIX}{permission}"), as_i64(counts.success)));
        counters.push((format!("{FORBIDDEN_PREFIX}{permission}"), as_i64(counts.forbidden)));
    }
    counters
}

#[async_trait]
impl UsageStore for DynamoStore {
    async fn counted_sequence(&self, key_id: &KeyId) -> Result<u64, StoreError> {
        Ok(self.get_consistent(access_key(key_id)).await?.map(|item| count(&item, SEQUENCE)).unwrap_or(0))
    }

    async fn add_usage(&self, key_id: &KeyId, from: u64, delta: &Delta) -> Result<bool, StoreError> {
        let mut tx = self.transaction();
        // Each permission's last use beside the sequence; the item kept while the key is used, and
        // 400 days after its last use (a deleted key's too).
        let last_uses = delta
            .last_used
            .iter()
            .map(|(permission, at)| (format!("{LAST_USED_PREFIX}{permission}"), string_attr(rfc3339(*at))))
            .collect();
        let kept_until = (keyhive::model::now() + Granularity::Day.retention()).unix_timestamp();
        tx.advance_sequence(access_key(key_id), SEQUENCE, (from, delta.last_sequence), kept_until, last_uses)?;
        for ((granularity, start), bucket) in &delta.buckets {
            let expires_at = (*start + granularity.retention()).unix_timestamp();
            tx.add_counters(bucket_key(key_id, *granularity, *start), &counters(bucket), expires_at)?;
            if let (Granularity::Day, Some(tenant)) = (granularity, &delta.tenant) {
                let totals = BucketDelta { counts: bucket.counts, by_permission: BTreeMap::new() };
                tx.add_counters(tenant_day_key(tenant, *start, key_id), &counters(&totals), expires_at)?;
            }
        }
        tx.commit_unless_stale().await
    }

    async fn buckets(
        &self,
        key_id: &KeyId,
        granularity: Granularity,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(OffsetDateTime, BucketDelta)>, StoreError> {
        let range = SortRange::Between {
            from: schema::usage_bucket_sk(granularity.tag(), &rfc3339(from)),
            to: schema::usage_bucket_sk(granularity.tag(), &rfc3339(to)),
        };
        let items = self.query_partition(schema::usage_pk(key_id.as_str()), range).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let sk = keyhive::store::items::opt_s(item, schema::SK)?;
                let start = sk.split_once('#').and_then(|(_, start)| parse_rfc3339(start))?;
                Some((start, bucket_record(item)))
            })
            .collect())
    }

    async fn last_uses(&self, key_id: &KeyId) -> Result<BTreeMap<PermissionName, OffsetDateTime>, StoreError> {
        let item = self.get_consistent(access_key(key_id)).await?.unwrap_or_default();
        Ok(item
            .iter()
            .filter_map(|(name, value)| {
                let permission = name.strip_prefix(LAST_USED_PREFIX)?;
                Some((permission.to_string(), parse_rfc3339(value.as_s().ok()?)?))
            })
            .collect())
    }

    async fn tenant_day(&self, tenant: &Tenant, day: OffsetDateTime) -> Result<Vec<(KeyId, Counts)>, StoreError> {
        let items = self.query_partition(tenant_day_pk(tenant, day), SortRange::All).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let key_id = keyhive::store::items::opt_s(item, schema::SK).and_then(KeyId::parse)?;
                Some((key_id, counts_of(item)))
            })
            .collect())
    }
}
