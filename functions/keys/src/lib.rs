//! The keys function: API keys (`/v1/keys*`) and an organization's members (`/v1/members*`).
//! `handler` hands each operation to a short function that reads the request (`input`), applies
//! `rules` and answers; the store is in `store`, the member record in `model`.

pub mod github;
pub mod input;
pub mod leaks;
pub mod model;
pub mod notices;
pub mod query;
pub mod rules;
pub mod store;
pub mod usage;
pub mod verify;

use crate::input::KeyList;
use crate::leaks::GitHubKeySource;
use crate::model::key_json;
use crate::rules::Ctx;
use crate::store::{KeyAdminStore, MemberStore};
use keyhive::http::idempotent;
use keyhive::http::routes::KeysOp;
use keyhive::store::dynamo::DynamoStore;
use keyhive::{ApiError, ApiState, Call, Reply};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// Serves one request; `github` is where GitHub's secret-scanning keys come from (fetched on
/// first need and kept for the instance).
pub async fn handle(api: &ApiState, github: &GitHubKeySource, request: Request) -> Response<Body> {
    keyhive::http::serve(api, request, |call| handler(api, github, call)).await
}

async fn handler(api: &ApiState, github: &GitHubKeySource, call: Call<KeysOp>) -> Result<Reply, ApiError> {
    let call = &call;
    match call.op {
        KeysOp::Verify => verify::verify(api, call).await,
        KeysOp::SecretScanning => leaks::report(api, github, call).await,
        KeysOp::Create => create_key(api, call).await,
        KeysOp::List => list_keys(api, call).await,
        KeysOp::OwnKey => own_key(api, call).await,
        KeysOp::OwnUsage => own_usage(api, call).await,
        KeysOp::Get => get_key(api, call).await,
        KeysOp::Usage => key_usage(api, call).await,
        KeysOp::Access => key_access(api, call).await,
        KeysOp::OrgUsage => org_usage(api, call).await,
        KeysOp::Update => update_key(api, call).await,
        KeysOp::Revoke => revoke_key(api, call).await,
        KeysOp::Roll => roll_key(api, call).await,
        KeysOp::CreateMember => create_member(api, call).await,
        KeysOp::ListMembers => list_members(api, call).await,
        KeysOp::RemoveMember => remove_member(api, call).await,
    }
}

/// What the rules of a change need besides their input: the store, the caller, this request and
/// its time, and the organization's key ceiling.
fn context<'a>(api: &'a ApiState, call: &'a Call<KeysOp>) -> Result<Ctx<'a, DynamoStore>, ApiError> {
    Ok(Ctx {
        store: &api.store,
        actor: call.identity()?,
        request_id: call.request_id.as_str(),
        now: keyhive::model::now(),
        idempotency: None,
        max_keys: api.config.limits.keys,
    })
}

/// `POST /v1/keys`: the key, with its credential (shown this once).
async fn create_key(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let ctx = context(api, call)?;
    let new = input::new_key(call)?;
    // Everything the body and the caller's own power decide comes before the replay check.
    rules::check_new_key(&new, ctx.now)?;
    rules::check_may_create(ctx.actor, &new)?;
    let secret = api.hashing_secret().await?;
    let prefix = api.config.key_prefix.as_str();
    idempotent(api, call, |claim| async move {
        let ctx = Ctx { idempotency: claim.as_ref(), ..ctx };
        let (record, meta, credential) = rules::create_key(&ctx, prefix, secret, new).await?;
        let mut data = key_json(&record, &meta);
        data["key"] = json!(credential.reveal());
        Ok(Reply::created_at(data, &format!("/v1/keys/{}", record.key_id.as_str())))
    })
    .await
}

/// `GET /v1/keys`: the keys of the caller's organization it may see.
async fn list_keys(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    let KeyList { list, created_by, external_id } = input::key_list(api, call).await?;
    let page = rules::list_keys(&api.store, actor, created_by, external_id, list.start.as_ref(), list.limit).await?;
    list.reply(api, page, |(record, meta)| key_json(record, meta)).await
}

/// `GET /v1/keys/self`: the calling key.
async fn own_key(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    let (key, meta) = rules::visible_key_with_meta(&api.store, actor, &actor.key_id).await?;
    Ok(Reply::ok(key_json(&key, &meta)))
}

/// `GET /v1/keys/self/usage`: the calling key's own usage.
async fn own_usage(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    let span = input::usage_span(call, keyhive::model::now())?;
    let key = rules::visible_key(&api.store, actor, &actor.key_id).await?;
    Ok(Reply::ok(usage::report::key_usage(&api.store, &key, span).await?))
}

/// `GET /v1/keys/{id}/usage`.
async fn key_usage(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    let span = input::usage_span(call, keyhive::model::now())?;
    let key = rules::visible_key(&api.store, actor, &input::key_id(call)?).await?;
    Ok(Reply::ok(usage::report::key_usage(&api.store, &key, span).await?))
}

/// `GET /v1/keys/{id}/access`: the key's least-privilege report.
async fn key_access(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    call.query(&[])?;
    let key = rules::visible_key(&api.store, actor, &input::key_id(call)?).await?;
    Ok(Reply::ok(usage::report::access_report(&api.store, &key, keyhive::model::now()).await?))
}

/// `GET /v1/usage`: the keys of the caller's organization and environment by use, most used
/// first, a page at a time.
async fn org_usage(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    let request = input::usage_list(api, call, keyhive::model::now()).await?;
    let keys = rules::keys_of_environment(&api.store, actor).await?;
    let tenant = keyhive::model::Tenant::new(actor.org_id.clone(), actor.environment);
    let ranked = usage::report::keys_by_use(&api.store, &tenant, keys, request.from, request.to).await?;
    let end = (request.offset + request.list.limit as usize).min(ranked.len());
    let items: Vec<serde_json::Value> = ranked
        .get(request.offset..end)
        .unwrap_or_default()
        .iter()
        .map(|(key, totals)| {
            json!({
                "key_id": key.key_id.as_str(),
                "name": key.name,
                "environment": key.environment.as_str(),
                "totals": totals.to_json(),
                "last_used_at": key.last_used_at.map(keyhive::model::rfc3339),
            })
        })
        .collect();
    let next = (end < ranked.len()).then(|| {
        keyhive::store::cursor::Position::from([
            ("offset".to_string(), end.to_string()),
            ("from".to_string(), keyhive::model::rfc3339(request.from)),
            ("to".to_string(), keyhive::model::rfc3339(request.to)),
        ])
    });
    let reply = request.list.reply(api, keyhive::store::Page { items, next }, serde_json::Value::clone).await?;
    Ok(reply
        .with_meta("from", json!(keyhive::model::rfc3339(request.from)))
        .with_meta("to", json!(keyhive::model::rfc3339(request.to))))
}

async fn get_key(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    let (key, meta) = rules::visible_key_with_meta(&api.store, actor, &input::key_id(call)?).await?;
    Ok(Reply::ok(key_json(&key, &meta)))
}

async fn update_key(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let ctx = context(api, call)?;
    // The body's shape (400) is checked before stored state (404), as the contract orders.
    let patch = input::key_patch(call)?;
    let id = input::key_id(call)?;
    let (key, meta) = rules::update_key(&ctx, &id, patch).await?;
    Ok(Reply::ok(key_json(&key, &meta)))
}

async fn revoke_key(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let ctx = context(api, call)?;
    Ok(Reply::ok(rules::revoke_key(&ctx, &input::key_id(call)?).await?))
}

/// `POST /v1/keys/{id}/roll`: the key with its new credential (shown this once), and until when
/// the old secret still authenticates.
async fn roll_key(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let ctx = context(api, call)?;
    let grace = input::grace_seconds(call)?;
    let id = input::key_id(call)?;
    let secret = api.hashing_secret().await?;
    let (record, credential, old_valid_until) =
        rules::roll_key(&ctx, api.config.key_prefix.as_str(), secret, &id, grace).await?;
    let meta = api.store.get_key_meta(&record.key_id).await?;
    let mut data = key_json(&record, &meta);
    data["key"] = json!(credential.reveal());
    data["old_secret_valid_until"] = json!(old_valid_until.map(keyhive::model::rfc3339));
    Ok(Reply::ok(data))
}

/// `POST /v1/members`.
async fn create_member(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let ctx = context(api, call)?;
    let new = input::new_member(call)?;
    idempotent(api, call, |claim| async move {
        let ctx = Ctx { idempotency: claim.as_ref(), ..ctx };
        let member = rules::create_member(&ctx, new.user_id, new.name, new.email).await?;
        Ok(Reply::created_at(member.to_json(), &format!("/v1/members/{}", member.user_id.as_str())))
    })
    .await
}

/// `GET /v1/members`: the organization's members.
async fn list_members(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    let list = input::member_list(api, call).await?;
    let page = api.store.list_members(&actor.org_id, list.start.as_ref(), list.limit).await?;
    list.reply(api, page, model::Member::to_json).await
}

/// `DELETE /v1/members/{user_id}`: the member, and with them their user key.
async fn remove_member(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let ctx = context(api, call)?;
    let user_id = input::member_user_id(call)?;
    Ok(Reply::ok(rules::remove_member(&ctx, &user_id).await?))
}
