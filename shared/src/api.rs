//! The one place where a Lambda HTTP request becomes a call to a handler and the handler's
//! result becomes an enveloped response: request id, routing (404/405), authentication,
//! permission check, error mapping, the access log line.

use crate::config::Config;
use crate::envelope::{error_response, success_response, Reply, RequestId};
use crate::error::ApiError;
use crate::routes::{self, Access, Function, Route, RouteMatch};
use crate::store::dynamo::DynamoStore;
use lambda_http::{Body, Request, RequestExt, Response};
use std::future::Future;
use std::time::Instant;

/// What every API function builds once at start: configuration and the store.
#[derive(Debug, Clone)]
pub struct Api {
    pub config: Config,
    pub store: DynamoStore,
}

impl Api {
    pub fn new(config: Config, store: DynamoStore) -> Self {
        Api { config, store }
    }

    /// Reads the configuration and builds the SDK clients from the environment.
    pub async fn from_env() -> Self {
        let config = Config::from_env();
        let sdk = crate::aws::sdk_config(&config).await;
        let store = DynamoStore::new(crate::aws::dynamodb(&sdk), config.table_name.clone());
        Api { config, store }
    }
}

/// A routed request, handed to a function's handler.
#[derive(Debug)]
pub struct Call {
    pub request_id: RequestId,
    pub route: &'static Route,
    pub params: Vec<(&'static str, String)>,
    pub request: Request,
}

impl Call {
    /// A path parameter the route's pattern declares.
    pub fn param(&self, name: &str) -> Result<&str, ApiError> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).ok_or(ApiError::NotFound)
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

/// The path as the client sent it, without the API Gateway stage.
fn request_path(request: &Request) -> String {
    let raw = request.raw_http_path();
    if raw.is_empty() {
        request.uri().path().to_string()
    } else {
        raw.to_string()
    }
}

/// Serves one request for `function`: routes it with the route table, checks access, runs the
/// handler, and turns the outcome into the envelope.
pub async fn serve<F, Fut>(_api: &Api, function: Function, request: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Call) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let started = Instant::now();
    let request_id = RequestId::from_gateway(gateway_request_id(&request));
    let method = request.method().clone();
    let path = request_path(&request);
    let (pattern, outcome) = match routes::find(&method, &path) {
        RouteMatch::NotFound => (None, Err(ApiError::NotFound)),
        RouteMatch::MethodNotAllowed { allowed } => {
            (None, Err(ApiError::MethodNotAllowed { method: method.to_string(), allowed }))
        }
        RouteMatch::Found { route, .. } if route.function != function => {
            // The gateway or the local router sent us a route another function owns.
            tracing::warn!(request_id = %request_id, route = route.pattern, function = function.name(), "route owned by another function");
            (Some(route.pattern), Err(ApiError::NotFound))
        }
        RouteMatch::Found { route, params } => {
            let outcome = match route.access {
                Access::Public => handler(Call { request_id: request_id.clone(), route, params, request }).await,
                // Authentication arrives with the keys issue; until then nothing protected is served.
                Access::AnyKey | Access::Permission(..) => Err(ApiError::Unauthorized),
            };
            (Some(route.pattern), outcome)
        }
    };
    let response = match outcome {
        Ok(reply) => success_response(reply, &request_id),
        Err(err) => error_response(&err, &request_id),
    };
    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = pattern.unwrap_or("-"),
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}
