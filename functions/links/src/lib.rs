//! The links function: h0p-style short links (`/short-link`), their public redirects
//! (`/{slug}`, on the API's host and on verified custom domains), click stats, and custom link
//! domains (`/domains`). `handler` sends each operation to its own short function: the request
//! read by `input`, the change made by `rules`, the answer built here (link listings in `pages`).
//! The store is in `store`, the records and value rules in `model`, TXT lookups in `dns`.

pub mod clicks;
pub mod dns;
pub mod input;
pub mod model;
pub mod pages;
pub mod preview;
pub mod rules;
pub mod store;

use crate::dns::TxtLookup;
use crate::model::{Clicks, Hostname, Link};
use crate::store::LinkStore;
use keyhive::auth::permissions::{permission_name, Action, Resource};
use keyhive::http::idempotent;
use keyhive::http::routes::LinksOp;
use keyhive::{ApiError, ApiState, Call, Reply};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// What the links function builds once per instance.
pub struct Links {
    pub api: ApiState,
    /// `None` when no resolver could be configured: verification answers 503.
    pub dns: Option<Box<dyn TxtLookup>>,
}

impl Links {
    pub async fn from_env() -> Self {
        let api = ApiState::from_env().await;
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
    let (api, call) = (&links.api, &call);
    match call.op {
        LinksOp::Redirect => redirect(api, call).await,
        LinksOp::Create => create_link(api, call).await,
        LinksOp::List => list_links(api, call).await,
        LinksOp::Get => get_link(api, call).await,
        LinksOp::Update => update_link(api, call).await,
        LinksOp::Delete => delete_link(api, call).await,
        LinksOp::Stats => link_stats(api, call).await,
        LinksOp::CreateDomain => create_domain(api, call).await,
        LinksOp::ListDomains => list_domains(api, call).await,
        LinksOp::GetDomain => get_domain(api, call).await,
        LinksOp::VerifyDomain => verify_domain(links, call).await,
        LinksOp::DeleteDomain => delete_domain(api, call).await,
    }
}

/// `GET`/`HEAD /{slug}`: 302 to the destination; a `GET` counts one click. A link-preview fetcher
/// gets the link's preview card instead, when it has one.
async fn redirect(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let visit = input::visit(api, call)?;
    let target =
        rules::redirect(&api.store, visit.domain.as_ref(), &visit.slug, visit.visitor.as_ref(), keyhive::model::now())
            .await?;
    match target.preview {
        Some(preview) if visit.fetcher => {
            let base = input::link_base(api, &call.request);
            let short_url =
                keyhive::http::short_url(&base, visit.domain.as_ref().map(Hostname::as_str), visit.slug.as_str());
            let image = preview.image.as_ref().map(|id| keyhive::http::file_url(&base, id));
            let page = preview::card(&preview, &target.destination, &short_url, image.as_deref());
            Ok(Reply::html(page).with_header(
                http::header::CONTENT_SECURITY_POLICY,
                http::HeaderValue::from_static(preview::CONTENT_SECURITY_POLICY),
            ))
        }
        _ => Ok(Reply::redirect(target.destination.as_str())),
    }
}

/// `POST /short-link`.
async fn create_link(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let new = input::new_link(api, call)?;
    let change = call.change()?;
    let base = input::link_base(api, &call.request);
    idempotent(api, call, |claim| async move {
        let change = change.with_claim(claim);
        let link = rules::create_link_within(&api.store, &change, new, &base, api.config.limits.links).await?;
        Ok(Reply::created_at(link.to_json(&base, Clicks::default()), &format!("/short-link/{}", link.id.as_str())))
    })
    .await
}

/// `GET /short-link/list`.
async fn list_links(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let list = input::link_list(api, call).await?;
    let change = call.change()?;
    pages::link_page(api, &change.tenant, &list, &input::link_base(api, &call.request)).await
}

/// `GET /short-link/{id}`.
async fn get_link(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    let link = rules::visible_link(&api.store, &change, &input::link_id(call)?).await?;
    link_reply(api, call, &link).await
}

/// `PATCH /short-link/{id}`.
async fn update_link(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let patch = input::link_patch(api, call)?;
    let change = call.change()?;
    let link = rules::update_link(&api.store, &change, &input::link_id(call)?, patch).await?;
    link_reply(api, call, &link).await
}

/// `DELETE /short-link/{id}`: answers the link as it was, with its clicks.
async fn delete_link(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    let link = rules::visible_link(&api.store, &change, &input::link_id(call)?).await?;
    let clicks = api.store.clicks(&link).await?;
    rules::delete_link(&api.store, &change, &link).await?;
    Ok(Reply::ok(link.to_json(&input::link_base(api, &call.request), clicks)))
}

/// `GET /short-link/{id}/stats`.
async fn link_stats(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let range = input::stats_range(call)?;
    let change = call.change()?;
    let link = rules::visible_link(&api.store, &change, &input::link_id(call)?).await?;
    Ok(Reply::ok(rules::stats(&api.store, &link, range.from, range.to).await?))
}

/// `POST /domains`.
async fn create_domain(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let hostname = input::new_domain(call)?;
    let change = call.change()?;
    let own = input::own_hosts(api, &call.request);
    idempotent(api, call, |claim| async move {
        let change = change.with_claim(claim);
        let domain = rules::create_domain(&api.store, &change, hostname, &own, api.config.limits.domains).await?;
        Ok(Reply::created_at(domain.to_json(), &format!("/domains/{}", domain.id.as_str())))
    })
    .await
}

/// `GET /domains`.
async fn list_domains(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let list = input::domain_list(api, call).await?;
    let change = call.change()?;
    let page = api.store.list_domains(&change.tenant, list.start.as_ref(), list.limit).await?;
    list.reply(api, page, model::Domain::to_json).await
}

/// `GET /domains/{id}`.
async fn get_domain(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    Ok(Reply::ok(rules::visible_domain(&api.store, &change, &input::domain_id(call)?).await?.to_json()))
}

/// `POST /domains/{id}/verify`: the domain, and the TXT values the lookup saw.
async fn verify_domain(links: &Links, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let dns = links.dns.as_deref().ok_or_else(|| ApiError::unavailable("no DNS resolver is configured"))?;
    let change = call.change()?;
    let (domain, seen) = rules::verify_domain(&links.api.store, dns, &change, &input::domain_id(call)?).await?;
    let mut data = domain.to_json();
    data["seen"] = json!(seen);
    Ok(Reply::ok(data))
}

/// `DELETE /domains/{id}` (`?force=true`: with its links).
async fn delete_domain(api: &ApiState, call: &Call<LinksOp>) -> Result<Reply, ApiError> {
    let force = input::force(call)?;
    // Forcing deletes links: the caller needs that power too, not only `domains:delete`.
    let identity = call.identity()?;
    if force && !identity.permissions.allows(Resource::ShortLinks, Action::Delete) {
        return Err(ApiError::Forbidden { required: permission_name(Resource::ShortLinks, Action::Delete) });
    }
    let change = call.change()?;
    Ok(Reply::ok(rules::delete_domain(&api.store, &change, &input::domain_id(call)?, force).await?.to_json()))
}

async fn link_reply(api: &ApiState, call: &Call<LinksOp>, link: &Link) -> Result<Reply, ApiError> {
    let clicks = api.store.clicks(link).await?;
    Ok(Reply::ok(link.to_json(&input::link_base(api, &call.request), clicks)))
}
