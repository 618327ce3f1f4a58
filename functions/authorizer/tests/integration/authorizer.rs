//! The authorizer fed API Gateway REQUEST authorizer events (`events/authorizer-request.json`),
//! against DynamoDB Local and moto.

use authorizer::{handler, Refusal};
use keyhive::auth::Identity;
use keyhive::auth::{Credential, Environment};
use keyhive::testkit::{event_json, new_org, stack_api};
use serde_json::{json, Value};

fn event_with(
    headers: &[(&str, &str)],
) -> lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut event = event_json("authorizer-request.json");
    event["headers"] = json!({});
    event["multiValueHeaders"] = json!({});
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
        event["multiValueHeaders"][*name] = json!([value]);
    }
    serde_json::from_value(event).expect("a REQUEST authorizer event")
}

#[tokio::test]
async fn a_valid_key_is_allowed_api_wide_with_its_identity_as_context() {
    let api = stack_api().await;
    let (credential, record) = new_org(&api, Environment::Live).await;
    for headers in [
        vec![("X-API-Key", credential.reveal().to_string())],
        vec![("x-api-key", credential.reveal().to_string())],
        vec![("Authorization", format!("Bearer {}", credential.reveal()))],
        vec![("Authorization", credential.reveal().to_string())],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let policy = handler(&api, event_with(&headers)).await.expect("allowed");
        assert_eq!(policy["principalId"], record.key_id.as_str());
        let statement = &policy["policyDocument"]["Statement"][0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Resource"], "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/*/*");
        let context = policy["context"].as_object().unwrap();
        assert!(context.values().all(Value::is_string), "API Gateway takes scalars only");
        let identity =
            Identity::from_context(&context.clone().into_iter().collect()).expect("functions can read it back");
        assert_eq!(identity.org_id, record.org_id);
        assert_eq!(identity.permissions, record.permissions);
        assert_eq!(identity.rate.limit, 10_000);
        assert!(
            !policy.to_string().contains(credential.reveal().split_once('.').unwrap().1),
            "no secret in the policy"
        );
    }
}

#[tokio::test]
async fn bad_credentials_end_in_the_literal_unauthorized_error() {
    let api = stack_api().await;
    let (credential, record) = new_org(&api, Environment::Live).await;
    let wrong = Credential::mint("kh", Environment::Live, record.key_id.clone());
    let long = "A".repeat(10_000);
    for headers in [
        vec![],
        vec![("X-API-Key", wrong.reveal())],
        vec![("X-API-Key", "kh_live_x.y")],
        vec![("Authorization", long.as_str())],
        // API Gateway passes header values that are not ASCII through as text.
        vec![("Authorization", "Bearer kh_live_\u{e9}t\u{e9}")],
        vec![("X-API-Key", "kh_live_ABCDEFGHIJK\u{e9}.x")],
    ] {
        let refusal = handler(&api, event_with(&headers)).await.expect_err("refused");
        assert_eq!(refusal, Refusal::Unauthorized);
        let diagnostic: lambda_runtime::Diagnostic = refusal.into();
        assert_eq!(diagnostic.error_message, "Unauthorized", "API Gateway maps exactly this message to 401");
    }
    assert!(handler(&api, event_with(&[("X-API-Key", credential.reveal())])).await.is_ok());
}

#[tokio::test]
async fn over_the_limit_is_a_deny_carrying_retry_after() {
    let api = stack_api().await;
    let (admin, _) = new_org(&api, Environment::Live).await;
    let (tiny, _) =
        keyhive::testkit::new_org_with_tier(&api, Environment::Live, keyhive::auth::Tier::Enterprise(1)).await;
    let first = handler(&api, event_with(&[("X-API-Key", tiny.reveal())])).await.unwrap();
    assert_eq!(first["policyDocument"]["Statement"][0]["Effect"], "Allow");
    let second = handler(&api, event_with(&[("X-API-Key", tiny.reveal())])).await.unwrap();
    // (a minute boundary between the two calls would let the second through: retry once)
    let denied = if second["policyDocument"]["Statement"][0]["Effect"] == "Allow" {
        handler(&api, event_with(&[("X-API-Key", tiny.reveal())])).await.unwrap()
    } else {
        second
    };
    assert_eq!(denied["policyDocument"]["Statement"][0]["Effect"], "Deny");
    let retry: u64 = denied["context"]["retry_after"].as_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(denied["context"]["rate_limit"], "1");
    assert!(handler(&api, event_with(&[("X-API-Key", admin.reveal())])).await.is_ok(), "other keys are unaffected");
}

#[tokio::test]
async fn an_unreachable_table_is_an_authorizer_failure_not_a_401() {
    let api = keyhive::testkit::unreachable_api().await;
    // The secret loads from moto; only DynamoDB is away.
    let credential = Credential::mint("kh", Environment::Live, keyhive::auth::KeyId::generate());
    let refusal = handler(&api, event_with(&[("X-API-Key", credential.reveal())])).await.expect_err("refused");
    assert_eq!(refusal, Refusal::Unavailable);
}

/// API Gateway's `headers` keeps only the last value of a repeated header; the authorizer reads
/// `multiValueHeaders`, so a second credential cannot hide behind the first.
#[tokio::test]
async fn a_second_credential_in_the_multi_value_headers_is_unauthorized() {
    let api = stack_api().await;
    let (credential, _) = new_org(&api, Environment::Live).await;
    let (other, _) = new_org(&api, Environment::Live).await;
    let mut event = event_json("authorizer-request.json");
    event["headers"] = json!({ "X-API-Key": credential.reveal() });
    event["multiValueHeaders"] = json!({ "X-API-Key": [other.reveal(), credential.reveal()] });
    let event = serde_json::from_value(event).expect("a REQUEST authorizer event");
    assert_eq!(handler(&api, event).await.unwrap_err(), Refusal::Unauthorized);

    let mut event = event_json("authorizer-request.json");
    event["headers"] =
        json!({ "X-API-Key": credential.reveal(), "Authorization": format!("Bearer {}", other.reveal()) });
    event["multiValueHeaders"] =
        json!({ "X-API-Key": [credential.reveal()], "Authorization": [format!("Bearer {}", other.reveal())] });
    let event = serde_json::from_value(event).expect("a REQUEST authorizer event");
    assert_eq!(handler(&api, event).await.unwrap_err(), Refusal::Unauthorized);
}
