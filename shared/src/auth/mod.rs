//! Authentication: the credential a request carries, the stored key and its store (the one
//! round trip that verifies and counts a request), the caller's `Identity`, and that identity's
//! trip through the authorizer context.

pub mod credential;
pub mod permissions;
pub mod record;
pub mod secrets;
pub mod store;
pub mod usage;

pub use crate::model::{Environment, KeyId, KeyType, Tier};
pub use credential::{Credential, SecretHash};
pub use record::{CreatedBy, KeyRecord, Organization};

use crate::auth::credential::MAX_CREDENTIAL_LEN;
use crate::auth::permissions::{Action, Permissions, Resource};
use crate::auth::secrets::HashingSecret;
use crate::auth::usage::{Refusal, RefusalTally, UseEvent};
use crate::error::ApiError;
use crate::model::{OrgId, UserId};
use http::HeaderMap;
use serde_json::{json, Map, Value};
pub use store::{KeyStore, KeyUse};
use time::OffsetDateTime;

/// Rate-limit figures of the current one-minute window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u32,
    pub remaining: u32,
    /// Unix second at which the window ends.
    pub reset: i64,
}

/// Who is calling: established once per request, never cached across requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub org_id: OrgId,
    pub key_id: KeyId,
    pub environment: Environment,
    pub key_type: KeyType,
    pub user_id: Option<UserId>,
    pub permissions: Permissions,
    pub rate: RateStatus,
    /// The key's expiry (unix seconds), so that no key it makes or manages outlives it.
    pub expires_at: Option<i64>,
    /// Authenticated with the secret a roll replaced (within its grace period): such a request
    /// may use the key but never manage it.
    pub rolled_out_secret: bool,
}

/// The credential text from `X-API-Key`, `Authorization: Bearer <key>` or a bare
/// `Authorization: <key>`. One credential per request: two values of a header, or an
/// `X-API-Key` beside an `Authorization` that carries anything else, are refused, as are
/// non-ASCII values and absurd lengths.
pub fn credential_text(headers: &HeaderMap) -> Result<&str, ApiError> {
    let single = |name: &str| -> Result<Option<&str>, ApiError> {
        let mut values = headers.get_all(name).iter();
        let Some(first) = values.next() else { return Ok(None) };
        if values.next().is_some() || first.len() > MAX_CREDENTIAL_LEN + 16 {
            return Err(ApiError::Unauthorized);
        }
        first.to_str().map(|v| Some(v.trim())).map_err(|_| ApiError::Unauthorized)
    };
    let from_authorization = match single("authorization")? {
        None => None,
        Some(authorization) => Some(match authorization.split_once(' ') {
            Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key.trim(),
            Some(_) => return Err(ApiError::Unauthorized),
            None => authorization,
        }),
    };
    match (single("x-api-key")?, from_authorization) {
        (Some(key), None) | (None, Some(key)) => Ok(key),
        // The same key twice is one credential; two different ones are not.
        (Some(key), Some(other)) if key == other => Ok(key),
        _ => Err(ApiError::Unauthorized),
    }
}

fn window_reset(now: OffsetDateTime) -> i64 {
    (now.unix_timestamp().div_euclid(60) + 1) * 60
}

/// The request's credential, parsed for this deployment's prefix (no I/O): 401 when absent or
/// malformed.
pub fn read_credential(headers: &HeaderMap, prefix: &str) -> Result<Credential, ApiError> {
    Credential::parse(credential_text(headers)?, prefix).ok_or(ApiError::Unauthorized)
}

/// What a request asks of a key: the permission its route requires (`None`: any valid key),
/// recorded with the request's count for the key's usage.
pub type Purpose = Option<(Resource, Action)>;

/// Verifies a credential and counts it against the key's limit, in one store call, recording
/// `purpose` for the key's usage; a refusal of a known key is tallied in `refusals`, whose due
/// tallies (other minutes', other keys') are written meanwhile.
/// Every refusal is the same 401, whatever the reason, except a valid key over its limit (429).
pub async fn authenticate(
    store: &dyn KeyStore,
    secret: &HashingSecret,
    credential: &Credential,
    now: OffsetDateTime,
    purpose: Purpose,
    refusals: &RefusalTally,
) -> Result<Identity, ApiError> {
    let minute = now.unix_timestamp().div_euclid(60);
    let (outcome, _) =
        tokio::join!(verify(store, secret, credential, now, purpose), flush_refusals(store, refusals, minute));
    if let Err(refused) = &outcome {
        let refusal = match refused.error {
            ApiError::RateLimited { .. } => Some(Refusal::RateLimited),
            ApiError::Unauthorized => Some(Refusal::Unauthorized),
            _ => None,
        };
        if let (Some(refusal), Some(org_id)) = (refusal, &refused.key_org) {
            refusals.count(&credential.key_id, org_id, refusal, minute);
        }
    }
    outcome.map_err(|refused| refused.error)
}

/// Writes the refusal tallies due at `minute` (other minutes', other keys'), all at once, beside
/// a request's own write (a handful at most: `MAX_FLUSHES_PER_REQUEST`).
async fn flush_refusals(store: &dyn KeyStore, refusals: &RefusalTally, minute: i64) {
    let due = refusals.take_due(minute);
    futures_util::future::join_all(due.into_iter().map(|(key_id, tally)| async move {
        // Best effort: a tally lost here undercounts refusals, which the contract allows.
        if let Err(err) = store.record_use(&key_id, &UseEvent::Refused(tally)).await {
            tracing::warn!(key_id = %key_id, error = %crate::error::source_chain(&err), "refusal tally not written");
        }
    }))
    .await;
}

/// A refusal, and the organization of the stored key the credential named, when its usage
/// counts the refusal (a live key's: a revoked key's usage is over).
struct Refused {
    error: ApiError,
    key_org: Option<OrgId>,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Refused { error, key_org: None }
    }
}

async fn verify(
    store: &dyn KeyStore,
    secret: &HashingSecret,
    credential: &Credential,
    now: OffsetDateTime,
    purpose: Purpose,
) -> Result<Identity, Refused> {
    let known = |record: &KeyRecord, error: ApiError| Refused {
        error,
        key_org: record.revoked_at.is_none().then(|| record.org_id.clone()),
    };
    let presented = credential.hash(secret);
    let reset = window_reset(now);
    let epoch = now.unix_timestamp();
    // Constant-time, on our side too: the store's condition is the atomic guard, this is the check.
    let current_secret = |record: &KeyRecord| record.secret_hash.matches(&presented);
    let rolled_out_secret = |record: &KeyRecord| {
        record.previous.as_ref().is_some_and(|(hash, until)| *until > epoch && hash.matches(&presented))
    };
    let secret_matches = |record: &KeyRecord| current_secret(record) || rolled_out_secret(record);
    let event = UseEvent::Request { permission: purpose };
    match store
        .touch_key(&credential.key_id, &presented, credential.environment, None, now, &event)
        .await
        .map_err(|e| Refused::from(ApiError::from(e)))?
    {
        KeyUse::Counted { record, used, .. } => {
            if !secret_matches(&record) || record.environment != credential.environment || record.revoked_at.is_some() {
                return Err(known(&record, ApiError::Unauthorized));
            }
            let limit = record.tier.limit_per_minute();
            let rolled_out_secret = !current_secret(&record);
            Ok(Identity {
                org_id: record.org_id,
                key_id: record.key_id,
                environment: record.environment,
                key_type: record.key_type,
                user_id: record.user_id,
                permissions: record.permissions,
                rate: RateStatus { limit, remaining: limit.saturating_sub(used), reset },
                // A rolled-out secret lives until its grace ends: no key it makes may outlive that.
                expires_at: [
                    record.expires_at.map(OffsetDateTime::unix_timestamp),
                    record.previous.as_ref().filter(|_| rolled_out_secret).map(|(_, until)| *until),
                ]
                .into_iter()
                .flatten()
                .min(),
                rolled_out_secret,
            })
        }
        KeyUse::Refused { record: Some(record), .. }
            if record.revoked_at.is_none()
                && record.disabled_at.is_none()
                && !record.is_expired(now)
                && record.environment == credential.environment
                && secret_matches(&record) =>
        {
            // Authentic, live, and refused all the same: only the rate window is left.
            Err(known(
                &record,
                ApiError::RateLimited {
                    retry_after: (reset - epoch).max(1) as u64,
                    limit: record.tier.limit_per_minute(),
                    reset,
                },
            ))
        }
        KeyUse::Refused { record: Some(record), .. } => Err(known(&record, ApiError::Unauthorized)),
        KeyUse::Refused { record: None, .. } => Err(ApiError::Unauthorized.into()),
    }
}

/// What verifying a key on behalf of another service found (`POST /v1/keys/verify`).
#[derive(Debug)]
pub enum Verdict {
    /// Unknown, malformed, wrong secret, revoked, or another organization's or environment's:
    /// indistinguishable by design.
    NotFound,
    Expired(Box<KeyRecord>),
    Disabled(Box<KeyRecord>),
    /// Authentic and live, over its limit: not counted.
    RateLimited(Box<KeyRecord>, RateStatus),
    /// Authentic, live, and counted as one of its requests.
    Valid(Box<KeyRecord>, RateStatus),
}

/// A verification asked on behalf of another service: the presented text, this deployment's
/// key prefix, the caller's organization and environment, the time, and the purpose recorded.
#[derive(Debug, Clone, Copy)]
pub struct Verification<'a> {
    pub text: &'a str,
    pub prefix: &'a str,
    pub tenant: &'a crate::model::Tenant,
    pub now: OffsetDateTime,
    pub purpose: Purpose,
}

/// Verifies `asked.text` as a key of `asked.tenant` (the caller's organization and environment)
/// and, when it is one, counts the verification as the key's own request, recording the purpose:
/// the same one conditional write as an authentication, bound to the organization as well. Every
/// key that is not the tenant's live key with this secret is `NotFound`, after the same hashing
/// work.
pub async fn verify_for(
    store: &dyn KeyStore,
    secret: &HashingSecret,
    asked: Verification<'_>,
    refusals: &RefusalTally,
) -> Result<Verdict, ApiError> {
    let Verification { text, prefix, tenant, now, purpose } = asked;
    let credential = Credential::parse(text, prefix).filter(|c| c.environment == tenant.environment);
    let Some(credential) = credential else {
        // Malformed or of the other environment (both visible in the text the caller sent): no
        // store call to make, the same hash computed all the same.
        std::hint::black_box(SecretHash::of_text(text, secret));
        return Ok(Verdict::NotFound);
    };
    let presented = credential.hash(secret);
    let epoch = now.unix_timestamp();
    let minute = epoch.div_euclid(60);
    let reset = window_reset(now);
    let authentic = |record: &KeyRecord| {
        let rolled_out =
            record.previous.as_ref().is_some_and(|(hash, until)| *until > epoch && hash.matches(&presented));
        record.org_id == tenant.org_id
            && record.environment == tenant.environment
            && record.revoked_at.is_none()
            && (record.secret_hash.matches(&presented) || rolled_out)
    };
    let event = UseEvent::Request { permission: purpose };
    // Behind the authorizer the function authenticates nothing itself: its verifications write
    // the instance's due refusal tallies.
    let (touched, _) = tokio::join!(
        store.touch_key(&credential.key_id, &presented, credential.environment, Some(&tenant.org_id), now, &event),
        flush_refusals(store, refusals, minute)
    );
    let touched = touched?;
    let (verdict, refusal) = match touched {
        KeyUse::Counted { record, used, .. } if authentic(&record) => {
            let limit = record.tier.limit_per_minute();
            (Verdict::Valid(record, RateStatus { limit, remaining: limit.saturating_sub(used), reset }), None)
        }
        KeyUse::Refused { record: Some(record), .. } if authentic(&record) => {
            let limit = record.tier.limit_per_minute();
            if record.is_expired(now) {
                (Verdict::Expired(record), Some(Refusal::Unauthorized))
            } else if record.disabled_at.is_some() {
                (Verdict::Disabled(record), Some(Refusal::Unauthorized))
            } else {
                (Verdict::RateLimited(record, RateStatus { limit, remaining: 0, reset }), Some(Refusal::RateLimited))
            }
        }
        // A wrong secret for one of the tenant's own keys is a refused use of that key.
        KeyUse::Refused { record: Some(record), .. }
            if record.org_id == tenant.org_id && record.revoked_at.is_none() =>
        {
            (Verdict::NotFound, Some(Refusal::Unauthorized))
        }
        _ => (Verdict::NotFound, None),
    };
    if let Some(refusal) = refusal {
        refusals.count(&credential.key_id, &tenant.org_id, refusal, minute);
    }
    Ok(verdict)
}

impl Identity {
    /// The authorizer context (scalars only, as API Gateway requires).
    pub fn to_context(&self) -> Map<String, Value> {
        let context = json!({
            "org_id": self.org_id.as_str(),
            "key_id": self.key_id.as_str(),
            "environment": self.environment.as_str(),
            "key_type": self.key_type.as_str(),
            "user_id": self.user_id.as_ref().map(UserId::as_str).unwrap_or(""),
            "permissions": self.permissions.to_compact(),
            "rate_limit": self.rate.limit.to_string(),
            "rate_remaining": self.rate.remaining.to_string(),
            "rate_reset": self.rate.reset.to_string(),
            "expires_at": self.expires_at.map(|t| t.to_string()).unwrap_or_default(),
            "rolled_out_secret": self.rolled_out_secret.to_string(),
        });
        match context {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// Reads the identity the authorizer put in the request context. `None` when the fields are
    /// absent (no authorizer ran) or malformed: the caller then authenticates the request itself.
    pub fn from_context(fields: &std::collections::HashMap<String, Value>) -> Option<Self> {
        let get = |name: &str| -> Option<String> {
            match fields.get(name)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let user_id = get("user_id")?;
        let expires_at = get("expires_at")?;
        Some(Identity {
            org_id: OrgId::parse(&get("org_id")?)?,
            key_id: KeyId::parse(&get("key_id")?)?,
            environment: Environment::parse(&get("environment")?)?,
            key_type: KeyType::parse(&get("key_type")?)?,
            user_id: if user_id.is_empty() { None } else { Some(UserId::parse(&user_id)?) },
            permissions: Permissions::from_compact(&get("permissions")?)?,
            rate: RateStatus {
                limit: get("rate_limit")?.parse().ok()?,
                remaining: get("rate_remaining")?.parse().ok()?,
                reset: get("rate_reset")?.parse().ok()?,
            },
            expires_at: if expires_at.is_empty() { None } else { Some(expires_at.parse().ok()?) },
            rolled_out_secret: get("rolled_out_secret")?.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn all_three_credential_forms_are_read() {
        assert_eq!(credential_text(&headers(&[("x-api-key", "kh_live_x.y")])).unwrap(), "kh_live_x.y");
        assert_eq!(credential_text(&headers(&[("X-Api-Key", "kh_live_x.y")])).unwrap(), "kh_live_x.y");
        assert_eq!(credential_text(&headers(&[("authorization", "Bearer kh_live_x.y")])).unwrap(), "kh_live_x.y");
        assert_eq!(credential_text(&headers(&[("authorization", "bearer kh_live_x.y")])).unwrap(), "kh_live_x.y");
        assert_eq!(credential_text(&headers(&[("authorization", "kh_live_x.y")])).unwrap(), "kh_live_x.y");
        let both = headers(&[("x-api-key", "kh_live_x.y"), ("authorization", "Bearer kh_live_x.y")]);
        assert_eq!(credential_text(&both).unwrap(), "kh_live_x.y", "the same key in both headers is one credential");
    }

    #[test]
    fn missing_duplicate_other_scheme_and_oversize_credentials_are_401() {
        let cases = [
            headers(&[]),
            headers(&[("x-api-key", "a"), ("x-api-key", "b")]),
            headers(&[("authorization", "Basic dXNlcjpwYXNz")]),
            headers(&[("authorization", &"k".repeat(4096))]),
            headers(&[("x-api-key", "kh_live_x.y"), ("authorization", "Bearer kh_live_z.w")]),
            headers(&[("x-api-key", "kh_live_x.y"), ("authorization", "kh_live_z.w")]),
            headers(&[("x-api-key", "kh_live_x.y"), ("authorization", "Basic dXNlcjpwYXNz")]),
            headers(&[("authorization", "Bearer kh_live_x.y"), ("authorization", "Bearer kh_live_x.y")]),
        ];
        for case in cases {
            assert!(matches!(credential_text(&case), Err(ApiError::Unauthorized)), "{case:?}");
        }
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_bytes(b"kh_live_\xff\xfe").unwrap());
        assert!(matches!(credential_text(&h), Err(ApiError::Unauthorized)));
    }

    #[test]
    fn identity_round_trips_through_the_authorizer_context() {
        let identity = Identity {
            org_id: OrgId::parse("org_abc123").unwrap(),
            key_id: KeyId::parse("AbCdEf123456").unwrap(),
            environment: Environment::Test,
            key_type: KeyType::User,
            user_id: UserId::parse("usr_1"),
            permissions: Permissions::all(),
            rate: RateStatus { limit: 100, remaining: 99, reset: 1_800_000_060 },
            expires_at: Some(1_900_000_000),
            rolled_out_secret: true,
        };
        let context: std::collections::HashMap<String, Value> = identity.to_context().into_iter().collect();
        assert!(context.values().all(|v| v.is_string()), "scalars only");
        assert_eq!(Identity::from_context(&context), Some(identity));
        assert_eq!(Identity::from_context(&Default::default()), None);
    }
}
