//! Uploads as a client makes them: `POST /v1/files`, the bytes `PUT` straight to moto's S3 with the
//! presigned URL, then `complete`. PNG, JPEG and WebP images made here; what must be refused is.

use files::s3::S3;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use keyhive::auth::{Environment, Identity};
use keyhive::testkit::{assert_envelope, identity_of, new_org, stack_api, Event};
use keyhive::ApiState;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

pub async fn s3() -> S3 {
    let s3 = S3::from_env().expect("the test stack sets the files bucket and moto's S3 endpoint");
    s3.ensure_bucket().await.expect("the bucket in moto");
    s3
}

pub async fn send(api: &ApiState, s3: &S3, event: Event) -> Response<Body> {
    files::handle(api, s3, event.request()).await
}

/// An image of `width` x `height` in `format`, made by the `image` crate's encoders.
pub fn image_bytes(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// A plain HTTP request to moto (the presigned URLs are http locally): status and body.
pub async fn http(method: &str, url: &str, headers: &[(String, String)], body: Vec<u8>) -> (u16, Vec<u8>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<Bytes>>(hyper_util::client::legacy::connect::HttpConnector::new());
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response =
        client.request(request.body(Full::new(Bytes::from(body))).expect("request")).await.expect("moto answers");
    let status = response.status().as_u16();
    (status, response.into_body().collect().await.expect("body").to_bytes().to_vec())
}

/// Creates a file as `caller` and uploads `bytes` with its presigned PUT: the file's id.
pub async fn upload(
    api: &ApiState,
    s3: &S3,
    caller: &Identity,
    purpose: &str,
    content_type: &str,
    bytes: &[u8],
) -> String {
    upload_keeping_url(api, s3, caller, purpose, content_type, bytes).await.0
}

/// `upload`, answering the presigned PUT's URL and headers too.
async fn upload_keeping_url(
    api: &ApiState,
    s3: &S3,
    caller: &Identity,
    purpose: &str,
    content_type: &str,
    bytes: &[u8],
) -> (String, String, Vec<(String, String)>) {
    let body = json!({ "purpose": purpose, "content_type": content_type, "size_bytes": bytes.len() });
    let created = send(api, s3, Event::load("files-create.json").authorized_as(caller).body(&body)).await;
    let data = assert_envelope(&created, 201)["data"].clone();
    assert_eq!(data["status"], "pending");
    let headers: Vec<(String, String)> = data["upload"]["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let url = data["upload"]["url"].as_str().expect("url").to_string();
    let (status, _) = http("PUT", &url, &headers, bytes.to_vec()).await;
    assert_eq!(status, 200, "the presigned PUT is accepted");
    (data["id"].as_str().expect("id").to_string(), url, headers)
}

pub async fn complete(api: &ApiState, s3: &S3, caller: &Identity, id: &str) -> Response<Body> {
    send(api, s3, Event::load("files-complete.json").authorized_as(caller).param("id", id)).await
}

/// The admin of a fresh organization, the admin of another, and the first admin as a test key of
/// its own organization (the attacker's standpoints).
pub async fn callers(api: &ApiState) -> (Identity, Identity, Identity) {
    let (_, admin) = new_org(api, Environment::Live).await;
    let (_, other) = new_org(api, Environment::Live).await;
    let admin = identity_of(&admin);
    let mut tester = admin.clone();
    tester.environment = Environment::Test;
    (admin, identity_of(&other), tester)
}

/// A ready file: uploaded and completed.
pub async fn ready(api: &ApiState, s3: &S3, caller: &Identity, purpose: &str, bytes: &[u8]) -> Value {
    let id = upload(api, s3, caller, purpose, "image/png", bytes).await;
    assert_envelope(&complete(api, s3, caller, &id).await, 200)["data"].clone()
}

#[tokio::test]
async fn png_jpeg_and_webp_uploads_become_ready_with_their_dimensions_and_public_bytes() {
    let (api, s3) = (stack_api().await, s3().await);
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    for (format, content_type, purpose, (w, h)) in [
        (image::ImageFormat::Png, "image/png", "logo", (64, 48)),
        (image::ImageFormat::Jpeg, "image/jpeg", "social_image", (1200, 630)),
        (image::ImageFormat::WebP, "image/webp", "social_image", (400, 400)),
    ] {
        let bytes = image_bytes(w, h, format);
        let id = upload(&api, &s3, &admin, purpose, content_type, &bytes).await;
        let done = assert_envelope(&complete(&api, &s3, &admin, &id).await, 200)["data"].clone();
        assert_eq!(
            (done["status"].clone(), done["width"].clone(), done["height"].clone()),
            (json!("ready"), json!(w), json!(h))
        );
        // Completing again answers the same.
        assert_eq!(assert_envelope(&complete(&api, &s3, &admin, &id).await, 200)["data"]["status"], "ready");
        // The public URL: a redirect anyone may follow to the very bytes.
        let url = done["url"].as_str().expect("a ready file's url").to_string();
        assert!(url.ends_with(&format!("/files/{id}")), "{url}");
        let public = send(&api, &s3, Event::load("files-content.json").param("id", &id)).await;
        assert_eq!(public.status(), 302);
        assert!(public.headers()["cache-control"].to_str().unwrap().starts_with("public, max-age="));
        let location = public.headers()["location"].to_str().unwrap().to_string();
        let (status, fetched) = http("GET", &location, &[], Vec::new()).await;
        assert_eq!((status, fetched == bytes), (200, true), "the presigned GET serves the upload");
    }
    let listed = send(&api, &s3, Event::load("files-list.json").authorized_as(&admin)).await;
    assert_eq!(assert_envelope(&listed, 200)["data"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn bytes_put_again_after_the_check_are_never_served() {
    let (api, s3) = (stack_api().await, s3().await);
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let bytes = image_bytes(300, 300, image::ImageFormat::Png);
    let (id, url, headers) = upload_keeping_url(&api, &s3, &admin, "social_image", "image/png", &bytes).await;
    assert_envelope(&complete(&api, &s3, &admin, &id).await, 200);
    // The presigned PUT is still valid: the same type and length, other bytes (an HTML page).
    let mut swapped = b"<html><script>alert(1)</script>".to_vec();
    swapped.resize(bytes.len(), b' ');
    let (status, _) = http("PUT", &url, &headers, swapped).await;
    assert_eq!(status, 200, "S3 takes it: the URL has not expired");
    let public = send(&api, &s3, Event::load("files-content.json").param("id", &id)).await;
    let location = public.headers()["location"].to_str().unwrap().to_string();
    let (status, fetched) = http("GET", &location, &[], Vec::new()).await;
    assert_eq!((status, fetched == bytes), (200, true), "the checked bytes, not the ones put later");
    assert_eq!(s3.keys_under(&format!("files/{id}/")).await.unwrap().len(), 1, "one checked copy");
}

#[tokio::test]
async fn uploads_that_are_not_what_they_declare_are_rejected_and_deleted() {
    let (api, s3) = (stack_api().await, s3().await);
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let jpeg = image_bytes(300, 300, image::ImageFormat::Jpeg);
    let cases = [
        // JPEG bytes declared as PNG.
        ("social_image", "image/png", jpeg.clone(), "JPEG"),
        // Too small for a preview card.
        ("social_image", "image/png", image_bytes(120, 120, image::ImageFormat::Png), "smaller"),
        // Larger than any file may be.
        ("logo", "image/png", image_bytes(4100, 2, image::ImageFormat::Png), "larger"),
        // Not an image at all.
        ("logo", "image/webp", b"RIFF....WEBPjunk but not a chunk header at all".to_vec(), "image"),
    ];
    for (purpose, content_type, bytes, said) in cases {
        let id = upload(&api, &s3, &admin, purpose, content_type, &bytes).await;
        let refused = complete(&api, &s3, &admin, &id).await;
        let body = assert_envelope(&refused, 400);
        assert_eq!(body["error"]["details"]["field"], "file");
        let reason = body["error"]["details"]["reason"].as_str().unwrap_or_default().to_string();
        assert!(reason.contains(said), "{reason}");
        let read = send(&api, &s3, Event::load("files-get.json").authorized_as(&admin).param("id", &id)).await;
        assert_eq!(assert_envelope(&read, 200)["data"]["status"], "rejected");
        // Its checked copy and its upload are deleted.
        assert_eq!(s3.keys_under(&format!("files/{id}/")).await.unwrap(), Vec::<String>::new(), "copy deleted");
        assert!(
            matches!(s3.get_start(&format!("uploads/{id}"), 16).await, Err(files::s3::S3Error::NotFound)),
            "upload deleted"
        );
        let public = send(&api, &s3, Event::load("files-content.json").param("id", &id)).await;
        assert_envelope(&public, 404);
    }
    // Declared sizes are bounded per purpose, and a PUT of other bytes than declared is refused by
    // the signature (S3) or by the size check (here: a longer body than declared).
    let too_big = json!({ "purpose": "logo", "content_type": "image/png", "size_bytes": 2 * 1024 * 1024 + 1 });
    let response = send(&api, &s3, Event::load("files-create.json").authorized_as(&admin).body(&too_big)).await;
    assert_eq!(assert_envelope(&response, 400)["error"]["details"]["field"], "size_bytes");
    // Completing before any upload keeps the file pending.
    let body = json!({ "purpose": "logo", "content_type": "image/png", "size_bytes": 100 });
    let made = send(&api, &s3, Event::load("files-create.json").authorized_as(&admin).body(&body)).await;
    let id = assert_envelope(&made, 201)["data"]["id"].as_str().unwrap().to_string();
    assert_envelope(&complete(&api, &s3, &admin, &id).await, 400);
    let read = send(&api, &s3, Event::load("files-get.json").authorized_as(&admin).param("id", &id)).await;
    assert_eq!(assert_envelope(&read, 200)["data"]["status"], "pending");
}

#[tokio::test]
async fn another_tenants_files_are_missing_and_a_deleted_file_is_gone() {
    let (api, s3) = (stack_api().await, s3().await);
    let (admin, other, tester) = callers(&api).await;
    let file = ready(&api, &s3, &admin, "logo", &image_bytes(32, 32, image::ImageFormat::Png)).await;
    let id = file["id"].as_str().unwrap();
    for stranger in [&other, &tester] {
        for event in ["files-get.json", "files-complete.json", "files-delete.json"] {
            let response = send(&api, &s3, Event::load(event).authorized_as(stranger).param("id", id)).await;
            assert_envelope(&response, 404);
        }
    }
    let copies = format!("files/{id}/");
    assert_eq!(s3.keys_under(&copies).await.unwrap().len(), 1, "the checked copy");
    let deleted = send(&api, &s3, Event::load("files-delete.json").authorized_as(&admin).param("id", id)).await;
    assert_envelope(&deleted, 200);
    assert_envelope(&send(&api, &s3, Event::load("files-get.json").authorized_as(&admin).param("id", id)).await, 404);
    assert_envelope(&send(&api, &s3, Event::load("files-content.json").param("id", id)).await, 404);
    assert_eq!(s3.keys_under(&copies).await.unwrap(), Vec::<String>::new(), "its bytes are gone");
}

#[tokio::test]
async fn ready_files_are_held_to_the_tenants_ceiling_and_a_deletion_makes_room() {
    let (mut api, s3) = (stack_api().await, s3().await);
    api.config.limits.files = 2;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let png = image_bytes(32, 32, image::ImageFormat::Png);
    let first = ready(&api, &s3, &admin, "logo", &png).await;
    ready(&api, &s3, &admin, "logo", &png).await;
    // A rejected upload takes no room; the third good one finds none and stays pending.
    let bad = upload(&api, &s3, &admin, "logo", "image/png", &image_bytes(32, 32, image::ImageFormat::Jpeg)).await;
    assert_envelope(&complete(&api, &s3, &admin, &bad).await, 400);
    let third = upload(&api, &s3, &admin, "logo", "image/png", &png).await;
    let full = complete(&api, &s3, &admin, &third).await;
    assert_eq!(assert_envelope(&full, 409)["error"]["code"], "QUOTA_EXCEEDED");
    let pending = send(&api, &s3, Event::load("files-get.json").authorized_as(&admin).param("id", &third)).await;
    assert_eq!(assert_envelope(&pending, 200)["data"]["status"], "pending");
    assert_envelope(&send(&api, &s3, Event::load("files-content.json").param("id", &third)).await, 404);
    // Deleting a ready file gives its room back: the pending one completes from its upload.
    let gone = Event::load("files-delete.json").authorized_as(&admin).param("id", first["id"].as_str().unwrap());
    assert_envelope(&send(&api, &s3, gone).await, 200);
    assert_eq!(assert_envelope(&complete(&api, &s3, &admin, &third).await, 200)["data"]["status"], "ready");
}

#[tokio::test]
async fn a_deletion_that_read_a_pending_file_completed_since_neither_leaks_its_slot_nor_deletes_blind() {
    use files::store::FileStore;
    let (mut api, s3) = (stack_api().await, s3().await);
    api.config.limits.files = 1;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let png = image_bytes(32, 32, image::ImageFormat::Png);
    let id = upload(&api, &s3, &admin, "logo", "image/png", &png).await;
    let stale = api.store.get_file(&files::model::FileId::parse(&id).unwrap()).await.unwrap().unwrap();
    assert_envelope(&complete(&api, &s3, &admin, &id).await, 200);
    // A deletion holding the pending record it read before the completion: refused.
    let change = keyhive::change::Change::by(&admin, "test", keyhive::model::now());
    let log = change.log(change.tenant.environment, keyhive::change::AuditAction::FileDeleted, &id, None);
    assert!(matches!(api.store.delete_file(&stale, &log).await, Err(keyhive::store::ChangeError::Conflict(_))));
    // Through the API it reads again and deletes the ready file, slot and all: another fits.
    let deleted = send(&api, &s3, Event::load("files-delete.json").authorized_as(&admin).param("id", &id)).await;
    assert_envelope(&deleted, 200);
    ready(&api, &s3, &admin, "logo", &png).await;
}
