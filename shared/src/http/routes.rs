//! The route table: the single truth for which function serves a method and path, and what
//! permission it requires. Functions route and authorize with it; tests hold `template.yaml`,
//! the local router in `Cargo.toml` and `openapi.yaml` to it.

use crate::auth::permissions::{Action, Resource};
use http::Method;

/// The Lambda functions that serve routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Health,
    Keys,
    Sandboxes,
    Links,
    Webhooks,
    Files,
    Console,
}

impl Function {
    /// The binary (and cargo-lambda) name of the function.
    pub fn name(self) -> &'static str {
        match self {
            Function::Health => "health",
            Function::Keys => "keys",
            Function::Sandboxes => "sandboxes",
            Function::Links => "links",
            Function::Webhooks => "webhooks",
            Function::Files => "files",
            Function::Console => "console",
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any valid key, no permission needed.
    AnyKey,
    Permission(Resource, Action),
}

impl Access {
    /// The permission a request must hold (`None`: public, or any valid key).
    pub fn permission(self) -> Option<(Resource, Action)> {
        match self {
            Access::Permission(resource, action) => Some((resource, action)),
            Access::Public | Access::AnyKey => None,
        }
    }
}

/// Which hosts a route answers on: the API's own, or any host (public short-link redirects on
/// verified custom link domains). A request to a custom host matches only `Any` routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosts {
    Api,
    Any,
}

/// The operations of the health function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthOp {
    Check,
    /// The API reference page (`make docs`), local stack only.
    Docs,
}

/// The operations of the keys function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysOp {
    Create,
    List,
    OwnKey,
    OwnUsage,
    Get,
    Usage,
    Access,
    OrgUsage,
    Update,
    Revoke,
    Roll,
    /// A key checked on behalf of another service (`POST /v1/keys/verify`).
    Verify,
    /// GitHub's secret-scanning report of leaked keys (public, signed by GitHub).
    SecretScanning,
    CreateMember,
    ListMembers,
    RemoveMember,
}

/// The operations of the files function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilesOp {
    Create,
    List,
    Get,
    Complete,
    Delete,
    /// A ready file's bytes, for anyone (link-preview fetchers load `og:image`).
    Content,
    /// A link's QR code (served here, not by the links function, whose redirect stays lean).
    Qr,
}

/// The operations of the console function: the operator console's page and its built assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleOp {
    Page,
    Asset,
}

/// The operations of the sandboxes function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxesOp {
    ListTemplates,
    GetTemplate,
    Create,
    List,
    Get,
    ExtendTimeout,
    Kill,
}

/// The operations of the links function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinksOp {
    Create,
    List,
    Get,
    Update,
    Delete,
    Stats,
    Redirect,
    CreateDomain,
    ListDomains,
    GetDomain,
    VerifyDomain,
    DeleteDomain,
}

/// The operations of the webhooks function (endpoints, deliveries, and the audit trail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhooksOp {
    Create,
    List,
    Get,
    Update,
    Delete,
    RotateSecret,
    Test,
    Enable,
    ListDeliveries,
    Resend,
    Recover,
    AuditLog,
}

/// One operation of the API. Its variant names the function that serves it, so each function's
/// handler matches its own operations exhaustively: a route cannot fall through to a generic
/// not-found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health(HealthOp),
    Keys(KeysOp),
    Sandboxes(SandboxesOp),
    Links(LinksOp),
    Webhooks(WebhooksOp),
    Files(FilesOp),
    Console(ConsoleOp),
}

impl Op {
    pub fn function(self) -> Function {
        match self {
            Op::Health(_) => Function::Health,
            Op::Keys(_) => Function::Keys,
            Op::Sandboxes(_) => Function::Sandboxes,
            Op::Links(_) => Function::Links,
            Op::Webhooks(_) => Function::Webhooks,
            Op::Files(_) => Function::Files,
            Op::Console(_) => Function::Console,
        }
    }
}

/// A function's own operations, as its handler receives them.
pub trait FunctionOp: Copy + std::fmt::Debug + Send + 'static {
    const FUNCTION: Function;
    /// The operation, when `op` is one of this function's.
    fn of(op: Op) -> Option<Self>;
}

macro_rules! ops {
    ($($ty:ident => $variant:ident),+ $(,)?) => {$(
        impl FunctionOp for $ty {
            const FUNCTION: Function = Function::$variant;
            fn of(op: Op) -> Option<Self> {
                match op {
                    Op::$variant(op) => Some(op),
                    _ => None,
                }
            }
        }
    )+};
}

ops!(
    HealthOp => Health,
    KeysOp => Keys,
    SandboxesOp => Sandboxes,
    LinksOp => Links,
    WebhooksOp => Webhooks,
    FilesOp => Files,
    ConsoleOp => Console,
);

#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// Path pattern, `{name}` for a parameter (API Gateway and OpenAPI spelling).
    pub pattern: &'static str,
    pub access: Access,
    pub op: Op,
    /// A creation that accepts an `Idempotency-Key` (openapi.yaml's `Idempotency-Key` header): the handler runs it through
    /// `http::idempotent`, and openapi documents the header.
    pub idempotent: bool,
    pub hosts: Hosts,
    /// Served by the local stack only (`make dev`, the test stack): the rendered API reference at
    /// `/docs`. `template.yaml` and `openapi.yaml` leave it out, so in AWS the path is only a
    /// (reserved) slug and answers 404.
    pub local_only: bool,
}

impl Route {
    /// The function that serves the route.
    pub fn function(&self) -> Function {
        self.op.function()
    }
}

macro_rules! route {
    // The one full literal: an API-host route, not idempotent, deployed. The other forms change
    // one of those.
    ($method:ident $pattern:literal => $op:expr, $access:expr) => {
        Route { method: Method::$method, pattern: $pattern, access: $access, op: $op, idempotent: false, hosts: Hosts::Api, local_only: false }
    };
    ($method:ident $pattern:literal => $op:expr, $access:expr, idempotent: $idempotent:expr) => {
        Route { idempotent: $idempotent, ..route!($method $pattern => $op, $access) }
    };
    ($method:ident $pattern:literal => $op:expr, $access:expr, hosts: $hosts:expr) => {
        Route { hosts: $hosts, ..route!($method $pattern => $op, $access) }
    };
    ($method:ident $pattern:literal => $op:expr, $access:expr, local_only) => {
        Route { local_only: true, ..route!($method $pattern => $op, $access) }
    };
}

use Access::{AnyKey, Permission, Public};
use Action::{Create, Delete, Read, Update};
use Resource::{ApiKeys, Audit, Domains, Files, Members, Sandboxes, ShortLinks, Stats, Webhooks};

pub static ROUTES: &[Route] = &[
    route!(GET "/health" => Op::Health(HealthOp::Check), Public),
    route!(GET "/docs" => Op::Health(HealthOp::Docs), Public, local_only),
    // The operator console: a page and its assets, public (the page asks for a key and calls
    // the API with it like any client).
    route!(GET "/console" => Op::Console(ConsoleOp::Page), Public),
    route!(GET "/console/assets/{file}" => Op::Console(ConsoleOp::Asset), Public),
    route!(POST "/v1/keys" => Op::Keys(KeysOp::Create), Permission(ApiKeys, Create), idempotent: true),
    route!(GET "/v1/keys" => Op::Keys(KeysOp::List), Permission(ApiKeys, Read)),
    route!(GET "/v1/keys/self" => Op::Keys(KeysOp::OwnKey), AnyKey),
    route!(GET "/v1/keys/self/usage" => Op::Keys(KeysOp::OwnUsage), AnyKey),
    route!(GET "/v1/keys/{id}" => Op::Keys(KeysOp::Get), Permission(ApiKeys, Read)),
    route!(GET "/v1/keys/{id}/usage" => Op::Keys(KeysOp::Usage), Permission(ApiKeys, Read)),
    route!(GET "/v1/keys/{id}/access" => Op::Keys(KeysOp::Access), Permission(ApiKeys, Read)),
    route!(GET "/v1/usage" => Op::Keys(KeysOp::OrgUsage), Permission(ApiKeys, Read)),
    route!(PATCH "/v1/keys/{id}" => Op::Keys(KeysOp::Update), Permission(ApiKeys, Update)),
    route!(DELETE "/v1/keys/{id}" => Op::Keys(KeysOp::Revoke), Permission(ApiKeys, Delete)),
    route!(POST "/v1/keys/{id}/roll" => Op::Keys(KeysOp::Roll), Permission(ApiKeys, Update)),
    route!(POST "/v1/keys/verify" => Op::Keys(KeysOp::Verify), Permission(ApiKeys, Read)),
    route!(POST "/v1/secret-scanning/github" => Op::Keys(KeysOp::SecretScanning), Public),
    route!(POST "/v1/files" => Op::Files(FilesOp::Create), Permission(Files, Create), idempotent: true),
    route!(GET "/v1/files" => Op::Files(FilesOp::List), Permission(Files, Read)),
    route!(GET "/v1/files/{id}" => Op::Files(FilesOp::Get), Permission(Files, Read)),
    route!(POST "/v1/files/{id}/complete" => Op::Files(FilesOp::Complete), Permission(Files, Create)),
    route!(DELETE "/v1/files/{id}" => Op::Files(FilesOp::Delete), Permission(Files, Delete)),
    // On every host that serves short links too: a preview's `og:image` is on the link base.
    route!(GET "/files/{id}" => Op::Files(FilesOp::Content), Public, hosts: Hosts::Any),
    route!(GET "/short-link/{id}/qr" => Op::Files(FilesOp::Qr), Permission(ShortLinks, Read)),
    route!(POST "/v1/members" => Op::Keys(KeysOp::CreateMember), Permission(Members, Create), idempotent: true),
    route!(GET "/v1/members" => Op::Keys(KeysOp::ListMembers), Permission(Members, Read)),
    route!(DELETE "/v1/members/{user_id}" => Op::Keys(KeysOp::RemoveMember), Permission(Members, Delete)),
    route!(GET "/v1/templates" => Op::Sandboxes(SandboxesOp::ListTemplates), Permission(Sandboxes, Read)),
    route!(GET "/v1/templates/{id}" => Op::Sandboxes(SandboxesOp::GetTemplate), Permission(Sandboxes, Read)),
    route!(POST "/v1/sandboxes" => Op::Sandboxes(SandboxesOp::Create), Permission(Sandboxes, Create), idempotent: true),
    route!(GET "/v1/sandboxes" => Op::Sandboxes(SandboxesOp::List), Permission(Sandboxes, Read)),
    route!(GET "/v1/sandboxes/{id}" => Op::Sandboxes(SandboxesOp::Get), Permission(Sandboxes, Read)),
    route!(POST "/v1/sandboxes/{id}/timeout" => Op::Sandboxes(SandboxesOp::ExtendTimeout), Permission(Sandboxes, Update)),
    route!(DELETE "/v1/sandboxes/{id}" => Op::Sandboxes(SandboxesOp::Kill), Permission(Sandboxes, Delete)),
    route!(POST "/short-link" => Op::Links(LinksOp::Create), Permission(ShortLinks, Create), idempotent: true),
    route!(GET "/short-link/list" => Op::Links(LinksOp::List), Permission(ShortLinks, Read)),
    route!(GET "/short-link/{id}" => Op::Links(LinksOp::Get), Permission(ShortLinks, Read)),
    route!(PATCH "/short-link/{id}" => Op::Links(LinksOp::Update), Permission(ShortLinks, Update)),
    route!(DELETE "/short-link/{id}" => Op::Links(LinksOp::Delete), Permission(ShortLinks, Delete)),
    route!(GET "/short-link/{id}/stats" => Op::Links(LinksOp::Stats), Permission(Stats, Read)),
    route!(POST "/domains" => Op::Links(LinksOp::CreateDomain), Permission(Domains, Create), idempotent: true),
    route!(GET "/domains" => Op::Links(LinksOp::ListDomains), Permission(Domains, Read)),
    route!(GET "/domains/{id}" => Op::Links(LinksOp::GetDomain), Permission(Domains, Read)),
    route!(POST "/domains/{id}/verify" => Op::Links(LinksOp::VerifyDomain), Permission(Domains, Update)),
    route!(DELETE "/domains/{id}" => Op::Links(LinksOp::DeleteDomain), Permission(Domains, Delete)),
    route!(POST "/v1/webhooks" => Op::Webhooks(WebhooksOp::Create), Permission(Webhooks, Create), idempotent: true),
    route!(GET "/v1/webhooks" => Op::Webhooks(WebhooksOp::List), Permission(Webhooks, Read)),
    route!(GET "/v1/webhooks/{id}" => Op::Webhooks(WebhooksOp::Get), Permission(Webhooks, Read)),
    route!(PATCH "/v1/webhooks/{id}" => Op::Webhooks(WebhooksOp::Update), Permission(Webhooks, Update)),
    route!(DELETE "/v1/webhooks/{id}" => Op::Webhooks(WebhooksOp::Delete), Permission(Webhooks, Delete)),
    route!(POST "/v1/webhooks/{id}/rotate-secret" => Op::Webhooks(WebhooksOp::RotateSecret), Permission(Webhooks, Update)),
    route!(POST "/v1/webhooks/{id}/test" => Op::Webhooks(WebhooksOp::Test), Permission(Webhooks, Update)),
    route!(POST "/v1/webhooks/{id}/enable" => Op::Webhooks(WebhooksOp::Enable), Permission(Webhooks, Update)),
    route!(GET "/v1/webhooks/{id}/deliveries" => Op::Webhooks(WebhooksOp::ListDeliveries), Permission(Webhooks, Read)),
    route!(POST "/v1/webhooks/{id}/deliveries/{delivery_id}/resend" => Op::Webhooks(WebhooksOp::Resend), Permission(Webhooks, Update)),
    route!(POST "/v1/webhooks/{id}/recover" => Op::Webhooks(WebhooksOp::Recover), Permission(Webhooks, Update)),
    route!(GET "/v1/audit-log" => Op::Webhooks(WebhooksOp::AuditLog), Permission(Audit, Read)),
    // Public short-link redirects, on the API's host and on verified custom link domains. Every
    // literal first segment above is a reserved slug (`reserved_first_segments`).
    route!(GET "/{slug}" => Op::Links(LinksOp::Redirect), Public, hosts: Hosts::Any),
    route!(HEAD "/{slug}" => Op::Links(LinksOp::Redirect), Public, hosts: Hosts::Any),
];

/// The routes a deployment has, all that its API host reaches: every route but the local-only
/// ones (what `template.yaml` and `openapi.yaml` describe).
pub fn deployed_routes() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(|route| RequestSite::API.reaches(route))
}

/// The literal first path segment of every route (`health`, `v1`, `short-link`, ...): a short
/// link's slug may never be one, in any case, or a later route could not be told from a link.
/// Read on every redirect: an iterator over the table, nothing allocated (a segment repeats once
/// per route that starts with it).
pub fn reserved_first_segments() -> impl Iterator<Item = &'static str> {
    ROUTES
        .iter()
        .filter_map(|route| route.pattern.split('/').nth(1))
        .filter(|segment| !segment.is_empty() && !segment.starts_with('{'))
}

/// What starts a function that serves no HTTP route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An EventBridge schedule (`Schedule` event in `template.yaml`), e.g. `rate(1 minute)`.
    Schedule(&'static str),
    /// The table's stream, filtered to inserts of outbox items (`DynamoDB` event).
    OutboxStream,
    /// The table's stream, filtered to modifications of key items (`DynamoDB` event).
    KeyStream,
    /// The table's stream, filtered to modifications of slug items (redirects) and removals of
    /// link items (`DynamoDB` event).
    ClickStream,
}

/// A non-HTTP binary (a sweep, a dispatcher): its template resource and what starts it. The drift
/// test holds `template.yaml`'s non-API events to this list.
#[derive(Debug)]
pub struct Worker {
    /// The template's function resource (`SandboxSweepFunction`).
    pub resource: &'static str,
    /// The cargo binary it runs.
    pub binary: &'static str,
    pub triggers: &'static [Trigger],
}

/// The non-HTTP binaries.
pub static WORKERS: &[Worker] = &[
    Worker {
        resource: "SandboxSweepFunction",
        binary: "sandbox-sweep",
        triggers: &[Trigger::Schedule("rate(1 minute)")],
    },
    // New outbox events from the stream at once; the schedule sends due retries and anything the
    // stream missed.
    Worker {
        resource: "WebhookDispatcherFunction",
        binary: "webhook-dispatcher",
        triggers: &[Trigger::OutboxStream, Trigger::Schedule("rate(1 minute)")],
    },
    // Every counted request and refusal tally, from the key items' stream records.
    Worker { resource: "UsageAggregatorFunction", binary: "usage-aggregator", triggers: &[Trigger::KeyStream] },
    // Key expiry notices: key.expiring 7 days and 1 day before, key.expired.
    Worker { resource: "KeyNoticesFunction", binary: "key-notices", triggers: &[Trigger::Schedule("rate(5 minutes)")] },
    // Every counted redirect, from the slug items' stream records, into the link's statistics.
    Worker { resource: "ClickAggregatorFunction", binary: "click-aggregator", triggers: &[Trigger::ClickStream] },
];

/// A path's parameters, by the names its pattern gives them.
pub type Params = Vec<(&'static str, String)>;

/// The result of looking a request up in the table.
#[derive(Debug)]
pub enum RouteMatch {
    Found {
        route: &'static Route,
        params: Params,
    },
    /// The path exists, the method does not.
    MethodNotAllowed {
        allowed: Vec<&'static str>,
    },
    NotFound,
}

/// How specific `pattern` is for `path`, if it matches: its literal segments (more = more
/// specific: `/v1/keys/self` beats `/v1/keys/{id}`). Every route is tried on every request, so
/// this allocates nothing; the winner's parameters are read after (`params_of`).
fn specificity(pattern: &str, path: &str) -> Option<usize> {
    let mut literal = 0;
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return Some(literal),
            (Some(p), Some(s)) if param_name(p).is_some() => {
                if s.is_empty() {
                    return None;
                }
            }
            (Some(p), Some(s)) if p == s => literal += 1,
            _ => return None,
        }
    }
}

/// The named parameters of a path that `specificity` matched to `pattern`.
fn params_of(pattern: &'static str, path: &str) -> Params {
    pattern.split('/').zip(path.split('/')).filter_map(|(p, s)| Some((param_name(p)?, s.to_string()))).collect()
}

/// `name` for a pattern segment `{name}`.
fn param_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{').and_then(|p| p.strip_suffix('}'))
}

/// Where a request arrived, which decides the routes it can reach: on a custom link domain (`api_host` false) only those that
/// answer on any host; local-only routes only on the local stack (`local`: `KEYHIVE_DEV_MODE`),
/// so in AWS `/docs` is a slug like any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSite {
    pub api_host: bool,
    pub local: bool,
}

impl RequestSite {
    /// A deployment's own API host.
    pub const API: RequestSite = RequestSite { api_host: true, local: false };
    /// A custom link domain.
    pub const CUSTOM_HOST: RequestSite = RequestSite { api_host: false, local: false };

    fn reaches(self, route: &Route) -> bool {
        (self.api_host || route.hosts == Hosts::Any) && (self.local || !route.local_only)
    }
}

/// Finds the route for a method, path and request site: the most specific matching pattern
/// wins; a path that matches with another method is a 405 naming the methods it has.
pub fn find(method: &Method, path: &str, site: RequestSite) -> RouteMatch {
    // The most specific pattern that matches the path; its routes differ only by method.
    let best = ROUTES
        .iter()
        .filter(|route| site.reaches(route))
        .filter_map(|route| specificity(route.pattern, path).map(|literal| (route, literal)))
        .max_by_key(|(_, literal)| *literal);
    let Some((best_route, _)) = best else { return RouteMatch::NotFound };
    let same_path = || ROUTES.iter().filter(|r| r.pattern == best_route.pattern && site.reaches(r));
    match same_path().find(|r| r.method == *method) {
        Some(route) => RouteMatch::Found { route, params: params_of(route.pattern, path) },
        None => RouteMatch::MethodNotAllowed { allowed: same_path().map(|r| r.method.as_str()).collect() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_public_and_served_by_the_health_function() {
        match find(&Method::GET, "/health", RequestSite::API) {
            RouteMatch::Found { route, params } => {
                assert_eq!(route.function(), Function::Health);
                assert_eq!(route.access, Access::Public);
                assert!(params.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_paths_are_not_found_and_known_paths_with_other_methods_are_405() {
        assert!(matches!(find(&Method::GET, "/nope/x", RequestSite::API), RouteMatch::NotFound));
        // A one-segment path is a slug: the links function answers 404 when no link has it.
        assert!(
            matches!(find(&Method::GET, "/nope", RequestSite::API), RouteMatch::Found { route, .. } if route.op == Op::Links(LinksOp::Redirect))
        );
        assert!(matches!(find(&Method::GET, "/health/", RequestSite::API), RouteMatch::NotFound));
        assert!(matches!(find(&Method::GET, "/health/x", RequestSite::API), RouteMatch::NotFound));
        assert!(matches!(find(&Method::GET, "/", RequestSite::API), RouteMatch::NotFound));
        match find(&Method::DELETE, "/health", RequestSite::API) {
            RouteMatch::MethodNotAllowed { allowed } => assert_eq!(allowed, vec!["GET"]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parameters_are_captured_and_empty_segments_never_match_them() {
        assert_eq!(specificity("/v1/keys/{id}", "/v1/keys/abc"), Some(3), "the empty root segment, v1 and keys");
        assert_eq!(params_of("/v1/keys/{id}", "/v1/keys/abc"), vec![("id", "abc".to_string())]);
        assert_eq!(params_of("/short-link/{id}/stats", "/short-link/lnk_1/stats"), vec![("id", "lnk_1".to_string())]);
        assert!(specificity("/v1/keys/{id}", "/v1/keys/").is_none());
        assert!(specificity("/v1/keys/{id}", "/v1/keys/a/b").is_none());
        assert!(specificity("/v1/keys/{id}", "/v1/keys").is_none());
    }

    #[test]
    fn the_literal_self_route_beats_the_id_parameter() {
        match find(&Method::GET, "/v1/keys/self", RequestSite::API) {
            RouteMatch::Found { route, params } => {
                assert_eq!(route.op, Op::Keys(KeysOp::OwnKey));
                assert!(params.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
        match find(&Method::GET, "/v1/keys/AbCdEf123456", RequestSite::API) {
            RouteMatch::Found { route, params } => {
                assert_eq!(route.op, Op::Keys(KeysOp::Get));
                assert_eq!(params, vec![("id", "AbCdEf123456".to_string())]);
            }
            other => panic!("unexpected {other:?}"),
        }
        match find(&Method::PATCH, "/v1/keys", RequestSite::API) {
            RouteMatch::MethodNotAllowed { allowed } => assert_eq!(allowed, vec!["POST", "GET"]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn one_segment_paths_are_redirects_but_literal_routes_win() {
        match find(&Method::GET, "/abc123", RequestSite::API) {
            RouteMatch::Found { route, params } => {
                assert_eq!(route.op, Op::Links(LinksOp::Redirect));
                assert_eq!(params, vec![("slug", "abc123".to_string())]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            matches!(find(&Method::GET, "/health", RequestSite::API), RouteMatch::Found { route, .. } if route.op == Op::Health(HealthOp::Check))
        );
        match find(&Method::POST, "/abc123", RequestSite::API) {
            RouteMatch::MethodNotAllowed { allowed } => assert_eq!(allowed, vec!["GET", "HEAD"]),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(find(&Method::HEAD, "/abc123", RequestSite::CUSTOM_HOST), RouteMatch::Found { .. }));
    }

    #[test]
    fn local_only_routes_exist_only_on_the_local_stack() {
        let local = RequestSite { api_host: true, local: true };
        assert!(
            matches!(find(&Method::GET, "/docs", local), RouteMatch::Found { route, .. } if route.op == Op::Health(HealthOp::Docs))
        );
        // Deployed, `/docs` is a (reserved) slug: the links function's 404, HEAD as GET.
        for method in [Method::GET, Method::HEAD] {
            assert!(
                matches!(find(&method, "/docs", RequestSite::API), RouteMatch::Found { route, .. } if route.op == Op::Links(LinksOp::Redirect))
            );
        }
        match find(&Method::POST, "/docs", RequestSite::API) {
            RouteMatch::MethodNotAllowed { allowed } => assert_eq!(allowed, vec!["GET", "HEAD"]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn reserved_segments_come_from_the_table() {
        let reserved: Vec<&str> = reserved_first_segments().collect();
        for segment in ["health", "v1", "short-link", "domains", "docs"] {
            assert!(reserved.contains(&segment), "{segment}");
        }
        assert!(!reserved.iter().any(|s| s.starts_with('{')));
    }

    #[test]
    fn every_route_is_unique_by_method_and_pattern() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.pattern == b.pattern), "{} {} twice", a.method, a.pattern);
            }
        }
    }

    #[test]
    fn a_custom_host_reaches_only_the_routes_that_answer_on_any_host() {
        // On a custom domain `/health` is only a slug (reserved: the links function's 404).
        assert!(
            matches!(find(&Method::GET, "/health", RequestSite::CUSTOM_HOST), RouteMatch::Found { route, .. } if route.op == Op::Links(LinksOp::Redirect))
        );
        assert!(matches!(find(&Method::GET, "/v1/keys", RequestSite::CUSTOM_HOST), RouteMatch::NotFound));
        assert!(matches!(find(&Method::GET, "/v1/keys/self", RequestSite::CUSTOM_HOST), RouteMatch::NotFound));
        for route in ROUTES.iter().filter(|r| r.hosts == Hosts::Any) {
            assert!(
                matches!(find(&route.method, route.pattern, RequestSite::CUSTOM_HOST), RouteMatch::Found { .. }),
                "{}",
                route.pattern
            );
        }
    }

    #[test]
    fn every_route_is_served_by_the_function_its_operation_names() {
        for route in ROUTES {
            let op = route.op;
            let served = match route.function() {
                Function::Health => HealthOp::of(op).is_some(),
                Function::Keys => KeysOp::of(op).is_some(),
                Function::Sandboxes => SandboxesOp::of(op).is_some(),
                Function::Links => LinksOp::of(op).is_some(),
                Function::Webhooks => WebhooksOp::of(op).is_some(),
                Function::Files => FilesOp::of(op).is_some(),
                Function::Console => ConsoleOp::of(op).is_some(),
            };
            assert!(served, "{} {}", route.method, route.pattern);
            assert!(KeysOp::of(op).is_none() || route.function() == Function::Keys);
        }
    }
}
