//! The kernel's records: ids, times, the stored API key (what authentication reads) and the
//! organization. A resource's own records live in its function crate.

use crate::auth::permissions::Permissions;
use crate::auth::{Environment, KeyId, KeyType, SecretHash, Tier};
use rand::Rng;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Now, to the second (stored and shown times carry no fractions).
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// `<prefix>_` and `n` random alphanumerics: the opaque ids of the API (`org_…`, `usr_…`).
pub fn random_id(prefix: &str, n: usize) -> String {
    let suffix: String = rand::rng().sample_iter(rand::distr::Alphanumeric).take(n).map(char::from).collect();
    format!("{prefix}_{suffix}")
}

/// Whether `s` has the shape of an opaque id of `random_id`: `<prefix>_` and 1..40 alphanumerics.
pub fn is_prefixed_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|rest| !rest.is_empty() && rest.len() <= 40 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrgId(String);

impl OrgId {
    pub fn generate() -> Self {
        OrgId(random_id("org", 20))
    }
    pub fn parse(s: &str) -> Option<Self> {
        is_prefixed_id(s, "org").then(|| OrgId(s.into()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A member's id: given by the caller (`[A-Za-z0-9_-]{1,64}`) or generated as `usr_…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId(String);

impl UserId {
    pub fn generate() -> Self {
        UserId(random_id("usr", 20))
    }
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
            .then(|| UserId(s.into()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored API key. The secret itself is never here: only its keyed hash.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub key_id: KeyId,
    pub org_id: OrgId,
    pub environment: Environment,
    pub key_type: KeyType,
    pub user_id: Option<UserId>,
    /// The member's name at creation (`"Bot"` is shown for bot keys).
    pub owner_name: Option<String>,
    pub name: String,
    pub permissions: Permissions,
    pub tier: Tier,
    pub secret_hash: SecretHash,
    /// The secret replaced by the last roll, accepted until the epoch second given.
    pub previous: Option<(SecretHash, i64)>,
    pub last4: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    /// The key that created this one (`None`: the operator's bootstrap, or a record written
    /// before keys recorded it).
    pub created_by: CreatedBy,
}

/// Who created a key: the creating key and, for a user key, its member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatedBy {
    Bootstrap,
    Key { key_id: KeyId, user_id: Option<UserId> },
}

impl CreatedBy {
    /// The stored and filtered spelling of the creator: its key id, or `bootstrap`.
    pub const BOOTSTRAP: &'static str = "bootstrap";

    pub fn key_id_str(&self) -> &str {
        match self {
            CreatedBy::Bootstrap => Self::BOOTSTRAP,
            CreatedBy::Key { key_id, .. } => key_id.as_str(),
        }
    }

    pub fn user_id(&self) -> Option<&UserId> {
        match self {
            CreatedBy::Bootstrap => None,
            CreatedBy::Key { user_id, .. } => user_id.as_ref(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "key_id": self.key_id_str(), "user_id": self.user_id().map(UserId::as_str) })
    }
}

impl KeyRecord {
    pub fn owner(&self) -> &str {
        match self.key_type {
            KeyType::Bot => "Bot",
            KeyType::User => self.owner_name.as_deref().unwrap_or(""),
        }
    }

    pub fn is_expired(&self, at: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|e| e <= at)
    }

    /// The public view: never the secret, never its hash.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.key_id.as_str(),
            "org_id": self.org_id.as_str(),
            "name": self.name,
            "type": self.key_type.as_str(),
            "owner": self.owner(),
            "user_id": self.user_id.as_ref().map(UserId::as_str),
            "permissions": self.permissions.to_json(),
            "environment": self.environment.as_str(),
            "tier": self.tier.name(),
            "rate_limit_per_minute": self.tier.limit_per_minute(),
            "created_at": rfc3339(self.created_at),
            "last_used_at": self.last_used_at.map(rfc3339),
            "expires_at": self.expires_at.map(rfc3339),
            "last4": self.last4,
            "created_by": self.created_by.to_json(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Organization {
    pub org_id: OrgId,
    pub name: String,
    pub created_at: OffsetDateTime,
}
