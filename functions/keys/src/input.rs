//! The edge of the keys function: reads a request (`Call<KeysOp>`) into typed values (a new key,
//! a key's patch, a roll's grace, a new member, the list parameters and the ids of a path), so
//! that the handler's operations and `rules` see parsed values only. A body or query that does
//! not read is a 400 naming its field; an id that cannot be one is the 404 of a key or member
//! that does not exist.

use crate::model::{KeyMeta, MAX_EXTERNAL_ID_CHARS, MAX_META_BYTES, MAX_META_PROPERTIES};
use crate::rules::{self, KeyPatch, NewKey};
use keyhive::auth::permissions::Permissions;
use keyhive::auth::{Environment, KeyId, KeyType, Tier};
use keyhive::http::body::{parse_object, read, JsonObject};
use keyhive::http::paging::{ListRequest, ListSpec};
use keyhive::http::routes::KeysOp;
use keyhive::model::{parse_rfc3339, UserId};
use keyhive::{ApiError, ApiState, Call};
use serde_json::Value;
use time::OffsetDateTime;

const KEY_LIST: ListSpec = ListSpec { default_limit: 20, filters: &["created_by", "external_id"], numbered: false };
const MEMBER_LIST: ListSpec = ListSpec { default_limit: 20, filters: &[], numbered: false };

/// The key a path names (`{id}`): an id no key can have is a missing key.
pub fn key_id(call: &Call<KeysOp>) -> Result<KeyId, ApiError> {
    KeyId::parse(call.param("id")?).ok_or(ApiError::NotFound("key"))
}

/// The member a path names (`{user_id}`): an id no member can have is a missing member.
pub fn member_user_id(call: &Call<KeysOp>) -> Result<UserId, ApiError> {
    UserId::parse(call.param("user_id")?).ok_or(ApiError::NotFound("member"))
}

/// A `GET /v1/keys`: the page asked for, and whose keys it lists.
#[derive(Debug)]
pub struct KeyList {
    pub list: ListRequest,
    /// `?created_by=`: a key id, a user id, or `bootstrap` (checked, as sent).
    pub created_by: Option<String>,
    /// `?external_id=`.
    pub external_id: Option<String>,
}

/// `GET /v1/keys`: `limit`, `cursor`, `created_by` and `external_id`.
pub async fn key_list(api: &ApiState, call: &Call<KeysOp>) -> Result<KeyList, ApiError> {
    let list = ListRequest::read(api, call, KEY_LIST).await?;
    let created_by = list.filter("created_by").map(creator).transpose()?;
    let external_id =
        list.filter("external_id").map(|v| external_id("external_id", Value::String(v.to_string()))).transpose()?;
    Ok(KeyList { list, created_by, external_id })
}

/// `GET /v1/members`: `limit` and `cursor`.
pub async fn member_list(api: &ApiState, call: &Call<KeysOp>) -> Result<ListRequest, ApiError> {
    ListRequest::read(api, call, MEMBER_LIST).await
}

/// The body of `POST /v1/keys`, field by field (`rules::check_new_key` then checks how the fields
/// go together, and the expiry against now).
pub fn new_key(call: &Call<KeysOp>) -> Result<NewKey, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    let name = fields.required("name", read::name)?;
    let key_type = fields.required("type", |f, v| {
        KeyType::parse(&read::string(f, v)?).ok_or_else(|| ApiError::validation(f, "must be user or bot"))
    })?;
    let user_id = fields.optional("user_id", user_id)?;
    let permissions = fields.required("permissions", permissions)?;
    let environment = fields.optional("environment", |f, v| {
        Environment::parse(&read::string(f, v)?).ok_or_else(|| ApiError::validation(f, "must be live or test"))
    })?;
    let expires_at = fields.optional("expires_at", timestamp)?;
    let tier = tier(&mut fields)?.unwrap_or(Tier::Standard);
    let meta = KeyMeta {
        meta: fields.optional("meta", meta)?.unwrap_or_default(),
        external_id: fields.optional("external_id", external_id)?,
    };
    fields.finish()?;
    Ok(NewKey { name, key_type, user_id, permissions, environment, expires_at, tier, meta })
}

/// The body of `PATCH /v1/keys/{id}`: the settings it replaces.
pub fn key_patch(call: &Call<KeysOp>) -> Result<KeyPatch, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    // `expires_at: null` clears the expiry; an absent field leaves it (so for the others).
    let clears_expiry = fields.has("expires_at");
    let clears_meta = fields.has("meta");
    let clears_external_id = fields.has("external_id");
    let patch = KeyPatch {
        name: fields.optional("name", read::name)?,
        permissions: fields.optional("permissions", permissions)?,
        expires_at: match fields.optional("expires_at", timestamp)? {
            Some(at) => Some(Some(at)),
            None if clears_expiry => Some(None),
            None => None,
        },
        // Each value is checked here; how they combine with the stored tier, in `update_key`.
        tier: fields.optional("tier", |f, v| {
            let name = read::string(f, v)?;
            match name.as_str() {
                "standard" | "professional" | "enterprise" => Ok(name),
                _ => Err(ApiError::validation(f, "must be standard, professional or enterprise")),
            }
        })?,
        enabled: fields.optional("enabled", read::boolean)?,
        meta: match fields.optional("meta", meta)? {
            Some(meta) => Some(meta),
            None if clears_meta => Some(serde_json::Map::new()),
            None => None,
        },
        external_id: match fields.optional("external_id", external_id)? {
            Some(id) => Some(Some(id)),
            None if clears_external_id => Some(None),
            None => None,
        },
        rate_limit_per_minute: fields.optional("rate_limit_per_minute", |f, v| {
            let limit = read::integer(f, v)?;
            match (1..=i64::from(keyhive::model::ENTERPRISE_MAX_PER_MINUTE)).contains(&limit) {
                true => Ok(limit),
                false => Err(ApiError::validation(f, "must be 1..100000")),
            }
        })?,
    };
    fields.finish()?;
    Ok(patch)
}

/// `grace_seconds` of `POST /v1/keys/{id}/roll` (the body is optional): how long the old secret
/// stays valid, 0..=7 days, 0 when absent.
pub fn grace_seconds(call: &Call<KeysOp>) -> Result<i64, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), true)?;
    let grace = fields.optional("grace_seconds", read::integer)?.unwrap_or(0);
    fields.finish()?;
    rules::check_grace(grace)?;
    Ok(grace)
}

/// A `POST /v1/members` body.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// `None`: the member gets a generated id.
    pub user_id: Option<UserId>,
    pub name: String,
    pub email: String,
}

pub fn new_member(call: &Call<KeysOp>) -> Result<NewMember, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    let user_id = fields.optional("user_id", user_id)?;
    let name = fields.required("name", read::name)?;
    let email = fields.required("email", read::email)?;
    fields.finish()?;
    Ok(NewMember { user_id, name, email })
}

/// A key's `meta`: a JSON object of at most 20 properties and 2 KiB serialized.
fn meta(field: &str, v: Value) -> Result<serde_json::Map<String, Value>, ApiError> {
    let object = read::object(field, v)?;
    if object.len() > MAX_META_PROPERTIES {
        return Err(ApiError::validation(field, format!("must have at most {MAX_META_PROPERTIES} properties")));
    }
    if Value::Object(object.clone()).to_string().len() > MAX_META_BYTES {
        return Err(ApiError::validation(field, format!("must be at most {MAX_META_BYTES} bytes as JSON")));
    }
    Ok(object)
}

/// A key's `external_id`: 1..255 characters, no control characters.
fn external_id(field: &str, v: Value) -> Result<String, ApiError> {
    let s = read::string(field, v)?;
    let count = s.chars().count();
    if count == 0 || count > MAX_EXTERNAL_ID_CHARS || s.chars().any(|c| c.is_control() || read::is_deceptive(c)) {
        return Err(ApiError::validation(
            field,
            "must be 1..255 characters, without control, bidirectional-control or zero-width characters",
        ));
    }
    Ok(s)
}

/// The body of `POST /v1/keys/verify`: the key to verify, as sent (anything that is not one of
/// the caller's keys is `NOT_FOUND`, not a 400), and the permission query it must satisfy.
#[derive(Debug)]
pub struct VerifyBody {
    pub key: String,
    pub permissions: Option<crate::query::Query>,
}

/// The longest `key` a verification reads: far above any key's length, so that the refusal
/// of a long text is still a `NOT_FOUND` (and a body never hashes more than this).
pub const MAX_VERIFIED_KEY_CHARS: usize = 512;

pub fn verify_body(call: &Call<KeysOp>) -> Result<VerifyBody, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    let key = fields.required("key", |f, v| {
        let key = read::string(f, v)?;
        match key.chars().count() {
            1..=MAX_VERIFIED_KEY_CHARS => Ok(key),
            _ => Err(ApiError::validation(f, "must be 1..512 characters")),
        }
    })?;
    let permissions = fields.optional("permissions", |f, v| crate::query::read(f, &read::string(f, v)?))?;
    fields.finish()?;
    Ok(VerifyBody { key, permissions })
}

/// `?created_by=`: a key id, a user id, or `bootstrap`.
fn creator(value: &str) -> Result<String, ApiError> {
    UserId::parse(value)
        .map(|id| id.as_str().to_string())
        .ok_or_else(|| ApiError::validation("created_by", "must be a key id, a user id or bootstrap"))
}

fn user_id(field: &str, v: Value) -> Result<UserId, ApiError> {
    UserId::parse(&read::string(field, v)?).ok_or_else(|| ApiError::validation(field, "must be 1..64 of [A-Za-z0-9_-]"))
}

fn timestamp(field: &str, v: Value) -> Result<OffsetDateTime, ApiError> {
    parse_rfc3339(&read::string(field, v)?).ok_or_else(|| ApiError::validation(field, "must be an RFC 3339 time"))
}

fn permissions(field: &str, v: Value) -> Result<Permissions, ApiError> {
    Permissions::from_json(field, &v)
}

/// `tier` and `rate_limit_per_minute` of a new key (the limit only with `enterprise`).
fn tier(fields: &mut JsonObject) -> Result<Option<Tier>, ApiError> {
    let name = fields.optional("tier", read::string)?;
    let limit = fields.optional("rate_limit_per_minute", read::integer)?;
    match (name, limit) {
        (None, None) => Ok(None),
        (None, Some(_)) => {
            Err(ApiError::validation("rate_limit_per_minute", "is only allowed with the enterprise tier"))
        }
        (Some(name), limit) => Tier::from_parts(&name, limit).map(Some),
    }
}

/// The span of a usage route: `from` and `to` (RFC 3339) and `granularity`
/// (`minute|hour|day`), each optional; anything else in the query is a 400 naming it.
pub fn usage_span(call: &Call<KeysOp>, now: OffsetDateTime) -> Result<crate::usage::report::Span, ApiError> {
    let (mut from, mut to, mut granularity) = (None, None, None);
    for (name, value) in call.query(&["from", "to", "granularity"])? {
        match name.as_str() {
            "from" => from = Some(time_param("from", &value)?),
            "to" => to = Some(time_param("to", &value)?),
            _ => {
                granularity = Some(
                    crate::usage::Granularity::parse(&value)
                        .ok_or_else(|| ApiError::validation("granularity", "must be minute, hour or day"))?,
                )
            }
        }
    }
    crate::usage::report::Span::new(from, to, granularity, now)
}

fn time_param(field: &str, value: &str) -> Result<OffsetDateTime, ApiError> {
    parse_rfc3339(value).ok_or_else(|| ApiError::validation(field, "must be an RFC 3339 time (2026-12-06T10:30:00Z)"))
}

const USAGE_LIST: ListSpec = ListSpec { default_limit: 20, filters: &["from", "to"], numbered: false };

/// A `GET /v1/usage`: the page asked for and its span (a cursor carries the span of the first
/// page, so that the pages of one listing add up).
#[derive(Debug)]
pub struct UsageList {
    pub list: ListRequest,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// How many keys the previous pages held.
    pub offset: usize,
}

pub async fn usage_list(api: &ApiState, call: &Call<KeysOp>, now: OffsetDateTime) -> Result<UsageList, ApiError> {
    let list = ListRequest::read(api, call, USAGE_LIST).await?;
    if let Some(position) = &list.start {
        let read = |name: &str| position.get(name).and_then(|v| parse_rfc3339(v));
        let offset = position.get("offset").and_then(|v| v.parse().ok());
        return match (read("from"), read("to"), offset) {
            (Some(from), Some(to), Some(offset)) => Ok(UsageList { list, from, to, offset }),
            _ => Err(ApiError::validation("cursor", "is not a cursor this list returned")),
        };
    }
    let from = list.filter("from").map(|v| time_param("from", v)).transpose()?;
    let to = list.filter("to").map(|v| time_param("to", v)).transpose()?;
    let span = crate::usage::report::Span::new(from, to, Some(crate::usage::Granularity::Day), now)?;
    Ok(UsageList { list, from: span.from, to: span.to, offset: 0 })
}
