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

fn logo_png() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(96, 96, |x, y| image::Rgba([200, (x * 2) as u8, (y * 2) as u8, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn a_logo_uploaded_with_its_presigned_url_draws_in_a_qr_code_that_reads_back() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let png = logo_png();
    let created = stack
        .call(
            &admin,
            "POST",
            "/v1/files",
            Some(&json!({"purpose": "logo", "content_type": "image/png", "size_bytes": png.len()})),
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
    let (status, _) = direct("PUT", created["data"]["upload"]["url"].as_str().unwrap(), &headers, png.clone()).await;
    assert_eq!(status, 200, "the bucket takes the presigned upload");
    let ready = stack.call(&admin, "POST", &format!("/v1/files/{id}/complete"), None).await.envelope(200);
    assert_eq!((ready["data"]["status"].clone(), ready["data"]["width"].clone()), (json!("ready"), json!(96)));

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
