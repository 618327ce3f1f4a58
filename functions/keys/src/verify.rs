//! `POST /v1/keys/verify`: another service asks whether a key is one of the caller's, live, within
//! its limit, and allowed what a permission query asks. The verification is the verified key's
//! own use (its one conditional write: rate limit, `last_used_at`, usage), and everything that is
//! not the caller's live key with this secret answers the same `NOT_FOUND`.

use crate::input;
use crate::model::{key_json, KeyMeta};
use crate::query::Query;
use crate::store::KeyAdminStore;
use keyhive::auth::{verify_for, KeyRecord, RateStatus, Verdict, Verification};
use keyhive::http::routes::KeysOp;
use keyhive::model::Tenant;
use keyhive::{ApiError, ApiState, Call, Reply};
use serde_json::{json, Value};

/// The answer's `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Valid,
    NotFound,
    Expired,
    Disabled,
    RateLimited,
    InsufficientPermissions,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Valid => "VALID",
            Code::NotFound => "NOT_FOUND",
            Code::Expired => "EXPIRED",
            Code::Disabled => "DISABLED",
            Code::RateLimited => "RATE_LIMITED",
            Code::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
        }
    }
}

pub async fn verify(api: &ApiState, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let actor = call.identity()?;
    let asked = input::verify_body(call)?;
    let secret = api.hashing_secret().await?;
    let tenant = Tenant::new(actor.org_id.clone(), actor.environment);
    // A one-permission query is recorded as the key's use of that permission; a compound one
    // as a use of the key alone (the usage counts what a request needed, and it needed several).
    let purpose = match asked.permissions.as_ref().map(Query::terms).as_deref() {
        Some([only]) => Some(*only),
        _ => None,
    };
    let now = keyhive::model::now();
    let prefix = api.config.key_prefix.as_str();
    let key_id = keyhive::auth::Credential::parse(&asked.key, prefix).map(|c| c.key_id);
    // The metadata is read beside the one write (its answer needs it when the key is valid).
    let verification = Verification { text: &asked.key, prefix, tenant: &tenant, now, purpose };
    let (verdict, meta) = tokio::join!(verify_for(&api.store, secret, verification, &api.refusals), async {
        match &key_id {
            Some(id) => api.store.get_key_meta(id).await.map(Some),
            None => Ok(None),
        }
    });
    let meta = meta?.unwrap_or_default();
    Ok(Reply::ok(answer(&verdict?, &meta, asked.permissions.as_ref())))
}

/// The answer for a verdict: `NOT_FOUND` says nothing more; every other code describes the key.
pub fn answer(verdict: &Verdict, meta: &KeyMeta, query: Option<&Query>) -> Value {
    let (code, key, rate): (Code, &KeyRecord, Option<&RateStatus>) = match verdict {
        Verdict::NotFound => return json!({ "valid": false, "code": Code::NotFound.as_str() }),
        Verdict::Expired(key) => (Code::Expired, key, None),
        Verdict::Disabled(key) => (Code::Disabled, key, None),
        Verdict::RateLimited(key, rate) => (Code::RateLimited, key, Some(rate)),
        Verdict::Valid(key, rate) => match query {
            Some(query) if !query.allows(&key.permissions) => (Code::InsufficientPermissions, key, Some(rate)),
            _ => (Code::Valid, key, Some(rate)),
        },
    };
    let view = key_json(key, meta);
    let mut data = json!({
        "valid": code == Code::Valid,
        "code": code.as_str(),
        "key_id": view["id"],
        "name": view["name"],
        "environment": view["environment"],
        "permissions": view["permissions"],
        "expires_at": view["expires_at"],
        "meta": view["meta"],
        "external_id": view["external_id"],
    });
    if let Some(rate) = rate {
        data["ratelimit"] = json!({ "limit": rate.limit, "remaining": rate.remaining, "reset": rate.reset });
    }
    data
}
