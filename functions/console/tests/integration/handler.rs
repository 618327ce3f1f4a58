//! The console handler fed REST v1 events from `events/`: the page, its assets, the headers every
//! console answer carries, and the build compiled into the binary.

use console::{content_security_policy, Asset, Console, UploadOrigin, ASSET_CACHE, PAGE_CACHE, PLACEHOLDER_PAGE};
use keyhive::testkit::{assert_envelope, event, unreachable_api, workspace_root, Event};
use lambda_http::{Body, Response};

/// A build of two assets, as Vite lays it out.
const PAGE: &str = "<!doctype html><html lang=\"en\"><head><title>keyhive console</title>\
<script type=\"module\" crossorigin src=\"/console/assets/index-Ab12Cd34.js\"></script>\
<link rel=\"stylesheet\" crossorigin href=\"/console/assets/index-Ef56Gh78.css\"></head><body><div id=\"app\"></div></body></html>";
static ASSETS: &[Asset] = &[
    Asset { name: "index-Ab12Cd34.js", body: b"console.info('keyhive')" },
    Asset { name: "index-Ef56Gh78.css", body: b"body{margin:0}" },
    Asset { name: "index-Ab12Cd34.js.map", body: b"{}" },
];
fn built() -> Console {
    Console::new(Some(PAGE), ASSETS, None)
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8(response.body().to_vec()).expect("UTF-8 body")
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
}

/// What every console answer carries, errors included.
fn assert_security_headers(response: &Response<Body>) {
    assert_eq!(header(response, "content-security-policy"), content_security_policy(None));
    assert_eq!(header(response, "x-content-type-options"), "nosniff");
    assert_eq!(header(response, "referrer-policy"), "no-referrer");
    assert_eq!(header(response, "x-frame-options"), "DENY");
    assert_eq!(header(response, "cross-origin-opener-policy"), "same-origin");
    assert!(keyhive::testkit::is_request_id(header(response, "x-request-id")));
}

fn asset_event(name: &str) -> lambda_http::Request {
    Event::load("console-asset.json").without_authorizer().param("file", name).request()
}

#[tokio::test]
async fn the_page_is_html_revalidated_on_every_load_under_a_strict_policy() {
    let mut api = unreachable_api().await;
    // The API's custom domain: no stage in the browser's paths.
    api.config.api_hosts = vec!["api.example.com".to_string()];
    let request = Event::load("console-page.json").without_authorizer().header("Host", "api.example.com").request();
    let response = console::handle(&api, &built(), request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&response, "cache-control"), PAGE_CACHE);
    assert_security_headers(&response);
    assert_eq!(text(&response), PAGE);
    let policy = content_security_policy(None);
    for directive in
        ["default-src 'self'", "script-src 'self'", "connect-src 'self';", "frame-ancestors 'none'", "base-uri 'none'"]
    {
        assert!(policy.contains(directive), "the policy lacks {directive}");
    }
    assert!(!policy.contains("unsafe"), "the policy allows inline code");
}

/// A customer's verified link domain serves short links, never the console.
#[tokio::test]
async fn the_console_is_not_served_on_a_custom_link_domain() {
    let mut api = unreachable_api().await;
    api.config.api_hosts = vec!["api.example.com".to_string()];
    for (event, host) in [("console-page.json", "go.customer.example"), ("console-asset.json", "go.customer.example")] {
        let request = Event::load(event).without_authorizer().header("Host", host).request();
        let response = console::handle(&api, &built(), request).await;
        assert_eq!(assert_envelope(&response, 404)["error"]["code"], "NOT_FOUND", "{event}");
        assert_security_headers(&response);
    }
}

/// On API Gateway's default domain the browser's paths start with the stage (`/prod/console`):
/// the page names its assets there.
#[tokio::test]
async fn the_page_names_its_assets_under_the_stage_on_the_default_domain() {
    let api = unreachable_api().await;
    let response = console::handle(&api, &built(), event("console-page.json")).await;
    assert_eq!(response.status(), 200);
    let page = text(&response);
    assert!(page.contains("src=\"/prod/console/assets/index-Ab12Cd34.js\""), "{page}");
    assert!(page.contains("href=\"/prod/console/assets/index-Ef56Gh78.css\""), "{page}");
    assert!(!page.contains("\"/console/"), "{page}");
}

#[tokio::test]
async fn assets_are_served_by_exact_name_with_their_type_and_cached_for_a_year() {
    let api = unreachable_api().await;
    let response = console::handle(&api, &built(), asset_event("index-Ab12Cd34.js")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header(&response, "cache-control"), ASSET_CACHE);
    assert_security_headers(&response);
    assert_eq!(response.body().as_ref(), b"console.info('keyhive')");

    let response = console::handle(&api, &built(), asset_event("index-Ef56Gh78.css")).await;
    assert_eq!(header(&response, "content-type"), "text/css; charset=utf-8");
    assert_eq!(response.body().as_ref(), b"body{margin:0}");
}

/// Unknown names, other types (source maps), traversal and near misses are one 404 envelope, with
/// the console's headers and nothing cached.
#[tokio::test]
async fn anything_but_a_built_asset_is_a_404_envelope_under_the_same_headers() {
    let api = unreachable_api().await;
    for name in
        ["index-Zz99Zz99.js", "index-Ab12Cd34.js.map", "..%2Findex.html", "..", "INDEX-AB12CD34.JS", "index-Ab12Cd34"]
    {
        let response = console::handle(&api, &built(), asset_event(name)).await;
        let body = assert_envelope(&response, 404);
        assert_eq!(body["error"]["code"], "NOT_FOUND", "{name}");
        assert_security_headers(&response);
        assert_eq!(header(&response, "cache-control"), "no-store", "{name}");
    }
}

#[tokio::test]
async fn other_methods_are_405_with_the_same_headers() {
    let api = unreachable_api().await;
    let mut page = Event::load("console-page.json").without_authorizer();
    page.0["httpMethod"] = "POST".into();
    let response = console::handle(&api, &built(), page.request()).await;
    let body = assert_envelope(&response, 405);
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(header(&response, "allow"), "GET");
    assert_security_headers(&response);
}

/// Without a build the function serves a page that says how to build one, script-free so it
/// passes its own policy.
#[tokio::test]
async fn an_unbuilt_console_serves_a_placeholder_that_says_how_to_build_it() {
    let api = unreachable_api().await;
    let unbuilt = Console::new(None, &[], None);
    let response = console::handle(&api, &unbuilt, event("console-page.json")).await;
    assert_eq!(response.status(), 200);
    assert_security_headers(&response);
    let page = text(&response);
    assert_eq!(page, PLACEHOLDER_PAGE);
    assert!(page.contains("npm run build") && page.contains("make dev"));
    assert!(!page.contains("<script") && !page.contains("style"), "{page}");
    let body = assert_envelope(&console::handle(&api, &unbuilt, asset_event("index-Ab12Cd34.js")).await, 404);
    assert_eq!(body["error"]["code"], "NOT_FOUND");
}

/// The binary serves exactly `console/dist` as it was when it was built (make test builds the
/// console first): the page, and every asset byte for byte under its fingerprinted name. Without a
/// build, the placeholder.
#[tokio::test]
async fn the_binary_serves_the_console_build_it_was_compiled_with() {
    let api = unreachable_api().await;
    let embedded = Console::embedded(None);
    let dist = workspace_root().join("console/dist");
    let response = console::handle(&api, &embedded, event("console-page.json")).await;
    assert_eq!(response.status(), 200);
    let Ok(built_page) = std::fs::read_to_string(dist.join("index.html")) else {
        assert_eq!(text(&response), PLACEHOLDER_PAGE);
        assert!(embedded.assets.is_empty());
        return;
    };
    assert_eq!(text(&response), built_page.replace("\"/console/assets/", "\"/prod/console/assets/"));
    // The built page loads its code from files, never inline.
    for script in built_page.split("<script").skip(1) {
        assert!(script.split('>').next().unwrap_or_default().contains("src="), "an inline script: {script}");
    }
    assert!(!built_page.contains("<style"), "an inline style");
    let mut served = 0;
    for entry in std::fs::read_dir(dist.join("assets")).expect("console/dist/assets") {
        let path = entry.expect("an asset").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 name").to_string();
        if name.ends_with(".map") {
            continue;
        }
        let response = console::handle(&api, &embedded, asset_event(&name)).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.body().as_ref(), std::fs::read(&path).expect("the asset").as_slice(), "{name}");
        assert!(built_page.contains(&format!("/console/assets/{name}")) || !name.starts_with("index-"), "{name}");
        served += 1;
    }
    assert!(served >= 2, "the build has a script and a style sheet");
}

/// An upload goes from the browser straight to the files bucket: the policy lets the page connect
/// there, and nowhere else.
#[tokio::test]
async fn the_policy_lets_the_page_upload_to_the_files_bucket_and_nowhere_else() {
    let api = unreachable_api().await;
    let bucket = UploadOrigin::of("https://keyhive-files-1x2y.s3.eu-west-1.amazonaws.com/").expect("an origin");
    let console = Console::new(Some(PAGE), ASSETS, Some(&bucket));
    let response = console::handle(&api, &console, event("console-page.json")).await;
    let policy = header(&response, "content-security-policy");
    assert!(policy.contains("connect-src 'self' https://keyhive-files-1x2y.s3.eu-west-1.amazonaws.com;"), "{policy}");
    assert!(policy.contains("img-src 'self' data: blob:;"), "{policy}");
}

#[test]
fn an_upload_origin_is_a_scheme_host_and_port_only() {
    let origin = |url: &str| UploadOrigin::of(url).map(|o| o.as_str().to_string());
    assert_eq!(origin("http://127.0.0.1:5123").as_deref(), Some("http://127.0.0.1:5123"));
    assert_eq!(
        origin("https://b.s3.us-east-1.amazonaws.com/uploads/x?X-Amz-Signature=1").as_deref(),
        Some("https://b.s3.us-east-1.amazonaws.com")
    );
    for refused in [
        "javascript:alert(1)",
        "ftp://files.example.com",
        "not a url",
        "https://",
        "data:text/html,x",
        "https://a.example.com;script-src *",
    ] {
        assert_eq!(origin(refused), None, "{refused}");
    }
}
