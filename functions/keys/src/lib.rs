//! The keys function: `/v1/keys*` and `/v1/members*`. It turns HTTP into calls of
//! `keyhive::manage` and their results into replies; the rules live there.

use keyhive::body::{parse_object, read, JsonObject};
use keyhive::keys::{Environment, KeyId, KeyType, Tier};
use keyhive::manage::{self, Ctx, KeyPatch, NewKey};
use keyhive::model::{parse_rfc3339, KeyRecord, UserId};
use keyhive::permissions::Permissions;
use keyhive::routes::{Function, Op};
use keyhive::store::{OrgStore, Page};
use keyhive::{Api, ApiError, Call, Reply};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};
use time::OffsetDateTime;

pub async fn handle(api: &Api, request: Request) -> Response<Body> {
    keyhive::api::serve(api, Function::Keys, request, |call| handler(api, call)).await
}

async fn handler(api: &Api, call: Call) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    let ctx = Ctx {
        store: &api.store,
        actor,
        request_id: call.request_id.as_str(),
        now: keyhive::model::now(),
        idempotency: call.idempotency.as_ref(),
    };
    let prefix = api.config.key_prefix.as_str();
    match call.route.op {
        Op::KeysCreate => {
            let mut fields = body(&call, false)?;
            let new = new_key(&mut fields)?;
            fields.finish()?;
            let (record, credential) = manage::create_key(&ctx, prefix, api.hashing_secret().await?, new).await?;
            let mut data = record.to_json();
            data["key"] = json!(credential.reveal());
            Ok(Reply::created(data))
        }
        Op::KeysList => {
            let (cursor, limit) = paging(&call)?;
            let page = manage::list_keys(&api.store, actor, cursor.as_deref(), limit).await?;
            Ok(list_reply(page, limit, KeyRecord::to_json))
        }
        Op::KeysSelf => Ok(Reply::ok(manage::visible_key(&api.store, actor, &actor.key_id).await?.to_json())),
        Op::KeysGet => Ok(Reply::ok(manage::visible_key(&api.store, actor, &key_id(&call)?).await?.to_json())),
        Op::KeysUpdate => {
            // The body's shape (400) is checked before stored state (404), as the contract orders.
            let mut fields = body(&call, false)?;
            let patch = key_patch(&mut fields)?;
            fields.finish()?;
            let id = key_id(&call)?;
            Ok(Reply::ok(manage::update_key(&ctx, &id, patch).await?.to_json()))
        }
        Op::KeysRevoke => Ok(Reply::ok(manage::revoke_key(&ctx, &key_id(&call)?).await?)),
        Op::KeysRoll => {
            let mut fields = body(&call, true)?;
            let grace = fields.optional("grace_seconds", read::integer)?.unwrap_or(0);
            fields.finish()?;
            manage::check_grace(grace)?;
            let id = key_id(&call)?;
            let (record, credential, old_valid_until) =
                manage::roll_key(&ctx, prefix, api.hashing_secret().await?, &id, grace).await?;
            let mut data = record.to_json();
            data["key"] = json!(credential.reveal());
            data["old_secret_valid_until"] = json!(old_valid_until.map(keyhive::model::rfc3339));
            Ok(Reply::ok(data))
        }
        Op::MembersCreate => {
            let mut fields = body(&call, false)?;
            let user_id = fields.optional("user_id", user_id)?;
            let name = fields.required("name", read::name)?;
            let email = fields.required("email", read::email)?;
            fields.finish()?;
            let member = manage::create_member(&ctx, user_id, name, email).await?;
            Ok(Reply::created(member.to_json()))
        }
        Op::MembersList => {
            let (cursor, limit) = paging(&call)?;
            let page = api.store.list_members(&actor.org_id, cursor.as_deref(), limit).await?;
            Ok(list_reply(page, limit, keyhive::model::Member::to_json))
        }
        Op::MembersRemove => {
            let user_id = UserId::parse(call.param("user_id")?).ok_or(ApiError::NotFound)?;
            Ok(Reply::ok(manage::remove_member(&ctx, &user_id).await?))
        }
        _ => Err(ApiError::NotFound),
    }
}

fn body(call: &Call, empty_is_object: bool) -> Result<JsonObject, ApiError> {
    parse_object(call.request.body().as_ref(), empty_is_object)
}

/// A key id from the path; one that cannot exist is simply not found.
fn key_id(call: &Call) -> Result<KeyId, ApiError> {
    KeyId::parse(call.param("id")?).ok_or(ApiError::NotFound)
}

fn list_reply<T>(page: Page<T>, limit: u32, to_json: fn(&T) -> Value) -> Reply {
    let data = Value::Array(page.items.iter().map(to_json).collect());
    Reply::ok(data)
        .with_meta("limit", json!(limit))
        .with_meta("has_more", json!(page.next_cursor.is_some()))
        .with_meta("next_cursor", json!(page.next_cursor))
}

/// `?limit=1..100` (default 20) and `?cursor=` from the previous page's `meta.next_cursor`.
fn paging(call: &Call) -> Result<(Option<String>, u32), ApiError> {
    let query = call.request.query_string_parameters_ref();
    let get = |name: &str| query.and_then(|q| q.first(name)).map(str::to_string);
    let limit = match get("limit") {
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| ApiError::validation("limit", "must be 1..100"))?,
        None => 20,
    };
    Ok((get("cursor"), limit))
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
        tier: tier(fields)?,
    };
    Ok(patch)
}
