//! How links, slugs, domains and click days are items: their keys, their encoding and their
//! decoding. The tenant's `org_id` and `environment` go through the kernel's
//! `tenant_attributes`/`tenant_of`, like every tenant-owned item's.

use crate::model::{DayStats, Destination, Domain, DomainId, Hostname, Link, LinkId, Preview, Slug};
use aws_sdk_dynamodb::types::AttributeValue;
use keyhive::model::{rfc3339, FileId, Tenant};
use keyhive::schema;
use keyhive::store::items::{
    corrupt, get_s, key_of, number_attr, opt_n, opt_s, string_attr, tenant_attributes, tenant_of, time_of, Item,
};
use keyhive::store::StoreError;
use time::OffsetDateTime;

pub(super) fn link_key(id: &LinkId) -> Item {
    key_of(schema::link_pk(id.as_str()), schema::LINK_SK)
}

pub(super) fn slug_key(domain: Option<&Hostname>, slug: &str) -> Item {
    key_of(schema::slug_pk(domain.map_or(schema::OWN_LINK_DOMAIN, Hostname::as_str), slug), schema::SLUG_SK)
}

/// A tenant's link counter.
pub(super) fn link_count_key(tenant: &Tenant) -> Item {
    key_of(schema::link_quota_pk(tenant.org_id.as_str(), tenant.environment.as_str()), schema::QUOTA_SK)
}

/// A tenant's domain counter.
pub(super) fn domain_count_key(tenant: &Tenant) -> Item {
    key_of(schema::domain_quota_pk(tenant.org_id.as_str(), tenant.environment.as_str()), schema::QUOTA_SK)
}

/// A file's record (the files function's item): a link's preview image is counted in its `uses`.
pub(super) fn file_key(id: &FileId) -> Item {
    key_of(schema::file_pk(id.as_str()), schema::FILE_SK)
}

pub(super) fn domain_key(id: &DomainId) -> Item {
    key_of(schema::domain_pk(id.as_str()), schema::DOMAIN_SK)
}

pub(super) fn hostname_key(hostname: &Hostname) -> Item {
    key_of(schema::hostname_pk(hostname.as_str()), schema::HOSTNAME_SK)
}

/// A tenant's registration of a host name (one per tenant, verified or not).
pub(super) fn tenant_hostname_key(domain: &Domain) -> Item {
    let Tenant { org_id, environment } = &domain.tenant;
    let pk = schema::tenant_hostname_pk(org_id.as_str(), environment.as_str(), domain.hostname.as_str());
    key_of(pk, schema::HOSTNAME_SK)
}

/// The index partition of a tenant's links, newest first.
pub(super) fn links_gsi1pk(tenant: &Tenant) -> String {
    schema::org_links_gsi1pk(tenant.org_id.as_str(), tenant.environment.as_str())
}

/// The index partition of a tenant's domains.
pub(super) fn domains_gsi1pk(tenant: &Tenant) -> String {
    schema::org_domains_gsi1pk(tenant.org_id.as_str(), tenant.environment.as_str())
}

/// What a redirect reads of a link, on its slug's item and on the link's: each attribute with its
/// value, or `None` where the link has none (an update removes it). The expiry is there twice:
/// as text, and as the number a redirect's condition compares (`expires_epoch`).
pub(super) fn target_attrs(link: &Link) -> [(&'static str, Option<AttributeValue>); 6] {
    let preview = link.preview.as_ref();
    let values = [
        Some(string_attr(link.destination.as_str())),
        link.expires_at.map(|at| string_attr(rfc3339(at))),
        link.expires_at.map(|at| number_attr(at.unix_timestamp())),
        preview.map(|p| string_attr(&p.title)),
        preview.and_then(|p| p.description.as_deref()).map(string_attr),
        preview.and_then(|p| p.image.as_ref()).map(|id| string_attr(id.as_str())),
    ];
    let mut values = values.into_iter();
    TARGET_ATTRIBUTES.map(|name| (name, values.next().flatten()))
}

/// The names of `target_attrs`, in its order: what a `HEAD` reads, and what a deleted link's
/// reservation drops.
pub(super) const TARGET_ATTRIBUTES: [&str; 6] =
    ["destination", "expires_at", SLUG_EXPIRES_EPOCH, PREVIEW_TITLE, PREVIEW_DESCRIPTION, PREVIEW_IMAGE];

fn slug_target_attrs(link: &Link) -> Vec<(String, AttributeValue)> {
    target_attrs(link).into_iter().filter_map(|(name, value)| Some((name.to_string(), value?))).collect()
}

/// A link's preview card, on its item and its slug's.
pub(super) const PREVIEW_TITLE: &str = "preview_title";
pub(super) const PREVIEW_DESCRIPTION: &str = "preview_description";
/// The file id of the preview's image: the link's transactions count its `uses` on the file.
pub(super) const PREVIEW_IMAGE: &str = "preview_image";

/// The preview card of a link's item or its slug's.
pub(super) fn preview_of(item: &Item) -> Result<Option<Preview>, StoreError> {
    let Some(title) = opt_s(item, PREVIEW_TITLE) else { return Ok(None) };
    let image =
        opt_s(item, PREVIEW_IMAGE).map(|id| FileId::parse(id).ok_or_else(|| corrupt(PREVIEW_IMAGE))).transpose()?;
    Ok(Some(Preview {
        title: title.to_string(),
        description: opt_s(item, PREVIEW_DESCRIPTION).map(str::to_string),
        image,
    }))
}

/// The slug item's expiry in unix seconds (beside `expires_at`).
pub(super) const SLUG_EXPIRES_EPOCH: &str = "expires_epoch";
/// What a redirect writes on a slug's item: the link's running totals and its click sequence. A
/// claim or a deletion resets them (a slug taken again is another link's).
pub(super) const CLICK_ATTRIBUTES: [&str; 4] =
    ["clicks", "bot_clicks", crate::clicks::CLICK_SEQUENCE, crate::clicks::CLICK_EVENT];

pub(super) fn link_item(x: &Link) -> Item {
    let mut item = link_key(&x.id);
    let created = rfc3339(x.created_at);
    item.extend([
        (schema::GSI1PK.into(), string_attr(links_gsi1pk(&x.tenant))),
        (schema::GSI1SK.into(), string_attr(format!("{created}#{}", x.id.as_str()))),
        ("id".into(), string_attr(x.id.as_str())),
        ("slug".into(), string_attr(x.slug.as_str())),
        ("created_at".into(), string_attr(created)),
        ("updated_at".into(), string_attr(rfc3339(x.updated_at))),
    ]);
    item.extend(tenant_attributes(&x.tenant));
    if let Some(domain) = &x.domain {
        item.insert("domain".into(), string_attr(domain.as_str()));
    }
    if let Some(title) = &x.title {
        item.insert("title".into(), string_attr(title));
    }
    item.extend(slug_target_attrs(x));
    item
}

pub(super) fn slug_item(x: &Link) -> Item {
    let mut item = slug_key(x.domain.as_ref(), x.slug.as_str());
    item.insert("link_id".into(), string_attr(x.id.as_str()));
    item.extend(tenant_attributes(&x.tenant));
    item.extend(slug_target_attrs(x));
    item
}

/// The attributes of a slug's item that a reservation has and a link's slug has not.
pub(super) const RESERVATION_ATTRIBUTES: [&str; 3] = ["reserved_until", schema::TTL_ATTRIBUTE, "deleted_link_id"];

pub(super) fn link_record(item: &Item) -> Result<Link, StoreError> {
    Ok(Link {
        id: LinkId::parse(get_s(item, "id")?).ok_or_else(|| corrupt("id"))?,
        tenant: tenant_of(item)?,
        slug: Slug::parse(get_s(item, "slug")?).map_err(|_| corrupt("slug"))?,
        domain: opt_s(item, "domain").map(|d| Hostname::parse(d).ok_or_else(|| corrupt("domain"))).transpose()?,
        destination: Destination::parse(get_s(item, "destination")?).ok_or_else(|| corrupt("destination"))?,
        title: opt_s(item, "title").map(str::to_string),
        preview: preview_of(item)?,
        expires_at: time_of(item, "expires_at")?,
        created_at: time_of(item, "created_at")?.ok_or_else(|| corrupt("created_at"))?,
        updated_at: time_of(item, "updated_at")?.ok_or_else(|| corrupt("updated_at"))?,
    })
}

pub(super) fn domain_item(x: &Domain) -> Item {
    let mut item = domain_key(&x.id);
    let created = rfc3339(x.created_at);
    item.extend([
        (schema::GSI1PK.into(), string_attr(domains_gsi1pk(&x.tenant))),
        (schema::GSI1SK.into(), string_attr(format!("{created}#{}", x.id.as_str()))),
        ("id".into(), string_attr(x.id.as_str())),
        ("hostname".into(), string_attr(x.hostname.as_str())),
        ("token".into(), string_attr(&x.token)),
        ("verified".into(), AttributeValue::Bool(x.verified_at.is_some())),
        ("created_at".into(), string_attr(created)),
    ]);
    item.extend(tenant_attributes(&x.tenant));
    if let Some(at) = x.verified_at {
        item.insert("verified_at".into(), string_attr(rfc3339(at)));
    }
    item
}

pub(super) fn domain_record(item: &Item) -> Result<Domain, StoreError> {
    Ok(Domain {
        id: DomainId::parse(get_s(item, "id")?).ok_or_else(|| corrupt("id"))?,
        tenant: tenant_of(item)?,
        hostname: Hostname::parse(get_s(item, "hostname")?).ok_or_else(|| corrupt("hostname"))?,
        token: get_s(item, "token")?.to_string(),
        verified_at: time_of(item, "verified_at")?,
        links: opt_n(item, "links").unwrap_or(0),
        created_at: time_of(item, "created_at")?.ok_or_else(|| corrupt("created_at"))?,
    })
}

/// Attribute names of a day item's per-referrer and per-country counters.
pub(super) fn referrer_attr(host: &str) -> String {
    format!("r:{host}")
}
pub(super) fn country_attr(country: &str) -> String {
    format!("c:{country}")
}

pub(super) fn day_record(item: &Item) -> Result<DayStats, StoreError> {
    let sk = get_s(item, schema::SK)?;
    let date = sk.strip_prefix(schema::LINK_DAY_SK_PREFIX).ok_or_else(|| corrupt("SK"))?.to_string();
    let mut day = DayStats {
        date,
        clicks: opt_n(item, "clicks").unwrap_or(0),
        bot_clicks: opt_n(item, "bot_clicks").unwrap_or(0),
        ..DayStats::default()
    };
    for (name, value) in item {
        let count = || value.as_n().ok().and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        if let Some(host) = name.strip_prefix("r:") {
            day.referrers.push((host.to_string(), count()));
        } else if let Some(country) = name.strip_prefix("c:") {
            day.countries.push((country.to_string(), count()));
        }
    }
    Ok(day)
}

pub(crate) fn utc_date(at: OffsetDateTime) -> String {
    let date = at.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}
