//! Key expiry notices: `key.expiring` 7 days and again 1 day before a key's `expires_at` (each
//! once per key and expiry), and `key.expired` when it lapses. A scheduled job reads the notices
//! due from a sparse index (each key's `EXPIRY` item, written with its expiry under the time its
//! next notice falls due, moved on by each notice, removed once `key.expired` is sent), and
//! writes each notice in one transaction with its audit entry, on the condition that it was not
//! sent yet and the item is still for the expiry it was read with (a new expiry, or the key's
//! revocation, rewrites or removes the item in its own transaction).

use crate::store::expiry_index_keys;
use keyhive::auth::store::key_record;
use keyhive::auth::{KeyId, KeyRecord};
use keyhive::change::{AuditAction, Change, EventType};
use keyhive::model::{random_id, rfc3339};
use keyhive::schema;
use keyhive::store::dynamo::DynamoStore;
use keyhive::store::items::{corrupt, key_of, number_attr, opt_n, Item};
use keyhive::store::query::{Filter, Listing, SortRange};
use keyhive::store::{ChangeError, StoreError};
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// The audit trail's actor for notices.
pub const ACTOR: &str = "key-notices";
const DAY: i64 = 86_400;
/// The first notice, this many days before the expiry.
pub const FIRST_NOTICE_DAYS: i64 = 7;
/// How many days back the job still finds notices not sent (a job that was down that long sends
/// them late; longer, never).
const LOOKBACK_DAYS: i64 = 7;
/// Notices one run sends at most (each two reads and a transaction, within the schedule's 60 s);
/// the rest are due still and go in the next run.
const MAX_NOTICES_PER_RUN: u32 = 500;

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

/// Sends the notices due at `now` (at most `MAX_NOTICES_PER_RUN`); returns how many were sent.
/// One key's failure is logged and left for the next run, never the others' stop.
pub async fn send_due(store: &DynamoStore, now: OffsetDateTime) -> Result<u32, StoreError> {
    let mut sent = 0;
    let mut failures = 0;
    let up_to_now = format!("{}#~", rfc3339(now));
    for offset in -LOOKBACK_DAYS..=0 {
        let date = rfc3339(now + Duration::days(offset)).get(..10).unwrap_or_default().to_string();
        let listing = Listing {
            index: Some(schema::GSI2),
            partition_attr: schema::GSI2PK,
            partition: schema::key_expiry_gsi2pk(&date),
            sort_attr: schema::GSI2SK,
            range: SortRange::UpTo(up_to_now.clone()),
            filter: Filter::default(),
            key_attrs: &[schema::PK, schema::SK, schema::GSI2PK, schema::GSI2SK],
        };
        let mut start = None;
        loop {
            let (found, next) =
                store.list_page_oldest_first(&listing, start.as_ref(), 100).await.map_err(into_store)?;
            for item in &found {
                if sent >= MAX_NOTICES_PER_RUN {
                    return Ok(sent);
                }
                let Some(key_id) = keyhive::store::items::opt_s(item, schema::PK)
                    .and_then(|pk| pk.strip_prefix("KEY#"))
                    .and_then(KeyId::parse)
                else {
                    continue;
                };
                match notify(store, &key_id, now).await {
                    Ok(true) => sent += 1,
                    Ok(false) => {}
                    Err(err) => {
                        failures += 1;
                        tracing::warn!(key_id = %key_id, error = %keyhive::error::source_chain(&err), "key notice not sent; next run tries again");
                    }
                }
            }
            match next {
                Some(position) => start = Some(position),
                None => break,
            }
        }
    }
    if failures > 0 {
        tracing::warn!(failures, sent, "some key notices were not sent");
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
    let (key, notices) = tokio::join!(store.get_consistent(key_item), store.get_consistent(notice_item.clone()));
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
    let notice_write = match notice {
        Notice::Expired => tx.delete_where(notice_item, |d| {
            d.condition_expression("expires_epoch = :seen").expression_attribute_values(":seen", number_attr(seen))
        })?,
        Notice::Day | Notice::Week { .. } => {
            // The next notice's time: the last day's, or the expiry's.
            let (flags, unsent, next_due) = match notice {
                Notice::Day => ("day_sent = :t, week_sent = :t", "attribute_not_exists(day_sent)", seen),
                _ => ("week_sent = :t", "attribute_not_exists(week_sent)", seen - DAY),
            };
            let next_due = OffsetDateTime::from_unix_timestamp(next_due).map_err(|_| corrupt("expires_epoch"))?;
            let [(pk_name, pk), (sk_name, sk)] = expiry_index_keys(key_id, next_due);
            tx.update(notice_item, |u| {
                u.update_expression(format!("SET {flags}, #pk = :pk, #sk = :sk"))
                    .condition_expression(format!("expires_epoch = :seen AND {unsent}"))
                    .expression_attribute_names("#pk", pk_name)
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":pk", pk)
                    .expression_attribute_values(":sk", sk)
                    .expression_attribute_values(":seen", number_attr(seen))
                    .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            })?
        }
    };
    tx.on_condition(notice_write, ChangeError::Stale);
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
