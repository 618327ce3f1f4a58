//! The usage routes' answers, from the buckets: a key's series over a span (zero-filled), an
//! organization's keys by use, and a key's access report (what it was granted, what it used).

use super::store::UsageStore;
use super::{every_permission, BucketDelta, Counts, Granularity, PermissionCounts, PermissionName};
use futures_util::StreamExt;
use keyhive::auth::permissions::{permission_name, Permissions};
use keyhive::auth::KeyRecord;
use keyhive::model::{rfc3339, KeyId, Tenant};
use keyhive::ApiError;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// A span of time in buckets of one granularity: the buckets from the one holding `from` to the
/// one holding `to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub granularity: Granularity,
}

/// How far back a key's access report looks for use.
pub const ACCESS_WINDOW: Duration = Duration::days(90);

impl Span {
    /// Checks a span as asked (`from`, `to`, `granularity`, each optional): by default the last
    /// 24 hours by hour; `from` after `to`, or a span longer than the granularity allows, is a
    /// 400 on `from`.
    pub fn new(
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
        granularity: Option<Granularity>,
        now: OffsetDateTime,
    ) -> Result<Span, ApiError> {
        let granularity = granularity.unwrap_or(Granularity::Hour);
        // Usage is kept 400 days at most; a year far away is a mistake, and keeps the span's
        // arithmetic clear of the calendar's end.
        let in_range = |field: &str, at: OffsetDateTime| {
            if (2000..=9000).contains(&at.year()) {
                Ok(at)
            } else {
                Err(ApiError::validation(field, "must be a time of the years 2000 to 9000"))
            }
        };
        let to = in_range("to", to.unwrap_or(now))?;
        let from = in_range("from", from.unwrap_or(to - Duration::DAY))?;
        if from > to {
            return Err(ApiError::validation("from", "must not be after to"));
        }
        if to - from > granularity.max_span() {
            let most = match granularity {
                Granularity::Minute => "24 hours",
                Granularity::Hour => "31 days",
                Granularity::Day => "400 days",
            };
            return Err(ApiError::validation(
                "from",
                format!("must be at most {most} before to with granularity {}", granularity.name()),
            ));
        }
        Ok(Span { from, to, granularity })
    }

    /// The start of every bucket of the span, ascending.
    pub fn starts(&self) -> Vec<OffsetDateTime> {
        let mut starts = Vec::new();
        let mut start = self.granularity.floor(self.from);
        while start <= self.to {
            starts.push(start);
            start += self.granularity.step();
        }
        starts
    }

    pub fn first(&self) -> OffsetDateTime {
        self.granularity.floor(self.from)
    }

    pub fn last(&self) -> OffsetDateTime {
        self.granularity.floor(self.to)
    }
}

fn sum(buckets: &[(OffsetDateTime, BucketDelta)]) -> (Counts, BTreeMap<PermissionName, PermissionCounts>) {
    let mut totals = Counts::default();
    let mut by_permission: BTreeMap<PermissionName, PermissionCounts> = BTreeMap::new();
    for (_, bucket) in buckets {
        totals.add(&bucket.counts);
        for (permission, counts) in &bucket.by_permission {
            let total = by_permission.entry(permission.clone()).or_default();
            total.success += counts.success;
            total.forbidden += counts.forbidden;
        }
    }
    (totals, by_permission)
}

/// `GET /v1/keys/{id}/usage`: the key's totals, series and per-permission counts over `span`.
pub async fn key_usage<S: UsageStore + ?Sized>(store: &S, key: &KeyRecord, span: Span) -> Result<Value, ApiError> {
    let buckets = store.buckets(&key.key_id, span.granularity, span.first(), span.last()).await?;
    let (totals, by_permission) = sum(&buckets);
    let stored: BTreeMap<OffsetDateTime, &BucketDelta> = buckets.iter().map(|(start, b)| (*start, b)).collect();
    let series: Vec<Value> = span
        .starts()
        .into_iter()
        .map(|start| {
            let counts = stored.get(&start).map(|b| b.counts).unwrap_or_default();
            let mut entry = counts.to_json();
            entry["start"] = json!(rfc3339(start));
            entry
        })
        .collect();
    Ok(json!({
        "key_id": key.key_id.as_str(),
        "from": rfc3339(span.first()),
        "to": rfc3339(span.to),
        "granularity": span.granularity.name(),
        "totals": totals.to_json(),
        "series": series,
        "by_permission": by_permission
            .iter()
            .map(|(permission, c)| json!({"permission": permission, "success": c.success, "forbidden": c.forbidden}))
            .collect::<Vec<_>>(),
        "last_used_at": key.last_used_at.map(rfc3339),
    }))
}

/// `GET /v1/usage`: each key's totals over the UTC days holding `from` to `to` (whole days),
/// most used first (then by key id). Read from the tenant's day totals: one query a day, whatever
/// the number of keys.
pub async fn keys_by_use<S: UsageStore + ?Sized>(
    store: &S,
    tenant: &Tenant,
    keys: Vec<KeyRecord>,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Vec<(KeyRecord, Counts)>, ApiError> {
    let span = Span { from, to, granularity: Granularity::Day };
    let reads = span.starts().into_iter().map(|day| store.tenant_day(tenant, day));
    let days: Vec<Vec<(KeyId, Counts)>> = futures_util::stream::iter(reads)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let mut totals: BTreeMap<KeyId, Counts> = BTreeMap::new();
    for (key_id, counts) in days.into_iter().flatten() {
        totals.entry(key_id).or_default().add(&counts);
    }
    let mut found: Vec<(KeyRecord, Counts)> = keys
        .into_iter()
        .map(|key| {
            let counts = totals.get(&key.key_id).copied().unwrap_or_default();
            (key, counts)
        })
        .collect();
    found.sort_by(|(a, ca), (b, cb)| cb.total().cmp(&ca.total()).then_with(|| a.key_id.cmp(&b.key_id)));
    Ok(found)
}

/// `GET /v1/keys/{id}/access`: every permission the key holds, and every one it was refused, with
/// its last use and its denials since `since` (the last 90 days, or since the key was created);
/// the granted ones unused since then; and the key's permissions reduced to those it used.
pub async fn access_report<S: UsageStore + ?Sized>(
    store: &S,
    key: &KeyRecord,
    now: OffsetDateTime,
) -> Result<Value, ApiError> {
    let since = key.created_at.max(now - ACCESS_WINDOW);
    let last_uses = store.last_uses(&key.key_id).await?;
    let days = store
        .buckets(&key.key_id, Granularity::Day, Granularity::Day.floor(since), Granularity::Day.floor(now))
        .await?;
    let (_, counted) = sum(&days);
    let mut permissions = Vec::new();
    let mut unused = Vec::new();
    let mut used = Vec::new();
    for (resource, action) in every_permission() {
        let name = permission_name(resource, action);
        let granted = key.permissions.allows(resource, action);
        let last_used = last_uses.get(&name).copied();
        let counts = counted.get(&name).copied().unwrap_or_default();
        if !granted && counts.forbidden == 0 {
            continue;
        }
        let used_since = last_used.is_some_and(|at| at >= since) || counts.success > 0;
        if granted && used_since {
            used.push(name.clone());
        } else if granted {
            unused.push(name.clone());
        }
        permissions.push(json!({
            "permission": name,
            "granted": granted,
            "last_used_at": last_used.map(rfc3339),
            "denied_count": counts.forbidden,
        }));
    }
    let suggested = Permissions::from_compact(&used.join(",")).unwrap_or_default();
    Ok(json!({
        "key_id": key.key_id.as_str(),
        "since": rfc3339(since),
        "permissions": permissions,
        "unused": unused,
        "suggested_permissions": suggested.to_json(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_span_defaults_to_the_last_day_by_hour_and_is_bounded_per_granularity() {
        let now = datetime!(2026-12-06 05:41:10 UTC);
        let span = Span::new(None, None, None, now).unwrap();
        assert_eq!((span.from, span.to, span.granularity), (now - Duration::DAY, now, Granularity::Hour));
        assert_eq!(span.starts().len(), 25, "the hour holding from, to the hour holding to");
        assert_eq!(span.starts()[0], datetime!(2026-12-05 05:00:00 UTC));
        let minute = Span::new(Some(now - Duration::MINUTE * 10), None, Some(Granularity::Minute), now).unwrap();
        assert_eq!(minute.starts().len(), 11);
        let err = |r: Result<Span, ApiError>| match r {
            Err(ApiError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(err(Span::new(Some(now), Some(now - Duration::SECOND), None, now)), "from");
        assert_eq!(err(Span::new(Some(now - Duration::DAY * 2), None, Some(Granularity::Minute), now)), "from");
        assert_eq!(err(Span::new(Some(now - Duration::DAY * 32), None, Some(Granularity::Hour), now)), "from");
        assert_eq!(err(Span::new(Some(now - Duration::DAY * 401), None, Some(Granularity::Day), now)), "from");
        assert!(Span::new(Some(now - Duration::DAY * 400), None, Some(Granularity::Day), now).is_ok());
        let far = time::macros::datetime!(9999-12-31 23:59:00 UTC);
        assert_eq!(err(Span::new(None, Some(far), Some(Granularity::Day), now)), "to");
        assert_eq!(
            err(Span::new(Some(time::macros::datetime!(1999-12-31 00:00:00 UTC)), None, Some(Granularity::Day), now)),
            "from"
        );
    }
}
