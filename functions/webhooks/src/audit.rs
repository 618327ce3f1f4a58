//! `GET /v1/audit-log`: the entries every change writes in its own transaction, newest first,
//! filtered in the query (a filtered page is full while more match), 90 days back. A `test` key
//! reads the test environment's entries only; a `live` key reads all of its organization's.

use keyhive::auth::Environment;
use keyhive::change::AuditAction;
use keyhive::http::paging::{ListRequest, ListSpec};
use keyhive::http::routes::WebhooksOp;
use keyhive::model::{parse_rfc3339, rfc3339};
use keyhive::schema;
use keyhive::store::items::{get_s, opt_s, Item};
use keyhive::store::query::{Filter, Listing, SortRange};
use keyhive::store::{Page, StoreError};
use keyhive::{ApiError, ApiState, Call, Reply};
use serde_json::{json, Value};

/// The longest filter value (openapi's `maxLength`): ids are far shorter.
const MAX_FILTER_CHARS: usize = 200;

const AUDIT_LIST: ListSpec =
    ListSpec { default_limit: 20, filters: &["actor", "action", "resource", "since"], numbered: false };

fn entry_json(item: &Item) -> Result<Value, StoreError> {
    Ok(json!({
        "id": get_s(item, "entry_id")?,
        "at": get_s(item, "at")?,
        "environment": get_s(item, "environment")?,
        "action": get_s(item, "action")?,
        "target_id": get_s(item, "target_id")?,
        "actor": {
            "key_id": opt_s(item, "actor_key_id"),
            "user_id": opt_s(item, "actor_user_id"),
            "system": opt_s(item, "actor_system"),
        },
        "request_id": get_s(item, "request_id")?,
    }))
}

pub async fn list(api: &ApiState, call: &Call<WebhooksOp>) -> Result<Reply, ApiError> {
    let list = ListRequest::read(api, call, AUDIT_LIST).await?;
    let identity = call.identity()?;
    let mut filter = Filter::default();
    let now = keyhive::model::now();
    // DynamoDB deletes expired entries late: a read skips them itself.
    filter.and_number(
        "(attribute_not_exists(#ttl) OR #ttl > :now)",
        &[("#ttl", schema::TTL_ATTRIBUTE)],
        (":now", now.unix_timestamp()),
    );
    if identity.environment == Environment::Test {
        filter.and("#env = :env", &[("#env", "environment")], &[(":env", Environment::Test.as_str())]);
    }
    for name in ["actor", "action", "resource", "since"] {
        if list.filter(name).is_some_and(|v| v.is_empty() || v.chars().count() > MAX_FILTER_CHARS) {
            return Err(ApiError::validation(name, "must be 1..200 characters"));
        }
    }
    if let Some(actor) = list.filter("actor") {
        // A key id, or a system job's name (`secret-scanning`).
        filter.and("(actor_key_id = :actor OR actor_system = :actor)", &[], &[(":actor", actor)]);
    }
    if let Some(action) = list.filter("action") {
        let action =
            AuditAction::parse(action).ok_or_else(|| ApiError::validation("action", "is not an audit action"))?;
        filter.and("#action = :action", &[("#action", "action")], &[(":action", action.as_str())]);
    }
    if let Some(resource) = list.filter("resource") {
        filter.and("target_id = :resource", &[], &[(":resource", resource)]);
    }
    let oldest = now - keyhive::change::AUDIT_RETENTION;
    let since = match list.filter("since") {
        Some(text) => {
            parse_rfc3339(text).ok_or_else(|| ApiError::validation("since", "must be an RFC 3339 date-time"))?
        }
        None => oldest,
    };
    let listing = Listing {
        index: None,
        partition_attr: schema::PK,
        partition: schema::audit_pk(identity.org_id.as_str()),
        sort_attr: schema::SK,
        // Without the `Z`: the second's fractional sort keys (`…:SS.ffffffZ`) sort after it.
        range: SortRange::From(rfc3339(since.max(oldest)).trim_end_matches('Z').to_string()),
        filter,
        key_attrs: &[schema::PK, schema::SK],
    };
    let (items, next) = api.store.list_page(&listing, list.start.as_ref(), list.limit).await?;
    let entries = items.iter().map(entry_json).collect::<Result<Vec<_>, _>>()?;
    list.reply(api, Page { items: entries, next }, Value::clone).await
}
