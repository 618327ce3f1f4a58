//! The links function fed REST v1 events from `events/` (with the authorizer's context, and
//! without it so the function authenticates the key itself; public redirects with none), against
//! DynamoDB Local and moto.

use keyhive::auth::permissions::Permissions;
use keyhive::auth::Environment;
use keyhive::config::Config;
use keyhive::testkit::{assert_envelope, body_json, event_json, identity_of, new_org, stack_api, Event};
use keyhive::ApiError;
use lambda_http::{Body, Response};
use links::dns::TxtLookup;
use links::Links;
use serde_json::json;
use std::sync::Mutex;

/// TXT answers set by the test (the end-to-end tests use the loopback DNS server instead).
#[derive(Clone, Default)]
struct Txt(std::sync::Arc<Mutex<Vec<String>>>);

#[async_trait::async_trait]
impl TxtLookup for Txt {
    async fn txt(&self, _name: &str) -> Result<Vec<String>, ApiError> {
        Ok(self.0.lock().map(|v| v.clone()).unwrap_or_default())
    }
}

async fn links_with(configure: impl FnOnce(&mut Config)) -> (Links, Txt) {
    let mut api = stack_api().await;
    // As deployed by default (the test stack's environment sets the local link settings).
    api.config.link_base_url = None;
    api.config.api_hosts = Vec::new();
    api.config.trust_viewer_country = false;
    configure(&mut api.config);
    let txt = Txt::default();
    (Links { api, dns: Some(Box::new(txt.clone())) }, txt)
}

async fn send(links: &Links, event: Event) -> Response<Body> {
    links::handle(links, event.request()).await
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}", keyhive::model::random_id("s", 10).split_off(2))
}

#[tokio::test]
async fn every_link_route_answers_from_its_event_with_and_without_the_authorizer() {
    let (links, _) = links_with(|c| c.trust_viewer_country = true).await;
    let (credential, admin) = new_org(&links.api, Environment::Live).await;
    let admin = identity_of(&admin);
    let slug = unique("launch");
    let body = json!({"destination": {"type": "link", "value": "https://example.com/launch?utm_source=keyhive"}, "slug": slug, "title": "Launch page"});
    let created = send(&links, Event::load("links-create.json").authorized_as(&admin).body(&body)).await;
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let created = assert_envelope(&created, 201);
    let id = created["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/short-link/{id}"));
    assert_eq!(
        created["data"]["short_url"],
        format!("https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/{slug}")
    );
    assert_eq!((created["data"]["clicks"].as_i64(), created["data"]["domain"].is_null()), (Some(0), true));

    // Redirects: a person counts, a bot counts apart, a HEAD counts nothing.
    let redirect = send(&links, Event::load("links-redirect.json").param("slug", &slug)).await;
    assert_eq!(redirect.status(), 302);
    assert_eq!(redirect.headers()["location"], "https://example.com/launch?utm_source=keyhive");
    assert_eq!(redirect.headers()["cache-control"], "no-store");
    assert_eq!(body_json(&redirect)["data"]["location"], "https://example.com/launch?utm_source=keyhive");
    let bot = send(&links, Event::load("links-redirect-bot.json").param("slug", &slug)).await;
    assert_eq!(bot.status(), 302);
    let head = send(&links, Event::load("links-redirect-head.json").param("slug", &slug)).await;
    assert_eq!(head.status(), 302);
    assert_eq!(head.headers()["location"], "https://example.com/launch?utm_source=keyhive");
    assert!(head.body().is_empty());

    let own = |name: &str| Event::load(name).without_authorizer().header("X-API-Key", credential.reveal());
    let got = assert_envelope(&send(&links, own("links-get.json").param("id", &id)).await, 200);
    assert_eq!((got["data"]["clicks"].as_i64(), got["data"]["bot_clicks"].as_i64()), (Some(1), Some(1)));
    // Statistics come from the stream, by the click aggregator.
    crate::count_clicks_of(&links.api, &links::model::LinkId::parse(&id).unwrap()).await;
    let stats = assert_envelope(&send(&links, own("links-stats.json").param("id", &id)).await, 200);
    assert_eq!(stats["data"]["top_referrers"], json!([{"host": "news.example.org", "clicks": 1}]));
    assert_eq!(stats["data"]["top_countries"], json!([{"country": "DE", "clicks": 1}]));
    assert_eq!((stats["data"]["clicks"].as_i64(), stats["data"]["bot_clicks"].as_i64()), (Some(1), Some(1)));

    let listed = assert_envelope(&send(&links, own("links-list.json")).await, 200);
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_eq!((listed["meta"]["page"].as_i64(), listed["meta"]["total"].as_i64()), (Some(0), Some(1)));
    assert_eq!(listed["meta"]["has_more"], false);

    let patched = assert_envelope(&send(&links, own("links-update.json").param("id", &id)).await, 200);
    assert_eq!(patched["data"]["destination"]["value"], "https://example.com/launch-v2");
    assert_eq!(patched["data"]["slug"], slug.as_str());
    let redirect = send(&links, Event::load("links-redirect.json").param("slug", &slug)).await;
    assert_eq!(redirect.headers()["location"], "https://example.com/launch-v2");

    let deleted = assert_envelope(&send(&links, own("links-delete.json").param("id", &id)).await, 200);
    assert_eq!(deleted["data"]["id"], id.as_str());
    assert_envelope(&send(&links, Event::load("links-redirect.json").param("slug", &slug)).await, 404);
    assert_envelope(&send(&links, own("links-get.json").param("id", &id)).await, 404);
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let (links, _) = links_with(|_| {}).await;
    let (_, admin) = new_org(&links.api, Environment::Live).await;
    let admin = identity_of(&admin);
    let link = |value: &str| json!({"destination": {"type": "link", "value": value}});
    let cases = [
        (link("javascript:alert(1)"), 400, "destination.value"),
        (link("data:text/html,hi"), 400, "destination.value"),
        (link("ftp://example.com"), 400, "destination.value"),
        (link("/relative"), 400, "destination.value"),
        (link(""), 400, "destination.value"),
        (json!({"destination": {"type": "file", "value": "https://example.com"}}), 400, "destination.type"),
        (json!({"destination": "https://example.com"}), 400, "destination"),
        (json!({"destination": {"type": "link", "value": "https://e.com"}, "slug": "ab"}), 400, "slug"),
        (json!({"destination": {"type": "link", "value": "https://e.com"}, "slug": "Health"}), 400, "slug"),
        (json!({"destination": {"type": "link", "value": "https://e.com"}, "slug": "console"}), 400, "slug"),
        (
            json!({"destination": {"type": "link", "value": "https://e.com"}, "expires_at": "2020-01-01T00:00:00Z"}),
            400,
            "expires_at",
        ),
        (
            json!({"destination": {"type": "link", "value": "https://e.com"}, "expires_at": "tomorrow"}),
            400,
            "expires_at",
        ),
        (json!({"destination": {"type": "link", "value": "https://e.com"}, "title": "\u{202E}evil"}), 400, "title"),
        (
            json!({"destination": {"type": "link", "value": "https://e.com"}, "domain": "go.unknown.example"}),
            404,
            "domain",
        ),
        (json!({"destination": {"type": "link", "value": "https://e.com"}, "clicks": 5}), 400, "clicks"),
        (link("https://bank.example@evil.example/"), 400, "destination.value"),
        (link("https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/loop"), 400, "destination.value"),
    ];
    for (body, status, field) in cases {
        let answer = send(&links, Event::load("links-create.json").authorized_as(&admin).body(&body)).await;
        assert_eq!(assert_envelope(&answer, status)["error"]["details"]["field"], field, "{body}");
    }
    let list = assert_envelope(&send(&links, Event::load("links-list.json").authorized_as(&admin)).await, 200);
    assert_eq!((list["data"].as_array().unwrap().len(), list["meta"]["total"].as_i64()), (0, Some(0)));
    for (name, value) in [("page", "-1"), ("limit", "0"), ("limit", "101"), ("sort", "asc"), ("page", "x")] {
        let answer = send(&links, Event::load("links-list.json").authorized_as(&admin).query(name, value)).await;
        assert_eq!(assert_envelope(&answer, 400)["error"]["details"]["field"], name);
    }
    let slug = json!({"slug": "other"});
    let patch = send(&links, Event::load("links-update.json").authorized_as(&admin).body(&slug)).await;
    assert_eq!(assert_envelope(&patch, 400)["error"]["details"]["field"], "slug");
    for (name, value) in
        [("from", "2026-13-01"), ("to", "yesterday"), ("bucket", "day"), ("to", "-9999-01-01"), ("from", "1999-12-31")]
    {
        let answer = send(&links, Event::load("links-stats.json").authorized_as(&admin).query(name, value)).await;
        assert_eq!(assert_envelope(&answer, 400)["error"]["details"]["field"], name);
    }
    // Redirects of what is no link: unknown, malformed, reserved.
    for slug in ["nosuchlink1", "a", "health", "v1"] {
        let answer = send(&links, Event::load("links-redirect.json").param("slug", slug)).await;
        assert_envelope(&answer, 404);
    }
}

#[tokio::test]
async fn links_and_domains_keep_to_their_organization_environment_and_permissions() {
    let (links, txt) =
        links_with(|c| c.api_hosts = vec!["abc123defg.execute-api.us-east-1.amazonaws.com".into()]).await;
    let (_, admin) = new_org(&links.api, Environment::Live).await;
    let admin = identity_of(&admin);
    let mut test_key = admin.clone();
    test_key.environment = Environment::Test;
    let (_, stranger) = new_org(&links.api, Environment::Live).await;
    let stranger = identity_of(&stranger);
    let mut reader = admin.clone();
    reader.permissions = Permissions::from_json("permissions", &json!({"shortLinks": ["read"]})).unwrap();

    let host = format!("{}.example.com", unique("go").to_lowercase());
    let created =
        send(&links, Event::load("domains-create.json").authorized_as(&admin).body(&json!({"hostname": host}))).await;
    assert!(created.headers()["location"].to_str().unwrap().starts_with("/domains/dom_"));
    let domain = assert_envelope(&created, 201)["data"].clone();
    let domain_id = domain["id"].as_str().unwrap();
    assert_eq!(domain["verification"]["name"], format!("_keyhive.{host}"));
    assert_eq!(domain["verified"], false);

    *txt.0.lock().unwrap() = vec!["something else".into()];
    let unverified = assert_envelope(
        &send(&links, Event::load("domains-verify.json").authorized_as(&admin).param("id", domain_id)).await,
        200,
    );
    assert_eq!(
        (unverified["data"]["verified"].as_bool(), unverified["data"]["seen"].clone()),
        (Some(false), json!(["something else"]))
    );
    *txt.0.lock().unwrap() = vec![domain["verification"]["value"].as_str().unwrap().to_string()];
    for identity in [&stranger, &test_key] {
        assert_envelope(
            &send(&links, Event::load("domains-verify.json").authorized_as(identity).param("id", domain_id)).await,
            404,
        );
    }
    let verified = assert_envelope(
        &send(&links, Event::load("domains-verify.json").authorized_as(&admin).param("id", domain_id)).await,
        200,
    );
    assert_eq!(verified["data"]["verified"], true);
    let taken = send(
        &links,
        Event::load("domains-create.json").authorized_as(&stranger).body(&json!({"hostname": host.to_uppercase()})),
    )
    .await;
    let taken = assert_envelope(&taken, 409);
    assert_eq!(taken["error"]["code"], "CONFLICT");
    // The same words as for the organization's own second registration: nothing says that
    // another organization has the name.
    let twice =
        send(&links, Event::load("domains-create.json").authorized_as(&admin).body(&json!({"hostname": host}))).await;
    assert_eq!(assert_envelope(&twice, 409)["error"]["message"], taken["error"]["message"]);
    assert!(!taken["error"]["message"].as_str().unwrap().contains("another"), "{taken}");

    let slug = unique("custom");
    let body =
        json!({"destination": {"type": "link", "value": "https://example.com/custom"}, "slug": slug, "domain": host});
    let link =
        assert_envelope(&send(&links, Event::load("links-create.json").authorized_as(&admin).body(&body)).await, 201);
    assert_eq!(link["data"]["short_url"], format!("https://{host}/{slug}"));
    // The test environment and another organization cannot use the live domain.
    for identity in [&test_key, &stranger] {
        let other = json!({"destination": {"type": "link", "value": "https://e.com"}, "domain": host});
        assert_envelope(
            &send(&links, Event::load("links-create.json").authorized_as(identity).body(&other)).await,
            404,
        );
    }
    // A redirect on the custom host (matched by Host), and not on the API's own host.
    // A client-sent country header is not trusted without a CloudFront distribution in front.
    let custom = Event::load("links-redirect-custom-host.json").header("Host", &host).param("slug", &slug);
    let custom = send(&links, custom.header("CloudFront-Viewer-Country", "FR")).await;
    assert_eq!(custom.status(), 302);
    assert_eq!(custom.headers()["location"], "https://example.com/custom");
    let link_id = link["data"]["id"].as_str().unwrap();
    crate::count_clicks_of(&links.api, &links::model::LinkId::parse(link_id).unwrap()).await;
    let stats = send(&links, Event::load("links-stats.json").authorized_as(&admin).param("id", link_id)).await;
    assert_eq!(assert_envelope(&stats, 200)["data"]["top_countries"], json!([{"country": "unknown", "clicks": 1}]));
    assert_envelope(&send(&links, Event::load("links-redirect.json").param("slug", &slug)).await, 404);
    // On a custom host, API routes do not exist.
    let api_route = send(&links, Event::load("links-list.json").authorized_as(&admin).header("Host", &host)).await;
    assert_envelope(&api_route, 404);

    // Scope: the test key and the stranger see none of it; a read-only key cannot write.
    for identity in [&test_key, &stranger] {
        assert_envelope(
            &send(&links, Event::load("links-get.json").authorized_as(identity).param("id", link_id)).await,
            404,
        );
        assert_envelope(
            &send(&links, Event::load("links-delete.json").authorized_as(identity).param("id", link_id)).await,
            404,
        );
        let listed = assert_envelope(&send(&links, Event::load("links-list.json").authorized_as(identity)).await, 200);
        assert_eq!(listed["meta"]["total"], 0);
        assert_envelope(
            &send(&links, Event::load("domains-get.json").authorized_as(identity).param("id", domain_id)).await,
            404,
        );
    }
    let forbidden = send(&links, Event::load("links-delete.json").authorized_as(&reader).param("id", link_id)).await;
    assert_eq!(assert_envelope(&forbidden, 403)["error"]["details"]["required"], "shortLinks:delete");
    let no_stats = send(&links, Event::load("links-stats.json").authorized_as(&reader).param("id", link_id)).await;
    assert_eq!(assert_envelope(&no_stats, 403)["error"]["details"]["required"], "stats:read");

    // A domain in use is kept unless forced; forced, its links go too.
    let busy = send(&links, Event::load("domains-delete.json").authorized_as(&admin).param("id", domain_id)).await;
    assert_envelope(&busy, 409);
    let listed = assert_envelope(&send(&links, Event::load("domains-list.json").authorized_as(&admin)).await, 200);
    assert_eq!((listed["data"][0]["id"].as_str(), listed["data"][0]["links"].as_i64()), (Some(domain_id), Some(1)));
    let mut domains_only = admin.clone();
    domains_only.permissions = Permissions::from_json("permissions", &json!({"domains": ["delete"]})).unwrap();
    let weak = send(
        &links,
        Event::load("domains-delete.json").authorized_as(&domains_only).param("id", domain_id).query("force", "true"),
    )
    .await;
    assert_eq!(assert_envelope(&weak, 403)["error"]["details"]["required"], "shortLinks:delete");
    let forced = send(
        &links,
        Event::load("domains-delete.json").authorized_as(&admin).param("id", domain_id).query("force", "true"),
    )
    .await;
    assert_envelope(&forced, 200);
    assert_envelope(&send(&links, Event::load("links-get.json").authorized_as(&admin).param("id", link_id)).await, 404);
}

#[tokio::test]
async fn numbered_pages_and_cursors_agree() {
    let (links, _) = links_with(|_| {}).await;
    let (_, admin) = new_org(&links.api, Environment::Live).await;
    let admin = identity_of(&admin);
    let mut made = Vec::new();
    for i in 0..7 {
        let body = json!({"destination": {"type": "link", "value": format!("https://example.com/{i}")}});
        let created = assert_envelope(
            &send(&links, Event::load("links-create.json").authorized_as(&admin).body(&body)).await,
            201,
        );
        made.push(created["data"]["id"].as_str().unwrap().to_string());
        // Distinct creation seconds keep "newest first" unambiguous for the comparison.
        tokio::time::sleep(std::time::Duration::from_millis(1010)).await;
    }
    made.reverse();
    let page = |n: &str| Event::load("links-list.json").authorized_as(&admin).query("page", n).query("limit", "3");
    let mut by_page = Vec::new();
    for n in ["0", "1", "2", "3"] {
        let answer = assert_envelope(&send(&links, page(n)).await, 200);
        assert_eq!(answer["meta"]["total"], 7);
        by_page.extend(answer["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(by_page, made);
    // A page that starts exactly where the links end is empty (it once answered page 0 again).
    for (limit, n, expected) in
        [("7", "1", &made[7..]), ("1", "7", &made[7..]), ("1", "6", &made[6..]), ("2", "3", &made[6..])]
    {
        let event = Event::load("links-list.json").authorized_as(&admin).query("page", n).query("limit", limit);
        let answer = assert_envelope(&send(&links, event).await, 200);
        let ids: Vec<&str> = answer["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
        assert_eq!(ids, expected, "page {n} of {limit}");
        assert_eq!(answer["meta"]["has_more"], false, "page {n} of {limit}");
    }
    let mut by_cursor = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut event = Event::load("links-list.json").authorized_as(&admin).query("limit", "3");
        if let Some(c) = &cursor {
            event = event.query("cursor", c);
        }
        let answer = assert_envelope(&send(&links, event).await, 200);
        by_cursor.extend(answer["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_string()));
        match answer["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(by_cursor, made);
}

/// No organization may register the deployment's own hosts as a custom domain: the link base
/// URL's host, an API host, or the host the request came to. 400 on `hostname`, nothing written.
#[tokio::test]
async fn the_deployments_own_hosts_are_never_a_custom_domain() {
    let (links, _) = links_with(|c| {
        c.link_base_url = Some("https://go.keyhive.example".into());
        c.api_hosts = vec!["api.keyhive.example".into()];
    })
    .await;
    let (_, admin) = new_org(&links.api, Environment::Live).await;
    let admin = identity_of(&admin);
    // The event's Host is API Gateway's execute-api host.
    let called = event_json("domains-create.json")["headers"]["Host"].as_str().unwrap().to_string();
    for own in ["go.keyhive.example", "API.keyhive.example", called.as_str()] {
        let answer =
            send(&links, Event::load("domains-create.json").authorized_as(&admin).body(&json!({"hostname": own})))
                .await;
        let body = assert_envelope(&answer, 400);
        assert_eq!(body["error"]["details"]["field"], "hostname", "{own}");
    }
    let list = assert_envelope(&send(&links, Event::load("domains-list.json").authorized_as(&admin)).await, 200);
    assert_eq!(list["data"], json!([]), "nothing registered");
    // Any other host is the organization's to register.
    let other = format!("{}.example.com", unique("shop"));
    let answer =
        send(&links, Event::load("domains-create.json").authorized_as(&admin).body(&json!({"hostname": other}))).await;
    assert_envelope(&answer, 201);
}

/// Deployed (no local development mode), `/docs` is only a reserved slug: `GET` and `HEAD` are
/// the links function's 404, any other method 405 naming `GET, HEAD`.
#[tokio::test]
async fn deployed_the_docs_path_is_a_reserved_slug() {
    let (links, _) = links_with(|c| c.dev_mode = false).await;
    let docs = |method: &str| {
        let mut event = Event::load("links-redirect.json");
        event.0["httpMethod"] = method.into();
        event.0["path"] = "/docs".into();
        event.0["pathParameters"] = json!({"slug": "docs"});
        event.0["requestContext"]["path"] = "/prod/docs".into();
        event
    };
    let get = send(&links, docs("GET")).await;
    assert_eq!(assert_envelope(&get, 404)["error"]["message"], "short link not found");
    let head = send(&links, docs("HEAD")).await;
    assert_eq!(head.status(), 404);
    let post = send(&links, docs("POST")).await;
    assert_envelope(&post, 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
}

/// The ceilings come from the function's configuration (`KEYHIVE_MAX_LINKS`,
/// `KEYHIVE_MAX_DOMAINS`): one past them is 409 `QUOTA_EXCEEDED` naming the limit, and a delete
/// frees a slot. A deleted slug answers its redirect 404 like an unknown one, is 409 `CONFLICT`
/// to another organization, and 201 to its own.
#[tokio::test]
async fn ceilings_and_reserved_slugs_answer_through_the_handler() {
    let (links, _) = links_with(|c| {
        c.limits.links = 2;
        c.limits.domains = 1;
    })
    .await;
    let (_, admin) = new_org(&links.api, Environment::Live).await;
    let admin = identity_of(&admin);
    let (_, stranger) = new_org(&links.api, Environment::Live).await;
    let stranger = identity_of(&stranger);
    let create = |who: &keyhive::auth::Identity, slug: &str, to: &str| {
        Event::load("links-create.json")
            .authorized_as(who)
            .body(&json!({"destination": {"type": "link", "value": to}, "slug": slug}))
    };

    let (first, second) = (unique("cap"), unique("cap"));
    let made = assert_envelope(&send(&links, create(&admin, &first, "https://example.com/1")).await, 201);
    assert_envelope(&send(&links, create(&admin, &second, "https://example.com/2")).await, 201);
    let full = send(&links, create(&admin, &unique("cap"), "https://example.com/3")).await;
    let full = assert_envelope(&full, 409);
    assert_eq!(full["error"]["code"], "QUOTA_EXCEEDED");
    assert!(full["error"]["message"].as_str().unwrap().contains("limit of 2 short links"), "{full}");
    // Another organization has its own.
    assert_envelope(&send(&links, create(&stranger, &unique("cap"), "https://example.com/s")).await, 201);

    let id = made["data"]["id"].as_str().unwrap();
    assert_envelope(&send(&links, Event::load("links-delete.json").authorized_as(&admin).param("id", id)).await, 200);
    // The deleted slug: the redirect as for an unknown slug, never the old destination.
    let gone = send(&links, Event::load("links-redirect.json").param("slug", &first)).await;
    let unknown = send(&links, Event::load("links-redirect.json").param("slug", &unique("never"))).await;
    let (gone, unknown) = (assert_envelope(&gone, 404), assert_envelope(&unknown, 404));
    assert_eq!(
        (&gone["error"]["code"], &gone["error"]["message"]),
        (&unknown["error"]["code"], &unknown["error"]["message"])
    );
    // Another organization: the taken-slug answer. The owner: its slug back, in the freed slot.
    let stolen = send(&links, create(&stranger, &first, "https://evil.example")).await;
    assert_eq!(assert_envelope(&stolen, 409)["error"]["code"], "CONFLICT");
    assert_envelope(&send(&links, create(&admin, &first, "https://example.com/again")).await, 201);
    let redirect = send(&links, Event::load("links-redirect.json").param("slug", &first)).await;
    assert_eq!(redirect.status(), 302);
    assert_eq!(redirect.headers()["location"], "https://example.com/again");

    // Domains: one, then QUOTA_EXCEEDED; a delete frees the slot.
    let domain = |host: &str| Event::load("domains-create.json").authorized_as(&admin).body(&json!({"hostname": host}));
    let host = |tag: &str| format!("{}.example.com", unique(tag).to_lowercase());
    let one = assert_envelope(&send(&links, domain(&host("one"))).await, 201);
    let over = assert_envelope(&send(&links, domain(&host("two"))).await, 409);
    assert_eq!(over["error"]["code"], "QUOTA_EXCEEDED");
    assert!(over["error"]["message"].as_str().unwrap().contains("limit of 1 custom domains"), "{over}");
    let one_id = one["data"]["id"].as_str().unwrap();
    assert_envelope(
        &send(&links, Event::load("domains-delete.json").authorized_as(&admin).param("id", one_id)).await,
        200,
    );
    assert_envelope(&send(&links, domain(&host("three"))).await, 201);
}
