//! A key item's stream record read as one step of the key's use: which key, its sequence number,
//! when, and what it counts. Other changes of a key item (a rename, a roll, a revocation, the
//! clean-up of old rate windows) carry the sequence number of the last use, which is counted
//! already, and so count nothing.

use super::Outcome;
use keyhive::auth::permissions::{Action, Permissions, Resource};
use keyhive::auth::usage::{UseEvent, USE_EVENT, USE_SEQUENCE};
use keyhive::model::{parse_rfc3339, Environment, KeyId, OrgId, Tenant};
use keyhive::schema;
use keyhive::store::items::{opt_n, opt_s, Item};
use time::OffsetDateTime;

/// What one step of a key's use counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    /// One authenticated request for `permission` (`None`: a route any valid key may call).
    Request { permission: Option<(Resource, Action)>, outcome: Outcome },
    /// One instance's refusals of the key in one minute.
    Refused { rate_limited: u32, unauthorized: u32 },
}

/// One step of one key's use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseRecord {
    pub key_id: KeyId,
    /// The key's use sequence number (`u_n`) this step set.
    pub sequence: u64,
    /// When: the request's `last_used_at`, or the start of the refusals' minute.
    pub at: OffsetDateTime,
    pub event: Counted,
    /// The key's organization and environment (its totals are also kept per tenant and day).
    pub tenant: Option<Tenant>,
}

impl UseRecord {
    /// Reads a stream record: a key item's modification, with its new image.
    pub fn from_stream(record: &keyhive::store::stream::StreamRecord) -> Option<UseRecord> {
        UseRecord::from_image(&record.keys, record.new_image.as_ref()?)
    }

    /// Reads a key item's new image. `None` for any other item, and for a key item no use has
    /// written yet.
    pub fn from_image(keys: &Item, image: &Item) -> Option<UseRecord> {
        let pk = opt_s(keys, schema::PK)?;
        if opt_s(keys, schema::SK)? != schema::KEY_SK {
            return None;
        }
        let key_id = KeyId::parse(pk.strip_prefix("KEY#")?)?;
        let sequence = u64::try_from(opt_n(image, USE_SEQUENCE)?).ok()?;
        let (at, event) = match UseEvent::parse(opt_s(image, USE_EVENT)?)? {
            UseEvent::Request { permission } => {
                // Classified with the permissions this very write left on the item: the ones the
                // request was checked against.
                let granted = Permissions::from_compact(opt_s(image, "permissions")?)?;
                let outcome = match permission {
                    Some((resource, action)) if !granted.allows(resource, action) => Outcome::Forbidden,
                    _ => Outcome::Success,
                };
                (parse_rfc3339(opt_s(image, "last_used_at")?)?, Counted::Request { permission, outcome })
            }
            UseEvent::Refused(tally) => (
                OffsetDateTime::from_unix_timestamp(tally.minute.checked_mul(60)?).ok()?,
                Counted::Refused { rate_limited: tally.rate_limited, unauthorized: tally.unauthorized },
            ),
        };
        let tenant = match (
            opt_s(image, "org_id").and_then(OrgId::parse),
            opt_s(image, "environment").and_then(Environment::parse),
        ) {
            (Some(org_id), Some(environment)) => Some(Tenant::new(org_id, environment)),
            _ => None,
        };
        Some(UseRecord { key_id, sequence, at, event, tenant })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhive::auth::usage::Refusals;
    use keyhive::store::items::{key_of, number_attr, string_attr};

    fn image(event: &UseEvent) -> Item {
        Item::from([
            ("permissions".into(), string_attr("shortLinks:read")),
            ("last_used_at".into(), string_attr("2026-12-06T05:41:10Z")),
            (USE_SEQUENCE.into(), number_attr(42)),
            (USE_EVENT.into(), string_attr(event.encode())),
        ])
    }

    #[test]
    fn a_request_is_success_or_forbidden_by_the_permissions_its_write_left() {
        let keys = key_of(schema::key_pk("AbCdEf123456"), schema::KEY_SK);
        let read = UseEvent::Request { permission: Some((Resource::ShortLinks, Action::Read)) };
        let create = UseEvent::Request { permission: Some((Resource::ShortLinks, Action::Create)) };
        let any = UseEvent::Request { permission: None };
        let outcome = |event: &UseEvent| match UseRecord::from_image(&keys, &image(event)).map(|r| r.event) {
            Some(Counted::Request { outcome, .. }) => Some(outcome),
            _ => None,
        };
        assert_eq!(outcome(&read), Some(Outcome::Success));
        assert_eq!(outcome(&create), Some(Outcome::Forbidden));
        assert_eq!(outcome(&any), Some(Outcome::Success));
        let record = UseRecord::from_image(&keys, &image(&read)).unwrap();
        assert_eq!((record.key_id.as_str(), record.sequence), ("AbCdEf123456", 42));
    }

    #[test]
    fn a_refusal_tally_counts_in_its_minute_and_other_items_count_nothing() {
        let keys = key_of(schema::key_pk("AbCdEf123456"), schema::KEY_SK);
        let tally = UseEvent::Refused(Refusals { minute: 29_000_000, rate_limited: 1, unauthorized: 2 });
        let record = UseRecord::from_image(&keys, &image(&tally)).unwrap();
        assert_eq!(record.at.unix_timestamp(), 29_000_000 * 60);
        assert_eq!(record.event, Counted::Refused { rate_limited: 1, unauthorized: 2 });
        let mut unused = image(&tally);
        unused.remove(USE_SEQUENCE);
        assert_eq!(UseRecord::from_image(&keys, &unused), None, "a key no use has written yet");
        assert_eq!(UseRecord::from_image(&key_of(schema::link_pk("lnk_1"), schema::LINK_SK), &image(&tally)), None);
    }
}
