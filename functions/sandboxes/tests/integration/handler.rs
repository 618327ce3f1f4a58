//! The sandboxes function fed REST v1 events from `events/` (with the authorizer's context, and
//! without it so the function authenticates the key itself), against DynamoDB Local and moto.

use keyhive::auth::Environment;
use keyhive::testkit::{assert_envelope, identity_of, new_org, stack_api, Event};
use keyhive::ApiState;
use lambda_http::{Body, Response};
use serde_json::json;
use std::sync::Arc;

async fn send(api: &ApiState, event: Event) -> Response<Body> {
    sandboxes::handle(api, event.request()).await
}

#[tokio::test]
async fn every_route_answers_from_its_event_with_and_without_the_authorizer() {
    let api = stack_api().await;
    let (credential, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let list =
        assert_envelope(&send(&api, Event::load("sandboxes-templates-list.json").authorized_as(&admin)).await, 200);
    let ids: Vec<_> = list["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
    assert!(ids.contains(&"52".to_string()) && ids.contains(&"73".to_string()));
    let one = assert_envelope(&send(&api, Event::load("sandboxes-template-get.json").authorized_as(&admin)).await, 200);
    assert_eq!(one["data"]["language"], "python");

    let created = send(&api, Event::load("sandboxes-create.json").authorized_as(&admin)).await;
    assert!(created.headers()["location"].to_str().unwrap().starts_with("/v1/sandboxes/sbx_"));
    let created = assert_envelope(&created, 201);
    let id = created["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        (created["data"]["status"].as_str(), created["data"]["timeout_seconds"].as_i64()),
        (Some("running"), Some(3600))
    );

    // The same routes through the function's own authentication (as under cargo lambda watch).
    let own = |name: &str| Event::load(name).without_authorizer().header("X-API-Key", credential.reveal());
    let got = assert_envelope(&send(&api, own("sandboxes-get.json").param("id", &id)).await, 200);
    assert_eq!(got["data"]["template_id"], "52");
    let listed = assert_envelope(&send(&api, own("sandboxes-list.json").query("status", "running")).await, 200);
    assert_eq!(listed["data"][0]["id"], id.as_str());
    let extended = assert_envelope(&send(&api, own("sandboxes-timeout.json").param("id", &id)).await, 200);
    assert_eq!(extended["data"]["timeout_seconds"], 7200);
    for _ in 0..2 {
        let killed = assert_envelope(&send(&api, own("sandboxes-kill.json").param("id", &id)).await, 200);
        assert_eq!(killed["data"]["status"], "killed", "a repeated kill answers the same");
    }
    let late = send(&api, Event::load("sandboxes-timeout.json").authorized_as(&admin).param("id", &id)).await;
    assert_eq!(assert_envelope(&late, 409)["error"]["code"], "CONFLICT");
}

#[tokio::test]
async fn bad_creations_name_the_field_and_write_nothing() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let cases = [
        (json!({"template_id": 52}), 400, "template_id"),
        (json!({"template_id": "52", "timeout_seconds": 0}), 400, "timeout_seconds"),
        (json!({"template_id": "52", "timeout_seconds": -5}), 400, "timeout_seconds"),
        (json!({"template_id": "52", "timeout_seconds": 86401}), 400, "timeout_seconds"),
        (json!({"template_id": "52", "timeout_seconds": "60"}), 400, "timeout_seconds"),
        (json!({"template_id": "12", "timeout_seconds": 7201}), 400, "timeout_seconds"),
        (json!({"template_id": "999"}), 404, "template_id"),
        (json!({"template_id": "52", "image": "x"}), 400, "image"),
    ];
    for (body, status, field) in cases {
        let answer = send(&api, Event::load("sandboxes-create.json").authorized_as(&admin).body(&body)).await;
        assert_eq!(assert_envelope(&answer, status)["error"]["details"]["field"], field, "{body}");
    }
    let list = assert_envelope(&send(&api, Event::load("sandboxes-list.json").authorized_as(&admin)).await, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "nothing was written");
    let bad_status =
        send(&api, Event::load("sandboxes-list.json").authorized_as(&admin).query("status", "stopped")).await;
    assert_eq!(assert_envelope(&bad_status, 400)["error"]["details"]["field"], "status");
    let missing = send(&api, Event::load("sandboxes-get.json").authorized_as(&admin).param("id", "sbx_nope")).await;
    assert_envelope(&missing, 404);
    let template =
        send(&api, Event::load("sandboxes-template-get.json").authorized_as(&admin).param("id", "999")).await;
    assert_envelope(&template, 404);
}

#[tokio::test]
async fn twenty_concurrent_retries_with_one_idempotency_key_create_one_sandbox() {
    let api = Arc::new(stack_api().await);
    let (_, admin) = new_org(&api, Environment::Live).await;
    let admin = identity_of(&admin);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (api, admin) = (api.clone(), admin.clone());
            tokio::spawn(async move {
                let event =
                    Event::load("sandboxes-create.json").authorized_as(&admin).header("Idempotency-Key", "one-sandbox");
                let answer = send(&api, event).await;
                assert_envelope(&answer, 201)["data"]["id"].as_str().unwrap().to_string()
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let list = assert_envelope(&send(&api, Event::load("sandboxes-list.json").authorized_as(&admin)).await, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    // Another body with the key is 409; a refused creation records nothing.
    let other = Event::load("sandboxes-create.json")
        .authorized_as(&admin)
        .header("Idempotency-Key", "one-sandbox")
        .body(&json!({"template_id": "73"}));
    assert_envelope(&send(&api, other).await, 409);
    let refused = Event::load("sandboxes-create.json")
        .authorized_as(&admin)
        .header("Idempotency-Key", "refused")
        .body(&json!({"template_id": "999"}));
    assert_envelope(&send(&api, refused.clone()).await, 404);
    let fixed = refused.body(&json!({"template_id": "73"}));
    assert_envelope(&send(&api, fixed).await, 201);
}

#[tokio::test]
async fn a_key_without_sandbox_permissions_is_403_naming_the_permission() {
    let api = stack_api().await;
    let (_, admin) = new_org(&api, Environment::Live).await;
    let mut reader = identity_of(&admin);
    reader.permissions =
        keyhive::auth::permissions::Permissions::from_json("p", &json!({"sandboxes": ["read"]})).unwrap();
    let answer = send(&api, Event::load("sandboxes-create.json").authorized_as(&reader)).await;
    assert_eq!(assert_envelope(&answer, 403)["error"]["details"]["required"], "sandboxes:create");
    assert_envelope(&send(&api, Event::load("sandboxes-list.json").authorized_as(&reader)).await, 200);
}
