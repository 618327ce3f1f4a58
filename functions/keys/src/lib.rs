//! The keys function: `/v1/keys*` and `/v1/members*`. `handler` turns HTTP into calls of
//! `rules` and their results into replies; the rules live there, the store in `store`.

pub mod model;
pub mod rules;
pub mod store;

use crate::rules::{Ctx, KeyPatch, NewKey};
use crate::store::MemberStore;
use keyhive::auth::permissions::Permissions;
use keyhive::auth::KeyRecord;
use keyhive::auth::{Environment, KeyId, KeyType, Tier};
use keyhive::http::body::{parse_object, read, JsonObject};
use keyhive::http::idempotent;
use keyhive::http::paging::{ListRequest, ListSpec};
use keyhive::http::routes::KeysOp;
use keyhive::model::{parse_rfc3339, UserId};
use keyhive::{ApiError, ApiState, Call, Reply};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use time::OffsetDateTime;

const KEY_LIST: ListSpec = ListSpec { default_limit: 20, filters: &["created_by"], numbered: false };
const MEMBER_LIST: ListSpec = ListSpec { default_limit: 20, filters: &[], numbered: false };

pub async fn handle(api: &ApiState, request: Request) -> Response<Body> {
    keyhive::http::serve(api, request, |call| handler(api, call)).await
}

async fn handler(api: &ApiState, call: Call<KeysOp>) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    let ctx = Ctx {
        store: &api.store,
        actor,
        request_id: call.request_id.as_str(),
        now: keyhive::model::now(),
        idempotency: None,
        max_keys: api.config.limits.keys,
    };
    let prefix = api.config.key_prefix.as_str();
    match call.op {
        KeysOp::Create => {
            let mut fields = body(&call, false)?;
            let new = new_key(&mut fields)?;
            fields.finish()?;
            // Everything the body and the caller's own power decide comes before the replay check.
            rules::check_new_key(&new, ctx.now)?;
            rules::check_may_create(actor, &new)?;
            let secret = api.hashing_secret().await?;
            idempotent(api, &call, |claim| async move {
                let ctx = Ctx { idempotency: claim.as_ref(), ..ctx };
                let (record, credential) = rules::create_key(&ctx, prefix, secret, new).await?;
                let mut data = record.to_json();
                data["key"] = json!(credential.reveal());
                Ok(Reply::created_at(data, &format!("/v1/keys/{}", record.key_id.as_str())))
            })
            .await
        }
        KeysOp::List => {
            let list = ListRequest::read(api, &call, KEY_LIST).await?;
            let created_by = list.filter("created_by").map(creator).transpose()?;
            let page = rules::list_keys(&api.store, actor, created_by, list.start.as_ref(), list.limit).await?;
            list.reply(api, page, KeyRecord::to_json).await
        }
        KeysOp::OwnKey => Ok(Reply::ok(rules::visible_key(&api.store, actor, &actor.key_id).await?.to_json())),
        KeysOp::Get => Ok(Reply::ok(rules::visible_key(&api.store, actor, &key_id(&call)?).await?.to_json())),
        KeysOp::Update => {
            // The body's shape (400) is checked before stored state (404), as the contract orders.
            let mut fields = body(&call, false)?;
            let patch = key_patch(&mut fields)?;
            fields.finish()?;
            let id = key_id(&call)?;
            Ok(Reply::ok(rules::update_key(&ctx, &id, patch).await?.to_json()))
        }
        KeysOp::Revoke => Ok(Reply::ok(rules::revoke_key(&ctx, &key_id(&call)?).await?)),
        KeysOp::Roll => {
            let mut fields = body(&call, true)?;
            let grace = fields.optional("grace_seconds", read::integer)?.unwrap_or(0);
            fields.finish()?;
            rules::check_grace(grace)?;
            let id = key_id(&call)?;
            let (record, credential, old_valid_until) =
                rules::roll_key(&ctx, prefix, api.hashing_secret().await?, &id, grace).await?;
            let mut data = record.to_json();
            data["key"] = json!(credential.reveal());
            data["old_secret_valid_until"] = json!(old_valid_until.map(keyhive::model::rfc3339));
            Ok(Reply::ok(data))
        }
        KeysOp::CreateMember => {
            let mut fields = body(&call, false)?;
            let user_id = fields.optional("user_id", user_id)?;
            let name = fields.required("name", read::name)?;
            let email = fields.required("email", read::email)?;
            fields.finish()?;
            idempotent(api, &call, |claim| async move {
                let ctx = Ctx { idempotency: claim.as_ref(), ..ctx };
                let member = rules::create_member(&ctx, user_id, name, email).await?;
                Ok(Reply::created_at(member.to_json(), &format!("/v1/members/{}", member.user_id.as_str())))
            })
            .await
        }
        KeysOp::ListMembers => {
            let list = ListRequest::read(api, &call, MEMBER_LIST).await?;
            let page = api.store.list_members(&actor.org_id, list.start.as_ref(), list.limit).await?;
            list.reply(api, page, crate::model::Member::to_json).await
        }
        KeysOp::RemoveMember => {
            let user_id = UserId::parse(call.param("user_id")?).ok_or(ApiError::NotFound("member"))?;
            Ok(Reply::ok(rules::remove_member(&ctx, &user_id).await?))
        }
    }
}

fn body(call: &Call<KeysOp>, empty_is_object: bool) -> Result<JsonObject, ApiError> {
    parse_object(call.request.body().as_ref(), empty_is_object)
}

/// A key id from the path; one that cannot exist is simply not found.
fn key_id(call: &Call<KeysOp>) -> Result<KeyId, ApiError> {
    KeyId::parse(call.param("id")?).ok_or(ApiError::NotFound("key"))
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

fn new_key(fields: &mut JsonObject) -> Result<NewKey, ApiError> {
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
    let tier = tier(fields)?.unwrap_or(Tier::Standard);
    Ok(NewKey { name, key_type, user_id, permissions, environment, expires_at, tier })
}

fn key_patch(fields: &mut JsonObject) -> Result<KeyPatch, ApiError> {
    // `expires_at: null` clears the expiry; an absent field leaves it.
    let clears_expiry = fields.has("expires_at");
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
        rate_limit_per_minute: fields.optional("rate_limit_per_minute", |f, v| {
            let limit = read::integer(f, v)?;
            match (1..=i64::from(keyhive::model::ENTERPRISE_MAX_PER_MINUTE)).contains(&limit) {
                true => Ok(limit),
                false => Err(ApiError::validation(f, "must be 1..100000")),
            }
        })?,
    };
    Ok(patch)
}
