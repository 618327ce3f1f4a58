//! The pages of the link listing (`GET /short-link/list`): by `cursor`, or numbered
//! (`?page=&limit=`). A numbered page is found by walking the listing from the newest link in
//! full pages, up to `MAX_PAGE_OFFSET` links deep; past that, `cursor` pages on without reading
//! the links before.

use crate::store::LinkStore;
use keyhive::http::paging::ListRequest;
use keyhive::model::Tenant;
use keyhive::store::cursor::Position;
use keyhive::store::Page;
use keyhive::{ApiError, ApiState, Reply};
use serde_json::{json, Value};

/// Numbered pages reach this many links deep.
pub const MAX_PAGE_OFFSET: u32 = 2_000;

/// The most links one step of the walk reads.
const WALK_STEP: u32 = 100;

/// Where a page of the listing starts.
#[derive(Debug, Clone)]
pub enum PageStart {
    /// After this position (`None`: at the newest link).
    After(Option<Position>),
    /// Past the last link: the page is empty.
    PastTheEnd,
}

/// One page of a tenant's links, newest first, each with its clicks, and the tenant's total.
/// `base` is the own link domain's URL base, for the short URLs.
pub async fn link_page(api: &ApiState, tenant: &Tenant, list: &ListRequest, base: &str) -> Result<Reply, ApiError> {
    let store = &api.store;
    let start = match page_start(store, tenant, list).await? {
        PageStart::After(start) => start,
        PageStart::PastTheEnd => return Ok(past_the_end(list, store.link_count(tenant).await?)),
    };
    let page = store.list_links(tenant, start.as_ref(), list.limit).await?;
    let clicks = store.clicks_of(&page.items).await?;
    let total = store.link_count(tenant).await?;
    let data: Vec<Value> =
        page.items.iter().map(|l| l.to_json(base, clicks.get(&l.id).copied().unwrap_or_default())).collect();
    let page = Page { items: data, next: page.next };
    Ok(list.reply(api, page, Value::clone).await?.with_meta("total", json!(total)))
}

/// Where the requested page starts: the cursor's position, or, for a numbered page, where the
/// walk by full pages reaches `page × limit` links (never past `MAX_PAGE_OFFSET`).
pub async fn page_start<S: LinkStore + ?Sized>(
    store: &S,
    tenant: &Tenant,
    list: &ListRequest,
) -> Result<PageStart, ApiError> {
    let page_number = list.page.unwrap_or(0);
    let mut start = list.start.clone();
    if start.is_some() || page_number == 0 {
        return Ok(PageStart::After(start));
    }
    let offset = page_number.saturating_mul(list.limit);
    if offset > MAX_PAGE_OFFSET {
        return Err(ApiError::validation("page", "reaches past 2000 links: page on with cursor"));
    }
    // Ends when the walk reaches the page's start or runs out of links first (or exactly there:
    // then the page is past the last, and empty).
    let mut skipped = 0;
    while skipped < offset {
        let (stepped, next) = store.skip_links(tenant, start.as_ref(), (offset - skipped).min(WALK_STEP)).await?;
        skipped += stepped;
        start = next;
        if start.is_none() {
            return Ok(PageStart::PastTheEnd);
        }
    }
    Ok(PageStart::After(start))
}

/// A numbered page past the last link: empty, with no next cursor, and the tenant's total.
fn past_the_end(list: &ListRequest, total: i64) -> Reply {
    Reply::ok(json!([]))
        .with_meta("page", json!(list.page.unwrap_or(0)))
        .with_meta("limit", json!(list.limit))
        .with_meta("total", json!(total))
        .with_meta("has_more", json!(false))
        .with_meta("next_cursor", Value::Null)
}
