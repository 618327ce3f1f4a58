//! The REQUEST authorizer: verifies the key and applies its rate limit in one store round trip,
//! then tells API Gateway to allow (with the caller's identity as context), to deny (over the
//! limit: the gateway answers 429), or that the caller is unauthorized (401).
//!
//! The gateway never caches the result (TTL 0), so revocation applies on the very next request.

use keyhive::auth::Identity;
use keyhive::http::envelope::RequestId;
use keyhive::{ApiError, ApiState};
use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use serde_json::{json, Value};

/// How the authorizer ends when it does not return a policy. API Gateway maps the literal
/// error message "Unauthorized" to its 401 response; any other error is its 500
/// AUTHORIZER_CONFIGURATION_ERROR (rewritten to the 503 envelope in template.yaml).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Unauthorized,
    Unavailable,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Unauthorized => "Unauthorized",
            Refusal::Unavailable => "dependency unavailable",
        })
    }
}

impl std::error::Error for Refusal {}

impl From<Refusal> for lambda_runtime::Diagnostic {
    fn from(refusal: Refusal) -> Self {
        lambda_runtime::Diagnostic { error_type: "Refusal".into(), error_message: refusal.to_string() }
    }
}

/// Allows every method and path of the same API and stage. The policy must not name only this
/// request's resource: a policy API Gateway reuses would then deny the caller's other routes.
fn api_wide_resource(method_arn: &str) -> String {
    // arn:aws:execute-api:region:account:api-id/stage/METHOD/path...
    let mut parts = method_arn.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(api), Some(stage)) if api.starts_with("arn:") => format!("{api}/{stage}/*/*"),
        _ => "*".to_string(),
    }
}

fn policy(principal: &str, effect: &str, method_arn: &str, context: serde_json::Map<String, Value>) -> Value {
    json!({
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": effect,
                "Resource": api_wide_resource(method_arn),
            }]
        },
        "context": context,
    })
}

/// The permission of the route the request is for, recorded with its count for the key's usage:
/// the gateway names the resource by its pattern, as the route table does.
fn purpose(event: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> keyhive::auth::Purpose {
    let (Some(method), Some(resource)) = (event.http_method.as_ref(), event.resource.as_deref()) else { return None };
    keyhive::http::routes::ROUTES
        .iter()
        .find(|route| route.pattern == resource && route.method == *method)
        .and_then(|route| route.access.permission())
}

pub async fn handler(api: &ApiState, event: ApiGatewayCustomAuthorizerRequestTypeRequest) -> Result<Value, Refusal> {
    let request_id = RequestId::from_gateway(event.request_context.request_id.as_deref());
    let method_arn = event.method_arn.as_deref().unwrap_or_default();
    // `headers` keeps only the last value of a repeated header; `multiValueHeaders` has them all,
    // so a second credential cannot hide there.
    let headers = if event.multi_value_headers.is_empty() { &event.headers } else { &event.multi_value_headers };
    let outcome = api.authenticate(headers, purpose(&event)).await;
    match outcome {
        Ok(identity) => {
            tracing::info!(request_id = %request_id, key_id = %identity.key_id, org_id = identity.org_id.as_str(), decision = "allow", "authorized");
            Ok(policy(identity.key_id.as_str(), "Allow", method_arn, Identity::to_context(&identity)))
        }
        Err(ApiError::RateLimited { retry_after, limit, reset }) => {
            tracing::info!(request_id = %request_id, decision = "rate_limited", "authorized");
            let mut context = serde_json::Map::new();
            context.insert("retry_after".into(), json!(retry_after.to_string()));
            context.insert("rate_limit".into(), json!(limit.to_string()));
            context.insert("rate_reset".into(), json!(reset.to_string()));
            Ok(policy("rate-limited", "Deny", method_arn, context))
        }
        Err(err) if err.is_server_side() => {
            tracing::error!(request_id = %request_id, error = %keyhive::error::source_chain(&err), decision = "error", "authorizer failed");
            Err(Refusal::Unavailable)
        }
        Err(_) => {
            tracing::info!(request_id = %request_id, decision = "unauthorized", "authorized");
            Err(Refusal::Unauthorized)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_covers_the_whole_api_stage() {
        assert_eq!(
            api_wide_resource("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/v1/keys/self"),
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/*"
        );
        assert_eq!(api_wide_resource("garbage"), "*");
    }
}
