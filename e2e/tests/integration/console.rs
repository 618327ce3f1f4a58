//! The operator console over HTTP (through `cargo lambda watch`, and through the REST front): the
//! page and every asset it names, public, under the console's headers. The browser tests
//! (`console/e2e/`, run by `make test` in headless Chromium) drive the page itself.

use keyhive_e2e::{Answer, Stack};

fn assert_console_headers(answer: &Answer) {
    let policy = answer.header("content-security-policy").unwrap_or_default();
    for directive in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
}

/// The asset paths a page names (`src="/console/assets/..."`, `href="..."`).
fn asset_paths(page: &str) -> Vec<String> {
    page.split('"').filter(|part| part.starts_with("/console/assets/")).map(str::to_string).collect()
}

#[tokio::test]
async fn the_console_page_and_every_asset_it_names_load_without_a_key() {
    let stack = Stack::from_env();
    let page = stack.get("/console").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert_console_headers(&page);
    let html = String::from_utf8(page.body.to_vec()).expect("an HTML page");
    let assets = asset_paths(&html);
    if html.contains("is not built") {
        // A workspace built without Node.js: the placeholder, which names nothing.
        assert!(assets.is_empty());
        return;
    }
    assert!(assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")), "{html}");
    for asset in assets {
        let answer = stack.get(&asset).await;
        assert_eq!(answer.status, 200, "{asset}");
        assert_eq!(answer.header("cache-control"), Some("public, max-age=31536000, immutable"), "{asset}");
        let expected = if asset.ends_with(".js") { "text/javascript" } else { "text/css" };
        assert!(answer.header("content-type").is_some_and(|t| t.starts_with(expected)), "{asset}");
        assert!(!answer.body.is_empty(), "{asset}");
        assert_console_headers(&answer);
    }
}

#[tokio::test]
async fn unknown_console_assets_and_methods_are_envelopes_under_the_console_headers() {
    let stack = Stack::from_env();
    for path in ["/console/assets/nope.js", "/console/assets/index.html"] {
        let answer = stack.get(path).await;
        assert_eq!(answer.envelope(404)["error"]["code"], "NOT_FOUND", "{path}");
        assert_console_headers(&answer);
    }
    let answer = stack.send("POST", "/console", &[], Some("{}")).await;
    assert_eq!(answer.envelope(405)["error"]["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(answer.header("allow"), Some("GET"));
}
