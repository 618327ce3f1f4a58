//! Short links against DynamoDB Local through the real SDK: clicks exact under 1000 concurrent
//! redirects, a day's referrers bounded, slugs unique per domain across tenants (and free again
//! after a delete), the link counter, domains claimed once and used only when verified, and each
//! change's audit entry and event in its own transaction.

use keyhive::auth::{Environment, Identity};
use keyhive::change::Change;
use keyhive::model::now;
use keyhive::schema;
use keyhive::testkit::{identity_of, new_org, stack_api};
use keyhive::{Api, ApiError};
use links::model::{Destination, Hostname, Slug, Visitor, MAX_REFERRERS_PER_DAY, OTHER_REFERRER};
use links::rules::{self, LinkPatch, NewLink};
use links::store::LinkStore;
use std::sync::Arc;
use time::Duration;

async fn tenant(api: &Api, environment: Environment) -> Identity {
    let (_, admin) = new_org(api, Environment::Live).await;
    let mut identity = identity_of(&admin);
    identity.environment = environment;
    identity
}

fn change(identity: &Identity) -> Change {
    Change::by(identity, "req_links_test", now())
}

fn new_link(destination: &str, slug: Option<&str>) -> NewLink {
    NewLink {
        destination: Destination::parse(destination).unwrap(),
        slug: slug.map(|s| Slug::parse(s).unwrap()),
        domain: None,
        title: None,
        expires_at: None,
    }
}

fn unique_slug(tag: &str) -> String {
    format!("{tag}-{}", keyhive::model::random_id("s", 10).split_off(2))
}

fn human(referrer: &str) -> Visitor {
    Visitor::Human { referrer: referrer.into(), country: "DE".into() }
}

#[tokio::test]
async fn a_thousand_concurrent_redirects_count_a_thousand_clicks() {
    let api = Arc::new(stack_api().await);
    let owner = tenant(&api, Environment::Live).await;
    let slug = unique_slug("busy");
    let link =
        rules::create_link(&api.store, &change(&owner), new_link("https://example.com/a", Some(&slug)), "https://k")
            .await
            .unwrap();
    // All 1000 at once, each a read of the slug and one click write on the same day item,
    // through a gate of 100 in flight: DynamoDB Local on a shared 2-core machine serialises writes
    // to one item, and more would only test its queue (a cold one timed out with 1000).
    let gate = Arc::new(tokio::sync::Semaphore::new(100));
    let redirects = |count: usize, visitor: Visitor| {
        (0..count)
            .map(|_| {
                let (api, slug, visitor, gate) = (api.clone(), slug.clone(), visitor.clone(), gate.clone());
                tokio::spawn(async move {
                    let _permit = gate.acquire().await;
                    rules::redirect(&api.store, None, &slug, Some(&visitor), now()).await
                })
            })
            .collect::<Vec<_>>()
    };
    for task in redirects(1000, human("news.example")) {
        assert_eq!(task.await.unwrap().unwrap().as_str(), "https://example.com/a");
    }
    let clicks = api.store.clicks(&link.id).await.unwrap();
    assert_eq!((clicks.clicks, clicks.bot_clicks), (1000, 0));
    // Link-preview fetchers, concurrently too: bot clicks only.
    for task in redirects(100, Visitor::Bot) {
        task.await.unwrap().unwrap();
    }
    let clicks = api.store.clicks(&link.id).await.unwrap();
    assert_eq!((clicks.clicks, clicks.bot_clicks), (1000, 100));
    let today = rules::date_text(now().date());
    let stats = rules::stats(&api.store, &link, now().date(), now().date()).await.unwrap();
    assert_eq!(stats["clicks"], 1000);
    assert_eq!(stats["by_day"][0]["date"], today.as_str());
    assert_eq!(stats["top_referrers"][0], serde_json::json!({"host": "news.example", "clicks": 1000}));
    assert_eq!(stats["top_countries"][0], serde_json::json!({"country": "DE", "clicks": 1000}));
}

#[tokio::test]
async fn five_thousand_distinct_referrers_in_a_day_keep_redirects_at_one_write_and_the_item_small() {
    let api = Arc::new(stack_api().await);
    let owner = tenant(&api, Environment::Live).await;
    let slug = unique_slug("refs");
    let link =
        rules::create_link(&api.store, &change(&owner), new_link("https://example.com/r", Some(&slug)), "https://k")
            .await
            .unwrap();
    let at = now();
    // A redirect as the handler makes it: the slug read, then the click.
    let click = |host: String| {
        let (api, slug) = (api.clone(), slug.clone());
        tokio::spawn(async move {
            let target = api.store.resolve_slug(None, &slug).await.unwrap().unwrap();
            api.store.count_click(&target, at, &human(&host)).await.unwrap()
        })
    };
    let host = |batch: usize, i: usize| format!("referrer-{batch}-{i}-{}.example", "x".repeat(60));
    let mut writes_by_batch = Vec::new();
    for batch in 0..100 {
        let tasks: Vec<_> = (0..50).map(|i| click(host(batch, i))).collect();
        let mut writes = 0;
        for task in tasks {
            writes += task.await.unwrap();
        }
        writes_by_batch.push(writes);
    }
    let clicks = api.store.clicks(&link.id).await.unwrap();
    assert_eq!(clicks.clicks, 5000, "no click lost");
    // The batch that first finds the day full pays three writes a click (the refused one, the
    // "(other)" count, the note on the slug); every later redirect that day writes once.
    let overflowing = writes_by_batch.iter().filter(|&&w| w > 50).count();
    assert_eq!(overflowing, 1, "{writes_by_batch:?}");
    assert!(writes_by_batch.iter().all(|&w| w <= 150), "{writes_by_batch:?}");
    assert!(writes_by_batch[10..].iter().all(|&w| w == 50), "one write per click once full: {writes_by_batch:?}");
    // The day's item holds at most the cap of hosts plus "(other)" (concurrent first writers
    // may each pass the size check once).
    let days = api.store.day_stats(&link.id, "0000-00-00", "9999-99-99").await.unwrap();
    assert_eq!(days.len(), 1);
    let hosts = days[0].referrers.len();
    assert!(hosts <= MAX_REFERRERS_PER_DAY + 50 + 1, "{hosts} referrer counters on one item");
    let count_of = |day: &links::model::DayStats, host: &str| {
        day.referrers.iter().find(|(h, _)| h == host).map(|(_, c)| *c).unwrap_or(0)
    };
    let other = count_of(&days[0], OTHER_REFERRER);
    let named: i64 = days[0].referrers.iter().filter(|(h, _)| h != OTHER_REFERRER).map(|(_, c)| *c).sum();
    assert_eq!(named + other, 5000);
    assert!(other >= 5000 - (MAX_REFERRERS_PER_DAY as i64 + 50));
    // Once full, a host with a counter still counts by name, a new one as "(other)": one write each.
    let known = days[0].referrers.iter().find(|(h, _)| h != OTHER_REFERRER).map(|(h, _)| h.clone()).unwrap();
    assert_eq!(click(known.clone()).await.unwrap(), 1);
    assert_eq!(click("late.example".into()).await.unwrap(), 1);
    let day = &api.store.day_stats(&link.id, "0000-00-00", "9999-99-99").await.unwrap()[0];
    assert_eq!(count_of(day, &known), count_of(&days[0], &known) + 1);
    assert_eq!(count_of(day, OTHER_REFERRER), other + 1);
    assert_eq!(count_of(day, "late.example"), 0);
    // And a redirect still works.
    let again = rules::redirect(&api.store, None, &slug, Some(&human("later.example")), at).await.unwrap();
    assert_eq!(again.as_str(), "https://example.com/r");
}

#[tokio::test]
async fn slugs_are_unique_per_domain_across_tenants_and_case_and_free_after_a_delete() {
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
    assert_eq!(api.store.link_count((&a.org_id, a.environment)).await.unwrap(), 1);
    assert_eq!(
        api.store.link_count((&b.org_id, b.environment)).await.unwrap(),
        0,
        "the refused creations wrote nothing"
    );
    // The redirect matches without case too.
    let found = rules::redirect(&api.store, None, &slug.to_uppercase(), None, now()).await.unwrap();
    assert_eq!(found.as_str(), "https://a.example");

    // Another tenant cannot see, change or delete it.
    assert!(matches!(
        rules::visible_link(&api.store, &change(&b), first.id.as_str()).await,
        Err(ApiError::NotFound(_))
    ));
    let patch = LinkPatch { destination: Destination::parse("https://evil.example"), ..Default::default() };
    assert!(matches!(
        rules::update_link(&api.store, &change(&b), first.id.as_str(), patch).await,
        Err(ApiError::NotFound(_))
    ));
    // Its owner can: the change and its event and audit entry are one transaction.
    let patch = LinkPatch { title: Some(Some("Launch".into())), ..Default::default() };
    let first = rules::update_link(&api.store, &change(&a), first.id.as_str(), patch).await.unwrap();
    assert_eq!(api.store.get_link(&first.id).await.unwrap().unwrap().title.as_deref(), Some("Launch"));

    rules::delete_link(&api.store, &change(&a), &first).await.unwrap();
    assert!(matches!(rules::redirect(&api.store, None, &slug, None, now()).await, Err(ApiError::NotFound(_))));
    assert_eq!(api.store.link_count((&a.org_id, a.environment)).await.unwrap(), 0);
    let second = rules::create_link(&api.store, &change(&b), new_link("https://b.example", Some(&slug)), "https://k")
        .await
        .expect("the slug is free again");
    assert_eq!(rules::redirect(&api.store, None, &slug, None, now()).await.unwrap().as_str(), "https://b.example");

    // Each change wrote its audit entry and event in its transaction.
    let audits = keyhive::testkit::partition(&api, schema::audit_pk(a.org_id.as_str())).await;
    let actions: Vec<_> = audits.iter().filter_map(|i| i.get("action")?.as_s().ok().cloned()).collect();
    let events = keyhive::testkit::partition(&api, schema::outbox_pk(a.org_id.as_str(), "live")).await;
    let types: Vec<_> = events.iter().filter_map(|e| e.get("event_type")?.as_s().ok().cloned()).collect();
    for expected in ["link.created", "link.updated", "link.deleted"] {
        assert_eq!(actions.iter().filter(|a| *a == expected).count(), 1, "audit {expected} in {actions:?}");
        assert_eq!(types.iter().filter(|t| *t == expected).count(), 1, "event {expected} in {types:?}");
    }
    let events = keyhive::testkit::partition(&api, schema::outbox_pk(b.org_id.as_str(), "test")).await;
    assert!(events
        .iter()
        .any(|e| e.get("event_type").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("link.created")));
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
        || Slug::parse(&draws.pop().unwrap()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(link.slug.as_str(), fresh, "the third draw, after two collisions");
    assert_eq!(api.store.link_count((&b.org_id, b.environment)).await.unwrap(), 1, "one link, not three");
    assert_eq!(rules::redirect(&api.store, None, &taken, None, now()).await.unwrap().as_str(), "https://a.example");

    let always_taken = || Slug::parse(&taken).unwrap();
    let refused = rules::create_link_with_slugs(
        &api.store,
        &change(&b),
        new_link("https://b.example", None),
        "https://k",
        always_taken,
    )
    .await;
    assert!(matches!(refused, Err(ApiError::Conflict(_))), "{refused:?}");
    assert_eq!(api.store.link_count((&b.org_id, b.environment)).await.unwrap(), 1);
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
    assert_eq!(api.store.link_count((&owner.org_id, owner.environment)).await.unwrap(), 100);
    // Newest first, full pages, no duplicates across pages.
    let mut seen = std::collections::HashSet::new();
    let mut start = None;
    loop {
        let page = api.store.list_links((&owner.org_id, owner.environment), start.as_ref(), 30).await.unwrap();
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
    assert!(matches!(rules::redirect(&api.store, None, &slug, None, later).await, Err(ApiError::Gone(_))));
    let patch = LinkPatch {
        destination: Destination::parse("https://example.com/new"),
        title: Some(Some("New".into())),
        expires_at: Some(None),
    };
    let patched = rules::update_link(&api.store, &change(&owner), link.id.as_str(), patch).await.unwrap();
    assert_eq!((patched.title.as_deref(), patched.expires_at), (Some("New"), None));
    assert_eq!(
        rules::redirect(&api.store, None, &slug, None, later).await.unwrap().as_str(),
        "https://example.com/new"
    );
    let stored = api.store.get_link(&link.id).await.unwrap().unwrap();
    assert_eq!(stored.title.as_deref(), Some("New"));
    let past = LinkPatch { expires_at: Some(Some(now() - Duration::minutes(1))), ..Default::default() };
    let refused = rules::update_link(&api.store, &change(&owner), link.id.as_str(), past).await;
    assert!(matches!(refused, Err(ApiError::Validation { ref field, .. }) if field == "expires_at"), "{refused:?}");
    // A HEAD-like resolution counts nothing.
    assert_eq!(api.store.clicks(&link.id).await.unwrap().clicks, 0);
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
    let domain = rules::create_domain(&api.store, &change(&a), host.clone(), &[]).await.unwrap();
    let again = rules::create_domain(&api.store, &change(&a), host.clone(), &[]).await;
    assert!(matches!(again, Err(ApiError::Conflict(_))), "once per tenant: {again:?}");
    // Registering proves nothing: another organization may register the name too (no squatting);
    // the first to verify it holds it.
    let rival = rules::create_domain(&api.store, &change(&b), host.clone(), &[]).await.unwrap();
    let own = rules::create_domain(
        &api.store,
        &change(&b),
        Hostname::parse("api.example.net").unwrap(),
        &["api.example.net".into()],
    )
    .await;
    assert!(matches!(own, Err(ApiError::Validation { .. })));

    let slug = unique_slug("dom");
    let mut on_domain = new_link("https://example.com/d", Some(&slug));
    on_domain.domain = Some(host.clone());
    let unverified = rules::create_link(&api.store, &change(&a), on_domain.clone(), "https://k").await;
    assert!(matches!(unverified, Err(ApiError::MissingReference { field: "domain", .. })), "{unverified:?}");
    assert_eq!(api.store.link_count((&a.org_id, a.environment)).await.unwrap(), 0);

    let (seen_domain, seen) =
        rules::verify_domain(&api.store, &Txt(vec!["unrelated".into()]), &change(&a), domain.id.as_str())
            .await
            .unwrap();
    assert!(seen_domain.verified_at.is_none());
    assert_eq!(seen, vec!["unrelated".to_string()]);
    let proof = Txt(vec![domain.verification_value()]);
    let (verified, _) = rules::verify_domain(&api.store, &proof, &change(&a), domain.id.as_str()).await.unwrap();
    assert!(verified.verified_at.is_some());
    // Another organization cannot verify or use it, nor register it again.
    assert!(matches!(
        rules::verify_domain(&api.store, &proof, &change(&b), domain.id.as_str()).await,
        Err(ApiError::NotFound(_))
    ));
    let rival_proof = Txt(vec![rival.verification_value()]);
    let late = rules::verify_domain(&api.store, &rival_proof, &change(&b), rival.id.as_str()).await;
    assert!(matches!(late, Err(ApiError::Conflict(_))), "{late:?}");
    let after = rules::create_domain(&api.store, &change(&b), host.clone(), &[]).await;
    assert!(matches!(after, Err(ApiError::Conflict(_))), "{after:?}");
    rules::delete_domain(&api.store, &change(&b), rival.id.as_str(), false).await.unwrap();
    let foreign = rules::create_link(&api.store, &change(&b), on_domain.clone(), "https://k").await;
    assert!(matches!(foreign, Err(ApiError::MissingReference { .. })), "{foreign:?}");

    let link = rules::create_link(&api.store, &change(&a), on_domain, "https://k").await.unwrap();
    assert_eq!(
        rules::redirect(&api.store, Some(&host), &slug, None, now()).await.unwrap().as_str(),
        "https://example.com/d"
    );
    assert!(
        matches!(rules::redirect(&api.store, None, &slug, None, now()).await, Err(ApiError::NotFound(_))),
        "not on the own domain"
    );
    assert_eq!(api.store.get_domain(&domain.id).await.unwrap().unwrap().links, 1);

    let busy = rules::delete_domain(&api.store, &change(&a), domain.id.as_str(), false).await;
    assert!(matches!(busy, Err(ApiError::Conflict(_))), "{busy:?}");
    rules::delete_domain(&api.store, &change(&a), domain.id.as_str(), true).await.unwrap();
    assert!(api.store.get_link(&link.id).await.unwrap().is_none(), "force deleted its links");
    assert!(matches!(rules::redirect(&api.store, Some(&host), &slug, None, now()).await, Err(ApiError::NotFound(_))));
    // The host name is free for anyone again.
    rules::create_domain(&api.store, &change(&b), host, &[]).await.unwrap();
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
