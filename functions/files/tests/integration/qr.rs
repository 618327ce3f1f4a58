//! QR codes of links, decoded back to their exact short URL, with and without a logo; and whose
//! logo may be drawn (the caller's ready logo files only, whatever a public URL gives away).

use crate::files::{callers, image_bytes, ready, s3, send};
use keyhive::auth::{Environment, Identity};
use keyhive::testkit::{assert_envelope, identity_of, new_org, stack_api, Event};
use serde_json::{json, Value};

/// A link made by the links function's own handler: its id and short URL.
async fn link(caller: &Identity) -> (String, String) {
    let links = links::Links { api: stack_api().await, dns: None };
    let body = json!({ "destination": { "type": "link", "value": "https://example.com/launch" } });
    let event = Event::load("links-create.json").authorized_as(caller).body(&body);
    let created = assert_envelope(&links::handle(&links, event.request()).await, 201)["data"].clone();
    (created["id"].as_str().unwrap().to_string(), created["short_url"].as_str().unwrap().to_string())
}

fn decode(png: &[u8]) -> String {
    let gray = image::load_from_memory_with_format(png, image::ImageFormat::Png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(gray);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().expect("a readable QR code").1
}

fn qr(id: &str, caller: &Identity, query: &[(&str, &str)]) -> Event {
    let mut event = Event::load("links-qr.json").authorized_as(caller).param("id", id);
    // The sample event's own query (format, size) is replaced by the test's.
    event = event.clear_query();
    for (name, value) in query {
        event = event.query(name, value);
    }
    event
}

#[tokio::test]
async fn a_qr_code_reads_back_as_the_links_short_url_with_and_without_a_logo() {
    let (api, s3) = (stack_api().await, s3().await);
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (id, short_url) = link(&admin).await;
    let plain = send(&api, &s3, qr(&id, &admin, &[])).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()["content-type"], "image/png");
    let etag = plain.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(decode(plain.body().as_ref()), short_url);
    let sized =
        send(&api, &s3, qr(&id, &admin, &[("size", "300"), ("margin", "4"), ("level", "Q"), ("fg", "1a2b3c")])).await;
    assert_eq!(decode(sized.body().as_ref()), short_url);
    // The same request again: 304 with its ETag.
    let again = send(&api, &s3, qr(&id, &admin, &[]).header("If-None-Match", &etag)).await;
    assert_eq!(again.status(), 304);
    // With the caller's logo: level H, and still the exact URL.
    let logo = ready(&api, &s3, &admin, "logo", &image_bytes(200, 200, image::ImageFormat::Png)).await;
    let logo_id = logo["id"].as_str().unwrap();
    let with_logo = send(&api, &s3, qr(&id, &admin, &[("logo", logo_id)])).await;
    assert_eq!(with_logo.status(), 200);
    assert_ne!(with_logo.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(decode(with_logo.body().as_ref()), short_url);
    // SVG: only shapes, parsed colours and the logo as re-encoded data.
    let svg = send(&api, &s3, qr(&id, &admin, &[("format", "svg"), ("logo", logo_id), ("bg", "fafafa")])).await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let text = String::from_utf8(svg.body().to_vec()).unwrap();
    assert!(text.starts_with("<svg") && text.contains("#fafafa") && text.contains("data:image/png;base64,"));
    assert!(!text.contains("<script") && !text.contains("href=\"http") && !text.contains(&short_url));
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_them() {
    let (api, s3) = (stack_api().await, s3().await);
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (id, _) = link(&admin).await;
    for (name, value) in [
        ("format", "gif"),
        ("size", "63"),
        ("size", "2049"),
        ("margin", "21"),
        ("level", "X"),
        ("fg", "#000000"),
        ("bg", "zzzzzz"),
        ("logo", "not-a-file"),
        ("colour", "000000"),
    ] {
        let response = send(&api, &s3, qr(&id, &admin, &[(name, value)])).await;
        let body: Value = assert_envelope(&response, 400);
        assert_eq!(body["error"]["details"]["field"], name, "{name}={value}");
    }
    let response = send(&api, &s3, qr(&id, &admin, &[("level", "L"), ("logo", "fil_AAAAAAAAAAAAAAAAAAAAAAAA")])).await;
    assert_eq!(assert_envelope(&response, 400)["error"]["details"]["field"], "level");
}

#[tokio::test]
async fn only_the_callers_ready_logo_files_are_drawn_and_only_its_links_coded() {
    let (api, s3) = (stack_api().await, s3().await);
    let (admin, other, tester) = callers(&api).await;
    let (id, _) = link(&admin).await;
    let png = image_bytes(64, 64, image::ImageFormat::Png);
    // Another organization's logo, its id read off its public URL: not the caller's.
    let theirs = ready(&api, &s3, &other, "logo", &png).await;
    let guessed = theirs["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    // The caller's own test-environment logo in a live link's code; a social image as a logo.
    let test_logo = ready(&api, &s3, &tester, "logo", &png).await;
    let social = ready(&api, &s3, &admin, "social_image", &image_bytes(300, 300, image::ImageFormat::Png)).await;
    for logo in [guessed.as_str(), test_logo["id"].as_str().unwrap(), social["id"].as_str().unwrap()] {
        let response = send(&api, &s3, qr(&id, &admin, &[("logo", logo)])).await;
        assert_eq!(assert_envelope(&response, 400)["error"]["details"]["field"], "logo", "{logo}");
    }
    // Another organization's link, and the caller's from the other environment: 404.
    assert_envelope(&send(&api, &s3, qr(&id, &other, &[])).await, 404);
    assert_envelope(&send(&api, &s3, qr(&id, &tester, &[])).await, 404);
}
