//! The links function: h0p-style short links (`/short-link`), their public redirects
//! (`/{slug}`, on the API's host and on verified custom domains), click stats, and custom link
//! domains (`/domains`). `handler` adapts HTTP to `rules`; the store is in `store`, the records
//! and value rules in `model`, TXT lookups in `dns`.

pub mod dns;
pub mod model;
pub mod rules;
pub mod store;

use crate::dns::TxtLookup;
use crate::model::{Clicks, Destination, Hostname, Link, Slug, SlugError, Visitor};
use crate::rules::{LinkPatch, NewLink};
use crate::store::LinkStore;
use keyhive::auth::permissions::{permission_name, Action, Resource};
use keyhive::http::body::{parse_object, read, JsonObject};
use keyhive::http::idempotent;
use keyhive::http::paging::{ListRequest, ListSpec};
use keyhive::http::routes::LinksOp;
use keyhive::model::parse_rfc3339;
use keyhive::{Api, ApiError, Call, Reply};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};
use time::OffsetDateTime;

const LINK_LIST: ListSpec = ListSpec { default_limit: 10, filters: &[], numbered: true };
const DOMAIN_LIST: ListSpec = ListSpec { default_limit: 20, filters: &[], numbered: false };
/// Numbered pages reach this many links deep; past it, `cursor` pages on without reading the
/// links before.
pub const MAX_PAGE_OFFSET: u32 = 2_000;
pub const MAX_TITLE_CHARS: usize = 200;

/// What the links function builds once per instance.
pub struct Links {
    pub api: Api,
    /// `None` when no resolver could be configured: verification answers 503.
    pub dns: Option<Box<dyn TxtLookup>>,
}

impl Links {
    pub async fn from_env() -> Self {
        let api = Api::from_env().await;
        let dns = match dns::DnsResolver::new(api.config.dns_resolver) {
            Ok(resolver) => Some(Box::new(resolver) as Box<dyn TxtLookup>),
            Err(err) => {
                tracing::error!(error = %err, "no DNS resolver: domain verification is unavailable");
                None
            }
        };
        Links { api, dns }
    }
}

pub async fn handle(links: &Links, request: Request) -> Response<Body> {
    keyhive::http::serve(&links.api, request, |call| handler(links, call)).await
}

async fn handler(links: &Links, call: Call<LinksOp>) -> Result<Reply, ApiError> {
    let api = &links.api;
    let store = &api.store;
    match call.op {
        LinksOp::Redirect => redirect(api, &call).await,
        LinksOp::Create => {
            let new = read_new_link(api, &call)?;
            let change = call.change()?;
            let base = link_base(api, &call.request);
            idempotent(api, &call, |claim| async move {
                let change = change.with_claim(claim);
                let link = rules::create_link_within(store, &change, new, &base, api.config.limits.links).await?;
                Ok(Reply::created_at(
                    link.to_json(&base, Clicks::default()),
                    &format!("/short-link/{}", link.id.as_str()),
                ))
            })
            .await
        }
        LinksOp::List => {
            let list = ListRequest::read(api, &call, LINK_LIST).await?;
            let change = call.change()?;
            let tenant = (&change.tenant.org_id, change.tenant.environment);
            let page_number = list.page.unwrap_or(0);
            let mut start = list.start.clone();
            if start.is_none() && page_number > 0 {
                // A numbered page: walk to where it starts, by full pages (never past the bound).
                let offset = page_number.saturating_mul(list.limit);
                if offset > MAX_PAGE_OFFSET {
                    return Err(ApiError::validation("page", "reaches past 2000 links: page on with cursor"));
                }
                // Ends when the walk reaches the page's start or runs out of links first (or
                // exactly there: then the page is past the last, and empty).
                let mut skipped = 0;
                let mut ran_out = false;
                while skipped < offset && !ran_out {
                    let page = store.list_links(tenant, start.as_ref(), (offset - skipped).min(100)).await?;
                    skipped += page.items.len() as u32;
                    start = page.next;
                    ran_out = start.is_none();
                }
                if ran_out {
                    let total = store.link_count(tenant).await?;
                    return Ok(Reply::ok(json!([]))
                        .with_meta("page", json!(page_number))
                        .with_meta("limit", json!(list.limit))
                        .with_meta("total", json!(total))
                        .with_meta("has_more", json!(false))
                        .with_meta("next_cursor", Value::Null));
                }
            }
            let page = store.list_links(tenant, start.as_ref(), list.limit).await?;
            let ids: Vec<_> = page.items.iter().map(|l| l.id.clone()).collect();
            let clicks = store.clicks_of(&ids).await?;
            let total = store.link_count(tenant).await?;
            let base = link_base(api, &call.request);
            let data: Vec<Value> =
                page.items.iter().map(|l| l.to_json(&base, clicks.get(&l.id).copied().unwrap_or_default())).collect();
            let page = keyhive::store::Page { items: data, next: page.next };
            Ok(list.reply(api, page, Value::clone).await?.with_meta("total", json!(total)))
        }
        LinksOp::Get => {
            let change = call.change()?;
            let link = rules::visible_link(store, &change, call.param("id")?).await?;
            link_reply(api, &call, &link).await
        }
        LinksOp::Update => {
            let patch = read_patch(api, &call)?;
            let change = call.change()?;
            let link = rules::update_link(store, &change, call.param("id")?, patch).await?;
            link_reply(api, &call, &link).await
        }
        LinksOp::Delete => {
            let change = call.change()?;
            let link = rules::visible_link(store, &change, call.param("id")?).await?;
            let clicks = store.clicks(&link.id).await?;
            rules::delete_link(store, &change, &link).await?;
            Ok(Reply::ok(link.to_json(&link_base(api, &call.request), clicks)))
        }
        LinksOp::Stats => {
            let (from, to) = stats_range(&call)?;
            let change = call.change()?;
            let link = rules::visible_link(store, &change, call.param("id")?).await?;
            Ok(Reply::ok(rules::stats(store, &link, from, to).await?))
        }
        LinksOp::CreateDomain => {
            let mut fields = parse_object(call.request.body().as_ref(), false)?;
            let hostname = fields.required("hostname", |f, v| {
                let text = read::string(f, v)?;
                Hostname::parse(&text).ok_or_else(|| {
                    ApiError::validation(f, "must be a DNS host name of two or more labels (not an IP address)")
                })
            })?;
            fields.finish()?;
            let change = call.change()?;
            let own = own_hosts(api, &call.request);
            idempotent(api, &call, |claim| async move {
                let change = change.with_claim(claim);
                let domain = rules::create_domain(store, &change, hostname, &own, api.config.limits.domains).await?;
                Ok(Reply::created_at(domain.to_json(), &format!("/domains/{}", domain.id.as_str())))
            })
            .await
        }
        LinksOp::ListDomains => {
            let list = ListRequest::read(api, &call, DOMAIN_LIST).await?;
            let change = call.change()?;
            let page =
                store.list_domains((&change.tenant.org_id, change.tenant.environment), list.start.as_ref(), list.limit).await?;
            list.reply(api, page, model::Domain::to_json).await
        }
        LinksOp::GetDomain => {
            let change = call.change()?;
            Ok(Reply::ok(rules::visible_domain(store, &change, call.param("id")?).await?.to_json()))
        }
        LinksOp::VerifyDomain => {
            let dns = links.dns.as_deref().ok_or_else(|| ApiError::unavailable("no DNS resolver is configured"))?;
            let change = call.change()?;
            let (domain, seen) = rules::verify_domain(store, dns, &change, call.param("id")?).await?;
            let mut data = domain.to_json();
            data["seen"] = json!(seen);
            Ok(Reply::ok(data))
        }
        LinksOp::DeleteDomain => {
            let force = match call.query(&["force"])?.first().map(|(_, v)| v.as_str()) {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return Err(ApiError::validation("force", "must be true or false")),
            };
            // Forcing deletes links: the caller needs that power too, not only `domains:delete`.
            let identity = call.identity()?;
            if force && !identity.permissions.allows(Resource::ShortLinks, Action::Delete) {
                return Err(ApiError::Forbidden { required: permission_name(Resource::ShortLinks, Action::Delete) });
            }
            let change = call.change()?;
            Ok(Reply::ok(rules::delete_domain(store, &change, call.param("id")?, force).await?.to_json()))
        }
    }
}

/// `GET`/`HEAD /{slug}`: 302 to the destination; a `GET` counts one click.
async fn redirect(api: &Api, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let headers = call.request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("host").unwrap_or_default();
    let requested = Hostname::from_host_header(host);
    let own_link_host = api.config.link_base_url.as_deref().and_then(|b| url::Url::parse(b).ok());
    let own_link_host = own_link_host.as_ref().and_then(url::Url::host_str);
    // The API's hosts and the configured link domain serve the deployment's own links; any other
    // host, the links of the custom domain it names.
    let domain = match requested {
        _ if api.config.is_api_host(host) => None,
        Some(name) if own_link_host.is_some_and(|own| own.eq_ignore_ascii_case(name.as_str())) => None,
        Some(name) => Some(name),
        None => return Err(ApiError::NoRoute),
    };
    let visitor = (call.request.method() == http::Method::GET).then(|| {
        let country = header("cloudfront-viewer-country").filter(|_| api.config.trust_viewer_country);
        Visitor::of(header("user-agent"), header("referer"), country)
    });
    let destination =
        rules::redirect(&api.store, domain.as_ref(), call.param("slug")?, visitor.as_ref(), keyhive::model::now())
            .await?;
    Ok(Reply::redirect(destination.as_str()))
}

async fn link_reply(api: &Api, call: &Call<LinksOp>, link: &Link) -> Result<Reply, ApiError> {
    let clicks = api.store.clicks(&link.id).await?;
    Ok(Reply::ok(link.to_json(&link_base(api, &call.request), clicks)))
}

/// The URL base of short links on the deployment's own domain: the configured one, or the
/// API's own host and stage as this request reached them.
fn link_base(api: &Api, request: &Request) -> String {
    if let Some(base) = &api.config.link_base_url {
        return base.clone();
    }
    let host = request.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let stage = match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV1(ctx)) if host.ends_with(".amazonaws.com") => {
            ctx.stage.clone().map(|s| format!("/{s}")).unwrap_or_default()
        }
        _ => String::new(),
    };
    format!("https://{host}{stage}")
}

/// The deployment's own host names, which no custom domain may be.
fn own_hosts(api: &Api, request: &Request) -> Vec<String> {
    let mut hosts = api.config.api_hosts.clone();
    if let Some(host) = api.config.link_base_url.as_deref().and_then(|b| url::Url::parse(b).ok()) {
        hosts.extend(host.host_str().map(str::to_string));
    }
    if let Some(host) = request.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()) {
        hosts.extend(Hostname::from_host_header(host).map(|h| h.as_str().to_string()));
    }
    hosts
}

fn destination(fields: &mut JsonObject) -> Result<Destination, ApiError> {
    let mut inner = fields.required("destination", read::nested)?;
    let kind = inner.required("type", read::string)?;
    if kind != "link" {
        return Err(ApiError::validation("destination.type", "must be \"link\""));
    }
    let value = inner.required("value", read::string)?;
    inner.finish()?;
    Destination::parse(&value).ok_or_else(|| {
        ApiError::validation(
            "destination.value",
            "must be an absolute http or https URL with a host, at most 2048 visible ASCII characters",
        )
    })
}

fn title(field: &str, v: Value) -> Result<String, ApiError> {
    let text = read::string(field, v)?;
    if text.chars().count() > MAX_TITLE_CHARS
        || text.chars().any(|c| c.is_control() || read::is_deceptive(c))
        || text.trim().is_empty()
    {
        return Err(ApiError::validation(
            field,
            "must be 1..200 characters, without control, bidirectional-control or zero-width characters",
        ));
    }
    Ok(text.trim().to_string())
}

fn expiry(field: &str, v: Value) -> Result<OffsetDateTime, ApiError> {
    let text = read::string(field, v)?;
    parse_rfc3339(&text).ok_or_else(|| ApiError::validation(field, "must be an RFC 3339 date-time"))
}

/// A destination on the deployment's own hosts would redirect to itself (a loop, each hop
/// counted as a click).
fn not_our_own(api: &Api, request: &Request, destination: Destination) -> Result<Destination, ApiError> {
    let host = url::Url::parse(destination.as_str()).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    match host {
        Some(host) if own_hosts(api, request).iter().any(|own| own.eq_ignore_ascii_case(&host)) => {
            Err(ApiError::validation("destination.value", "must not point at this deployment's own hosts"))
        }
        _ => Ok(destination),
    }
}

fn read_new_link(api: &Api, call: &Call<LinksOp>) -> Result<NewLink, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    let destination = not_our_own(api, &call.request, destination(&mut fields)?)?;
    let slug = fields.optional("slug", |f, v| {
        Slug::parse(&read::string(f, v)?).map_err(|err| match err {
            SlugError::Malformed => ApiError::validation(f, "must be 3..64 letters, digits, '_' or '-'"),
            SlugError::Reserved => ApiError::validation(f, "is reserved"),
        })
    })?;
    let domain = fields.optional("domain", |f, v| {
        Hostname::parse(&read::string(f, v)?).ok_or_else(|| ApiError::validation(f, "must be a DNS host name"))
    })?;
    let title = fields.optional("title", title)?;
    let expires_at = fields.optional("expires_at", expiry)?;
    fields.finish()?;
    Ok(NewLink { destination, slug, domain, title, expires_at })
}

fn read_patch(api: &Api, call: &Call<LinksOp>) -> Result<LinkPatch, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    for fixed in ["slug", "domain"] {
        if fields.has(fixed) {
            return Err(ApiError::validation(fixed, "cannot change: create a new link instead"));
        }
    }
    let mut patch = LinkPatch::default();
    if fields.has("destination") {
        patch.destination = Some(not_our_own(api, &call.request, destination(&mut fields)?)?);
    }
    if fields.has("title") {
        patch.title = Some(fields.optional("title", title)?);
    }
    if fields.has("expires_at") {
        patch.expires_at = Some(fields.optional("expires_at", expiry)?);
    }
    fields.finish()?;
    if patch.destination.is_none() && patch.title.is_none() && patch.expires_at.is_none() {
        return Err(ApiError::validation("body", "must change destination, title or expires_at"));
    }
    Ok(patch)
}

/// `from` and `to` of a stats request: UTC dates, the last 30 days through today by default.
fn stats_range(call: &Call<LinksOp>) -> Result<(time::Date, time::Date), ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let params = call.query(&["from", "to"])?;
    let date = |name: &str| -> Result<Option<time::Date>, ApiError> {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| {
                time::Date::parse(v, &format).map_err(|_| ApiError::validation(name, "must be a date (YYYY-MM-DD)"))
            })
            .transpose()
    };
    let today = keyhive::model::now().date();
    let within = |name: &str, d: time::Date| {
        if (2000..=9999).contains(&d.year()) {
            Ok(d)
        } else {
            Err(ApiError::validation(name, "must be a date of the years 2000..9999"))
        }
    };
    let to = date("to")?.map(|d| within("to", d)).transpose()?.unwrap_or(today);
    let from = match date("from")? {
        Some(d) => within("from", d)?,
        None => to.checked_sub(time::Duration::days(29)).ok_or_else(|| ApiError::validation("to", "is too early"))?,
    };
    if from > to {
        return Err(ApiError::validation("from", "must not be after to"));
    }
    if (to - from).whole_days() >= rules::MAX_STATS_DAYS {
        return Err(ApiError::validation("from", "the range is at most 366 days"));
    }
    Ok((from, to))
}
