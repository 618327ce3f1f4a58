//! Key expiry notices: `key.expiring` 7 days and again 1 day before a key's `expires_at` (each
//! once per key and expiry), and `key.expired` when it lapses. A scheduled job reads the keys by
//! expiry day from a sparse index (each key's `EXPIRY` item, written with its expiry, removed once
//! `key.expired` is sent), and writes each notice in one transaction with its audit entry, on the
//! condition that it was not sent yet and the key's expiry is still the one it was sent for.

use keyhive::auth::store::key_record;
use keyhive::auth::{KeyId, KeyRecord};
use keyhive::change::{AuditAction, Change, EventType};
use keyhive::model::{random_id, rfc3339};
use keyhive::schema;
use keyhive::store::dynamo::DynamoStore;
use keyhive::store::items::{key_of, number_attr, opt_n, Item};
use keyhive::store::query::{Filter, Listing, SortRange};
use keyhive::store::{ChangeError, StoreError};
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// The audit trail's actor for notices.
pub const ACTOR: &str = "key-notices";
const DAY: i64 = 86_400;
/// The first notice, this many days before the expiry.
pub const FIRST_NOTICE_DAYS: i64 = 7;
/// How many days back the job still finds keys whose `key.expired` was not sent (a job that was
/// down that long sends it late; longer, never).
const LOOKBACK_DAYS: i64 = 7;

/// A notice due for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// `key.expiring`, the 7-day notice (sent at once, with the days actually left, for a key
    /// given an expiry less than 7 days ahead).
    Week { days_left: i64 },
    /// `key.expiring`, the last day.
    Day,
    /// `key.expired`.
    Expired,
}

/// What was sent for a key's current expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub expires_epoch: i64,
    pub week: bool,
    pub day: bool,
}

/// The notice due at `now` for a key with `sent` (pure: the job's whole decision).
pub fn due(sent: Sent, now: i64) -> Option<Notice> {
    let left = sent.expires_epoch - now;
    if left <= 0 {
        Some(Notice::Expired)
    } else if left <= DAY {
        (!sent.day).then_some(Notice::Day)
    } else if left <= FIRST_NOTICE_DAYS * DAY {
        (!sent.week).then_some(Notice::Week { days_left: (left + DAY - 1) / DAY })
    } else {
        None
    }
}

fn sent_of(item: &Item) -> Option<Sent> {
    Some(Sent {
        expires_epoch: opt_n(item, "expires_epoch")?,
        week: item.contains_key("week_sent"),
        day: item.contains_key("day_sent"),
    })
}

/// Sends every notice due at `now`; returns how many were sent.
pub async fn send_due(store: &DynamoStore, now: OffsetDateTime) -> Result<u32, StoreError> {
    let mut sent = 0;
    // The keys expiring within 7 days are in these days' partitions, up to the sort key of the
    // last second of the 7 days; the past days hold those whose `key.expired` is still due.
    let horizon = format!("{}#~", rfc3339(now + Duration::days(FIRST_NOTICE_DAYS)));
    for offset in -LOOKBACK_DAYS..=FIRST_NOTICE_DAYS {
        let date = rfc3339(now + Duration::days(offset)).get(..10).unwrap_or_default().to_string();
        let listing = Listing {
            index: Some(schema::GSI2),
            partition_attr: schema::GSI2PK,
            partition: schema::key_expiry_gsi2pk(&date),
            sort_attr: schema::GSI2SK,
            range: SortRange::UpTo(horizon.clone()),
            filter: Filter::default(),
            key_attrs: &[schema::PK, schema::SK, schema::GSI2PK, schema::GSI2SK],
        };
        let mut start = None;
        loop {
            let (found, next) =
                store.list_page_oldest_first(&listing, start.as_ref(), 100).await.map_err(into_store)?;
            for item in &found {
                let key_id = keyhive::store::items::get_s(item, schema::PK)?
                    .strip_prefix("KEY#")
                    .and_then(KeyId::parse)
                    .ok_or_else(|| keyhive::store::items::corrupt(schema::PK))?;
                if notify(store, &key_id, now).await? {
                    sent += 1;
                }
            }
            match next {
                Some(position) => start = Some(position),
                None => break,
            }
        }
    }
    Ok(sent)
}

fn into_store(err: ChangeError) -> StoreError {
    match err {
        ChangeError::Store(err) => err,
        other => StoreError::Other(other.to_string().into()),
    }
}

/// Sends the notice due for one key, if any: `true` when one was written.
pub async fn notify(store: &DynamoStore, key_id: &KeyId, now: OffsetDateTime) -> Result<bool, StoreError> {
    let key_item = key_of(schema::key_pk(key_id.as_str()), schema::KEY_SK);
    let notice_item = key_of(schema::key_pk(key_id.as_str()), schema::KEY_EXPIRY_SK);
    let (key, notices) =
        tokio::join!(store.get_consistent(key_item.clone()), store.get_consistent(notice_item.clone()));
    let (Some(key), Some(sent)) = (key?, notices?.as_ref().and_then(sent_of)) else { return Ok(false) };
    let key = key_record(&key)?;
    // Revoked, or its expiry changed since the notice item was written (its own transaction
    // wrote the new one): nothing of this item is due.
    if key.revoked_at.is_some() || key.expires_at.map(OffsetDateTime::unix_timestamp) != Some(sent.expires_epoch) {
        return Ok(false);
    }
    let Some(notice) = due(sent, now.unix_timestamp()) else { return Ok(false) };
    let seen = sent.expires_epoch;
    let mut tx = store.transaction();
    let key_check = tx.check_where(key_item, |c| {
        c.condition_expression("attribute_not_exists(revoked_at) AND expires_epoch = :seen")
            .expression_attribute_values(":seen", number_attr(seen))
    })?;
    let notice_write = match notice {
        Notice::Expired => tx.delete_where(notice_item, |d| {
            d.condition_expression("expires_epoch = :seen").expression_attribute_values(":seen", number_attr(seen))
        })?,
        Notice::Day | Notice::Week { .. } => {
            let flags = match notice {
                Notice::Day => "SET day_sent = :t, week_sent = :t",
                _ => "SET week_sent = :t",
            };
            let unsent = match notice {
                Notice::Day => "attribute_not_exists(day_sent)",
                _ => "attribute_not_exists(week_sent)",
            };
            tx.update(notice_item, |u| {
                u.update_expression(flags)
                    .condition_expression(format!("expires_epoch = :seen AND {unsent}"))
                    .expression_attribute_values(":seen", number_attr(seen))
                    .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            })?
        }
    };
    tx.on_condition(key_check, ChangeError::Stale).on_condition(notice_write, ChangeError::Stale);
    tx.log(&notice_log(&key, notice, now))?;
    match tx.commit().await {
        Ok(()) => Ok(true),
        // Sent meanwhile by another run, or the key changed: nothing more to do for it now.
        Err(ChangeError::Stale) => Ok(false),
        Err(ChangeError::Store(err)) => Err(err),
        Err(other) => Err(StoreError::Other(other.to_string().into())),
    }
}

/// The notice's event and audit entry, by the notices job.
fn notice_log(key: &KeyRecord, notice: Notice, now: OffsetDateTime) -> keyhive::change::ChangeLog {
    let by = Change::system(key.org_id.clone(), key.environment, &random_id("notice", 16), now).acting_as(ACTOR);
    let mut data = json!({
        "id": key.key_id.as_str(),
        "name": key.name,
        "environment": key.environment.as_str(),
        "expires_at": key.expires_at.map(rfc3339),
    });
    let (event_type, action) = match notice {
        Notice::Expired => (EventType::KeyExpired, AuditAction::KeyExpired),
        Notice::Day => {
            data["days_left"] = json!(1);
            (EventType::KeyExpiring, AuditAction::KeyExpiring)
        }
        Notice::Week { days_left } => {
            data["days_left"] = json!(days_left);
            (EventType::KeyExpiring, AuditAction::KeyExpiring)
        }
    };
    by.log(key.environment, action, key.key_id.as_str(), Some(by.event(key.environment, event_type, data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(expires_epoch: i64, week: bool, day: bool) -> Sent {
        Sent { expires_epoch, week, day }
    }

    #[test]
    fn each_notice_falls_due_once_in_its_window() {
        let expires = 100 * DAY;
        assert_eq!(due(sent(expires, false, false), expires - 8 * DAY), None);
        assert_eq!(due(sent(expires, false, false), expires - 7 * DAY), Some(Notice::Week { days_left: 7 }));
        assert_eq!(due(sent(expires, false, false), expires - 7 * DAY + 1), Some(Notice::Week { days_left: 7 }));
        assert_eq!(due(sent(expires, true, false), expires - 3 * DAY), None);
        assert_eq!(due(sent(expires, true, false), expires - DAY), Some(Notice::Day));
        assert_eq!(due(sent(expires, true, true), expires - 60), None);
        assert_eq!(due(sent(expires, true, true), expires), Some(Notice::Expired));
    }

    #[test]
    fn a_short_expiry_skips_to_the_notice_its_time_left_calls_for() {
        let expires = 100 * DAY;
        // Given 3 days: the first notice says 3 days.
        assert_eq!(due(sent(expires, false, false), expires - 3 * DAY + 5), Some(Notice::Week { days_left: 3 }));
        // Given 12 hours: the last-day notice, which also stands for the first.
        assert_eq!(due(sent(expires, false, false), expires - DAY / 2), Some(Notice::Day));
        // Already past (the job was down): expired, without the others.
        assert_eq!(due(sent(expires, false, false), expires + 10), Some(Notice::Expired));
    }
}
