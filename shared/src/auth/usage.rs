//! What authentication leaves for the usage aggregator, which reads it from the table's stream:
//! every counted request bumps the key item's use sequence (`u_n`) and names what it was for
//! (`u_ev`) in the same one write, so one stream record is one request, numbered. Refusals
//! (429, and 401 for a known key id) fail their conditional write and leave no record: an
//! instance tallies them and writes each key's tally at most once a minute, on a later request.

use crate::auth::permissions::{permission_name, Action, Resource};
use crate::model::{KeyId, OrgId};
use std::collections::HashMap;
use std::sync::Mutex;

/// The key item's use sequence: +1 for each counted request and each refusal flush.
pub const USE_SEQUENCE: &str = "u_n";
/// What the write that last moved `u_n` recorded (`UseEvent`'s stored form).
pub const USE_EVENT: &str = "u_ev";

/// One step of a key's use sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UseEvent {
    /// One authenticated request, and the permission its route requires (`None`: any valid key).
    Request { permission: Option<(Resource, Action)> },
    /// Refusals one instance saw for the key in one UTC minute (`minute`: unix minutes).
    Refused(Refusals),
}

impl UseEvent {
    /// The stored form: `r`, `r shortLinks:create`, or `x <minute> <rate_limited> <unauthorized>`.
    pub fn encode(&self) -> String {
        match self {
            UseEvent::Request { permission: None } => "r".to_string(),
            UseEvent::Request { permission: Some((resource, action)) } => {
                format!("r {}", permission_name(*resource, *action))
            }
            UseEvent::Refused(r) => format!("x {} {} {}", r.minute, r.rate_limited, r.unauthorized),
        }
    }

    pub fn parse(stored: &str) -> Option<UseEvent> {
        let mut parts = stored.split(' ');
        match (parts.next()?, parts.next(), parts.next(), parts.next(), parts.next()) {
            ("r", None, ..) => Some(UseEvent::Request { permission: None }),
            ("r", Some(permission), None, ..) => {
                let (resource, action) = permission.split_once(':')?;
                Some(UseEvent::Request { permission: Some((Resource::parse(resource)?, Action::parse(action)?)) })
            }
            ("x", Some(minute), Some(rate_limited), Some(unauthorized), None) => Some(UseEvent::Refused(Refusals {
                minute: minute.parse().ok()?,
                rate_limited: rate_limited.parse().ok()?,
                unauthorized: unauthorized.parse().ok()?,
            })),
            _ => None,
        }
    }
}

/// Refusals of one key in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    pub minute: i64,
    pub rate_limited: u32,
    pub unauthorized: u32,
}

/// Why a known key's request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    RateLimited,
    Unauthorized,
}

/// The refusals this instance has seen and not yet written, by key (and the key's organization).
/// Bounded: past `MAX_TALLIED_KEYS` keys in all, or `MAX_TALLIED_KEYS_PER_ORG` of one
/// organization, a new key's refusals are not counted (best effort, as the contract says), so
/// that spraying key ids grows neither memory nor writes, and one organization's keys cannot
/// crowd out another's.
#[derive(Debug, Default)]
pub struct RefusalTally {
    pending: Mutex<HashMap<KeyId, (OrgId, Refusals)>>,
}

/// Keys one instance tallies at once.
pub const MAX_TALLIED_KEYS: usize = 1000;
/// Keys of one organization one instance tallies at once.
pub const MAX_TALLIED_KEYS_PER_ORG: usize = 50;
/// Tallies written by one request, at most (the rest wait for the next ones).
pub const MAX_FLUSHES_PER_REQUEST: usize = 8;

impl RefusalTally {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<KeyId, (OrgId, Refusals)>> {
        // A panic while holding the lock left plain counters behind: still usable.
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one refusal of `key_id` in `minute` (under the tally's own minute when one is
    /// pending: a tally is written whole, once).
    pub fn count(&self, key_id: &KeyId, org_id: &OrgId, refusal: Refusal, minute: i64) {
        let mut pending = self.pending();
        if !pending.contains_key(key_id)
            && (pending.len() >= MAX_TALLIED_KEYS
                || pending.values().filter(|(org, _)| org == org_id).count() >= MAX_TALLIED_KEYS_PER_ORG)
        {
            return;
        }
        let (_, tally) =
            pending.entry(key_id.clone()).or_insert((org_id.clone(), Refusals { minute, ..Refusals::default() }));
        match refusal {
            Refusal::RateLimited => tally.rate_limited = tally.rate_limited.saturating_add(1),
            Refusal::Unauthorized => tally.unauthorized = tally.unauthorized.saturating_add(1),
        }
    }

    /// Takes the tallies of minutes before `minute` (a key's tally is written once its minute is
    /// over, so at most one write per key and minute), up to `MAX_FLUSHES_PER_REQUEST`.
    pub fn take_due(&self, minute: i64) -> Vec<(KeyId, Refusals)> {
        let mut pending = self.pending();
        let due: Vec<KeyId> = pending
            .iter()
            .filter(|(_, (_, tally))| tally.minute < minute)
            .map(|(key_id, _)| key_id.clone())
            .take(MAX_FLUSHES_PER_REQUEST)
            .collect();
        due.into_iter().filter_map(|key_id| pending.remove(&key_id).map(|(_, tally)| (key_id, tally))).collect()
    }

    /// Keys with a tally not yet written.
    pub fn len(&self) -> usize {
        self.pending().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> KeyId {
        KeyId::parse(&format!("{n:0>12}")).unwrap()
    }

    fn org(n: usize) -> OrgId {
        OrgId::parse(&format!("org_{n:0>20}")).unwrap()
    }

    #[test]
    fn every_use_event_round_trips_its_stored_form() {
        let events = [
            UseEvent::Request { permission: None },
            UseEvent::Request { permission: Some((Resource::ShortLinks, Action::Create)) },
            UseEvent::Refused(Refusals { minute: 29_000_000, rate_limited: 3, unauthorized: 0 }),
        ];
        for event in events {
            assert_eq!(UseEvent::parse(&event.encode()), Some(event.clone()), "{}", event.encode());
        }
        assert_eq!(
            UseEvent::Request { permission: Some((Resource::ApiKeys, Action::Read)) }.encode(),
            "r apiKeys:read"
        );
        for bad in ["", "r nope:read", "r apiKeys", "x 1 2", "x a 1 2", "x 1 2 3 4", "q"] {
            assert_eq!(UseEvent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_minute_of_refusals_is_one_tally_written_once_the_minute_is_over() {
        let tally = RefusalTally::default();
        for n in 0..1000 {
            tally.count(&key(1), &org(1), if n % 4 == 0 { Refusal::RateLimited } else { Refusal::Unauthorized }, 100);
        }
        assert!(tally.take_due(100).is_empty(), "not while its minute runs");
        assert_eq!(tally.take_due(101), vec![(key(1), Refusals { minute: 100, rate_limited: 250, unauthorized: 750 })]);
        assert!(tally.take_due(102).is_empty(), "written once");
    }

    #[test]
    fn the_tally_is_bounded_in_keys_per_organization_in_all_and_in_writes_per_request() {
        let tally = RefusalTally::default();
        // One organization's keys fill its share only: another's refusals still count.
        for n in 0..MAX_TALLIED_KEYS {
            tally.count(&key(n), &org(0), Refusal::Unauthorized, 7);
        }
        assert_eq!(tally.len(), MAX_TALLIED_KEYS_PER_ORG);
        tally.count(&key(5000), &org(1), Refusal::Unauthorized, 7);
        assert_eq!(tally.len(), MAX_TALLIED_KEYS_PER_ORG + 1);
        for n in 0..MAX_TALLIED_KEYS + 50 {
            tally.count(&key(10_000 + n), &org(2 + n / MAX_TALLIED_KEYS_PER_ORG), Refusal::Unauthorized, 7);
        }
        assert_eq!(tally.len(), MAX_TALLIED_KEYS);
        assert_eq!(tally.take_due(8).len(), MAX_FLUSHES_PER_REQUEST);
        assert_eq!(tally.len(), MAX_TALLIED_KEYS - MAX_FLUSHES_PER_REQUEST);
    }
}
