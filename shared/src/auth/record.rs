//! The stored API key (what authentication reads and key management changes; the secret itself
//! is never here, only its keyed hash) and the organization.

use crate::auth::credential::SecretHash;
use crate::auth::permissions::Permissions;
use crate::model::{rfc3339, Environment, KeyId, KeyType, OrgId, Tier, UserId};
use serde_json::{json, Value};
use time::OffsetDateTime;

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
    /// Switched off (`PATCH {enabled: false}`) since: refused until switched on again.
    pub disabled_at: Option<OffsetDateTime>,
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
            "enabled": self.disabled_at.is_none(),
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
