//! `Idempotency-Key` on the routes that create (openapi.yaml): the same key with the same body within
//! 24 hours replays the first response; with another body it is 409 `CONFLICT`.
//!
//! The record is written in the creation's own transaction, on the condition that no live record
//! holds the key, so two concurrent retries cannot both create: the loser re-reads and replays.
//! A response that revealed a secret (a new key) is not kept: replaying it would show the secret a
//! second time, so such a replay is a 409 naming what was created.

use crate::error::ApiError;
use crate::model::{rfc3339, OrgId};
use crate::model::{Environment, KeyId};
use crate::schema;
use crate::store::dynamo::DynamoStore;
use crate::store::items::{corrupt, get_s, number_attr, opt_n, opt_s, string_attr, time_of, Item};
use crate::store::StoreError;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
pub const LIFETIME: Duration = Duration::hours(24);
const MAX_KEY_CHARS: usize = 255;

/// What a request with an `Idempotency-Key` brings: the key (hashed) and its body's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub key_hash: String,
    pub fingerprint: String,
}

fn hex_sha256(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Claim {
    /// `None` without the header; a 400 naming the header when it is empty, longer than 255
    /// characters or not visible ASCII. `op` is the route's operation (its `Debug` spelling goes
    /// into the fingerprint: the same body to another route is another request).
    pub fn from_request(
        op: impl std::fmt::Debug,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Option<Claim>, ApiError> {
        let Some(value) = headers.get(HEADER) else { return Ok(None) };
        let key = value.to_str().ok().filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_CHARS && k.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        });
        let key =
            key.ok_or_else(|| ApiError::validation("Idempotency-Key", "must be 1..255 visible ASCII characters"))?;
        let op_name = format!("{op:?}");
        Ok(Some(Claim {
            key_hash: hex_sha256(&[key.as_bytes()]),
            fingerprint: hex_sha256(&[op_name.as_bytes(), body]),
        }))
    }
}

/// Whose records these are: the calling key, in its organization and environment. Another key
/// sending the same `Idempotency-Key` value makes a new request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub org_id: OrgId,
    pub environment: Environment,
    pub key_id: KeyId,
}

/// The first response to a claimed key, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub org_id: OrgId,
    pub environment: Environment,
    /// The key that made the first request: only it gets the replay.
    pub key_id: KeyId,
    pub key_hash: String,
    pub fingerprint: String,
    pub status: u16,
    /// `None` when the response revealed a secret.
    pub data: Option<Value>,
    /// The id of what the first request created.
    pub resource_id: String,
    pub expires_at: OffsetDateTime,
}

impl IdempotencyRecord {
    pub fn new(
        Scope { org_id, environment, key_id }: Scope,
        claim: &Claim,
        status: u16,
        data: Option<Value>,
        resource_id: &str,
        now: OffsetDateTime,
    ) -> Self {
        IdempotencyRecord {
            org_id,
            environment,
            key_id,
            key_hash: claim.key_hash.clone(),
            fingerprint: claim.fingerprint.clone(),
            status,
            data,
            resource_id: resource_id.to_string(),
            expires_at: now + LIFETIME,
        }
    }

    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.expires_at > now
    }
}

/// What a repeated key answers: the first response (status, data), or why not.
pub fn replay(record: &IdempotencyRecord, claim: &Claim) -> Result<(u16, Value), ApiError> {
    if record.fingerprint != claim.fingerprint {
        return Err(ApiError::Conflict("this Idempotency-Key was used with another request body".into()));
    }
    match &record.data {
        Some(data) => Ok((record.status, data.clone())),
        None => Err(ApiError::AlreadyCreated { id: record.resource_id.clone() }),
    }
}

/// The records of `Idempotency-Key`s (written by the creations themselves, in their transactions).
#[async_trait::async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The record of a key in an organization and environment, expired or not (strongly consistent).
    async fn get_idempotency(&self, scope: &Scope, key_hash: &str) -> Result<Option<IdempotencyRecord>, StoreError>;
}

pub fn idempotency_key(org: &OrgId, environment: Environment, key_id: &KeyId, key_hash: &str) -> Item {
    Item::from([
        (
            schema::PK.into(),
            string_attr(schema::idempotency_pk(org.as_str(), environment.as_str(), key_id.as_str(), key_hash)),
        ),
        (schema::SK.into(), string_attr(schema::IDEMPOTENCY_SK)),
    ])
}

pub fn idempotency_item(r: &IdempotencyRecord) -> Item {
    let mut item = idempotency_key(&r.org_id, r.environment, &r.key_id, &r.key_hash);
    item.extend([
        ("org_id".into(), string_attr(r.org_id.as_str())),
        ("environment".into(), string_attr(r.environment.as_str())),
        ("key_id".into(), string_attr(r.key_id.as_str())),
        ("key_hash".into(), string_attr(&r.key_hash)),
        ("fingerprint".into(), string_attr(&r.fingerprint)),
        ("status".into(), number_attr(r.status)),
        ("resource_id".into(), string_attr(&r.resource_id)),
        ("expires_at".into(), string_attr(rfc3339(r.expires_at))),
        (schema::TTL_ATTRIBUTE.into(), number_attr(r.expires_at.unix_timestamp())),
    ]);
    if let Some(data) = &r.data {
        item.insert("data".into(), string_attr(data.to_string()));
    }
    item
}

pub fn idempotency_record(item: &Item) -> Result<IdempotencyRecord, StoreError> {
    Ok(IdempotencyRecord {
        org_id: OrgId::parse(get_s(item, "org_id")?).ok_or_else(|| corrupt("org_id"))?,
        environment: Environment::parse(get_s(item, "environment")?).ok_or_else(|| corrupt("environment"))?,
        key_id: KeyId::parse(get_s(item, "key_id")?).ok_or_else(|| corrupt("key_id"))?,
        key_hash: get_s(item, "key_hash")?.to_string(),
        fingerprint: get_s(item, "fingerprint")?.to_string(),
        status: opt_n(item, "status").and_then(|v| u16::try_from(v).ok()).ok_or_else(|| corrupt("status"))?,
        data: opt_s(item, "data").map(serde_json::from_str).transpose().map_err(|_| corrupt("data"))?,
        resource_id: get_s(item, "resource_id")?.to_string(),
        expires_at: time_of(item, "expires_at")?.ok_or_else(|| corrupt("expires_at"))?,
    })
}

#[async_trait::async_trait]
impl IdempotencyStore for DynamoStore {
    async fn get_idempotency(&self, scope: &Scope, key_hash: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let key = idempotency_key(&scope.org_id, scope.environment, &scope.key_id, key_hash);
        let item = self.get_consistent(key).await?;
        item.as_ref().map(idempotency_record).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::routes::{KeysOp, Op};

    fn headers(value: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(HEADER, http::HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn the_fingerprint_binds_the_operation_and_the_exact_body() {
        let claim = |op, body: &[u8]| Claim::from_request(op, &headers("k-1"), body).unwrap().unwrap();
        let a = claim(Op::Keys(KeysOp::CreateMember), b"{\"name\":\"a\"}");
        assert_eq!(a, claim(Op::Keys(KeysOp::CreateMember), b"{\"name\":\"a\"}"));
        assert_ne!(a.fingerprint, claim(Op::Keys(KeysOp::CreateMember), b"{\"name\":\"b\"}").fingerprint);
        assert_ne!(a.fingerprint, claim(Op::Keys(KeysOp::Create), b"{\"name\":\"a\"}").fingerprint);
        assert_eq!(a.key_hash, claim(Op::Keys(KeysOp::Create), b"").key_hash);
        assert!(Claim::from_request(Op::Keys(KeysOp::Create), &http::HeaderMap::new(), b"").unwrap().is_none());
    }

    #[test]
    fn keys_must_be_1_to_255_visible_ascii_characters() {
        assert!(Claim::from_request(Op::Keys(KeysOp::Create), &headers(&"k".repeat(255)), b"").is_ok());
        for bad in [String::new(), "k".repeat(256), "tab\there".into()] {
            let err = Claim::from_request(Op::Keys(KeysOp::Create), &headers(&bad), b"").unwrap_err();
            assert_eq!(err.status_and_code().1, "VALIDATION_FAILED", "{bad:?}");
        }
    }

    #[test]
    fn a_replay_is_the_first_response_unless_the_body_differs_or_it_held_a_secret() {
        let claim = Claim { key_hash: "h".into(), fingerprint: "f".into() };
        let now = OffsetDateTime::UNIX_EPOCH;
        let scope = Scope {
            org_id: OrgId::generate(),
            environment: Environment::Live,
            key_id: KeyId::parse("AbCdEf123456").unwrap(),
        };
        let kept = IdempotencyRecord::new(scope.clone(), &claim, 201, Some(serde_json::json!({"a": 1})), "x", now);
        assert_eq!(replay(&kept, &claim).unwrap(), (201, serde_json::json!({"a": 1})));
        let other = Claim { fingerprint: "g".into(), ..claim.clone() };
        assert_eq!(replay(&kept, &other).unwrap_err().status_and_code().1, "CONFLICT");
        let secret = IdempotencyRecord::new(scope, &claim, 201, None, "key123", now);
        let err = replay(&secret, &claim).unwrap_err();
        assert_eq!(err.status_and_code().0, http::StatusCode::CONFLICT);
        assert_eq!(err.details().unwrap()["id"], "key123");
        assert!(kept.is_live(now + Duration::hours(23)) && !kept.is_live(now + LIFETIME));
    }
}
