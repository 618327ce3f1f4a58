//! Short links against DynamoDB Local through the real SDK: clicks exact under 1000 concurrent
//! redirects (one write each, under 1 KB whatever visitors send), day statistics counted from the
//! table's stream once, a day's referrers bounded, statistics gone with their link, slugs unique per domain across tenants (and reserved
//! for their tenant for 90 days after a delete), the link counter and its ceiling, domains
//! claimed once, used only when verified, within their ceiling and refused with one message
//! whatever the reason, and each change's audit entry and event in its own transaction.

use keyhive::auth::{Environment, Identity};
use keyhive::change::Change;
use keyhive::config::Limits;
use keyhive::model::{now, Tenant};
use keyhive::schema;
use keyhive::testkit::{identity_of, new_org, stack_api};
use keyhive::{ApiError, ApiState};
use links::model::{
    Destination, Hostname, Slug, Title, Visit, Visitor, MAX_REFERRERS_PER_DAY, OTHER_REFERRER, SLUG_RESERVATION,
};
use links::rules::{self, LinkPatch, NewLink};
use links::store::LinkStore;
use std::sync::Arc;
use time::Duration;

async fn tenant(api: &ApiState, environment: Environment) -> Identity {
    let (_, admin) = new_org(api, Environment::Live).await;
    let mut identity = identity_of(&admin);
    identity.environment = environment;
    identity
}

/// The organization and environment `identity` acts in.
fn tenant_of(identity: &Identity) -> Tenant {
    Tenant::new(identity.org_id.clone(), identity.environment)
}

/// A slug as a redirect's path names it.
fn as_slug(text: &str) -> Slug {
    Slug::parse(text).unwrap()
}

fn change(identity: &Identity) -> Change {
    Change::by(identity, "req_links_test", now())
}

/// A change made at `at` (the rules take their clock from the change).
fn change_at(identity: &Identity, at: time::OffsetDateTime) -> Change {
    Change::by(identity, "req_links_test", at)
}

/// The deployed ceilings, for the tests that are not about them.
fn max_links() -> u32 {
    Limits::default().links
}
fn max_domains() -> u32 {
    Limits::default().domains
}

fn new_link(destination: &str, slug: Option<&str>) -> NewLink {
    NewLink {
        destination: Destination::parse(destination).unwrap(),
        slug: slug.map(|s| Slug::parse(s).unwrap()),
        domain: None,
        title: None,
        preview: None,
        expires_at: None,
    }
}

fn unique_slug(tag: &str) -> String {
    format!("{tag}-{}", keyhive::model::random_id("s", 10).split_off(2))
}

fn human(referrer: &str) -> Visitor {
    Visitor::Human { referrer: referrer.into(), country: "DE".into() }
}

use crate::count_clicks_of;

#[tokio::test]
async fn a_thousand_concurrent_redirects_count_a_thousand_clicks() {
    let api = Arc::new(stack_api().await);
    let owner = tenant(&api, Environment::Live).await;
    let slug = unique_slug("busy");
    let link =
        rules::create_link(&api.store, &change(&owner), new_link("https://example.com/a", Some(&slug)), "https://k")
            .await
            .unwrap();
    // All 1000 at once, each one write on the slug's item, through a gate of 100 in flight: DynamoDB Local on a shared 2-core machine serialises writes
    // to one item, and more would only test its queue (a cold one timed out with 1000).
    let gate = Arc::new(tokio::sync::Semaphore::new(100));
    let redirects = |count: usize, visitor: Visitor| {
        (0..count)
            .map(|_| {
                let (api, slug, visitor, gate) = (api.clone(), slug.clone(), visitor.clone(), gate.clone());
                tokio::spawn(async move {
                    let _permit = gate.acquire().await;
                    rules::redirect(&api.store, None, &as_slug(&slug), Some(&visitor), now()).await
                })
            })
            .collect::<Vec<_>>()
    };
    for task in redirects(1000, human("news.example")) {
        assert_eq!(task.await.unwrap().unwrap().destination.as_str(), "https://example.com/a");
    }
    let clicks = api.store.clicks(&link).await.unwrap();
    assert_eq!((clicks.clicks, clicks.bot_clicks), (1000, 0));
    // Link-preview fetchers, concurrently too: bot clicks only.
    for task in redirects(100, Visitor::Bot) {
        task.await.unwrap().unwrap();
    }
    let clicks = api.store.clicks(&link).await.unwrap();
    assert_eq!((clicks.clicks, clicks.bot_clicks), (1000, 100));
    // The day statistics, from the stream: the same totals, however often a batch comes again.
    let records = count_clicks_of(&api, &link.id).await;
    assert_eq!(records.len(), 1100, "one stream record per counted redirect");
    for batch in records.chunks(100).take(3) {
        assert_eq!(links::clicks::count_batch(&api.store, batch).await, None);
    }
    let today = rules::date_text(now().date());
    let stats = rules::stats(&api.store, &link, now().date(), now().date()).await.unwrap();
    assert_eq!(stats["clicks"], 1000);
    assert_eq!(stats["bot_clicks"], 100);
    assert_eq!(stats["by_day"][0]["date"], today.as_str());
    assert_eq!(stats["by_day"][0]["clicks"], 1000);
    assert_eq!(stats["top_referrers"][0], serde_json::json!({"host": "news.example", "clicks": 1000}));
    assert_eq!(stats["top_countries"][0], serde_json::json!({"country": "DE", "clicks": 1000}));
}

#[tokio::test]
async fn five_thousand_distinct_referrers_in_a_day_keep_redirects_at_one_write_and_the_day_bounded() {
    let api = Arc::new(stack_api().await);
    let owner = tenant(&api, Environment::Live).await;
    let slug = unique_slug("refs");
    let link =
        rules::create_link(&api.store, &change(&owner), new_link("https://example.com/r", Some(&slug)), "https://k")
            .await
            .unwrap();
    let at = now();
    // A counted redirect as the handler makes it: one write, whose units the store reports.
    let click = |host: String| {
        let (api, slug) = (api.clone(), slug.clone());
        tokio::spawn(async move { api.store.visit(None, &as_slug(&slug), &human(&host), at).await.unwrap() })
    };
    let host = |batch: usize, i: usize| format!("referrer-{batch}-{i}-{}.example", "x".repeat(40));
    for batch in 0..100 {
        let tasks: Vec<_> = (0..50).map(|i| click(host(batch, i))).collect();
        for task in tasks {
            match task.await.unwrap() {
                Visit::Followed { write_units, .. } => {
                    assert_eq!(write_units, Some(1.0), "one write unit a click, whatever visitors send")
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(api.store.clicks(&link).await.unwrap().clicks, 5000, "no click lost");
    count_clicks_of(&api, &link.id).await;
    let days = api.store.day_stats(&link.id, "0000-00-00", "9999-99-99").await.unwrap();
    assert_eq!(days.len(), 1);
    let named: Vec<&(String, i64)> = days[0].referrers.iter().filter(|(h, _)| h != OTHER_REFERRER).collect();
    assert_eq!(named.len(), MAX_REFERRERS_PER_DAY, "a day names at most the cap of hosts");
    let other = days[0].referrers.iter().find(|(h, _)| h == OTHER_REFERRER).map(|(_, c)| *c).unwrap_or(0);
    assert_eq!(named.iter().map(|(_, c)| c).sum::<i64>() + other, 5000);
    // A host with a name still counts by name; a new one as "(other)".
    let known = named[0].0.clone();
    click(known.clone()).await.unwrap();
    click("late.example".into()).await.unwrap();
    count_clicks_of(&api, &link.id).await;
    let day = &api.store.day_stats(&link.id, "0000-00-00", "9999-99-99").await.unwrap()[0];
    let count_of = |host: &str| day.referrers.iter().find(|(h, _)| h == host).map(|(_, c)| *c).unwrap_or(0);
    assert_eq!((count_of(&known), count_of(OTHER_REFERRER), count_of("late.example")), (named[0].1 + 1, other + 1, 0));
}

/// A link's statistics carry an expiry, and go with the link: its removal from the stream
/// deletes them. An expired link counts nothing; a slug item from before `expires_epoch` counts
/// against its expiry, and gets the number.
#[tokio::test]
async fn statistics_expire_and_go_with_their_link_and_expiry_holds_on_the_redirects_write() {
    let api = Arc::new(stack_api().await);
    let owner = tenant(&api, Environment::Live).await;
    let slug = unique_slug("gone");
    let mut new = new_link("https://example.com/g", Some(&slug));
    new.expires_at = Some(now() + Duration::hours(1));
    let link = rules::create_link(&api.store, &change(&owner), new, "https://k").await.unwrap();
    let slug_key = |name: &str| {
        aws_sdk_dynamodb::types::AttributeValue::S(match name {
            "PK" => schema::slug_pk(schema::OWN_LINK_DOMAIN, &slug),
            _ => schema::SLUG_SK.to_string(),
        })
    };
    // An earlier version's slug item: an expiry without its number.
    api.store
        .client()
        .update_item()
        .table_name(api.store.table())
        .key(schema::PK, slug_key("PK"))
        .key(schema::SK, slug_key("SK"))
        .update_expression("REMOVE expires_epoch")
        .send()
        .await
        .unwrap();
    let visit = api.store.visit(None, &as_slug(&slug), &human("a.example"), now()).await.unwrap();
    assert!(matches!(visit, Visit::Followed { .. }), "{visit:?}");
    let later = now() + Duration::hours(2);
    assert_eq!(api.store.visit(None, &as_slug(&slug), &human("a.example"), later).await.unwrap(), Visit::Expired);
    assert_eq!(api.store.clicks(&link).await.unwrap().clicks, 1, "an expired link counts nothing");
    let missing = api.store.visit(None, &as_slug(&unique_slug("none")), &Visitor::Bot, now()).await.unwrap();
    assert_eq!(missing, Visit::Missing);

    count_clicks_of(&api, &link.id).await;
    let stats_items = || async {
        api.store
            .client()
            .query()
            .table_name(api.store.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(schema::stats_pk(link.id.as_str())),
            )
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
    };
    let items = stats_items().await;
    let day = items.iter().find(|i| i[schema::SK].as_s().unwrap().starts_with("DAY#")).expect("a day item");
    let expires: i64 = day[schema::TTL_ATTRIBUTE].as_n().unwrap().parse().unwrap();
    assert!(expires > (now() + Duration::days(399)).unix_timestamp(), "kept 400 days, then expired");

    rules::delete_link(&api.store, &change(&owner), &link).await.unwrap();
    let records = count_clicks_of(&api, &link.id).await;
    assert!(records.iter().any(|r| r.event_name == "REMOVE"), "the link's removal is on the stream");
    assert!(stats_items().await.is_empty(), "its statistics went with it");
}

#[tokio::test]
async fn slugs_are_unique_per_domain_across_tenants_and_case_and_reserved_after_a_delete() {
    let api = stack_api().await;
    let (a, b) = (tenant(&api, Environment::Live).await, tenant(&api, Environment::Test).await);
    let slug = unique_slug("Promo");
    let first = rules::create_link(&api.store, &change(&a), new_link("https://a.example", Some(&slug)), "https://k")
        .await
        .unwrap();
    for (who, text) in [(&b, slug.clone()), (&a, slug.to_lowercase()), (&b, slug.to_uppercase())] {
        let taken =
            rules::create_link(&api.store, &change(who), new_link("https://b.example", Some(&text)), "https://k").await;
        assert!(matches!(taken, Err(ApiError::Conflict(_))), "{text}: {taken:?}");
    }
    assert_eq!(api.store.link_count(&tenant_of(&a)).await.unwrap(), 1);
    assert_eq!(api.store.link_count(&tenant_of(&b)).await.unwrap(), 0, "the refused creations wrote nothing");
    // The redirect matches without case too.
    let found = rules::redirect(&api.store, None, &as_slug(&slug.to_uppercase()), None, now()).await.unwrap();
    assert_eq!(found.destination.as_str(), "https://a.example");

    // Another tenant cannot see, change or delete it.
    assert!(matches!(rules::visible_link(&api.store, &change(&b), &first.id).await, Err(ApiError::NotFound(_))));
    let patch = LinkPatch { destination: Destination::parse("https://evil.example"), ..Default::default() };
    assert!(matches!(rules::update_link(&api.store, &change(&b), &first.id, patch).await, Err(ApiError::NotFound(_))));
    // Its owner can: the change and its event and audit entry are one transaction.
    let patch = LinkPatch { title: Some(Some(Title::parse("Launch").unwrap())), ..Default::default() };
    let first = rules::update_link(&api.store, &change(&a), &first.id, patch).await.unwrap();
    assert_eq!(api.store.get_link(&first.id).await.unwrap().unwrap().title.as_deref(), Some("Launch"));

    rules::delete_link(&api.store, &change(&a), &first).await.unwrap();
    assert!(matches!(
        rules::redirect(&api.store, None, &as_slug(&slug), None, now()).await,
        Err(ApiError::NotFound(_))
    ));
    assert_eq!(api.store.link_count(&tenant_of(&a)).await.unwrap(), 0);
    // Deleted, the slug stays its organization's (see the reservation test): the other tenant
    // is refused, the owner takes it back.
    let refused =
        rules::create_link(&api.store, &change(&b), new_link("https://b.example", Some(&slug)), "https://k").await;
    assert!(matches!(refused, Err(ApiError::Conflict(_))), "{refused:?}");
    let second = rules::create_link(&api.store, &change(&a), new_link("https://a2.example", Some(&slug)), "https://k")
        .await
        .expect("the owner takes its slug back");
    assert_eq!(
        rules::redirect(&api.store, None, &as_slug(&slug), None, now()).await.unwrap().destination.as_str(),
        "https://a2.example"
    );

    // Each change wrote its audit entry and event in its transaction.
    let audits = keyhive::testkit::partition(&api, schema::audit_pk(a.org_id.as_str())).await;
    let actions: Vec<_> = audits.iter().filter_map(|i| i.get("action")?.as_s().ok().cloned()).collect();
    let events = keyhive::testkit::partition(&api, schema::outbox_pk(a.org_id.as_str(), "live")).await;
    let types: Vec<_> = events.iter().filter_map(|e| e.get("event_type")?.as_s().ok().cloned()).collect();
    for (expected, times) in [("link.created", 2), ("link.updated", 1), ("link.deleted", 1)] {
        assert_eq!(actions.iter().filter(|a| *a == expected).count(), times, "audit {expected} in {actions:?}");
        assert_eq!(types.iter().filter(|t| *t == expected).count(), times, "event {expected} in {types:?}");
    }
    let events = keyhive::testkit::partition(&api, schema::outbox_pk(b.org_id.as_str(), "test")).await;
    assert!(events.is_empty(), "the refused creations wrote nothing: {events:?}");
    let _ = second;
}

/// A generated slug that is taken (by anyone) is drawn again, a few times, before a 409; nothing
/// is written for the attempts that collided.
#[tokio::test]
async fn a_generated_slug_that_is_taken_is_drawn_again() {
    let api = stack_api().await;
    let (a, b) = (tenant(&api, Environment::Live).await, tenant(&api, Environment::Live).await);
    let taken = unique_slug("tkn");
    rules::create_link(&api.store, &change(&a), new_link("https://a.example", Some(&taken)), "https://k")
        .await
        .unwrap();
    let fresh = unique_slug("frs");
    let mut draws = vec![fresh.clone(), taken.clone(), taken.to_uppercase()];
    let link = rules::create_link_with_slugs(
        &api.store,
        &change(&b),
        new_link("https://b.example", None),
        "https://k",
        max_links(),
        || Slug::parse(&draws.pop().unwrap()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(link.slug.as_str(), fresh, "the third draw, after two collisions");
    assert_eq!(api.store.link_count(&tenant_of(&b)).await.unwrap(), 1, "one link, not three");
    assert_eq!(
        rules::redirect(&api.store, None, &as_slug(&taken), None, now()).await.unwrap().destination.as_str(),
        "https://a.example"
    );

    let always_taken = || Slug::parse(&taken).unwrap();
    let refused = rules::create_link_with_slugs(
        &api.store,
        &change(&b),
        new_link("https://b.example", None),
        "https://k",
        max_links(),
        always_taken,
    )
    .await;
    assert!(matches!(refused, Err(ApiError::Conflict(_))), "{refused:?}");
    assert_eq!(api.store.link_count(&tenant_of(&b)).await.unwrap(), 1);
}

#[tokio::test]
async fn generated_slugs_never_collide_under_concurrency() {
    let api = Arc::new(stack_api().await);
    let owner = tenant(&api, Environment::Live).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (api, owner) = (api.clone(), owner.clone());
            tokio::spawn(async move {
                rules::create_link(&api.store, &change(&owner), new_link("https://example.com", None), "https://k")
                    .await
            })
        })
        .collect();
    let mut slugs = std::collections::HashSet::new();
    for task in tasks {
        let link = task.await.unwrap().unwrap();
        assert_eq!(link.slug.as_str().len(), Slug::GENERATED_LENGTH);
        assert!(slugs.insert(link.slug.as_str().to_lowercase()));
    }
    assert_eq!(api.store.link_count(&tenant_of(&owner)).await.unwrap(), 100);
    // Newest first, full pages, no duplicates across pages.
    let mut seen = std::collections::HashSet::new();
    let mut start = None;
    loop {
        let page = api.store.list_links(&tenant_of(&owner), start.as_ref(), 30).await.unwrap();
        for link in &page.items {
            assert!(seen.insert(link.id.clone()));
        }
        match page.next {
            Some(next) => {
                assert_eq!(page.items.len(), 30);
                start = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 100);
}

#[tokio::test]
async fn expiry_and_patches_follow_the_slug_the_redirect_reads() {
    let api = stack_api().await;
    let owner = tenant(&api, Environment::Live).await;
    let slug = unique_slug("exp");
    let mut new = new_link("https://example.com/old", Some(&slug));
    new.expires_at = Some(now() + Duration::hours(1));
    let link = rules::create_link(&api.store, &change(&owner), new, "https://k").await.unwrap();
    let later = now() + Duration::hours(2);
    assert!(matches!(rules::redirect(&api.store, None, &as_slug(&slug), None, later).await, Err(ApiError::Gone(_))));
    let patch = LinkPatch {
        destination: Destination::parse("https://example.com/new"),
        title: Some(Some(Title::parse("New").unwrap())),
        preview: None,
        expires_at: Some(None),
    };
    let patched = rules::update_link(&api.store, &change(&owner), &link.id, patch).await.unwrap();
    assert_eq!((patched.title.as_deref(), patched.expires_at), (Some("New"), None));
    assert_eq!(
        rules::redirect(&api.store, None, &as_slug(&slug), None, later).await.unwrap().destination.as_str(),
        "https://example.com/new"
    );
    let stored = api.store.get_link(&link.id).await.unwrap().unwrap();
    assert_eq!(stored.title.as_deref(), Some("New"));
    let past = LinkPatch { expires_at: Some(Some(now() - Duration::minutes(1))), ..Default::default() };
    let refused = rules::update_link(&api.store, &change(&owner), &link.id, past).await;
    assert!(matches!(refused, Err(ApiError::Validation { ref field, .. }) if field == "expires_at"), "{refused:?}");
    // A HEAD-like resolution counts nothing.
    assert_eq!(api.store.clicks(&link).await.unwrap().clicks, 0);
}

struct Txt(Vec<String>);

#[async_trait::async_trait]
impl links::dns::TxtLookup for Txt {
    async fn txt(&self, _name: &str) -> Result<Vec<String>, ApiError> {
        Ok(self.0.clone())
    }
}

#[tokio::test]
async fn domains_are_claimed_once_used_only_when_verified_and_deleted_only_when_unused() {
    let api = stack_api().await;
    let (a, b) = (tenant(&api, Environment::Live).await, tenant(&api, Environment::Live).await);
    let host = Hostname::parse(&format!("{}.example.com", unique_slug("go").to_lowercase())).unwrap();
    let domain = rules::create_domain(&api.store, &change(&a), host.clone(), &[], max_domains()).await.unwrap();
    let again = rules::create_domain(&api.store, &change(&a), host.clone(), &[], max_domains()).await;
    let Err(ApiError::Conflict(registered_here)) = again else { panic!("once per tenant: {again:?}") };
    // Registering proves nothing: another organization may register the name too (no squatting);
    // the first to verify it holds it.
    let rival = rules::create_domain(&api.store, &change(&b), host.clone(), &[], max_domains()).await.unwrap();
    let own = rules::create_domain(
        &api.store,
        &change(&b),
        Hostname::parse("api.example.net").unwrap(),
        &["api.example.net".into()],
        max_domains(),
    )
    .await;
    assert!(matches!(own, Err(ApiError::Validation { .. })));

    let slug = unique_slug("dom");
    let mut on_domain = new_link("https://example.com/d", Some(&slug));
    on_domain.domain = Some(host.clone());
    let unverified = rules::create_link(&api.store, &change(&a), on_domain.clone(), "https://k").await;
    assert!(matches!(unverified, Err(ApiError::MissingReference { field: "domain", .. })), "{unverified:?}");
    assert_eq!(api.store.link_count(&tenant_of(&a)).await.unwrap(), 0);

    let (seen_domain, seen) =
        rules::verify_domain(&api.store, &Txt(vec!["unrelated".into()]), &change(&a), &domain.id).await.unwrap();
    assert!(seen_domain.verified_at.is_none());
    assert_eq!(seen, vec!["unrelated".to_string()]);
    let proof = Txt(vec![domain.verification_value()]);
    let (verified, _) = rules::verify_domain(&api.store, &proof, &change(&a), &domain.id).await.unwrap();
    assert!(verified.verified_at.is_some());
    // Another organization cannot verify or use it, nor register it again.
    assert!(matches!(
        rules::verify_domain(&api.store, &proof, &change(&b), &domain.id).await,
        Err(ApiError::NotFound(_))
    ));
    let rival_proof = Txt(vec![rival.verification_value()]);
    let late = rules::verify_domain(&api.store, &rival_proof, &change(&b), &rival.id).await;
    let Err(ApiError::Conflict(verified_elsewhere)) = late else { panic!("{late:?}") };
    let after = rules::create_domain(&api.store, &change(&b), host.clone(), &[], max_domains()).await;
    let Err(ApiError::Conflict(registered_elsewhere)) = after else { panic!("{after:?}") };
    // One message whatever the reason: it never tells that another organization has the name.
    assert_eq!(verified_elsewhere, registered_here);
    assert_eq!(registered_elsewhere, registered_here);
    assert!(!registered_here.contains("another"), "{registered_here}");
    // The same tenant's other environment is refused alike.
    let mut a_test = a.clone();
    a_test.environment = Environment::Test;
    let other_env = rules::create_domain(&api.store, &change(&a_test), host.clone(), &[], max_domains()).await;
    assert!(matches!(other_env, Err(ApiError::Conflict(ref m)) if *m == registered_here), "{other_env:?}");
    rules::delete_domain(&api.store, &change(&b), &rival.id, false).await.unwrap();
    let foreign = rules::create_link(&api.store, &change(&b), on_domain.clone(), "https://k").await;
    assert!(matches!(foreign, Err(ApiError::MissingReference { .. })), "{foreign:?}");

    let link = rules::create_link(&api.store, &change(&a), on_domain, "https://k").await.unwrap();
    assert_eq!(
        rules::redirect(&api.store, Some(&host), &as_slug(&slug), None, now()).await.unwrap().destination.as_str(),
        "https://example.com/d"
    );
    assert!(
        matches!(rules::redirect(&api.store, None, &as_slug(&slug), None, now()).await, Err(ApiError::NotFound(_))),
        "not on the own domain"
    );
    assert_eq!(api.store.get_domain(&domain.id).await.unwrap().unwrap().links, 1);

    let busy = rules::delete_domain(&api.store, &change(&a), &domain.id, false).await;
    assert!(matches!(busy, Err(ApiError::Conflict(_))), "{busy:?}");
    rules::delete_domain(&api.store, &change(&a), &domain.id, true).await.unwrap();
    assert!(api.store.get_link(&link.id).await.unwrap().is_none(), "force deleted its links");
    assert!(matches!(
        rules::redirect(&api.store, Some(&host), &as_slug(&slug), None, now()).await,
        Err(ApiError::NotFound(_))
    ));
    // The host name is free for anyone again, but the deleted links' slugs on it stay reserved
    // for their organization: a new holder of the name cannot take them over.
    let successor = rules::create_domain(&api.store, &change(&b), host.clone(), &[], max_domains()).await.unwrap();
    let successor_proof = Txt(vec![successor.verification_value()]);
    let (held, _) = rules::verify_domain(&api.store, &successor_proof, &change(&b), &successor.id).await.unwrap();
    assert!(held.verified_at.is_some());
    let mut on_successor = new_link("https://b.example/d", Some(&slug));
    on_successor.domain = Some(host.clone());
    let reserved = rules::create_link(&api.store, &change(&b), on_successor.clone(), "https://k").await;
    assert!(matches!(reserved, Err(ApiError::Conflict(_))), "{reserved:?}");
    on_successor.slug = Some(Slug::parse(&unique_slug("new")).unwrap());
    rules::create_link(&api.store, &change(&b), on_successor, "https://k").await.expect("any other slug");
    let events = keyhive::testkit::partition(&api, schema::outbox_pk(a.org_id.as_str(), "live")).await;
    let types: Vec<_> = events.iter().filter_map(|e| e.get("event_type")?.as_s().ok().cloned()).collect();
    for expected in ["domain.verified", "link.created", "link.deleted"] {
        assert!(types.iter().any(|t| t == expected), "{expected} in {types:?}");
    }
    assert_eq!(types.iter().filter(|t| *t == "domain.verified").count(), 1);
    let audits = keyhive::testkit::partition(&api, schema::audit_pk(a.org_id.as_str())).await;
    let actions: Vec<_> = audits.iter().filter_map(|i| i.get("action")?.as_s().ok().cloned()).collect();
    for expected in ["domain.created", "domain.verified", "domain.deleted", "link.created", "link.deleted"] {
        assert!(actions.iter().any(|a| a == expected), "audit {expected} in {actions:?}");
    }
}

/// A deleted link's slug is its organization's and environment's for `SLUG_RESERVATION`: the
/// redirect is 404 (never the old destination), another organization, the owner's other
/// environment and a generated slug are refused as for a taken slug, the owner may name it again;
/// once the period is over (the clock is the change's), anyone may take it, though DynamoDB has
/// not removed the item yet.
#[tokio::test]
async fn a_deleted_slug_stays_reserved_for_its_tenant_until_the_period_ends() {
    let api = stack_api().await;
    let (owner, stranger) = (tenant(&api, Environment::Live).await, tenant(&api, Environment::Live).await);
    let mut owner_test = owner.clone();
    owner_test.environment = Environment::Test;
    let slug = unique_slug("Printed");
    let link =
        rules::create_link(&api.store, &change(&owner), new_link("https://old.example", Some(&slug)), "https://k")
            .await
            .unwrap();
    let taken =
        rules::create_link(&api.store, &change(&stranger), new_link("https://x.example", Some(&slug)), "https://k")
            .await;
    let Err(ApiError::Conflict(taken_message)) = taken else { panic!("{taken:?}") };

    let deleted_at = now();
    rules::delete_link(&api.store, &change_at(&owner, deleted_at), &link).await.unwrap();
    assert_eq!(api.store.link_count(&tenant_of(&owner)).await.unwrap(), 0, "the slot is given back");
    // The reservation: the slug's item, without a link, with its expiry for DynamoDB's TTL.
    let key = keyhive::store::items::key_of(schema::slug_pk(schema::OWN_LINK_DOMAIN, &slug), schema::SLUG_SK);
    let item = api.store.get_consistent(key).await.unwrap().expect("the slug's item stays");
    let until = deleted_at + SLUG_RESERVATION;
    assert_eq!(item[schema::TTL_ATTRIBUTE].as_n().unwrap(), &until.unix_timestamp().to_string());
    assert_eq!(item["org_id"].as_s().unwrap(), owner.org_id.as_str());
    assert!(!item.contains_key("link_id") && !item.contains_key("destination"), "{item:?}");

    // The public redirect: 404 like an unknown slug, to the end of the period and after.
    for at in [now(), until - Duration::minutes(1), until + Duration::days(1)] {
        let answer =
            rules::redirect(&api.store, None, &as_slug(&slug.to_uppercase()), Some(&human("x.example")), at).await;
        assert!(matches!(answer, Err(ApiError::NotFound(_))), "{at}: {answer:?}");
    }
    // Nobody else, not even the owner's other environment, in any case, until the period ends.
    let almost = until - Duration::minutes(1);
    for (who, text) in [(&stranger, slug.clone()), (&stranger, slug.to_lowercase()), (&owner_test, slug.clone())] {
        let refused = rules::create_link(
            &api.store,
            &change_at(who, almost),
            new_link("https://x.example", Some(&text)),
            "https://k",
        )
        .await;
        // The very answer a live link's slug gets (the message names the slug as asked).
        let as_taken = taken_message.replace(&slug, &text);
        assert!(matches!(refused, Err(ApiError::Conflict(ref m)) if *m == as_taken), "{text}: {refused:?}");
    }
    assert_eq!(api.store.link_count(&tenant_of(&stranger)).await.unwrap(), 0);
    // Nor a generated slug of the owner itself: only a slug it names takes its reservation back.
    let fresh = unique_slug("frs");
    let mut draws = vec![fresh.clone(), slug.clone()];
    let drawn = rules::create_link_with_slugs(
        &api.store,
        &change(&owner),
        new_link("https://gen.example", None),
        "https://k",
        max_links(),
        || Slug::parse(&draws.pop().unwrap()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(drawn.slug.as_str(), fresh, "the reserved slug was drawn first and refused");
    assert!(matches!(
        rules::redirect(&api.store, None, &as_slug(&slug), None, now()).await,
        Err(ApiError::NotFound(_))
    ));

    // The owner names it again: the claim replaces the reservation.
    let back = rules::create_link(
        &api.store,
        &change(&owner),
        new_link("https://new.example", Some(&slug.to_lowercase())),
        "https://k",
    )
    .await
    .expect("the owner takes its slug back");
    assert_eq!(
        rules::redirect(&api.store, None, &as_slug(&slug), None, now()).await.unwrap().destination.as_str(),
        "https://new.example"
    );
    let key = keyhive::store::items::key_of(schema::slug_pk(schema::OWN_LINK_DOMAIN, &slug), schema::SLUG_SK);
    let item = api.store.get_consistent(key).await.unwrap().unwrap();
    assert!(!item.contains_key(schema::TTL_ATTRIBUTE) && !item.contains_key("reserved_until"), "{item:?}");
    let retaken =
        rules::create_link(&api.store, &change(&owner), new_link("https://x.example", Some(&slug)), "https://k").await;
    assert!(matches!(retaken, Err(ApiError::Conflict(_))), "a live link is no reservation: {retaken:?}");

    // Deleted again, then past the period: the reservation is over, though still stored.
    let second_delete = now();
    rules::delete_link(&api.store, &change_at(&owner, second_delete), &back).await.unwrap();
    let over = second_delete + SLUG_RESERVATION + Duration::minutes(1);
    let still_reserved = rules::create_link(
        &api.store,
        &change_at(&stranger, over - Duration::minutes(2)),
        new_link("https://x.example", Some(&slug)),
        "https://k",
    )
    .await;
    assert!(matches!(still_reserved, Err(ApiError::Conflict(_))), "{still_reserved:?}");
    let successor = rules::create_link(
        &api.store,
        &change_at(&stranger, over),
        new_link("https://successor.example", Some(&slug)),
        "https://k",
    )
    .await
    .expect("an expired reservation is free");
    assert_eq!(
        rules::redirect(&api.store, None, &as_slug(&slug), None, over).await.unwrap().destination.as_str(),
        "https://successor.example"
    );
    // And now the slug is the successor's: its former owner is refused.
    let former = rules::create_link(
        &api.store,
        &change_at(&owner, over),
        new_link("https://x.example", Some(&slug)),
        "https://k",
    )
    .await;
    assert!(matches!(former, Err(ApiError::Conflict(_))), "{former:?}");
    let _ = successor;
}

/// The link ceiling is a counter taken in each creation's transaction: concurrent creations never
/// pass it, the one past it is 409 `QUOTA_EXCEEDED` naming the limit and writes nothing, and a
/// delete gives its slot back.
#[tokio::test]
async fn the_link_ceiling_holds_under_concurrency_and_a_delete_frees_a_slot() {
    let api = Arc::new(stack_api().await);
    let owner = tenant(&api, Environment::Live).await;
    const CEILING: u32 = 3;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (api, owner) = (api.clone(), owner.clone());
            tokio::spawn(async move {
                rules::create_link_within(
                    &api.store,
                    &change(&owner),
                    new_link("https://example.com", None),
                    "https://k",
                    CEILING,
                )
                .await
            })
        })
        .collect();
    let mut made = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(link) => made.push(link),
            Err(ApiError::QuotaExceeded(message)) => assert!(message.contains("limit of 3 short links"), "{message}"),
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(made.len(), CEILING as usize);
    let owner_tenant = tenant_of(&owner);
    assert_eq!(api.store.link_count(&owner_tenant).await.unwrap(), CEILING as i64);
    assert_eq!(api.store.list_links(&owner_tenant, None, 100).await.unwrap().items.len(), CEILING as usize);
    // The other environment has its own ceiling.
    let mut test_env = owner.clone();
    test_env.environment = Environment::Test;
    rules::create_link_within(
        &api.store,
        &change(&test_env),
        new_link("https://example.com", None),
        "https://k",
        CEILING,
    )
    .await
    .expect("the test environment counts apart");

    rules::delete_link(&api.store, &change(&owner), &made[0]).await.unwrap();
    assert_eq!(api.store.link_count(&owner_tenant).await.unwrap(), CEILING as i64 - 1);
    // A named slug too (the reservation of the deleted one is the owner's: it counts as a link).
    let slug = made[0].slug.as_str().to_string();
    rules::create_link_within(
        &api.store,
        &change(&owner),
        new_link("https://again.example", Some(&slug)),
        "https://k",
        CEILING,
    )
    .await
    .expect("the freed slot");
    let full = rules::create_link_within(
        &api.store,
        &change(&owner),
        new_link("https://example.com", None),
        "https://k",
        CEILING,
    )
    .await;
    assert!(matches!(full, Err(ApiError::QuotaExceeded(_))), "{full:?}");
    assert_eq!(api.store.link_count(&owner_tenant).await.unwrap(), CEILING as i64);
}

/// The custom-domain ceiling: registering past it is 409 `QUOTA_EXCEEDED` naming the limit and
/// writes nothing; deleting one gives its slot back.
#[tokio::test]
async fn the_domain_ceiling_refuses_one_more_and_a_delete_frees_a_slot() {
    let api = stack_api().await;
    let owner = tenant(&api, Environment::Live).await;
    let host = || Hostname::parse(&format!("{}.example.com", unique_slug("cap").to_lowercase())).unwrap();
    let first = rules::create_domain(&api.store, &change(&owner), host(), &[], 2).await.unwrap();
    rules::create_domain(&api.store, &change(&owner), host(), &[], 2).await.unwrap();
    let third = host();
    let full = rules::create_domain(&api.store, &change(&owner), third.clone(), &[], 2).await;
    let Err(ApiError::QuotaExceeded(message)) = full else { panic!("{full:?}") };
    assert!(message.contains("limit of 2 custom domains"), "{message}");
    let listed = api.store.list_domains(&tenant_of(&owner), None, 100).await.unwrap();
    assert_eq!(listed.items.len(), 2, "nothing written");
    rules::delete_domain(&api.store, &change(&owner), &first.id, false).await.unwrap();
    rules::create_domain(&api.store, &change(&owner), third, &[], 2).await.expect("the freed slot");
    let again = rules::create_domain(&api.store, &change(&owner), host(), &[], 2).await;
    assert!(matches!(again, Err(ApiError::QuotaExceeded(_))), "{again:?}");
}
