//! Link previews: a link shows a ready social image of its own organization and environment, the
//! image counted as used (its deletion refused) for as long as a link shows it; link-preview
//! fetchers get the card, every value escaped, and count as bot clicks; people get the 302.

use crate::files::{callers, image_bytes, ready, s3, send, upload};
use keyhive::auth::Identity;
use keyhive::testkit::{assert_envelope, stack_api, Event};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

async fn links() -> links::Links {
    links::Links { api: stack_api().await, dns: None }
}

async fn to_links(links: &links::Links, event: Event) -> Response<Body> {
    links::handle(links, event.request()).await
}

fn unique_slug() -> String {
    format!("card-{}", keyhive::model::random_id("s", 10).split_off(2))
}

/// Creates a link as `caller` with `preview`: the response.
async fn create(links: &links::Links, caller: &Identity, slug: &str, preview: Value) -> Response<Body> {
    let body = json!({
        "destination": { "type": "link", "value": "https://example.com/launch?a=1&b='2'" },
        "slug": slug,
        "preview": preview,
    });
    to_links(links, Event::load("links-create.json").authorized_as(caller).body(&body)).await
}

async fn patch(links: &links::Links, caller: &Identity, id: &str, body: Value) -> Response<Body> {
    to_links(links, Event::load("links-update.json").authorized_as(caller).param("id", id).body(&body)).await
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8(response.body().to_vec()).expect("UTF-8")
}

#[tokio::test]
async fn fetchers_get_the_escaped_card_people_the_redirect_and_the_image_stays_while_shown() {
    let links = links().await;
    let (api, s3) = (stack_api().await, s3().await);
    let (admin, _, _) = callers(&api).await;
    let image = ready(&api, &s3, &admin, "social_image", &image_bytes(400, 300, image::ImageFormat::Png)).await;
    let image_id = image["id"].as_str().unwrap().to_string();
    let attack = "\"><script>alert(1)</script><meta property=\"og:image\" content=\"https://evil.example/x.png\">";
    let slug = unique_slug();
    let created =
        create(&links, &admin, &slug, json!({ "title": attack, "description": attack, "image": image_id })).await;
    let data = assert_envelope(&created, 201)["data"].clone();
    let id = data["id"].as_str().unwrap().to_string();
    assert_eq!(data["preview"]["title"], attack);
    assert_eq!(data["preview"]["image"], image_id.as_str());
    assert_eq!(data["preview"]["image_url"], image["url"]);

    // A fetcher: the card, every value escaped, nothing it can be made to load or run.
    let card = to_links(&links, Event::load("links-redirect-bot.json").param("slug", &slug)).await;
    assert_eq!(card.status(), 200);
    assert_eq!(card.headers()["content-type"], "text/html; charset=utf-8");
    assert!(card.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
    assert!(card.headers().get("location").is_none());
    let page = text(&card);
    assert!(!page.contains("<script") && !page.contains("evil.example/x.png\">"), "{page}");
    assert_eq!(page.matches("<meta property=\"og:image\"").count(), 1, "{page}");
    assert!(page.contains(&format!("<meta property=\"og:image\" content=\"{}\">", image["url"].as_str().unwrap())));
    assert!(page.contains(&format!("<meta property=\"og:url\" content=\"{}\">", data["short_url"].as_str().unwrap())));
    assert!(page.contains("<meta name=\"twitter:card\" content=\"summary_large_image\">"));
    assert!(page.contains("<link rel=\"canonical\" href=\"https://example.com/launch?a=1&amp;b='2'\">"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
    // A HEAD from a fetcher: the card's headers, no body.
    let head = to_links(
        &links,
        Event::load("links-redirect-head.json").param("slug", &slug).header("User-Agent", "Twitterbot/1.0"),
    )
    .await;
    assert_eq!((head.status().as_u16(), head.body().is_empty()), (200, true));
    // A person: the redirect.
    let person = to_links(&links, Event::load("links-redirect.json").param("slug", &slug)).await;
    assert_eq!(person.status(), 302);
    assert_eq!(person.headers()["location"], "https://example.com/launch?a=1&b='2'");
    let got = to_links(&links, Event::load("links-get.json").authorized_as(&admin).param("id", &id)).await;
    let got = assert_envelope(&got, 200)["data"].clone();
    assert_eq!((got["clicks"].as_i64(), got["bot_clicks"].as_i64()), (Some(1), Some(1)));

    // The image is in use: its deletion is refused, and the file is still there.
    let delete = |file: String| {
        let event = Event::load("files-delete.json").authorized_as(&admin).param("id", &file);
        send(&api, &s3, event)
    };
    assert_envelope(&delete(image_id.clone()).await, 409);
    // Another image replaces it: the first is free, the second in use.
    let second = ready(&api, &s3, &admin, "social_image", &image_bytes(300, 300, image::ImageFormat::Png)).await;
    let second_id = second["id"].as_str().unwrap().to_string();
    let changed = patch(&links, &admin, &id, json!({ "preview": { "title": "Launch", "image": second_id } })).await;
    assert_eq!(assert_envelope(&changed, 200)["data"]["preview"]["description"], Value::Null);
    assert_envelope(&delete(second_id.clone()).await, 409);
    assert_envelope(&delete(image_id).await, 200);
    // Without a preview, a fetcher is redirected like anyone; the image is free once the link goes.
    assert_envelope(&patch(&links, &admin, &id, json!({ "preview": null })).await, 200);
    let plain = to_links(&links, Event::load("links-redirect-bot.json").param("slug", &slug)).await;
    assert_eq!(plain.status(), 302);
    assert_envelope(
        &patch(&links, &admin, &id, json!({ "preview": { "title": "Back", "image": second_id } })).await,
        200,
    );
    assert_envelope(
        &to_links(&links, Event::load("links-delete.json").authorized_as(&admin).param("id", &id)).await,
        200,
    );
    assert_envelope(&delete(second_id).await, 200);
}

#[tokio::test]
async fn only_a_ready_social_image_of_the_links_own_tenant_can_be_its_preview() {
    let links = links().await;
    let (api, s3) = (stack_api().await, s3().await);
    let (admin, other, tester) = callers(&api).await;
    let png = image_bytes(300, 300, image::ImageFormat::Png);
    // Another organization's image, its id read off its public URL.
    let theirs = ready(&api, &s3, &other, "social_image", &png).await;
    let guessed = theirs["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    // The caller's own test-environment image in a live link; a logo; an upload never completed;
    // an id nobody has.
    let test_image = ready(&api, &s3, &tester, "social_image", &png).await;
    let logo = ready(&api, &s3, &admin, "logo", &png).await;
    let pending = upload(&api, &s3, &admin, "social_image", "image/png", &png).await;
    let unknown = keyhive::model::FileId::generate();
    let mut messages = Vec::new();
    for image in
        [guessed.as_str(), test_image["id"].as_str().unwrap(), logo["id"].as_str().unwrap(), &pending, unknown.as_str()]
    {
        let refused = create(&links, &admin, &unique_slug(), json!({ "title": "Card", "image": image })).await;
        let error = assert_envelope(&refused, 404)["error"].clone();
        assert_eq!(error["details"]["field"], "preview.image", "{image}");
        messages.push(error["message"].as_str().unwrap().replace(image, "<id>"));
    }
    // One answer whatever the reason: nothing learned about another organization's files.
    messages.dedup();
    assert_eq!(messages.len(), 1, "{messages:?}");
    // The same on a change, and the refused change leaves the link as it was.
    let slug = unique_slug();
    let created =
        assert_envelope(&create(&links, &admin, &slug, json!({ "title": "Mine" })).await, 201)["data"].clone();
    let id = created["id"].as_str().unwrap();
    let refused = patch(&links, &admin, id, json!({ "preview": { "title": "Theirs", "image": guessed } })).await;
    assert_eq!(assert_envelope(&refused, 404)["error"]["details"]["field"], "preview.image");
    let got = to_links(&links, Event::load("links-get.json").authorized_as(&admin).param("id", id)).await;
    assert_eq!(
        assert_envelope(&got, 200)["data"]["preview"],
        json!({ "title": "Mine", "description": null, "image": null, "image_url": null })
    );
    // Their image is still theirs to delete: nothing counted it.
    let theirs_deleted =
        send(&api, &s3, Event::load("files-delete.json").authorized_as(&other).param("id", &guessed)).await;
    assert_envelope(&theirs_deleted, 200);
}

#[tokio::test]
async fn preview_fields_are_bounded_and_named_when_refused() {
    let links = links().await;
    let (api, _) = (stack_api().await, s3().await);
    let (admin, _, _) = callers(&api).await;
    for (preview, field) in [
        (json!({ "description": "no title" }), "preview.title"),
        (json!({ "title": "x".repeat(121) }), "preview.title"),
        (json!({ "title": "a\u{202E}b" }), "preview.title"),
        (json!({ "title": "ok", "description": "d".repeat(301) }), "preview.description"),
        (json!({ "title": "ok", "description": "line\nbreak" }), "preview.description"),
        (json!({ "title": "ok", "image": "https://evil.example/x.png" }), "preview.image"),
        (json!({ "title": "ok", "colour": "red" }), "preview.colour"),
        (json!("a card"), "preview"),
    ] {
        let refused = create(&links, &admin, &unique_slug(), preview.clone()).await;
        assert_eq!(assert_envelope(&refused, 400)["error"]["details"]["field"], field, "{preview}");
    }
    let longest = json!({ "title": "t".repeat(120), "description": "d".repeat(300) });
    let created = assert_envelope(&create(&links, &admin, &unique_slug(), longest).await, 201)["data"].clone();
    assert_eq!(created["preview"]["description"].as_str().unwrap().len(), 300);
}

/// The TXT values the test has published (shared with the links function's lookup).
#[derive(Clone, Default)]
struct Published(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

#[async_trait::async_trait]
impl links::dns::TxtLookup for Published {
    async fn txt(&self, _name: &str) -> Result<Vec<String>, keyhive::ApiError> {
        Ok(self.0.lock().unwrap().clone())
    }
}

#[tokio::test]
async fn listings_show_previews_and_a_forced_domain_deletion_frees_the_images() {
    let (api, s3) = (stack_api().await, s3().await);
    let (admin, _, _) = callers(&api).await;
    let image = ready(&api, &s3, &admin, "social_image", &image_bytes(300, 300, image::ImageFormat::Png)).await;
    let image_id = image["id"].as_str().unwrap().to_string();
    let published = Published::default();
    let links = links::Links { api: stack_api().await, dns: Some(Box::new(published.clone())) };
    let send_links = |event: Event| links::handle(&links, event.request());
    let hostname = format!("go{}.example.com", keyhive::model::random_id("d", 10).split_off(2).to_lowercase());
    let created =
        send_links(Event::load("domains-create.json").authorized_as(&admin).body(&json!({ "hostname": hostname })));
    let domain = assert_envelope(&created.await, 201)["data"].clone();
    published.0.lock().unwrap().push(domain["verification"]["value"].as_str().unwrap().to_string());
    let domain_id = domain["id"].as_str().unwrap().to_string();
    let verified = send_links(Event::load("domains-verify.json").authorized_as(&admin).param("id", &domain_id)).await;
    assert_eq!(assert_envelope(&verified, 200)["data"]["verified"], true);
    let body = json!({
        "destination": { "type": "link", "value": "https://example.com/on-domain" },
        "domain": hostname,
        "preview": { "title": "On a domain", "image": image_id },
    });
    let link = send_links(Event::load("links-create.json").authorized_as(&admin).body(&body)).await;
    let link = assert_envelope(&link, 201)["data"].clone();
    // The listing shows the preview (the index alone does not carry it).
    let listed = send_links(Event::load("links-list.json").authorized_as(&admin)).await;
    let listed = assert_envelope(&listed, 200)["data"].clone();
    let found = listed.as_array().unwrap().iter().find(|l| l["id"] == link["id"]).expect("listed").clone();
    assert_eq!(found["preview"]["image"], image_id.as_str());
    // Forcing the domain's deletion deletes the link and gives the image's use back.
    let forced =
        Event::load("domains-delete.json").authorized_as(&admin).param("id", &domain_id).query("force", "true");
    assert_envelope(&send_links(forced).await, 200);
    let deleted = Event::load("files-delete.json").authorized_as(&admin).param("id", &image_id);
    assert_envelope(&send(&api, &s3, deleted).await, 200);
}
