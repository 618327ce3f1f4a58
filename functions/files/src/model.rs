//! The files function's records: an uploaded file (a QR logo or a link's social image), its
//! purpose and bounds, and its life (`pending` until its upload is checked, then `ready` or
//! `rejected`).

use crate::sniff::ContentType;
use keyhive::model::{rfc3339, Tenant};
use serde_json::{json, Value};
use time::OffsetDateTime;

pub use keyhive::model::FileId;

/// Where a file's checked bytes are in the bucket: written only by the files function, from the
/// upload it checked.
pub fn object_key(id: &FileId) -> String {
    format!("files/{}", id.as_str())
}

/// Where one completion copies an upload to check it: its own key, so that a completion racing
/// another (the upload put again between them) never overwrites or deletes the bytes the other
/// checked. The one whose outcome is recorded has its key recorded as the file's `stored_at`.
pub fn attempt_key(id: &FileId) -> String {
    format!("{}{}", copies_prefix(id), keyhive::model::random_id("c", 16))
}

/// What every completion's copy of a file's upload begins with.
pub fn copies_prefix(id: &FileId) -> String {
    format!("files/{}/", id.as_str())
}

/// Where a file's upload lands: the presigned PUT's key. Its URL stays valid for a while after
/// the upload is checked, so what is served is a copy made before the check, never this key.
pub fn upload_key(id: &FileId) -> String {
    format!("uploads/{}", id.as_str())
}

/// What a file is for, which bounds its size and dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Drawn in the centre of a QR code.
    Logo,
    /// A link preview's `og:image`.
    SocialImage,
}

impl Purpose {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "logo" => Some(Purpose::Logo),
            "social_image" => Some(Purpose::SocialImage),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Logo => "logo",
            Purpose::SocialImage => "social_image",
        }
    }

    /// The largest upload: 2 MiB for logos, 5 MiB for social images.
    pub fn max_bytes(self) -> u64 {
        match self {
            Purpose::Logo => 2 * 1024 * 1024,
            Purpose::SocialImage => 5 * 1024 * 1024,
        }
    }

    /// The smallest width and height (preview cards need room; a logo may be tiny).
    pub fn min_side(self) -> u32 {
        match self {
            Purpose::Logo => 1,
            Purpose::SocialImage => 200,
        }
    }
}

/// The largest width and height of any file.
pub const MAX_SIDE: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Created; its upload not yet checked.
    Pending,
    Ready,
    /// Its upload failed the checks and was deleted.
    Rejected,
}

impl Status {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Status::Pending),
            "ready" => Some(Status::Ready),
            "rejected" => Some(Status::Rejected),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Ready => "ready",
            Status::Rejected => "rejected",
        }
    }
}

/// A file's record; its bytes are in the bucket under `object_key(&id)`.
#[derive(Debug, Clone)]
pub struct FileRecord {
    pub id: FileId,
    pub tenant: Tenant,
    pub purpose: Purpose,
    pub content_type: ContentType,
    pub size_bytes: u64,
    pub status: Status,
    /// Known once ready.
    pub dimensions: Option<(u32, u32)>,
    /// Why its upload was rejected.
    pub rejected_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
    /// Where a ready file's checked bytes are (`None`: `object_key`, where files made before
    /// per-completion keys keep theirs).
    pub stored_at: Option<String>,
}

impl FileRecord {
    /// Whether it holds one of its tenant's ready-file slots: the completion that takes the slot
    /// records `stored_at` in the same write (files made ready before the ceiling hold none).
    pub fn holds_slot(&self) -> bool {
        self.stored_at.is_some()
    }

    /// The bucket key of its checked bytes.
    pub fn served_key(&self) -> String {
        self.stored_at.clone().unwrap_or_else(|| object_key(&self.id))
    }

    /// The public URL of a ready file's bytes (`base` is the API's URL base).
    pub fn public_url(&self, base: &str) -> Option<String> {
        (self.status == Status::Ready).then(|| keyhive::http::file_url(base, &self.id))
    }

    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "id": self.id.as_str(),
            "purpose": self.purpose.as_str(),
            "content_type": self.content_type.as_str(),
            "size_bytes": self.size_bytes,
            "status": self.status.as_str(),
            "width": self.dimensions.map(|(w, _)| w),
            "height": self.dimensions.map(|(_, h)| h),
            "url": self.public_url(base),
            "rejected_reason": self.rejected_reason,
            "environment": self.tenant.environment.as_str(),
            "created_at": rfc3339(self.created_at),
            "completed_at": self.completed_at.map(rfc3339),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_ids_are_generated_and_parsed_strictly() {
        let id = FileId::generate();
        assert_eq!(FileId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(object_key(&id), format!("files/{}", id.as_str()));
        assert_eq!(upload_key(&id), format!("uploads/{}", id.as_str()));
        for bad in
            ["fil_", "fil_short", "lnk_abcdefghijklmnopqrstuvwx", "fil_abcdefghijklmnopqrstuvw!", "../etc/passwd"]
        {
            assert_eq!(FileId::parse(bad), None, "{bad}");
        }
    }
}
