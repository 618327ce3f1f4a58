//! Files' rules: what a finished upload must be (its size as declared, the bytes of its declared
//! type, dimensions within its purpose's bounds), and the tenant's view of files.

use crate::model::{FileId, FileRecord, Purpose, Status, MAX_SIDE};
use crate::sniff::{inspect, HEADER_BYTES};
use crate::store::{FileStore, Outcome};
use keyhive::model::Tenant;
use keyhive::ApiError;

/// How many bytes of an upload the check reads: a JPEG's frame header may follow metadata.
pub const CHECKED_BYTES: u64 = HEADER_BYTES as u64;

/// The verdict on an uploaded object: `total` its size in the bucket, `start` its first bytes.
pub fn judge(file: &FileRecord, total: u64, start: &[u8]) -> Outcome {
    let reject = |reason: String| Outcome::Rejected { reason };
    if total != file.size_bytes {
        return reject(format!("the upload is {total} bytes, not the {} declared", file.size_bytes));
    }
    let dimensions = match inspect(file.content_type, start) {
        Ok(dimensions) => dimensions,
        Err(rejection) => return reject(rejection.reason()),
    };
    let (width, height) = (dimensions.width, dimensions.height);
    if width > MAX_SIDE || height > MAX_SIDE {
        return reject(format!("the image is {width}x{height}, larger than {MAX_SIDE}x{MAX_SIDE}"));
    }
    let min = file.purpose.min_side();
    if width < min || height < min {
        return reject(format!(
            "the image is {width}x{height}, smaller than {min}x{min} for a {}",
            file.purpose.as_str()
        ));
    }
    Outcome::Ready { width, height }
}

/// A file of the caller's tenant (another's is indistinguishable from a missing one).
pub async fn visible<S: FileStore + ?Sized>(store: &S, tenant: &Tenant, id: &FileId) -> Result<FileRecord, ApiError> {
    match store.get_file(id).await? {
        Some(file) if tenant.owns(&file.tenant.org_id, file.tenant.environment) => Ok(file),
        _ => Err(ApiError::NotFound("file")),
    }
}

/// A ready file of the tenant for `purpose` (a QR logo, a preview image): 400 on `field` otherwise,
/// another tenant's file included (it is not one of the caller's).
pub async fn usable<S: FileStore + ?Sized>(
    store: &S,
    tenant: &Tenant,
    id: &FileId,
    purpose: Purpose,
    field: &'static str,
) -> Result<FileRecord, ApiError> {
    let refused =
        || ApiError::validation(field, format!("must be the id of a ready {} file of yours", purpose.as_str()));
    let file = visible(store, tenant, id).await.map_err(|_| refused())?;
    if file.status != Status::Ready || file.purpose != purpose {
        return Err(refused());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sniff::ContentType;
    use keyhive::model::{Environment, OrgId};

    fn file(purpose: Purpose, size: u64) -> FileRecord {
        FileRecord {
            id: FileId::generate(),
            tenant: Tenant::new(OrgId::parse("org_a").unwrap(), Environment::Live),
            purpose,
            content_type: ContentType::Png,
            size_bytes: size,
            status: Status::Pending,
            dimensions: None,
            rejected_reason: None,
            created_at: keyhive::model::now(),
            completed_at: None,
            stored_at: None,
        }
    }

    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        bytes.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn an_upload_is_ready_only_with_its_declared_size_type_and_bounds() {
        let logo = file(Purpose::Logo, 100);
        assert_eq!(judge(&logo, 100, &png_header(64, 64)), Outcome::Ready { width: 64, height: 64 });
        assert!(
            matches!(judge(&logo, 101, &png_header(64, 64)), Outcome::Rejected { reason } if reason.contains("101 bytes"))
        );
        assert!(
            matches!(judge(&logo, 100, &png_header(4097, 10)), Outcome::Rejected { reason } if reason.contains("larger"))
        );
        assert!(matches!(judge(&logo, 100, b"\xFF\xD8\xFF\xE0"), Outcome::Rejected { .. }));
        let social = file(Purpose::SocialImage, 100);
        assert!(
            matches!(judge(&social, 100, &png_header(199, 400)), Outcome::Rejected { reason } if reason.contains("smaller"))
        );
        assert_eq!(judge(&social, 100, &png_header(1200, 630)), Outcome::Ready { width: 1200, height: 630 });
    }
}
