//! Files and QR codes end to end, as a new user tries them: a logo created, its bytes `PUT`
//! straight to the bucket (moto's S3) with the presigned URL, completed; a QR code of a link with
//! that logo downloaded over HTTP and decoded back to the link's short URL; the logo's public URL
//! followed to its bytes.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use keyhive_e2e::Stack;
use serde_json::json;

async fn direct(method: &str, url: &str, headers: &[(String, String)], body: Vec<u8>) -> (u16, Vec<u8>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<Bytes>>(hyper_util::client::legacy::connect::HttpConnector::new());
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = client.request(request.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
}

fn png_of(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, y| image::Rgba([200, (x * 2) as u8, (y * 2) as u8, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A file created, its bytes `PUT` with the presigned URL and completed: the completion's data.
async fn ready_file(stack: &Stack, admin: &str, purpose: &str, png: &[u8]) -> serde_json::Value {
    let created = stack
        .call(
            admin,
            "POST",
            "/v1/files",
            Some(&json!({"purpose": purpose, "content_type": "image/png", "size_bytes": png.len()})),
        )
        .await
        .envelope(201);
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let headers: Vec<(String, String)> = created["data"]["upload"]["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let (status, _) = direct("PUT", created["data"]["upload"]["url"].as_str().unwrap(), &headers, png.to_vec()).await;
    assert_eq!(status, 200, "the bucket takes the presigned upload");
    let ready = stack.call(admin, "POST", &format!("/v1/files/{id}/complete"), None).await.envelope(200);
    assert_eq!(ready["data"]["status"], "ready");
    ready["data"].clone()
}

#[tokio::test]
async fn a_logo_uploaded_with_its_presigned_url_draws_in_a_qr_code_that_reads_back() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let png = png_of(96, 96);
    let ready = ready_file(&stack, &admin, "logo", &png).await;
    assert_eq!(ready["width"], 96);
    let id = ready["id"].as_str().unwrap().to_string();

    let link = stack
        .call(
            &admin,
            "POST",
            "/short-link",
            Some(&json!({"destination": {"type": "link", "value": "https://example.com/qr"}})),
        )
        .await
        .envelope(201);
    let (link_id, short_url) = (link["data"]["id"].as_str().unwrap(), link["data"]["short_url"].as_str().unwrap());
    let path = format!("/short-link/{link_id}/qr?logo={id}&size=400");
    let answer = stack.send("GET", &path, &[("x-api-key", admin.as_str()), ("accept", "image/png")], None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("image/png"));
    let gray =
        image::load_from_memory_with_format(&answer.body, image::ImageFormat::Png).expect("PNG bytes").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(gray);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().expect("readable").1, short_url);

    // The public URL, for anyone: a redirect to the very bytes.
    let public = stack.send("GET", &format!("/files/{id}"), &[], None).await;
    assert_eq!(public.status, 302);
    let (status, fetched) = direct("GET", public.header("location").unwrap(), &[], Vec::new()).await;
    assert_eq!((status, fetched == png), (200, true));
}

#[tokio::test]
async fn a_link_preview_card_is_what_a_chat_app_unfurls_and_its_image_loads_for_anyone() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let image = ready_file(&stack, &admin, "social_image", &png_of(1200, 630)).await;
    let image_id = image["id"].as_str().unwrap();
    let slug =
        format!("card-{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    let body = json!({
        "destination": {"type": "link", "value": "https://example.com/launch"},
        "slug": slug,
        "preview": {"title": "Launch <day>", "description": "Everything new & improved", "image": image_id},
    });
    let link = stack.call(&admin, "POST", "/short-link", Some(&body)).await.envelope(201);
    assert_eq!(link["data"]["preview"]["image_url"], image["url"]);
    let path = format!("/{}", link["data"]["slug"].as_str().unwrap());
    let card = stack
        .send("GET", &path, &[("user-agent", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")], None)
        .await;
    assert_eq!(card.status, 200);
    assert_eq!(card.header("content-type"), Some("text/html; charset=utf-8"));
    let page = String::from_utf8(card.body.to_vec()).unwrap();
    assert!(page.contains("<meta property=\"og:title\" content=\"Launch &lt;day&gt;\">"), "{page}");
    assert!(page.contains("content=\"Everything new &amp; improved\""), "{page}");
    assert!(page.contains(&format!("/files/{image_id}\">")), "{page}");
    // A person is redirected.
    let person =
        stack.send("GET", &path, &[("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")], None).await;
    assert_eq!((person.status, person.header("location")), (302, Some("https://example.com/launch")));
    // The image the card names loads for anyone, and cannot be deleted while the card shows it.
    let public = stack.send("GET", &format!("/files/{image_id}"), &[], None).await;
    assert_eq!(public.status, 302);
    stack.call(&admin, "DELETE", &format!("/v1/files/{image_id}"), None).await.envelope(409);
    let link_id = link["data"]["id"].as_str().unwrap();
    stack.call(&admin, "DELETE", &format!("/short-link/{link_id}"), None).await.envelope(200);
    stack.call(&admin, "DELETE", &format!("/v1/files/{image_id}"), None).await.envelope(200);
}
