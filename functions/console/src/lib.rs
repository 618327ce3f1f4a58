//! `GET /console`: the operator console, one page that talks only to this API with a key the
//! operator pastes. `GET /console/assets/{file}`: its fingerprinted scripts and styles.
//!
//! The page and assets are the build output of `console/` (Vite), compiled into the binary by
//! `build.rs`. Every answer, errors included, carries the console's security headers: a strict
//! Content-Security-Policy (no inline script, nothing from another origin, no framing), nosniff
//! and no referrer.

use http::header::X_FRAME_OPTIONS;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use keyhive::aws::BucketSite;
use keyhive::http::routes::ConsoleOp;
use keyhive::{ApiError, ApiState, Call, Reply};
use lambda_http::{Body, Request, Response};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The console's policy: its own scripts, styles and API calls only (and the files bucket, where
/// an upload's bytes go straight from the browser); images of its own, or fetched with the key
/// and shown from memory (`blob:`, a QR code); no inline script or style, no plugins, no
/// `<base>`, no form posts, never in a frame.
pub fn content_security_policy(upload_origin: Option<&UploadOrigin>) -> String {
    let connect = match upload_origin {
        Some(origin) => format!("'self' {}", origin.as_str()),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src {connect}; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// The origin of the files bucket's presigned upload URLs (`https://<bucket>.s3.<region>.amazonaws.com`,
/// or a local S3's `http://127.0.0.1:<port>`): scheme, host and port only, so nothing else can
/// reach the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOrigin(String);

impl UploadOrigin {
    /// `url`'s origin, when it is an http(s) URL of a plain host name or address.
    pub fn of(url: &str) -> Option<Self> {
        let uri = url.parse::<http::Uri>().ok()?;
        let scheme = uri.scheme_str().filter(|s| matches!(*s, "https" | "http"))?;
        let host = uri.host().filter(|h| {
            !h.is_empty()
                && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'))
        })?;
        Some(match uri.port_u16() {
            Some(port) => UploadOrigin(format!("{scheme}://{host}:{port}")),
            None => UploadOrigin(format!("{scheme}://{host}")),
        })
    }

    /// The origin of the bucket the files function presigns for. `None` without a bucket.
    pub fn from_env() -> Option<Self> {
        BucketSite::from_lookup(|name| std::env::var(name).ok()).and_then(|site| UploadOrigin::of(&site.url()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Fingerprinted: a changed file has a new name, so a year and `immutable` are safe.
pub const ASSET_CACHE: &str = "public, max-age=31536000, immutable";

/// The page names the current assets: revalidate it on every load.
pub const PAGE_CACHE: &str = "no-cache";

/// Where the built page refers to its assets (Vite's `base`), rewritten under a stage prefix.
const ASSET_PREFIX: &str = "\"/console/assets/";

/// Served when the console was not built before this binary (`cargo build` on a machine
/// without Node.js). No script, no style: it passes its own policy.
pub const PLACEHOLDER_PAGE: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>keyhive console (not built)</title>\n\
</head>\n<body>\n<main>\n<h1>The keyhive console is not built</h1>\n\
<p>This function was compiled before the console's assets existed. Build them with \
<code>npm ci &amp;&amp; npm run build</code> in <code>console/</code> (Node.js 20), or run <code>make dev</code>, \
which builds them, then rebuild the function.</p>\n<p>The API itself is unaffected.</p>\n</main>\n</body>\n</html>\n";

/// One built asset, as `build.rs` embeds it.
#[derive(Debug)]
pub struct Asset {
    pub name: &'static str,
    pub body: &'static [u8],
}

/// What the console serves: the page (`None`: not built), its assets, and the policy they are
/// served under.
#[derive(Debug, Clone)]
pub struct Console {
    pub page: Option<&'static str>,
    pub assets: &'static [Asset],
    policy: HeaderValue,
}

impl Console {
    pub fn new(page: Option<&'static str>, assets: &'static [Asset], upload_origin: Option<&UploadOrigin>) -> Self {
        // An origin is letters, digits and `:/.-[]` only (UploadOrigin::of): always a header value.
        let policy = HeaderValue::from_str(&content_security_policy(upload_origin))
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
        Console { page, assets, policy }
    }

    /// The build compiled into this binary, and the files bucket of this deployment.
    pub fn embedded(upload_origin: Option<&UploadOrigin>) -> Self {
        Console::new(embedded::PAGE, embedded::ASSETS, upload_origin)
    }

    fn asset(&self, name: &str) -> Option<&'static Asset> {
        self.assets.iter().find(|asset| asset.name == name)
    }
}

pub async fn handle(api: &ApiState, console: &Console, request: Request) -> Response<Body> {
    let mut response = keyhive::http::serve(api, request, |call| async move { handler(console, call) }).await;
    let headers = response.headers_mut();
    // `nosniff` comes with every keyhive answer already (the envelope's headers).
    headers.insert(CONTENT_SECURITY_POLICY, console.policy.clone());
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // For browsers that predate `frame-ancestors`.
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A page on another origin that opened the console keeps no handle on its tab.
    headers.insert(
        http::header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn handler(console: &Console, call: Call<ConsoleOp>) -> Result<Reply, ApiError> {
    match call.op {
        ConsoleOp::Page => Ok(page(console, &keyhive::http::stage_path(&call.request))),
        ConsoleOp::Asset => asset(console, call.param("file")?),
    }
}

/// The page, its asset references under the stage prefix the browser sees (`/prod/console/...`
/// on API Gateway's default domain).
fn page(console: &Console, stage: &str) -> Reply {
    let html = match console.page {
        Some(page) if !stage.is_empty() => page.replace(ASSET_PREFIX, &format!("\"{stage}/console/assets/")),
        Some(page) => page.to_string(),
        None => PLACEHOLDER_PAGE.to_string(),
    };
    Reply::html(html).with_header(CACHE_CONTROL, HeaderValue::from_static(PAGE_CACHE))
}

/// An asset by its exact built name: nothing else is reachable (no path is ever joined).
fn asset(console: &Console, name: &str) -> Result<Reply, ApiError> {
    let asset = console.asset(name).ok_or(ApiError::NotFound("console asset"))?;
    let content_type = content_type(name).ok_or(ApiError::NotFound("console asset"))?;
    Ok(Reply::bytes(content_type, asset.body.to_vec())
        .with_header(CACHE_CONTROL, HeaderValue::from_static(ASSET_CACHE)))
}

/// The types Vite emits; anything else is not served.
pub fn content_type(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1;
    Some(match extension {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "json" => "application/json",
        _ => return None,
    })
}
