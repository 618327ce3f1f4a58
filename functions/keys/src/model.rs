//! The keys function's own records: an organization's members (keys themselves are the
//! kernel's `KeyRecord`, which authentication reads).

use keyhive::model::{rfc3339, OrgId, UserId};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// A member of an organization: members belong to the organization, not to an environment.
#[derive(Debug, Clone)]
pub struct Member {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub created_at: OffsetDateTime,
}

impl Member {
    pub fn to_json(&self) -> Value {
        json!({
            "user_id": self.user_id.as_str(),
            "name": self.name,
            "email": self.email,
            "created_at": rfc3339(self.created_at),
        })
    }
}

/// What a key carries for its owner's own use: `meta` (a JSON object, at most
/// `MAX_META_PROPERTIES` properties and `MAX_META_BYTES` serialized) and `external_id` (at most
/// `MAX_EXTERNAL_ID_CHARS`). Stored beside the key item, never on it: every request rewrites the
/// key item, which must stay one write unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyMeta {
    pub meta: serde_json::Map<String, Value>,
    pub external_id: Option<String>,
}

pub const MAX_META_PROPERTIES: usize = 20;
pub const MAX_META_BYTES: usize = 2048;
pub const MAX_EXTERNAL_ID_CHARS: usize = 255;

impl KeyMeta {
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty() && self.external_id.is_none()
    }
}

/// A key as its reads answer it: the record with its metadata.
pub fn key_json(record: &keyhive::auth::KeyRecord, meta: &KeyMeta) -> Value {
    let mut data = record.to_json();
    data["meta"] = Value::Object(meta.meta.clone());
    data["external_id"] = json!(meta.external_id);
    data
}
