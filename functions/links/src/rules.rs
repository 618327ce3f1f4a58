//! Short-link rules: creation (slug claimed per domain, generated when absent, only the tenant's
//! verified domains, within the tenant's ceiling), changes, deletion (the slug stays reserved for
//! the tenant), the redirect, stats, and custom domains. Every change is one transaction with its
//! audit entry and event.

use crate::dns::TxtLookup;
use crate::model::{
    DayStats, Destination, Domain, DomainId, Hostname, Link, LinkId, Preview, Slug, Title, Visit, Visitor,
    SLUG_RESERVATION,
};
use crate::store::{LinkStore, SlugClaim};
use keyhive::change::{AuditAction, Change, EventType};
use keyhive::config::Limits;
use keyhive::error::ApiError;
use keyhive::model::random_id;
use keyhive::store::ChangeError;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// How many generated slugs a creation tries before giving up (each collides with odds of about
/// links / 36^7).
const GENERATED_SLUG_ATTEMPTS: usize = 5;

/// What a creation asks for.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub destination: Destination,
    pub slug: Option<Slug>,
    pub domain: Option<Hostname>,
    pub title: Option<Title>,
    pub preview: Option<Preview>,
    pub expires_at: Option<OffsetDateTime>,
}

/// What a `PATCH` changes: each field absent (kept) or given; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct LinkPatch {
    pub destination: Option<Destination>,
    pub title: Option<Option<Title>>,
    pub preview: Option<Option<Preview>>,
    pub expires_at: Option<Option<OffsetDateTime>>,
}

/// An expiry must lie ahead.
pub fn check_expiry(field: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<(), ApiError> {
    if expires_at <= now {
        return Err(ApiError::validation(field, "must be in the future"));
    }
    Ok(())
}

/// A link of the caller's organization and environment; anything else is 404.
pub async fn visible_link<S: LinkStore + ?Sized>(store: &S, change: &Change, id: &LinkId) -> Result<Link, ApiError> {
    match store.get_link(id).await? {
        Some(link) if link.tenant == change.tenant => Ok(link),
        _ => Err(ApiError::NotFound("short link")),
    }
}

/// Creates a link within the tenant's ceiling of `max_links` (409 `QUOTA_EXCEEDED` at it). A slug
/// the caller names is 409 when taken, or reserved for another tenant (a deleted link's, for
/// `SLUG_RESERVATION`; the tenant's own it takes back); a generated one is drawn again. `base` is
/// the own link domain's URL base, for the answer a retry replays.
pub async fn create_link_within<S: LinkStore + ?Sized>(
    store: &S,
    change: &Change,
    new: NewLink,
    base: &str,
    max_links: u32,
) -> Result<Link, ApiError> {
    create_link_with_slugs(store, change, new, base, max_links, Slug::generate).await
}

/// `create_link_within` the default ceiling (`Limits::default().links`), for tools; the function
/// passes the one it is configured with.
pub async fn create_link<S: LinkStore + ?Sized>(
    store: &S,
    change: &Change,
    new: NewLink,
    base: &str,
) -> Result<Link, ApiError> {
    create_link_within(store, change, new, base, Limits::default().links).await
}

/// `create_link_within`, with generated slugs from `next_slug` (tests make them collide on
/// purpose).
pub async fn create_link_with_slugs<S: LinkStore + ?Sized>(
    store: &S,
    change: &Change,
    new: NewLink,
    base: &str,
    max_links: u32,
    mut next_slug: impl FnMut() -> Slug,
) -> Result<Link, ApiError> {
    if let Some(expires_at) = new.expires_at {
        check_expiry("expires_at", expires_at, change.at)?;
    }
    let (attempts, claim) = match new.slug {
        Some(_) => (1, SlugClaim::Named),
        None => (GENERATED_SLUG_ATTEMPTS, SlugClaim::Generated),
    };
    let mut last = None;
    for _ in 0..attempts {
        let link = Link {
            id: LinkId::generate(),
            tenant: change.tenant.clone(),
            slug: new.slug.clone().unwrap_or_else(&mut next_slug),
            domain: new.domain.clone(),
            destination: new.destination.clone(),
            title: new.title.clone().map(Title::into_string),
            preview: new.preview.clone(),
            expires_at: new.expires_at,
            created_at: change.at,
            updated_at: change.at,
        };
        let event = change.event(link.tenant.environment, EventType::LinkCreated, link.event_data());
        let replay = link.to_json(base, Default::default());
        let log = change.creation_log(
            link.tenant.environment,
            AuditAction::LinkCreated,
            link.id.as_str(),
            Some(event),
            Some(replay),
        );
        match store.create_link(&link, claim, max_links, &log).await {
            Ok(()) => return Ok(link),
            Err(ChangeError::Conflict(message)) => last = Some(message),
            Err(other) => return Err(other.into()),
        }
    }
    Err(ApiError::Conflict(last.unwrap_or_else(|| "the slug is taken on this domain".into())))
}

/// Changes a link's destination, title or expiry (never its slug or domain).
pub async fn update_link<S: LinkStore + ?Sized>(
    store: &S,
    change: &Change,
    id: &LinkId,
    patch: LinkPatch,
) -> Result<Link, ApiError> {
    let before = visible_link(store, change, id).await?;
    let mut link = before.clone();
    if let Some(destination) = patch.destination {
        link.destination = destination;
    }
    if let Some(title) = patch.title {
        link.title = title.map(Title::into_string);
    }
    if let Some(preview) = patch.preview {
        link.preview = preview;
    }
    if let Some(expires_at) = patch.expires_at {
        if let Some(at) = expires_at {
            check_expiry("expires_at", at, change.at)?;
        }
        link.expires_at = expires_at;
    }
    link.updated_at = change.at;
    let event = change.event(link.tenant.environment, EventType::LinkUpdated, link.event_data());
    let log = change.log(link.tenant.environment, AuditAction::LinkUpdated, link.id.as_str(), Some(event));
    store.update_link(&before, &link, &log).await?;
    Ok(link)
}

/// Deletes a link. Its slug is not free: it stays reserved for the link's organization and
/// environment for `SLUG_RESERVATION` from `change.at` (the redirect is 404 meanwhile, and only
/// that tenant may name the slug again), so a printed link cannot be taken over.
pub async fn delete_link<S: LinkStore + ?Sized>(store: &S, change: &Change, link: &Link) -> Result<(), ApiError> {
    let event = change.event(link.tenant.environment, EventType::LinkDeleted, link.event_data());
    let log = change.log(link.tenant.environment, AuditAction::LinkDeleted, link.id.as_str(), Some(event));
    store.delete_link(link, change.at + SLUG_RESERVATION, &log).await.map_err(ApiError::from)
}

/// Where a visit goes: the destination, and the preview card link-preview fetchers are shown
/// instead when the link has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub destination: Destination,
    pub preview: Option<Preview>,
}

/// Where a slug sends its visitor: 404 when unknown, 410 when expired. A counted visit
/// (`visitor` given: a `GET`) is one write that counts the click and answers the destination
/// and preview; a `HEAD` reads only.
pub async fn redirect<S: LinkStore + ?Sized>(
    store: &S,
    domain: Option<&Hostname>,
    slug: &Slug,
    visitor: Option<&Visitor>,
    now: OffsetDateTime,
) -> Result<Target, ApiError> {
    let gone = || ApiError::Gone("this short link has expired".into());
    match visitor {
        Some(visitor) => match store.visit(domain, slug, visitor, now).await? {
            Visit::Followed { destination, preview, .. } => Ok(Target { destination, preview }),
            Visit::Missing => Err(ApiError::NotFound("short link")),
            Visit::Expired => Err(gone()),
        },
        None => {
            let target = store.resolve_slug(domain, slug).await?.ok_or(ApiError::NotFound("short link"))?;
            if target.expires_at.is_some_and(|at| at <= now) {
                return Err(gone());
            }
            Ok(Target { destination: target.destination, preview: target.preview })
        }
    }
}

/// The longest stats range a request may ask for.
pub const MAX_STATS_DAYS: i64 = 366;

/// Stats of a link over UTC days `from..=to`: totals, clicks by day, and the top referrers
/// and countries.
pub async fn stats<S: LinkStore + ?Sized>(
    store: &S,
    link: &Link,
    from: time::Date,
    to: time::Date,
) -> Result<Value, ApiError> {
    let (from_text, to_text) = (date_text(from), date_text(to));
    let days = store.day_stats(&link.id, &from_text, &to_text).await?;
    Ok(summarize(link, &from_text, &to_text, &days))
}

pub fn date_text(date: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

fn top(counts: BTreeMap<String, i64>, label: &str) -> Value {
    let mut ranked: Vec<(String, i64)> = counts.into_iter().filter(|(_, c)| *c > 0).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Value::Array(ranked.into_iter().take(10).map(|(name, clicks)| json!({ label: name, "clicks": clicks })).collect())
}

fn summarize(link: &Link, from: &str, to: &str, days: &[DayStats]) -> Value {
    let mut referrers = BTreeMap::new();
    let mut countries = BTreeMap::new();
    let (mut clicks, mut bot_clicks) = (0, 0);
    for day in days {
        clicks += day.clicks;
        bot_clicks += day.bot_clicks;
        for (host, count) in &day.referrers {
            *referrers.entry(host.clone()).or_insert(0) += count;
        }
        for (country, count) in &day.countries {
            *countries.entry(country.clone()).or_insert(0) += count;
        }
    }
    json!({
        "link_id": link.id.as_str(),
        "from": from,
        "to": to,
        "clicks": clicks,
        "bot_clicks": bot_clicks,
        "by_day": days
            .iter()
            .filter(|d| d.clicks + d.bot_clicks > 0)
            .map(|d| json!({ "date": d.date, "clicks": d.clicks, "bot_clicks": d.bot_clicks }))
            .collect::<Vec<_>>(),
        "top_referrers": top(referrers, "host"),
        "top_countries": top(countries, "country"),
    })
}

/// A custom domain of the caller's organization and environment; anything else is 404.
pub async fn visible_domain<S: LinkStore + ?Sized>(
    store: &S,
    change: &Change,
    id: &DomainId,
) -> Result<Domain, ApiError> {
    match store.get_domain(id).await? {
        Some(domain) if domain.tenant == change.tenant => Ok(domain),
        _ => Err(ApiError::NotFound("domain")),
    }
}

/// Registers a custom domain, unverified, with the TXT record that proves it, within the tenant's
/// ceiling of `max_domains` (409 `QUOTA_EXCEEDED` at it). `own_hosts` are the deployment's own
/// host names, which no organization may claim.
pub async fn create_domain<S: LinkStore + ?Sized>(
    store: &S,
    change: &Change,
    hostname: Hostname,
    own_hosts: &[String],
    max_domains: u32,
) -> Result<Domain, ApiError> {
    if own_hosts.iter().any(|own| own.eq_ignore_ascii_case(hostname.as_str())) {
        return Err(ApiError::validation("hostname", "is this deployment's own host"));
    }
    let domain = Domain {
        id: DomainId::generate(),
        tenant: change.tenant.clone(),
        hostname,
        token: random_id("t", 32).split_off(2),
        verified_at: None,
        links: 0,
        created_at: change.at,
    };
    let replay = domain.to_json();
    let log = change.creation_log(
        domain.tenant.environment,
        AuditAction::DomainCreated,
        domain.id.as_str(),
        None,
        Some(replay),
    );
    store.create_domain(&domain, max_domains, &log).await?;
    Ok(domain)
}

/// Looks the domain's TXT record up: verified when the expected value is there (one
/// `domain.verified` event, the first time). Returns the domain and the values seen.
pub async fn verify_domain<S: LinkStore + ?Sized>(
    store: &S,
    dns: &dyn TxtLookup,
    change: &Change,
    id: &DomainId,
) -> Result<(Domain, Vec<String>), ApiError> {
    let mut domain = visible_domain(store, change, id).await?;
    let seen = dns.txt(&domain.hostname.verification_name()).await?;
    let expected = domain.verification_value();
    if domain.verified_at.is_none() && seen.iter().any(|value| value.trim() == expected) {
        let data = json!({ "id": domain.id.as_str(), "hostname": domain.hostname.as_str() });
        let event = change.event(domain.tenant.environment, EventType::DomainVerified, data);
        let log = change.log(domain.tenant.environment, AuditAction::DomainVerified, domain.id.as_str(), Some(event));
        if store.mark_verified(&domain, change.at, &log).await? {
            domain.verified_at = Some(change.at);
        } else {
            domain = visible_domain(store, change, id).await?;
        }
    }
    Ok((domain, seen))
}

/// The most links `?force=true` deletes with their domain in one request (each is its own
/// transaction): past it the domain stays, 409, and the call is repeated.
pub const FORCE_DELETE_LIMIT: u32 = 100;

/// Deletes a domain: 409 while links use it, unless `force` (then they go first, each with its
/// `link.deleted` event, and each slug reserved as `delete_link` does).
pub async fn delete_domain<S: LinkStore + ?Sized>(
    store: &S,
    change: &Change,
    id: &DomainId,
    force: bool,
) -> Result<Domain, ApiError> {
    let domain = visible_domain(store, change, id).await?;
    if force {
        for link in store.links_on(&change.tenant, &domain.hostname, FORCE_DELETE_LIMIT).await? {
            match delete_link(store, change, &link).await {
                Ok(()) | Err(ApiError::NotFound(_)) => {}
                Err(other) => return Err(other),
            }
        }
    }
    let log = change.log(domain.tenant.environment, AuditAction::DomainDeleted, domain.id.as_str(), None);
    store.delete_domain(&domain, &log).await?;
    Ok(domain)
}
