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
