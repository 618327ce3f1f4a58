//! Click statistics. A counted redirect is one write on its slug's item: the link's running
//! totals, and the next step of the link's click sequence (`c_n`) with what the click was
//! (`c_ev`: when, a person or a bot, the referrer host and country). The click aggregator reads
//! those writes from the table's stream and adds them to the link's day items
//! (`STATS#<link_id>`), each click once: the last sequence number counted is kept in the same
//! transaction as the counts. A link's removal from the stream deletes its statistics.

use crate::model::{LinkId, Visitor, MAX_REFERRERS_PER_DAY, OTHER_REFERRER};
use crate::store::items::utc_date;
use crate::store::stats::StatsStore;
use keyhive::schema;
use keyhive::store::items::{opt_n, opt_s, Item};
use keyhive::store::stream::StreamRecord;
use keyhive::store::StoreError;
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// The slug item's click sequence: +1 with each counted redirect.
pub const CLICK_SEQUENCE: &str = "c_n";
/// What the counted redirect that last moved `c_n` was (`ClickEvent`'s stored form).
pub const CLICK_EVENT: &str = "c_ev";
/// A day's statistics are kept this long (the stats route reads at most 366 days back).
pub const STATS_RETENTION: time::Duration = time::Duration::days(400);

/// One counted click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickEvent {
    pub at: OffsetDateTime,
    pub visitor: Visitor,
}

impl ClickEvent {
    /// `<unix seconds> b`, or `<unix seconds> h <country> <referrer host>` (neither holds a
    /// space: `Visitor::of` makes them so).
    pub fn encode(&self) -> String {
        let at = self.at.unix_timestamp();
        match &self.visitor {
            Visitor::Bot => format!("{at} b"),
            Visitor::Human { referrer, country } => format!("{at} h {country} {referrer}"),
        }
    }

    pub fn parse(stored: &str) -> Option<ClickEvent> {
        let mut parts = stored.split(' ');
        let at = OffsetDateTime::from_unix_timestamp(parts.next()?.parse().ok()?).ok()?;
        let visitor = match (parts.next()?, parts.next(), parts.next(), parts.next()) {
            ("b", None, None, None) => Visitor::Bot,
            ("h", Some(country), Some(referrer), None) => {
                Visitor::Human { referrer: referrer.to_string(), country: country.to_string() }
            }
            _ => return None,
        };
        Some(ClickEvent { at, visitor })
    }
}

/// What a stream record tells the click aggregator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsRecord {
    /// One counted click of `link_id`, step `sequence` of its click sequence.
    Click { link_id: LinkId, sequence: u64, event: ClickEvent },
    /// The link was deleted: its statistics go.
    LinkGone(LinkId),
}

impl StatsRecord {
    /// Reads a stream record: a slug item's modification with a click, or a link item's removal.
    /// `None` for anything else (a slug claimed, renamed, reserved).
    pub fn from_stream(record: &StreamRecord) -> Option<StatsRecord> {
        let pk = opt_s(&record.keys, schema::PK)?;
        let sk = opt_s(&record.keys, schema::SK)?;
        if record.event_name == "REMOVE" && sk == schema::LINK_SK {
            return Some(StatsRecord::LinkGone(LinkId::parse(pk.strip_prefix("LINK#")?)?));
        }
        if sk != schema::SLUG_SK || record.event_name != "MODIFY" {
            return None;
        }
        let image: &Item = record.new_image.as_ref()?;
        Some(StatsRecord::Click {
            link_id: LinkId::parse(opt_s(image, "link_id")?)?,
            sequence: u64::try_from(opt_n(image, CLICK_SEQUENCE)?).ok()?,
            event: ClickEvent::parse(opt_s(image, CLICK_EVENT)?)?,
        })
    }
}

/// What a run of clicks adds to one UTC day of a link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayDelta {
    pub clicks: i64,
    pub bot_clicks: i64,
    pub referrers: BTreeMap<String, i64>,
    pub countries: BTreeMap<String, i64>,
}

/// Folds clicks (in sequence order) into day deltas. A referrer host is counted by name while
/// its day has fewer than `MAX_REFERRERS_PER_DAY` named hosts (`named`: those the day has
/// already), and under `OTHER_REFERRER` after.
pub fn fold_days(
    clicks: &[(u64, &ClickEvent)],
    named: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, DayDelta> {
    let mut days: BTreeMap<String, DayDelta> = BTreeMap::new();
    let mut hosts: BTreeMap<String, BTreeSet<String>> = named.clone();
    for (_, event) in clicks {
        let date = utc_date(event.at);
        let day = days.entry(date.clone()).or_default();
        match &event.visitor {
            Visitor::Bot => day.bot_clicks += 1,
            Visitor::Human { referrer, country } => {
                day.clicks += 1;
                let known = hosts.entry(date).or_default();
                let counted_as = if known.contains(referrer) || known.len() < MAX_REFERRERS_PER_DAY {
                    known.insert(referrer.clone());
                    referrer.as_str()
                } else {
                    OTHER_REFERRER
                };
                *day.referrers.entry(counted_as.to_string()).or_default() += 1;
                *day.countries.entry(country.clone()).or_default() += 1;
            }
        }
    }
    days
}

/// Days one transaction adds to at most (with the sequence item: within DynamoDB's 100).
pub const MAX_DAYS_PER_WRITE: usize = 90;

/// Counts a batch of stream records. `None` when all is counted; otherwise the sequence number of
/// the first record of a link whose clicks could not be counted, from which the batch must be
/// delivered again (what was counted stays counted, once).
pub async fn count_batch<S: StatsStore + ?Sized>(store: &S, records: &[StreamRecord]) -> Option<String> {
    let read: Vec<(&StreamRecord, Option<StatsRecord>)> =
        records.iter().map(|r| (r, StatsRecord::from_stream(r))).collect();
    let mut by_link: BTreeMap<&LinkId, Vec<(u64, &ClickEvent)>> = BTreeMap::new();
    let mut gone: BTreeSet<&LinkId> = BTreeSet::new();
    for (_, record) in &read {
        match record {
            Some(StatsRecord::Click { link_id, sequence, event }) => {
                by_link.entry(link_id).or_default().push((*sequence, event))
            }
            Some(StatsRecord::LinkGone(link_id)) => {
                gone.insert(link_id);
            }
            None => {}
        }
    }
    let mut failed: BTreeSet<LinkId> = BTreeSet::new();
    for (link_id, mut clicks) in by_link {
        clicks.sort_by_key(|(sequence, _)| *sequence);
        if let Err(err) = count_link(store, link_id, &clicks).await {
            tracing::warn!(link_id = link_id.as_str(), error = %keyhive::error::source_chain(&err), "clicks not counted; delivered again");
            failed.insert(link_id.clone());
        }
    }
    // After the clicks: a deleted link's last clicks in this batch go with it.
    for link_id in gone {
        if let Err(err) = store.delete_stats(link_id).await {
            tracing::warn!(link_id = link_id.as_str(), error = %keyhive::error::source_chain(&err), "statistics not deleted; delivered again");
            failed.insert(link_id.clone());
        }
    }
    read.iter()
        .find(|(_, record)| match record {
            Some(StatsRecord::Click { link_id, .. } | StatsRecord::LinkGone(link_id)) => failed.contains(link_id),
            None => false,
        })
        .map(|(r, _)| r.sequence_number.clone())
}

/// Counts one link's clicks past its counted sequence, `MAX_DAYS_PER_WRITE` days at a time;
/// reads the counted sequence again when another run moved it.
async fn count_link<S: StatsStore + ?Sized>(
    store: &S,
    link_id: &LinkId,
    clicks: &[(u64, &ClickEvent)],
) -> Result<(), StoreError> {
    let mut attempts = 0;
    'read: loop {
        let mut counted = store.counted_clicks(link_id).await?;
        let fresh: Vec<(u64, &ClickEvent)> = clicks.iter().copied().filter(|(n, _)| *n > counted).collect();
        // Runs of clicks whose days fit one transaction, in order.
        let mut runs: Vec<Vec<(u64, &ClickEvent)>> = vec![Vec::new()];
        let mut days_of_run: BTreeSet<String> = BTreeSet::new();
        for click in fresh {
            let date = utc_date(click.1.at);
            if !days_of_run.contains(&date) && days_of_run.len() == MAX_DAYS_PER_WRITE {
                runs.push(Vec::new());
                days_of_run.clear();
            }
            days_of_run.insert(date);
            if let Some(run) = runs.last_mut() {
                run.push(click);
            }
        }
        for run in runs.into_iter().filter(|r| !r.is_empty()) {
            let dates: BTreeSet<String> = run.iter().map(|(_, e)| utc_date(e.at)).collect();
            let mut named = BTreeMap::new();
            for date in dates {
                let hosts = store.named_referrers(link_id, &date).await?;
                named.insert(date, hosts);
            }
            let days = fold_days(&run, &named);
            let last = run.last().map_or(counted, |(n, _)| *n);
            if !store.add_clicks(link_id, counted, last, &days).await? {
                attempts += 1;
                if attempts >= 5 {
                    return Err(StoreError::Other("the counted click sequence kept moving".into()));
                }
                continue 'read;
            }
            counted = last;
        }
        return Ok(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhive::store::items::{key_of, number_attr, string_attr};
    use time::macros::datetime;

    fn human(referrer: &str) -> Visitor {
        Visitor::Human { referrer: referrer.into(), country: "DE".into() }
    }

    #[test]
    fn click_events_round_trip_their_stored_form() {
        let at = datetime!(2026-12-06 05:41:10 UTC);
        for visitor in [Visitor::Bot, human("news.example"), human("(direct)")] {
            let event = ClickEvent { at, visitor };
            assert_eq!(ClickEvent::parse(&event.encode()), Some(event.clone()), "{}", event.encode());
        }
        for bad in ["", "x b", "1 b extra", "1 h DE", "1 q", "1 h DE a b"] {
            assert_eq!(ClickEvent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_slug_modification_is_a_click_and_a_link_removal_is_its_end() {
        let event = ClickEvent { at: datetime!(2026-12-06 05:41:10 UTC), visitor: Visitor::Bot };
        let record = StreamRecord {
            sequence_number: "1".into(),
            event_name: "MODIFY".into(),
            keys: key_of(schema::slug_pk("@", "promo"), schema::SLUG_SK),
            new_image: Some(Item::from([
                ("link_id".into(), string_attr("lnk_abc")),
                (CLICK_SEQUENCE.into(), number_attr(9)),
                (CLICK_EVENT.into(), string_attr(event.encode())),
            ])),
        };
        let link_id = LinkId::parse("lnk_abc").unwrap();
        assert_eq!(
            StatsRecord::from_stream(&record),
            Some(StatsRecord::Click { link_id: link_id.clone(), sequence: 9, event })
        );
        let reserved = StreamRecord { new_image: Some(Item::new()), ..record.clone() };
        assert_eq!(StatsRecord::from_stream(&reserved), None, "a reservation counts nothing");
        let removed = StreamRecord {
            event_name: "REMOVE".into(),
            keys: key_of(schema::link_pk("lnk_abc"), schema::LINK_SK),
            new_image: None,
            ..record
        };
        assert_eq!(StatsRecord::from_stream(&removed), Some(StatsRecord::LinkGone(link_id)));
    }

    #[test]
    fn a_days_named_referrers_are_bounded_and_the_rest_count_as_other() {
        let at = datetime!(2026-12-06 05:41:10 UTC);
        let events: Vec<ClickEvent> = (0..MAX_REFERRERS_PER_DAY + 10)
            .map(|n| ClickEvent { at, visitor: human(&format!("h{n}.example")) })
            .collect();
        let clicks: Vec<(u64, &ClickEvent)> = events.iter().enumerate().map(|(n, e)| (n as u64 + 1, e)).collect();
        let mut named = BTreeMap::new();
        named.insert("2026-12-06".to_string(), BTreeSet::from(["h3.example".to_string(), "old.example".to_string()]));
        let days = fold_days(&clicks, &named);
        let day = &days["2026-12-06"];
        assert_eq!(day.clicks, (MAX_REFERRERS_PER_DAY + 10) as i64);
        let by_name = day.referrers.keys().filter(|h| *h != OTHER_REFERRER).count();
        assert_eq!(by_name + 1, MAX_REFERRERS_PER_DAY, "old.example holds one of the day's names");
        assert_eq!(day.referrers[OTHER_REFERRER], 11);
        assert_eq!(day.countries["DE"], (MAX_REFERRERS_PER_DAY + 10) as i64);
    }
}
