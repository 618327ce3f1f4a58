//! Short links end to end over HTTP through `cargo lambda watch`, as a new user tries them: a
//! created link's `short_url` redirects to the exact destination and counts one click, a bot
//! counts apart, HEAD counts nothing, expired is 410, deleted 404 (its slug reserved for its
//! organization and environment: 409 to anyone else, 201 to its owner), a taken slug 409, numbered pages
//! and cursors agree, and a custom domain verifies against the loopback DNS server the test stack
//! runs (then redirects by `Host`).

use keyhive_e2e::Stack;
use serde_json::{json, Value};
use std::sync::Arc;

async fn tester(stack: &Stack, environment: &str) -> String {
    let admin = Stack::admin_key();
    let body = json!({"name": "links e2e", "type": "bot", "environment": environment,
        "permissions": {"shortLinks": ["create", "read", "update", "delete"], "stats": ["read"],
                        "domains": ["create", "read", "update", "delete"]}});
    stack.call(&admin, "POST", "/v1/keys", Some(&body)).await.envelope(201)["data"]["key"].as_str().unwrap().to_string()
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}", keyhive::model::random_id("s", 10).split_off(2))
}

fn link_body(destination: &str, slug: Option<&str>) -> Value {
    let mut body = json!({"destination": {"type": "link", "value": destination}});
    if let Some(slug) = slug {
        body["slug"] = json!(slug);
    }
    body
}

/// The path of a short URL on the local stack's link domain (`http://127.0.0.1:<port>/<slug>`,
/// watch's address), to follow through whichever front the test runs behind.
fn path_of(short_url: &str) -> String {
    let base = std::env::var("KEYHIVE_LINK_BASE_URL")
        .or_else(|_| std::env::var("KEYHIVE_E2E_URL"))
        .expect("KEYHIVE_LINK_BASE_URL or KEYHIVE_E2E_URL");
    assert!(short_url.starts_with(&base), "{short_url} is not on the local link domain {base}");
    short_url[base.len()..].to_string()
}

#[tokio::test]
async fn a_new_user_shortens_follows_counts_and_retires_links() {
    let stack = Stack::from_env();
    let key = tester(&stack, "live").await;
    let slug = unique("launch");
    let destination = "https://example.com/launch?utm_source=keyhive&x=%20y";
    let created = stack.call(&key, "POST", "/short-link", Some(&link_body(destination, Some(&slug)))).await;
    let id = created.envelope(201)["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(created.headers["location"], format!("/short-link/{id}").as_str());
    let short_url = created.json()["data"]["short_url"].as_str().unwrap().to_string();

    let path = path_of(&short_url);
    let followed = stack
        .send(
            "GET",
            &path,
            &[("user-agent", "Mozilla/5.0 Firefox/120.0"), ("referer", "https://news.example.org/x")],
            None,
        )
        .await;
    assert_eq!(followed.status, 302);
    assert_eq!(followed.headers["location"], destination);
    let bot = stack
        .send("GET", &path, &[("user-agent", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")], None)
        .await;
    assert_eq!(bot.status, 302);
    let head = stack.send("HEAD", &path, &[], None).await;
    assert_eq!((head.status, head.headers["location"].to_str().unwrap()), (302, destination));
    assert!(head.body.is_empty());
    let post = stack.send("POST", &path, &[], None).await;
    assert_eq!(post.envelope(405)["error"]["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(post.headers["allow"], "GET, HEAD");

    let got = stack.call(&key, "GET", &format!("/short-link/{id}"), None).await.envelope(200);
    assert_eq!((got["data"]["clicks"].as_i64(), got["data"]["bot_clicks"].as_i64()), (Some(1), Some(1)));
    // Statistics come from the table's stream (the stack's click aggregator loop): within seconds.
    let mut stats = serde_json::Value::Null;
    for _ in 0..150 {
        stats = stack.call(&key, "GET", &format!("/short-link/{id}/stats"), None).await.envelope(200);
        if stats["data"]["clicks"] == 1 && stats["data"]["bot_clicks"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!((stats["data"]["clicks"].as_i64(), stats["data"]["bot_clicks"].as_i64()), (Some(1), Some(1)));
    assert_eq!(stats["data"]["by_day"].as_array().map(Vec::len), Some(1));
    assert_eq!(stats["data"]["top_referrers"], json!([{"host": "news.example.org", "clicks": 1}]));
    assert_eq!(stats["data"]["top_countries"], json!([{"country": "unknown", "clicks": 1}]));

    // A taken slug, in any case, by anyone.
    let other = tester(&stack, "test").await;
    let taken =
        stack.call(&other, "POST", "/short-link", Some(&link_body("https://e.com", Some(&slug.to_uppercase())))).await;
    assert_eq!(taken.envelope(409)["error"]["code"], "CONFLICT");
    // Another environment's key sees nothing of it.
    stack.call(&other, "GET", &format!("/short-link/{id}"), None).await.envelope(404);

    // Expired: 410; deleted: 404, and the slug stays reserved: the same organization's other
    // environment is refused as for a taken slug, the owner (same organization and environment)
    // takes it back.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let patched = stack.call(&key, "PATCH", &format!("/short-link/{id}"), Some(&json!({"expires_at": soon}))).await;
    patched.envelope(200);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(stack.get(&path).await.envelope(410)["error"]["code"], "GONE");
    stack.call(&key, "DELETE", &format!("/short-link/{id}"), None).await.envelope(200);
    assert_eq!(stack.get(&path).await.envelope(404)["error"]["code"], "NOT_FOUND");
    let reserved = stack.call(&other, "POST", "/short-link", Some(&link_body("https://e.com", Some(&slug)))).await;
    assert_eq!(reserved.envelope(409)["error"]["code"], "CONFLICT");
    assert_eq!(stack.get(&path).await.envelope(404)["error"]["code"], "NOT_FOUND");
    let again = "https://example.com/relaunch";
    stack.call(&key, "POST", "/short-link", Some(&link_body(again, Some(&slug)))).await.envelope(201);
    let followed = stack.get(&path).await;
    assert_eq!((followed.status, followed.headers["location"].to_str().unwrap()), (302, again));
}

#[tokio::test]
async fn concurrent_redirects_all_count_within_what_watch_can_carry() {
    let stack = Arc::new(Stack::from_env());
    let key = tester(&stack, "live").await;
    let created = stack.call(&key, "POST", "/short-link", Some(&link_body("https://example.com/busy", None))).await;
    let data = created.envelope(201)["data"].clone();
    let path = path_of(data["short_url"].as_str().unwrap());
    // 200 redirects, at most 50 in flight (cargo lambda watch stops answering past ~128).
    let gate = Arc::new(tokio::sync::Semaphore::new(50));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (stack, path, gate) = (stack.clone(), path.clone(), gate.clone());
            tokio::spawn(async move {
                let _permit = gate.acquire().await;
                stack.send("GET", &path, &[("user-agent", "Mozilla/5.0")], None).await.status
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 302);
    }
    let id = data["id"].as_str().unwrap();
    let got = stack.call(&key, "GET", &format!("/short-link/{id}"), None).await.envelope(200);
    assert_eq!(got["data"]["clicks"], 200);
}

#[tokio::test]
async fn numbered_pages_and_cursor_pages_list_the_same_links() {
    let stack = Stack::from_env();
    let key = tester(&stack, "test").await;
    // A fresh test key shares the organization's test environment with other tests: compare the
    // two ways of paging over one snapshot of the list.
    for i in 0..5 {
        let body = link_body(&format!("https://example.com/page/{i}"), None);
        stack.call(&key, "POST", "/short-link", Some(&body)).await.envelope(201);
    }
    let ids = |page: &Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_string()).collect()
    };
    // Another test may add a link to this environment meanwhile: compare walks over an unchanged
    // total (a few tries).
    let mut agreed = false;
    for _ in 0..3 {
        let first = stack.call(&key, "GET", "/short-link/list?page=0&limit=2", None).await.envelope(200);
        let total = first["meta"]["total"].as_u64().unwrap();
        assert!(total >= 5, "{first}");
        let mut by_page = ids(&first);
        for page in 1..total.div_ceil(2) {
            let answer =
                stack.call(&key, "GET", &format!("/short-link/list?page={page}&limit=2"), None).await.envelope(200);
            by_page.extend(ids(&answer));
        }
        let mut by_cursor = Vec::new();
        let mut path = "/short-link/list?limit=2".to_string();
        loop {
            let answer = stack.call(&key, "GET", &path, None).await.envelope(200);
            by_cursor.extend(ids(&answer));
            match answer["meta"]["next_cursor"].as_str() {
                Some(cursor) => path = format!("/short-link/list?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        let after = stack.call(&key, "GET", "/short-link/list?limit=1", None).await.envelope(200);
        if after["meta"]["total"].as_u64() != Some(total) {
            continue;
        }
        assert_eq!(by_page.len() as u64, total);
        assert_eq!(by_page, by_cursor);
        agreed = true;
        break;
    }
    assert!(agreed, "the list kept changing under the comparison");
    let bad = stack.call(&key, "GET", "/short-link/list?page=-1", None).await;
    assert_eq!(bad.envelope(400)["error"]["details"]["field"], "page");
}

#[tokio::test]
async fn a_custom_domain_verifies_through_the_loopback_dns_server_and_redirects_by_host() {
    let stack = Stack::from_env();
    let key = tester(&stack, "live").await;
    let host = format!("{}.example.com", unique("go").to_lowercase());
    let domain = stack.call(&key, "POST", "/domains", Some(&json!({"hostname": host}))).await.envelope(201);
    let domain_id = domain["data"]["id"].as_str().unwrap().to_string();
    let record = domain["data"]["verification"].clone();

    let not_yet = stack.call(&key, "POST", &format!("/domains/{domain_id}/verify"), None).await.envelope(200);
    assert_eq!((not_yet["data"]["verified"].as_bool(), not_yet["data"]["seen"].clone()), (Some(false), json!([])));
    let on_unverified = json!({"destination": {"type": "link", "value": "https://example.com/c"}, "domain": host});
    let refused = stack.call(&key, "POST", "/short-link", Some(&on_unverified)).await;
    assert_eq!(refused.envelope(404)["error"]["details"]["field"], "domain");

    // Publish the record where the stack's DNS server reads it.
    let records_path = std::env::var("KEYHIVE_DNS_RECORDS").expect("KEYHIVE_DNS_RECORDS: run under make test");
    let mut records: Value =
        std::fs::read_to_string(&records_path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(json!({}));
    records[record["name"].as_str().unwrap()] = json!([record["value"]]);
    std::fs::write(&records_path, records.to_string()).unwrap();
    let verified = stack.call(&key, "POST", &format!("/domains/{domain_id}/verify"), None).await.envelope(200);
    assert_eq!(verified["data"]["verified"], true, "{verified}");
    assert_eq!(verified["data"]["seen"], json!([record["value"]]));

    let slug = unique("custom");
    let body =
        json!({"destination": {"type": "link", "value": "https://example.com/custom"}, "domain": host, "slug": slug});
    let link = stack.call(&key, "POST", "/short-link", Some(&body)).await.envelope(201);
    assert_eq!(link["data"]["short_url"], format!("https://{host}/{slug}"));
    let by_host = stack.send("GET", &format!("/{slug}"), &[("host", &host)], None).await;
    assert_eq!(by_host.status, 302);
    assert_eq!(by_host.headers["location"], "https://example.com/custom");
    // Not on the API's own host, and API routes do not answer on the custom one.
    stack.get(&format!("/{slug}")).await.envelope(404);
    stack.send("GET", "/v1/keys/self", &[("host", &host), ("x-api-key", &key)], None).await.envelope(404);

    let busy = stack.call(&key, "DELETE", &format!("/domains/{domain_id}"), None).await;
    busy.envelope(409);
    stack.call(&key, "DELETE", &format!("/domains/{domain_id}?force=true"), None).await.envelope(200);
    stack.send("GET", &format!("/{slug}"), &[("host", &host)], None).await.envelope(404);
}
