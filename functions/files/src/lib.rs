//! The files function: uploads for QR logos and link previews' social images (`/v1/files*`), a
//! ready file's public bytes (`GET /files/{id}`), and a link's QR code (`GET
//! /short-link/{id}/qr`, served here so that the links function's redirect stays lean). The bytes
//! never pass through a function: clients upload with a presigned `PUT` straight to the bucket,
//! and readers follow a presigned `GET`.

pub mod input;
pub mod logo;
pub mod model;
pub mod qr;
pub mod rules;
pub mod s3;
pub mod sniff;
pub mod store;

use crate::model::{attempt_key, copies_prefix, object_key, upload_key, FileId, FileRecord, Purpose, Status};
use crate::s3::{S3Error, S3};
use crate::store::{FileStore, Outcome};
use http::HeaderValue;
use keyhive::change::AuditAction;
use keyhive::http::idempotent;
use keyhive::http::routes::FilesOp;
use keyhive::model::{rfc3339, Tenant};
use keyhive::schema;
use keyhive::store::items::{get_s, key_of, opt_s, tenant_of};
use keyhive::store::Page;
use keyhive::{ApiError, ApiState, Call, Reply};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

/// How long a presigned upload is valid.
pub const UPLOAD_VALIDITY: Duration = Duration::from_secs(600);
/// How long a public file URL's redirect target is valid; the redirect itself is cached for
/// less (`PUBLIC_CACHE_SECONDS`), so a cached redirect never points at an expired URL.
pub const DOWNLOAD_VALIDITY: Duration = Duration::from_secs(3600);
const PUBLIC_CACHE_SECONDS: u64 = 900;

pub async fn handle(api: &ApiState, s3: &S3, request: Request) -> Response<Body> {
    keyhive::http::serve(api, request, |call| handler(api, s3, call)).await
}

async fn handler(api: &ApiState, s3: &S3, call: Call<FilesOp>) -> Result<Reply, ApiError> {
    let call = &call;
    match call.op {
        FilesOp::Create => create(api, s3, call).await,
        FilesOp::List => list(api, call).await,
        FilesOp::Get => get(api, call).await,
        FilesOp::Complete => complete(api, s3, call).await,
        FilesOp::Delete => delete(api, s3, call).await,
        FilesOp::Content => content(api, s3, call).await,
        FilesOp::Qr => qr_code(api, s3, call).await,
    }
}

fn unavailable(err: S3Error) -> ApiError {
    tracing::error!(error = ?err, "the files bucket refused or failed");
    ApiError::Unavailable("object storage is unavailable".into())
}

/// `POST /v1/files`: a pending file and its presigned upload, bound to the declared size and type.
async fn create(api: &ApiState, s3: &S3, call: &Call<FilesOp>) -> Result<Reply, ApiError> {
    let new = input::new_file(call)?;
    let change = call.change()?;
    let base = keyhive::http::public_base(api, &call.request);
    idempotent(api, call, |claim| async move {
        let change = change.with_claim(claim);
        let file = FileRecord {
            id: FileId::generate(),
            tenant: change.tenant.clone(),
            purpose: new.purpose,
            content_type: new.content_type,
            size_bytes: new.size_bytes,
            status: Status::Pending,
            dimensions: None,
            rejected_reason: None,
            created_at: change.at,
            completed_at: None,
            stored_at: None,
        };
        let now = SystemTime::from(change.at);
        let upload = s3
            .presign_put(&upload_key(&file.id), file.content_type.as_str(), file.size_bytes, UPLOAD_VALIDITY, now)
            .map_err(unavailable)?;
        let mut data = file.to_json(&base);
        data["upload"] = json!({
            "method": "PUT",
            "url": upload.url,
            "headers": upload.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "expires_at": rfc3339(change.at + time::Duration::seconds(UPLOAD_VALIDITY.as_secs() as i64)),
        });
        let environment = change.tenant.environment;
        let log =
            change.creation_log(environment, AuditAction::FileCreated, file.id.as_str(), None, Some(data.clone()));
        api.store.create_file(&file, &log).await?;
        Ok(Reply::created_at(data, &format!("/v1/files/{}", file.id.as_str())))
    })
    .await
}

async fn list(api: &ApiState, call: &Call<FilesOp>) -> Result<Reply, ApiError> {
    let list = input::file_list(api, call).await?;
    let change = call.change()?;
    let base = keyhive::http::public_base(api, &call.request);
    let page = api.store.list_files(&change.tenant, list.start.as_ref(), list.limit).await?;
    let data = Page { items: page.items.iter().map(|f| f.to_json(&base)).collect(), next: page.next };
    list.reply(api, data, Value::clone).await
}

async fn get(api: &ApiState, call: &Call<FilesOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    let file = rules::visible(&api.store, &change.tenant, &input::file_id(call)?).await?;
    Ok(Reply::ok(file.to_json(&keyhive::http::public_base(api, &call.request))))
}

/// `POST /v1/files/{id}/complete`: checks the uploaded object; ready, or rejected and deleted.
async fn complete(api: &ApiState, s3: &S3, call: &Call<FilesOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    let file = rules::visible(&api.store, &change.tenant, &input::file_id(call)?).await?;
    let base = keyhive::http::public_base(api, &call.request);
    match file.status {
        // Completing again answers what the first completion found.
        Status::Ready => return Ok(Reply::ok(file.to_json(&base))),
        Status::Rejected => {
            let reason = file.rejected_reason.clone().unwrap_or_else(|| "the upload was rejected".into());
            return Err(ApiError::validation("file", reason));
        }
        Status::Pending => {}
    }
    // The upload is copied where only this function writes, and the copy checked and served: the
    // presigned PUT stays valid a while, and bytes put again after the check must change nothing.
    // Each completion has its own copy: one racing another never touches the other's.
    let (upload, key) = (upload_key(&file.id), attempt_key(&file.id));
    match s3.copy(&upload, &key).await {
        Ok(()) => {}
        // Nothing uploaded yet: still pending, the client may upload and complete again.
        Err(S3Error::NotFound) => {
            return Err(ApiError::validation("file", "nothing has been uploaded for this file yet"))
        }
        Err(err) => return Err(unavailable(err)),
    }
    let (start, total) = s3.get_start(&key, rules::CHECKED_BYTES).await.map_err(unavailable)?;
    let outcome = rules::judge(&file, total, &start);
    if let Outcome::Rejected { .. } = outcome {
        s3.delete(&key).await.map_err(unavailable)?;
    }
    let log = change.log(change.tenant.environment, AuditAction::FileCompleted, file.id.as_str(), None);
    match api.store.finish_file(&file, &outcome, change.at, api.config.limits.files, &key, &log).await {
        Ok(()) => {}
        // No room for another ready file: it stays pending (its upload kept for a later try).
        Err(err @ keyhive::store::ChangeError::Quota(_)) => {
            s3.delete(&key).await.map_err(unavailable)?;
            return Err(err.into());
        }
        // Completed meanwhile by another request: its copy is the file's; answer what it found.
        Err(keyhive::store::ChangeError::Stale) => {
            if let Err(err) = s3.delete(&key).await {
                tracing::warn!(file_id = file.id.as_str(), error = ?err, "a losing completion's copy was not removed");
            }
            let now = rules::visible(&api.store, &change.tenant, &file.id).await?;
            return match now.status {
                Status::Ready => Ok(Reply::ok(now.to_json(&base))),
                _ => Err(ApiError::validation("file", now.rejected_reason.unwrap_or_else(|| "rejected".into()))),
            };
        }
        Err(err) => return Err(err.into()),
    }
    // The upload is not needed any more (the bucket's lifecycle removes what this misses).
    if let Err(err) = s3.delete(&upload).await {
        tracing::warn!(file_id = file.id.as_str(), error = ?err, "a checked upload was not removed");
    }
    match outcome {
        Outcome::Ready { width, height } => {
            let done = FileRecord {
                status: Status::Ready,
                dimensions: Some((width, height)),
                completed_at: Some(change.at),
                stored_at: Some(key),
                ..file
            };
            Ok(Reply::ok(done.to_json(&base)))
        }
        Outcome::Rejected { reason } => Err(ApiError::validation("file", reason)),
    }
}

/// `DELETE /v1/files/{id}`: the record (409 while a link preview shows it), then its bytes.
async fn delete(api: &ApiState, s3: &S3, call: &Call<FilesOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    let id = input::file_id(call)?;
    let mut file = rules::visible(&api.store, &change.tenant, &id).await?;
    let log = change.log(change.tenant.environment, AuditAction::FileDeleted, file.id.as_str(), None);
    if let Err(err) = api.store.delete_file(&file, &log).await {
        // Completed since it was read (a Conflict for that reason, not a preview's use): once more
        // with what it is now.
        let now = rules::visible(&api.store, &change.tenant, &id).await?;
        if now.status == file.status {
            return Err(err.into());
        }
        file = now;
        api.store.delete_file(&file, &log).await?;
    }
    // Best effort after the record: bytes no record names are never served (the public route
    // reads the record first).
    // Every copy a completion made (the served one, and any a losing completion failed to
    // remove), the upload, and where files kept their bytes before per-completion copies.
    let mut keys = s3.keys_under(&copies_prefix(&file.id)).await.unwrap_or_else(|err| {
        tracing::warn!(file_id = file.id.as_str(), error = ?err, "a deleted file's copies could not be listed");
        vec![file.served_key()]
    });
    keys.extend([object_key(&file.id), upload_key(&file.id)]);
    for key in keys {
        if let Err(err) = s3.delete(&key).await {
            tracing::warn!(file_id = file.id.as_str(), error = ?err, "a deleted file's bytes were not removed");
        }
    }
    Ok(Reply::ok(json!({ "id": file.id.as_str(), "deleted": true })))
}

/// `GET /files/{id}`: a ready file's bytes, for anyone: a redirect to a short-lived presigned
/// URL, cached a while. Pending, rejected and unknown files are one 404.
async fn content(api: &ApiState, s3: &S3, call: &Call<FilesOp>) -> Result<Reply, ApiError> {
    let id = input::file_id(call)?;
    let file =
        api.store.get_file(&id).await?.filter(|f| f.status == Status::Ready).ok_or(ApiError::NotFound("file"))?;
    let url = s3.presign_get(&file.served_key(), DOWNLOAD_VALIDITY, SystemTime::now()).map_err(unavailable)?;
    let cache = HeaderValue::from_str(&format!("public, max-age={PUBLIC_CACHE_SECONDS}"))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Reply::redirect(url).with_header(http::header::CACHE_CONTROL, cache))
}

/// `GET /short-link/{id}/qr`: the QR code of the link's short URL, as PNG or SVG, with an
/// optional logo (a ready logo file of the caller's tenant).
async fn qr_code(api: &ApiState, s3: &S3, call: &Call<FilesOp>) -> Result<Reply, ApiError> {
    let change = call.change()?;
    let request = input::qr_request(call)?;
    let short_url = short_url_of(api, call, &change.tenant).await?;
    let logo = match &request.logo {
        Some(id) => {
            let file = rules::usable(&api.store, &change.tenant, id, Purpose::Logo, "logo").await?;
            let bytes = s3.get(&file.served_key(), Purpose::Logo.max_bytes()).await.map_err(unavailable)?;
            Some((file, bytes))
        }
        None => None,
    };
    let etag = qr_etag(&short_url, &request, logo.as_ref().map(|(f, _)| f));
    if call.request.headers().get(http::header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return Ok(not_modified(&etag));
    }
    let drawn = logo.as_ref().map(|(file, bytes)| qr::Logo { bytes, content_type: file.content_type.as_str() });
    let image = qr::render(&short_url, &request.options, drawn.as_ref()).map_err(|err| match err {
        qr::QrError::TooLong => ApiError::validation("level", "the short URL does not fit a QR code at this level"),
        qr::QrError::BadLogo => ApiError::validation("logo", "the logo cannot be decoded"),
        qr::QrError::Encode => ApiError::internal("the QR code's PNG could not be encoded"),
    })?;
    let content_type = match request.options.format {
        qr::Format::Png => "image/png",
        qr::Format::Svg => "image/svg+xml",
    };
    Ok(with_cache(Reply::bytes(content_type, image), &etag))
}

/// The short URL of a link of the tenant (404 for anyone else's), from the link's own item.
async fn short_url_of(api: &ApiState, call: &Call<FilesOp>, tenant: &Tenant) -> Result<String, ApiError> {
    let id = call.param("id")?;
    let missing = || ApiError::NotFound("short link");
    if !(id.starts_with("lnk_") && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')) {
        return Err(missing());
    }
    let item = api.store.get_consistent(key_of(schema::link_pk(id), schema::LINK_SK)).await?.ok_or_else(missing)?;
    let owner = tenant_of(&item)?;
    if !tenant.owns(&owner.org_id, owner.environment) {
        return Err(missing());
    }
    let base = keyhive::http::public_base(api, &call.request);
    Ok(keyhive::http::short_url(&base, opt_s(&item, "domain"), get_s(&item, "slug")?))
}

/// A QR code's `ETag`: what it is drawn from (the URL, the options, the logo file).
fn qr_etag(short_url: &str, request: &input::QrRequest, logo: Option<&FileRecord>) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update(short_url.as_bytes());
    hash.update(format!("{:?}", request.options).as_bytes());
    if let Some(file) = logo {
        hash.update(file.id.as_str().as_bytes());
        hash.update(file.completed_at.map(rfc3339).unwrap_or_default().as_bytes());
    }
    format!("\"{}\"", hex::encode(&hash.finalize()[..16]))
}

fn with_cache(reply: Reply, etag: &str) -> Reply {
    // Kept per credential: another key signed in on the same browser (the console) refetches.
    let mut reply = reply
        .with_header(http::header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"))
        .with_header(http::header::VARY, HeaderValue::from_static("X-API-Key, Authorization"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        reply = reply.with_header(http::header::ETAG, value);
    }
    reply
}

fn not_modified(etag: &str) -> Reply {
    let reply = Reply { status: http::StatusCode::NOT_MODIFIED, ..Reply::no_content() };
    with_cache(reply, etag)
}
