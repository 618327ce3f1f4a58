//! A link's click statistics (`STATS#<link_id>`): one item per UTC day (`DAY#<date>`: clicks,
//! bot clicks, `r:<host>` and `c:<country>` counters, a TTL) and the last click sequence number
//! counted (`SEQ`). The click aggregator alone writes here; the links function reads the days.

use super::items::{country_attr, referrer_attr};
use crate::clicks::{DayDelta, STATS_RETENTION};
use crate::model::LinkId;
use async_trait::async_trait;
use keyhive::schema;
use keyhive::store::dynamo::{classify, DynamoStore};
use keyhive::store::items::{key_of, opt_n, Item};
use keyhive::store::query::SortRange;
use keyhive::store::StoreError;
use std::collections::{BTreeMap, BTreeSet};

#[async_trait]
pub trait StatsStore: Send + Sync {
    /// The last click sequence number counted for the link (0: none yet).
    async fn counted_clicks(&self, link_id: &LinkId) -> Result<u64, StoreError>;
    /// The referrer hosts a day of the link counts by name.
    async fn named_referrers(&self, link_id: &LinkId, date: &str) -> Result<BTreeSet<String>, StoreError>;
    /// Adds `days` to the link's day items and moves its counted sequence from `from` to `to`, in
    /// one transaction. `Ok(false)`, and nothing written, when the counted sequence is no longer
    /// `from`.
    async fn add_clicks(
        &self,
        link_id: &LinkId,
        from: u64,
        to: u64,
        days: &BTreeMap<String, DayDelta>,
    ) -> Result<bool, StoreError>;
    /// Deletes every statistics item of a (deleted) link.
    async fn delete_stats(&self, link_id: &LinkId) -> Result<(), StoreError>;
}

const SEQUENCE: &str = "seq";

fn sequence_key(link_id: &LinkId) -> Item {
    key_of(schema::stats_pk(link_id.as_str()), schema::STATS_SEQUENCE_SK)
}

pub(super) fn day_key(link_id: &LinkId, date: &str) -> Item {
    key_of(schema::stats_pk(link_id.as_str()), schema::link_day_sk(date))
}

/// The unix time a day's item expires: `STATS_RETENTION` after the day.
fn day_expiry(date: &str) -> i64 {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(date, &format)
        .map(|d| (d.midnight().assume_utc() + STATS_RETENTION).unix_timestamp())
        .unwrap_or_else(|_| (keyhive::model::now() + STATS_RETENTION).unix_timestamp())
}

#[async_trait]
impl StatsStore for DynamoStore {
    async fn counted_clicks(&self, link_id: &LinkId) -> Result<u64, StoreError> {
        let item = self.get_consistent(sequence_key(link_id)).await?;
        Ok(item.and_then(|i| opt_n(&i, SEQUENCE)).and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }

    async fn named_referrers(&self, link_id: &LinkId, date: &str) -> Result<BTreeSet<String>, StoreError> {
        let item = self.get_consistent(day_key(link_id, date)).await?.unwrap_or_default();
        Ok(item
            .keys()
            .filter_map(|name| name.strip_prefix("r:"))
            .filter(|host| *host != crate::model::OTHER_REFERRER)
            .map(str::to_string)
            .collect())
    }

    async fn add_clicks(
        &self,
        link_id: &LinkId,
        from: u64,
        to: u64,
        days: &BTreeMap<String, DayDelta>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.transaction();
        // Kept while the link is clicked, and as long as its days after (a deleted link whose last
        // clicks arrived after its removal leaves nothing for good).
        let kept_until = (keyhive::model::now() + STATS_RETENTION).unix_timestamp();
        tx.advance_sequence(sequence_key(link_id), SEQUENCE, (from, to), kept_until, Vec::new())?;
        for (date, day) in days {
            let mut counters: Vec<(String, i64)> =
                vec![("clicks".into(), day.clicks), ("bot_clicks".into(), day.bot_clicks)];
            counters.extend(day.referrers.iter().map(|(host, n)| (referrer_attr(host), *n)));
            counters.extend(day.countries.iter().map(|(country, n)| (country_attr(country), *n)));
            tx.add_counters(day_key(link_id, date), &counters, day_expiry(date))?;
        }
        tx.commit_unless_stale().await
    }

    async fn delete_stats(&self, link_id: &LinkId) -> Result<(), StoreError> {
        let items = self.query_partition(schema::stats_pk(link_id.as_str()), SortRange::All).await?;
        for item in items {
            let key: Item = [schema::PK, schema::SK]
                .into_iter()
                .filter_map(|name| Some((name.to_string(), item.get(name)?.clone())))
                .collect();
            self.client().delete_item().table_name(self.table()).set_key(Some(key)).send().await.map_err(classify)?;
        }
        Ok(())
    }
}
