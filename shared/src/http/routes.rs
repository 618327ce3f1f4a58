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

/// One operation of the API; handlers match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
    KeysCreate,
    KeysList,
    KeysSelf,
    KeysGet,
    KeysUpdate,
    KeysRevoke,
    KeysRoll,
    MembersCreate,
    MembersList,
    MembersRemove,
}

impl Op {
    /// Operations that create a resource: they accept an `Idempotency-Key` (api.md).
    pub fn creates(self) -> bool {
        matches!(self, Op::KeysCreate | Op::MembersCreate)
    }
}

#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// Path pattern, `{name}` for a parameter (API Gateway and OpenAPI spelling).
    pub pattern: &'static str,
    pub function: Function,
    pub access: Access,
    pub op: Op,
}

macro_rules! route {
    ($method:ident $pattern:literal => $function:ident, $access:expr, $op:ident) => {
        Route {
            method: Method::$method,
            pattern: $pattern,
            function: Function::$function,
            access: $access,
            op: Op::$op,
        }
    };
}

use Access::{AnyKey, Permission, Public};
use Action::{Create, Delete, Read, Update};
use Resource::{ApiKeys, Members};

pub static ROUTES: &[Route] = &[
    route!(GET "/health" => Health, Public, Health),
    route!(POST "/v1/keys" => Keys, Permission(ApiKeys, Create), KeysCreate),
    route!(GET "/v1/keys" => Keys, Permission(ApiKeys, Read), KeysList),
    route!(GET "/v1/keys/self" => Keys, AnyKey, KeysSelf),
    route!(GET "/v1/keys/{id}" => Keys, Permission(ApiKeys, Read), KeysGet),
    route!(PATCH "/v1/keys/{id}" => Keys, Permission(ApiKeys, Update), KeysUpdate),
    route!(DELETE "/v1/keys/{id}" => Keys, Permission(ApiKeys, Delete), KeysRevoke),
    route!(POST "/v1/keys/{id}/roll" => Keys, Permission(ApiKeys, Update), KeysRoll),
    route!(POST "/v1/members" => Keys, Permission(Members, Create), MembersCreate),
    route!(GET "/v1/members" => Keys, Permission(Members, Read), MembersList),
    route!(DELETE "/v1/members/{user_id}" => Keys, Permission(Members, Delete), MembersRemove),
];

/// The result of looking a request up in the table.
#[derive(Debug)]
pub enum RouteMatch {
    Found {
        route: &'static Route,
        params: Vec<(&'static str, String)>,
    },
    /// The path exists, the method does not.
    MethodNotAllowed {
        allowed: Vec<&'static str>,
    },
    NotFound,
}

/// Matches one pattern against a path; on success, the named parameters and how many segments
/// were literal (more literal segments = more specific: `/v1/keys/self` beats `/v1/keys/{id}`).
fn match_pattern(pattern: &'static str, path: &str) -> Option<(Vec<(&'static str, String)>, usize)> {
    let mut params = Vec::new();
    let mut literal = 0;
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return Some((params, literal)),
            (Some(p), Some(s)) => {
                if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    if s.is_empty() {
                        return None;
                    }
                    params.push((name, s.to_string()));
                } else if p == s {
                    literal += 1;
                } else {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Finds the route for a method and path: the most specific matching pattern wins; a path that
/// matches with another method is a 405 naming the methods it has.
pub fn find(method: &Method, path: &str) -> RouteMatch {
    // The most specific pattern that matches the path; its routes differ only by method.
    let best = ROUTES
        .iter()
        .filter_map(|route| match_pattern(route.pattern, path).map(|(params, literal)| (route, params, literal)))
        .max_by_key(|(_, _, literal)| *literal);
    let Some((best_route, params, _)) = best else { return RouteMatch::NotFound };
    let same_path = || ROUTES.iter().filter(|r| r.pattern == best_route.pattern);
    match same_path().find(|r| r.method == *method) {
        Some(route) => RouteMatch::Found { route, params },
        None => RouteMatch::MethodNotAllowed { allowed: same_path().map(|r| r.method.as_str()).collect() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_public_and_served_by_the_health_function() {
        match find(&Method::GET, "/health") {
            RouteMatch::Found { route, params } => {
                assert_eq!(route.function, Function::Health);
                assert_eq!(route.access, Access::Public);
                assert!(params.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_paths_are_not_found_and_known_paths_with_other_methods_are_405() {
        assert!(matches!(find(&Method::GET, "/nope"), RouteMatch::NotFound));
        assert!(matches!(find(&Method::GET, "/health/"), RouteMatch::NotFound));
        assert!(matches!(find(&Method::GET, "/health/x"), RouteMatch::NotFound));
        assert!(matches!(find(&Method::GET, "/"), RouteMatch::NotFound));
        match find(&Method::DELETE, "/health") {
            RouteMatch::MethodNotAllowed { allowed } => assert_eq!(allowed, vec!["GET"]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parameters_are_captured_and_empty_segments_never_match_them() {
        let (params, literal) = match_pattern("/v1/keys/{id}", "/v1/keys/abc").unwrap();
        assert_eq!(params, vec![("id", "abc".to_string())]);
        assert_eq!(literal, 3, "the empty root segment, v1 and keys");
        assert!(match_pattern("/v1/keys/{id}", "/v1/keys/").is_none());
        assert!(match_pattern("/v1/keys/{id}", "/v1/keys/a/b").is_none());
    }

    #[test]
    fn the_literal_self_route_beats_the_id_parameter() {
        match find(&Method::GET, "/v1/keys/self") {
            RouteMatch::Found { route, params } => {
                assert_eq!(route.op, Op::KeysSelf);
                assert!(params.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
        match find(&Method::GET, "/v1/keys/AbCdEf123456") {
            RouteMatch::Found { route, params } => {
                assert_eq!(route.op, Op::KeysGet);
                assert_eq!(params, vec![("id", "AbCdEf123456".to_string())]);
            }
            other => panic!("unexpected {other:?}"),
        }
        match find(&Method::PATCH, "/v1/keys") {
            RouteMatch::MethodNotAllowed { allowed } => assert_eq!(allowed, vec!["POST", "GET"]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_route_is_unique_by_method_and_pattern() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.pattern == b.pattern), "{} {} twice", a.method, a.pattern);
            }
        }
    }
}
