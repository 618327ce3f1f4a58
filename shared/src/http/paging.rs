//! Paging for every list route: `limit` (1..100), an opaque `cursor` from the previous page's
//! `meta.next_cursor`, on numbered lists a `page` (from 0), the route's own filters, and nothing
//! else (an unknown query parameter is a 400, like an unknown body field). The cursor is sealed for the list it came from: the
//! caller's organization and environment, the route and the filter values.

use crate::error::ApiError;
use crate::http::envelope::Reply;
use crate::http::{ApiState, Call};
use crate::store::cursor::{self, CursorScope, Position};
use crate::store::Page;
use lambda_http::RequestExt;
use serde_json::{json, Value};

/// The highest `page` a numbered list accepts (deeper paging goes by cursor).
pub const MAX_PAGE: u32 = 10_000;

/// What a list route accepts besides `limit` and `cursor`.
#[derive(Debug, Clone, Copy)]
pub struct ListSpec {
    pub default_limit: u32,
    /// Its filter query parameters.
    pub filters: &'static [&'static str],
    /// Whether it also takes `page` (numbered pages, h0p style).
    pub numbered: bool,
}

/// A list request, read and checked.
#[derive(Debug)]
pub struct ListRequest {
    pub limit: u32,
    /// The page number of a numbered list (0 when absent); `None` on other lists.
    pub page: Option<u32>,
    /// Where the previous page ended (from an opened cursor).
    pub start: Option<Position>,
    filters: Vec<(&'static str, Option<String>)>,
    scope: CursorScope,
}

impl ListRequest {
    /// Reads `limit`, `cursor` and the named filters from the query; any other parameter, a
    /// repeated one, a bad `limit` or a cursor that is not this list's is a 400.
    pub async fn read<O>(api: &ApiState, call: &Call<O>, spec: ListSpec) -> Result<Self, ApiError> {
        let identity = call.identity()?;
        let query = call.request.query_string_parameters_ref();
        let mut limit = spec.default_limit;
        let mut page = spec.numbered.then_some(0);
        let mut cursor_text = None;
        let mut filters: Vec<(&'static str, Option<String>)> = spec.filters.iter().map(|n| (*n, None)).collect();
        if let Some(query) = query {
            for (name, value) in query.iter() {
                if query.all(name).is_some_and(|all| all.len() > 1) {
                    return Err(ApiError::validation(name, "must be given at most once"));
                }
                match name {
                    "limit" => {
                        limit = value
                            .parse::<u32>()
                            .ok()
                            .filter(|l| (1..=100).contains(l))
                            .ok_or_else(|| ApiError::validation("limit", "must be 1..100"))?;
                    }
                    "cursor" => cursor_text = Some(value.to_string()),
                    "page" if spec.numbered => {
                        page = Some(
                            value
                                .parse::<u32>()
                                .ok()
                                .filter(|p| *p <= MAX_PAGE)
                                .ok_or_else(|| ApiError::validation("page", "must be 0..10000"))?,
                        );
                    }
                    other => match filters.iter_mut().find(|(n, _)| *n == other) {
                        Some((_, slot)) => *slot = Some(value.to_string()),
                        None => return Err(ApiError::validation(other, "is not a known query parameter")),
                    },
                }
            }
        }
        let filter_values: Vec<(&str, &str)> =
            filters.iter().map(|(n, v)| (*n, v.as_deref().unwrap_or_default())).collect();
        let scope = CursorScope::new(
            identity.org_id.as_str(),
            identity.environment.as_str(),
            call.route.pattern,
            &filter_values,
        );
        let start = match cursor_text {
            Some(text) => {
                Some(cursor::open(api.cursor_key().await?, &scope, &text, crate::model::now().unix_timestamp())?)
            }
            None => None,
        };
        Ok(ListRequest { limit, page, start, filters, scope })
    }

    /// The value of a filter this list accepts, when the query gave one.
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.filters.iter().find(|(n, _)| *n == name).and_then(|(_, v)| v.as_deref())
    }

    /// The list reply: `data` as an array, `meta` with `limit`, `has_more` and the sealed
    /// `next_cursor` (null on the last page).
    pub async fn reply<T>(&self, api: &ApiState, page: Page<T>, to_json: fn(&T) -> Value) -> Result<Reply, ApiError> {
        let next_cursor = match &page.next {
            Some(position) => {
                Some(cursor::seal(api.cursor_key().await?, &self.scope, position, crate::model::now().unix_timestamp()))
            }
            None => None,
        };
        let data = Value::Array(page.items.iter().map(to_json).collect());
        let reply = match self.page {
            Some(page) => Reply::ok(data).with_meta("page", json!(page)),
            None => Reply::ok(data),
        };
        Ok(reply
            .with_meta("limit", json!(self.limit))
            .with_meta("has_more", json!(next_cursor.is_some()))
            .with_meta("next_cursor", json!(next_cursor)))
    }
}
