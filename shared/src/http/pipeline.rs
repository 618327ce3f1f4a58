//! The one place where a Lambda HTTP request becomes a call to a handler and the handler's
//! result becomes a response. A chain of small steps, each a `Result`:
//!
//! route (404/405, before any credential) -> authenticate (401/429) -> permit (403) -> the
//! handler, which reads its body (400, `http::body`) and, on an idempotent route, runs its
//! creation through `idempotent` (replay or 409) -> the reply or the error envelope, the rate
//! headers, the access log line.

use crate::auth::permissions::permission_name;
use crate::auth::secrets::{load_hashing_secret, HashingSecret};
use crate::auth::usage::RefusalTally;
use crate::auth::{authenticate, read_credential, Identity, Purpose};
use crate::change::idempotency::IdempotencyStore;
use crate::change::idempotency::{self, Claim};
use crate::config::Config;
use crate::error::ApiError;
use crate::http::envelope::{
    error_response, success_response, Reply, RequestId, RATE_LIMIT_LIMIT, RATE_LIMIT_REMAINING, RATE_LIMIT_RESET,
};
use crate::http::routes::{self, Access, FunctionOp, Params, Route, RouteMatch};
use crate::store::cursor::load_cursor_key;
use crate::store::cursor::CursorKey;
use crate::store::dynamo::DynamoStore;
use http::HeaderValue;
use lambda_http::{Body, Request, RequestExt, Response};
use std::future::Future;
use std::time::Instant;
use tokio::sync::OnceCell;

/// What every function builds once at start: configuration, SDK clients, and the hashing
/// secret, fetched on first need and then kept for the life of the instance. A failed fetch is
/// not kept: the request gets a 503 and the next one tries again (no crash loop).
#[derive(Debug)]
pub struct ApiState {
    pub config: Config,
    pub store: DynamoStore,
    secrets: aws_sdk_secretsmanager::Client,
    hashing_secret: OnceCell<HashingSecret>,
    cursor_key: OnceCell<CursorKey>,
    /// Refusals of known keys this instance has not yet written to their usage.
    pub refusals: RefusalTally,
    /// The SDK clients' HTTPS connector (`warm_up` opens a connection with it); `None` when the
    /// state was built over other clients (tests, benches).
    https: Option<crate::aws::Https>,
    /// Set once `warm_up`'s connection to DynamoDB is open (or failed), or once a request went
    /// ahead without one: what `authenticate` waits for, so that its write takes that
    /// connection rather than opening a second one beside it (a TLS handshake of CPU, at a
    /// fraction of a vCPU).
    connected: OnceCell<()>,
}

impl ApiState {
    pub fn new(config: Config, store: DynamoStore, secrets: aws_sdk_secretsmanager::Client) -> Self {
        ApiState {
            config,
            store,
            secrets,
            hashing_secret: OnceCell::new(),
            cursor_key: OnceCell::new(),
            refusals: RefusalTally::default(),
            https: None,
            connected: OnceCell::new(),
        }
    }

    /// Reads the configuration and builds the SDK clients from the environment.
    pub async fn from_env() -> Self {
        let config = Config::from_env();
        let (sdk, https) = crate::aws::function_aws(&config);
        let store = DynamoStore::new(crate::aws::dynamodb(&sdk), config.table_name.clone());
        ApiState { https: Some(https), ..ApiState::new(config, store, crate::aws::secretsmanager(&sdk)) }
    }

    /// What authenticating a new instance's first request waits for, begun at start, beside the
    /// runtime's wait for that request (the authorizer's): the key hashing secret and the
    /// connection to DynamoDB, at the same time, the secret being needed before the one write.
    /// Best effort: what fails here, the request does itself (and answers 503 if it fails
    /// again): with Secrets Manager down at start, the first request waits for warm-up's failed
    /// fetch and then its own, within the function's timeout.
    pub async fn warm_up(&self) {
        let connect = self.connected.get_or_init(|| async {
            if let (Some(https), Some(endpoint)) =
                (&self.https, crate::aws::dynamodb_endpoint(self.store.client()).await)
            {
                https.preconnect(&endpoint, crate::aws::attempt_timeout(&self.config)).await;
            }
        });
        let (_, _) = tokio::join!(connect, self.hashing_secret());
    }

    /// The Secrets Manager client, for a function's own secrets (the webhook sealing key).
    pub fn secrets(&self) -> &aws_sdk_secretsmanager::Client {
        &self.secrets
    }

    pub async fn hashing_secret(&self) -> Result<&HashingSecret, ApiError> {
        self.hashing_secret
            .get_or_try_init(|| async {
                load_hashing_secret(&self.secrets, &self.config.secret_id).await.inspect_err(|err| {
                    tracing::error!(secret_id = %self.config.secret_id, error = %crate::error::source_chain(err), "cannot load the hashing secret");
                })
            })
            .await
            .map_err(ApiError::from)
    }

    /// The key that seals list cursors, fetched on first need like the hashing secret.
    pub async fn cursor_key(&self) -> Result<&CursorKey, ApiError> {
        self.cursor_key
            .get_or_try_init(|| async {
                load_cursor_key(&self.secrets, &self.config.cursor_secret_id).await.inspect_err(|err| {
                    tracing::error!(secret_id = %self.config.cursor_secret_id, error = %crate::error::source_chain(err), "cannot load the cursor key");
                })
            })
            .await
            .map_err(ApiError::from)
    }

    /// Authenticates a request from its headers (the authorizer's work, and each function's
    /// when no authorizer ran), for `purpose` (the route's permission, recorded in the key's
    /// usage).
    pub async fn authenticate(&self, headers: &http::HeaderMap, purpose: Purpose) -> Result<Identity, ApiError> {
        // A malformed credential is refused before anything is fetched for it (the authorizer
        // fetches the secret at start anyway: `warm_up`).
        let credential = read_credential(headers, &self.config.key_prefix)?;
        let secret = self.hashing_secret().await?;
        // A connection `warm_up` is opening is waited for; without one, nothing is.
        self.connected.get_or_init(|| async {}).await;
        authenticate(&self.store, secret, &credential, crate::model::now(), purpose, &self.refusals).await
    }
}

/// A routed request, handed to a function's handler with the function's own operation.
#[derive(Debug)]
pub struct Call<O = routes::Op> {
    pub request_id: RequestId,
    pub op: O,
    pub route: &'static Route,
    pub params: Params,
    /// Set on every route that is not public.
    pub identity: Option<Identity>,
    pub request: Request,
}

impl<O> Call<O> {
    /// The caller; present on every protected route.
    pub fn identity(&self) -> Result<&Identity, ApiError> {
        self.identity.as_ref().ok_or(ApiError::Unauthorized)
    }

    /// The change this call makes, for a resource's change log (its `Idempotency-Key` is added
    /// by `idempotent`, which alone may claim it).
    pub fn change(&self) -> Result<crate::change::Change, ApiError> {
        Ok(crate::change::Change::by(self.identity()?, self.request_id.as_str(), crate::model::now()))
    }

    /// The query parameters of a route that takes only `allowed` ones, each at most once (an
    /// unknown or repeated one is a 400 naming it, like an unknown body field).
    pub fn query(&self, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
        let mut found = Vec::new();
        if let Some(query) = self.request.query_string_parameters_ref() {
            for (name, value) in query.iter() {
                if !allowed.contains(&name) {
                    return Err(ApiError::validation(name, "is not a known query parameter"));
                }
                if query.all(name).is_some_and(|all| all.len() > 1) {
                    return Err(ApiError::validation(name, "must be given at most once"));
                }
                found.push((name.to_string(), value.to_string()));
            }
        }
        Ok(found)
    }

    /// A path parameter the route's pattern declares.
    pub fn param(&self, name: &str) -> Result<&str, ApiError> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).ok_or(ApiError::NoRoute)
    }
}

fn gateway_request_id(request: &Request) -> Option<&str> {
    use lambda_http::request::RequestContext;
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(ctx) => ctx.request_id.as_deref(),
        RequestContext::ApiGatewayV2(ctx) => ctx.request_id.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The caller's identity for a protected route. A REST (API Gateway v1) event is trusted only
/// with the authorizer's context, which API Gateway always adds to a protected route; one without
/// it never authenticates inline (so in AWS only the authorizer and the keys function need the
/// hashing secret and key-item writes). Local HTTP (v2) events from `cargo lambda watch` carry no
/// authorizer: the function checks the key itself, with the authorizer's code.
async fn identify(api: &ApiState, request: &Request, purpose: Purpose) -> Result<Identity, ApiError> {
    use lambda_http::request::RequestContext;
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => {
            Identity::from_context(&ctx.authorizer.fields).ok_or(ApiError::Unauthorized)
        }
        _ => api.authenticate(request.headers(), purpose).await,
    }
}

fn check_permission(identity: &Identity, access: Access) -> Result<(), ApiError> {
    match access {
        Access::Permission(resource, action) if !identity.permissions.allows(resource, action) => {
            Err(ApiError::Forbidden { required: permission_name(resource, action) })
        }
        _ => Ok(()),
    }
}

/// The first answer again, marked as a replay. A replayed 201 names what the first request created
/// in `Location`, as the first answer did: the creating routes' paths are literal and each
/// resource lives at `<path>/<id>`.
fn replayed(status: u16, data: serde_json::Value, creating_path: &str, resource_id: &str) -> Reply {
    let reply = match http::StatusCode::from_u16(status) {
        Ok(http::StatusCode::CREATED) => Reply::created_at(data, &format!("{creating_path}/{resource_id}")),
        Ok(status) => Reply { status, ..Reply::ok(data) },
        Err(_) => Reply::ok(data),
    };
    reply.with_header(http::HeaderName::from_static(idempotency::REPLAYED_HEADER), HeaderValue::from_static("true"))
}

/// The live record of `claim`'s key for the calling key, replayed.
async fn replay_recorded(
    api: &ApiState,
    route: &Route,
    scope: &idempotency::Scope,
    claim: &Claim,
) -> Result<Option<Reply>, ApiError> {
    let record = api.store.get_idempotency(scope, &claim.key_hash).await?;
    match record.filter(|r| r.is_live(crate::model::now())) {
        Some(record) => idempotency::replay(&record, claim)
            .map(|(status, data)| Some(replayed(status, data, route.pattern, &record.resource_id))),
        None => Ok(None),
    }
}

/// Runs a creation under the request's `Idempotency-Key`. A handler calls it once the route's
/// permission and the body have been checked (the order of checks in openapi.yaml's overview), so a replay never answers a caller
/// who could not have made the request. Records belong to the calling key: a live record of the
/// same key replays (or is 409 for another body); otherwise `create` runs with the claim, which it
/// writes in its own transaction; if a concurrent retry claimed it first, that answer is replayed.
pub async fn idempotent<O, F, Fut>(api: &ApiState, call: &Call<O>, create: F) -> Result<Reply, ApiError>
where
    F: FnOnce(Option<Claim>) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let identity = call.identity()?;
    if !call.route.idempotent {
        return create(None).await;
    }
    let Some(claim) = Claim::from_request(call.route.op, call.request.headers(), call.request.body().as_ref())? else {
        return create(None).await;
    };
    let scope = idempotency::Scope {
        org_id: identity.org_id.clone(),
        environment: identity.environment,
        key_id: identity.key_id.clone(),
    };
    if let Some(reply) = replay_recorded(api, call.route, &scope, &claim).await? {
        return Ok(reply);
    }
    match create(Some(claim.clone())).await {
        // A concurrent request with the same key created first: answer as it did.
        Err(ApiError::IdempotencyTaken) => replay_recorded(api, call.route, &scope, &claim)
            .await
            .and_then(|reply| reply.ok_or(ApiError::IdempotencyTaken)),
        outcome => outcome,
    }
}

fn rate_headers(response: &mut Response<Body>, identity: &Identity) {
    let headers = response.headers_mut();
    headers.insert(RATE_LIMIT_LIMIT, HeaderValue::from(identity.rate.limit));
    headers.insert(RATE_LIMIT_REMAINING, HeaderValue::from(identity.rate.remaining));
    headers.insert(RATE_LIMIT_RESET, HeaderValue::from(identity.rate.reset));
}

/// The path as the client sent it, without the API Gateway stage.
fn request_path(request: &Request) -> String {
    let raw = request.raw_http_path();
    if raw.is_empty() {
        request.uri().path().to_string()
    } else {
        raw.to_string()
    }
}

/// What the pipeline knows of a request before routing it.
struct Incoming {
    started: Instant,
    request_id: RequestId,
    method: http::Method,
    path: String,
    site: routes::RequestSite,
}

/// Step 1: the route, among this function's (404 for an unknown path or another function's
/// route, 405 for an unknown method), before any credential is looked at.
fn route<O: FunctionOp>(incoming: &Incoming) -> Result<(&'static Route, O, Params), ApiError> {
    match routes::find(&incoming.method, &incoming.path, incoming.site) {
        RouteMatch::NotFound => Err(ApiError::NoRoute),
        RouteMatch::MethodNotAllowed { allowed } => {
            Err(ApiError::MethodNotAllowed { method: incoming.method.to_string(), allowed })
        }
        RouteMatch::Found { route, params } => match O::of(route.op) {
            Some(op) => Ok((route, op, params)),
            None => {
                // The gateway or the local router sent us a route another function owns.
                tracing::warn!(request_id = %incoming.request_id, route = route.pattern, function = O::FUNCTION.name(), "route owned by another function");
                Err(ApiError::NoRoute)
            }
        },
    }
}

/// Step 2: who is calling (none on a public route): the authorizer's identity, or our own check.
async fn authenticate_route(api: &ApiState, route: &Route, request: &Request) -> Result<Option<Identity>, ApiError> {
    match route.access {
        Access::Public => Ok(None),
        _ => identify(api, request, route.access.permission()).await.map(Some),
    }
}

/// Step 3: the route's permission.
fn permit(route: &Route, identity: Option<&Identity>) -> Result<(), ApiError> {
    match identity {
        Some(identity) => check_permission(identity, route.access),
        None if route.access == Access::Public => Ok(()),
        None => Err(ApiError::Unauthorized),
    }
}

/// Whether the request came to the API's own host, as opposed to a custom link domain. Without
/// configured API hosts (the local stack), every host is the API's.
fn on_api_host(api: &ApiState, request: &Request) -> bool {
    let host = request.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    api.config.is_api_host(host)
}

/// The answer to an allowed origin's preflight for a method the path has: 204 with the path's
/// methods. Anything else (an unknown path or method) gets the ordinary answer, without CORS
/// headers, and the browser refuses the request.
fn preflight(incoming: &Incoming, origin: HeaderValue, asked: &http::Method) -> Option<Response<Body>> {
    let allowed = match routes::find(&http::Method::OPTIONS, &incoming.path, incoming.site) {
        RouteMatch::MethodNotAllowed { allowed } => allowed,
        _ => return None,
    };
    if !allowed.contains(&asked.as_str()) {
        return None;
    }
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = http::StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    super::cors::add_preflight_headers(headers, origin, &allowed);
    if let Ok(id) = HeaderValue::from_str(incoming.request_id.as_str()) {
        headers.insert(http::HeaderName::from_static("x-request-id"), id);
    }
    tracing::info!(request_id = %incoming.request_id, method = "OPTIONS", route = "preflight", status = 204u16, "request");
    Some(response)
}

/// Serves one request for the function whose operations are `O`: the steps above, then the
/// envelope, the rate headers and the access log line.
pub async fn serve<O, F, Fut>(api: &ApiState, request: Request, handler: F) -> Response<Body>
where
    O: FunctionOp,
    F: FnOnce(Call<O>) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let incoming = Incoming {
        started: Instant::now(),
        request_id: RequestId::from_gateway(gateway_request_id(&request)),
        method: request.method().clone(),
        path: request_path(&request),
        site: routes::RequestSite { api_host: on_api_host(api, &request), local: api.config.dev_mode },
    };
    let is_head = incoming.method == http::Method::HEAD;
    let cors_origin = super::cors::allowed_origin(&api.config.cors_origins, request.headers());
    if let (Some(origin), Some(asked)) =
        (&cors_origin, super::cors::preflight_method(&incoming.method, request.headers()))
    {
        if let Some(response) = preflight(&incoming, origin.clone(), &asked) {
            return response;
        }
    }
    // Counted requests report their rate figures, a 403 included.
    let mut caller: Option<Identity> = None;
    let mut pattern = None;
    let outcome = async {
        let (route, op, params) = route::<O>(&incoming)?;
        pattern = Some(route.pattern);
        let identity = authenticate_route(api, route, &request).await?;
        caller.clone_from(&identity);
        permit(route, identity.as_ref())?;
        handler(Call { request_id: incoming.request_id.clone(), op, route, params, identity, request }).await
    }
    .await;
    let mut response = match outcome {
        Ok(reply) => success_response(reply, &incoming.request_id),
        Err(err) => error_response(&err, &incoming.request_id),
    };
    if is_head {
        // HEAD answers as GET does, without a body.
        *response.body_mut() = Body::Empty;
    }
    if let Some(identity) = &caller {
        rate_headers(&mut response, identity);
    }
    if let Some(origin) = cors_origin {
        super::cors::add_response_headers(response.headers_mut(), origin);
    }
    // The access line: ids only, never a credential or header value.
    tracing::info!(
        request_id = %incoming.request_id,
        method = %incoming.method,
        route = pattern.unwrap_or("-"),
        key_id = caller.as_ref().map_or("-", |i| i.key_id.as_str()),
        org_id = caller.as_ref().map_or("-", |i| i.org_id.as_str()),
        status = response.status().as_u16(),
        duration_ms = incoming.started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// The URL base of this deployment's public links (short URLs, file URLs): the configured link
/// base, or the request's own host (with API Gateway's stage on its default domain).
pub fn public_base(api: &ApiState, request: &Request) -> String {
    if let Some(base) = &api.config.link_base_url {
        return base.clone();
    }
    let host = request_host(request);
    format!("https://{host}{}", stage_path(request))
}

fn request_host(request: &Request) -> &str {
    request.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost")
}

/// The path prefix a browser sees before the API's routes: `/<stage>` on API Gateway's default
/// domain (`https://<id>.execute-api.<region>.amazonaws.com/prod/...`), empty on a custom domain
/// or the local stack.
pub fn stage_path(request: &Request) -> String {
    match lambda_http::RequestExt::request_context_ref(request) {
        Some(lambda_http::request::RequestContext::ApiGatewayV1(ctx))
            if request_host(request).ends_with(".amazonaws.com") =>
        {
            ctx.stage.as_deref().map(|s| format!("/{s}")).unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// A ready file's public URL (`base`, from `public_base`): its bytes for anyone who has it, such
/// as a link preview's `og:image`.
pub fn file_url(base: &str, id: &crate::model::FileId) -> String {
    format!("{base}/files/{}", id.as_str())
}

/// A short link's URL: on its custom domain, or under this deployment's link base (`base`, from
/// `public_base`).
pub fn short_url(base: &str, domain: Option<&str>, slug: &str) -> String {
    match domain {
        Some(host) => format!("https://{host}/{slug}"),
        None => format!("{base}/{slug}"),
    }
}
