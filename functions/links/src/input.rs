//! The links function's edge: what a request says, read into typed values (bodies, query and
//! path parameters, and the headers a redirect counts by). Everything here is parsed once, so the
//! rules see only valid ids, slugs, destinations and titles. An id that cannot be one is answered
//! as the record it does not name: 404, like a missing one.

use crate::model::{
    Destination, DomainId, Hostname, LinkId, Preview, Slug, SlugError, Title, Visitor, MAX_PREVIEW_DESCRIPTION_CHARS,
    MAX_PREVIEW_TITLE_CHARS,
};
use crate::rules::{self, LinkPatch, NewLink};
use keyhive::http::body::{parse_object, read, JsonObject};
use keyhive::http::paging::{ListRequest, ListSpec};
use keyhive::http::routes::LinksOp;
use keyhive::model::parse_rfc3339;
use keyhive::model::FileId;
use keyhive::{ApiError, ApiState, Call};
use lambda_http::Request;
use serde_json::Value;
use time::{Date, OffsetDateTime};

const LINK_LIST: ListSpec = ListSpec { default_limit: 10, filters: &[], numbered: true };
const DOMAIN_LIST: ListSpec = ListSpec { default_limit: 20, filters: &[], numbered: false };

/// The `{id}` of a short-link route.
pub fn link_id(call: &Call<LinksOp>) -> Result<LinkId, ApiError> {
    LinkId::parse(call.param("id")?).ok_or(ApiError::NotFound("short link"))
}

/// The `{id}` of a domain route.
pub fn domain_id(call: &Call<LinksOp>) -> Result<DomainId, ApiError> {
    DomainId::parse(call.param("id")?).ok_or(ApiError::NotFound("domain"))
}

/// `GET /short-link/list`: `limit`, `cursor` and the numbered `page`.
pub async fn link_list(api: &ApiState, call: &Call<LinksOp>) -> Result<ListRequest, ApiError> {
    ListRequest::read(api, call, LINK_LIST).await
}

/// `GET /domains`: `limit` and `cursor`.
pub async fn domain_list(api: &ApiState, call: &Call<LinksOp>) -> Result<ListRequest, ApiError> {
    ListRequest::read(api, call, DOMAIN_LIST).await
}

/// A visit of `GET`/`HEAD /{slug}`: which domain's links it asks (`None`: the deployment's own),
/// the slug, and, for a `GET`, how the visit counts.
#[derive(Debug, Clone)]
pub struct Visit {
    pub domain: Option<Hostname>,
    pub slug: Slug,
    /// `None` for a `HEAD`: it reads only.
    pub visitor: Option<Visitor>,
    /// Whether the User-Agent is a link-preview fetcher or crawler (for a `HEAD` too): it gets a
    /// link's preview card rather than the redirect.
    pub fetcher: bool,
}

pub fn visit(api: &ApiState, call: &Call<LinksOp>) -> Result<Visit, ApiError> {
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
    let country = header("cloudfront-viewer-country").filter(|_| api.config.trust_viewer_country);
    let visitor = Visitor::of(header("user-agent"), header("referer"), country);
    let fetcher = visitor == Visitor::Bot;
    let visitor = (call.request.method() == http::Method::GET).then_some(visitor);
    // A path that cannot be a slug is no link (and costs no read).
    let slug = Slug::parse(call.param("slug")?).map_err(|_| ApiError::NotFound("short link"))?;
    Ok(Visit { domain, slug, visitor, fetcher })
}

/// The body of `POST /short-link`.
pub fn new_link(api: &ApiState, call: &Call<LinksOp>) -> Result<NewLink, ApiError> {
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
    let preview = fields.optional("preview", preview)?;
    let expires_at = fields.optional("expires_at", expiry)?;
    fields.finish()?;
    Ok(NewLink { destination, slug, domain, title, preview, expires_at })
}

/// The body of `PATCH /short-link/{id}`: at least one of destination, title, preview or expiry
/// (a preview is replaced whole; `null` removes it); never the slug or the domain.
pub fn link_patch(api: &ApiState, call: &Call<LinksOp>) -> Result<LinkPatch, ApiError> {
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
    if fields.has("preview") {
        patch.preview = Some(fields.optional("preview", preview)?);
    }
    if fields.has("expires_at") {
        patch.expires_at = Some(fields.optional("expires_at", expiry)?);
    }
    fields.finish()?;
    if patch.destination.is_none() && patch.title.is_none() && patch.preview.is_none() && patch.expires_at.is_none() {
        return Err(ApiError::validation("body", "must change destination, title, preview or expires_at"));
    }
    Ok(patch)
}

/// The UTC days of a stats request, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: Date,
    pub to: Date,
}

/// `from` and `to` of `GET /short-link/{id}/stats`: UTC dates of the years 2000..9999, the last
/// 30 days through today by default, at most `MAX_STATS_DAYS` apart.
pub fn stats_range(call: &Call<LinksOp>) -> Result<DayRange, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let params = call.query(&["from", "to"])?;
    let date = |name: &str| -> Result<Option<Date>, ApiError> {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| {
                Date::parse(v, &format).map_err(|_| ApiError::validation(name, "must be a date (YYYY-MM-DD)"))
            })
            .transpose()
    };
    let today = keyhive::model::now().date();
    let within = |name: &str, d: Date| {
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
    Ok(DayRange { from, to })
}

/// The body of `POST /domains`: its host name.
pub fn new_domain(call: &Call<LinksOp>) -> Result<Hostname, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    let hostname = fields.required("hostname", |f, v| {
        let text = read::string(f, v)?;
        Hostname::parse(&text)
            .ok_or_else(|| ApiError::validation(f, "must be a DNS host name of two or more labels (not an IP address)"))
    })?;
    fields.finish()?;
    Ok(hostname)
}

/// `?force=` of `DELETE /domains/{id}`: `true` deletes the domain's links with it.
pub fn force(call: &Call<LinksOp>) -> Result<bool, ApiError> {
    match call.query(&["force"])?.first().map(|(_, v)| v.as_str()) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::validation("force", "must be true or false")),
    }
}

/// The URL base of short links on the deployment's own domain: the configured one, or the
/// API's own host and stage as this request reached them.
pub fn link_base(api: &ApiState, request: &Request) -> String {
    keyhive::http::public_base(api, request)
}

/// The deployment's own host names, which no custom domain may be.
pub fn own_hosts(api: &ApiState, request: &Request) -> Vec<String> {
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

/// A destination on the deployment's own hosts would redirect to itself (a loop, each hop
/// counted as a click).
fn not_our_own(api: &ApiState, request: &Request, destination: Destination) -> Result<Destination, ApiError> {
    let host = url::Url::parse(destination.as_str()).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    match host {
        Some(host) if own_hosts(api, request).iter().any(|own| own.eq_ignore_ascii_case(&host)) => {
            Err(ApiError::validation("destination.value", "must not point at this deployment's own hosts"))
        }
        _ => Ok(destination),
    }
}

fn title(field: &str, v: Value) -> Result<Title, ApiError> {
    Title::parse(&read::string(field, v)?).ok_or_else(|| {
        ApiError::validation(
            field,
            "must be 1..200 characters, without control, bidirectional-control or zero-width characters",
        )
    })
}

/// `preview: {title, description?, image?}`: the image a file id (`fil_…`); whether it is a ready
/// social image of the caller's tenant is the store write's condition.
fn preview(field: &str, v: Value) -> Result<Preview, ApiError> {
    let mut inner = read::nested(field, v)?;
    let plain = |limit: usize| {
        format!("must be 1..{limit} characters, without control, bidirectional-control or zero-width characters")
    };
    let title = inner.required("title", |f, v| {
        Preview::title(&read::string(f, v)?).ok_or_else(|| ApiError::validation(f, plain(MAX_PREVIEW_TITLE_CHARS)))
    })?;
    let description = inner.optional("description", |f, v| {
        Preview::description(&read::string(f, v)?)
            .ok_or_else(|| ApiError::validation(f, plain(MAX_PREVIEW_DESCRIPTION_CHARS)))
    })?;
    let image = inner.optional("image", |f, v| {
        FileId::parse(&read::string(f, v)?).ok_or_else(|| ApiError::validation(f, "must be a file id (fil_…)"))
    })?;
    inner.finish()?;
    Ok(Preview { title, description, image })
}

fn expiry(field: &str, v: Value) -> Result<OffsetDateTime, ApiError> {
    let text = read::string(field, v)?;
    parse_rfc3339(&text).ok_or_else(|| ApiError::validation(field, "must be an RFC 3339 date-time"))
}
