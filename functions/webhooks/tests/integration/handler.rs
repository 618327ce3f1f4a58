//! The webhooks function fed REST v1 events from `events/` (with the authorizer's context, and
//! without it so the function authenticates the key itself), against DynamoDB Local and moto:
//! endpoints, secrets shown once, scope, and the audit trail.

use keyhive::auth::permissions::Permissions;
use keyhive::auth::Environment;
use keyhive::testkit::{assert_envelope, body_json, identity_of, new_org, stack_api, Event};
use lambda_http::{Body, Response};
use serde_json::{json, Value};
use webhooks::rules::Outbound;
use webhooks::Webhooks;

async fn webhooks(local: bool) -> Webhooks {
    let mut api = stack_api().await;
    api.config.dev_mode = local;
    let outbound = Outbound {
        policy: webhooks::ssrf::Policy { local },
        resolver: webhooks::ssrf::Resolver::new(api.config.dns_resolver).unwrap(),
        sender: webhooks::sender::Sender::new(),
    };
    Webhooks::new(api, outbound)
}

async fn send(webhooks: &Webhooks, event: Event) -> Response<Body> {
    webhooks::handle(webhooks, event.request()).await
}

fn raw(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).to_string()
}

#[tokio::test]
async fn every_route_answers_from_its_event_and_the_secret_is_shown_once() {
    let hooks = webhooks(true).await;
    let (credential, admin) = new_org(&hooks.api, Environment::Live).await;
    let admin = identity_of(&admin);
    let body =
        json!({"url": "http://127.0.0.1:9/keyhive", "events": ["key.created", "key.revoked"], "description": "ops"});
    let created = send(&hooks, Event::load("webhooks-create.json").authorized_as(&admin).body(&body)).await;
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let created = assert_envelope(&created, 201);
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let secret = created["data"]["secret"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/v1/webhooks/{id}"));
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["data"]["events"], json!(["key.created", "key.revoked"]));

    let own = |name: &str| Event::load(name).without_authorizer().header("X-API-Key", credential.reveal());
    let encoded = secret.trim_start_matches("whsec_");
    for answer in [
        send(&hooks, own("webhooks-get.json").param("id", &id)).await,
        send(&hooks, own("webhooks-list.json")).await,
        send(&hooks, own("webhooks-update.json").param("id", &id)).await,
        send(&hooks, own("webhooks-enable.json").param("id", &id)).await,
    ] {
        let text = raw(&answer);
        assert_envelope(&answer, 200);
        assert!(!text.contains(encoded) && !text.contains("whsec_"), "never the secret again: {text}");
    }
    let got = assert_envelope(&send(&hooks, own("webhooks-get.json").param("id", &id)).await, 200);
    assert_eq!(got["data"]["events"], json!(["*"]), "the PATCH event set them all");

    let rotated = assert_envelope(&send(&hooks, own("webhooks-rotate-secret.json").param("id", &id)).await, 200);
    let new_secret = rotated["data"]["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(rotated["data"]["previous_secret_valid_until"].is_string());

    let tested = send(&hooks, own("webhooks-test.json").param("id", &id)).await;
    let tested = assert_envelope(&tested, 202);
    assert_eq!(tested["data"]["event_type"], "webhook.test");
    let delivery = tested["data"]["delivery_id"].as_str().unwrap().to_string();
    let resent = send(&hooks, own("webhooks-resend.json").param("id", &id).param("delivery_id", &delivery)).await;
    assert_eq!(assert_envelope(&resent, 202)["data"]["delivery_id"], delivery.as_str());
    let missing = send(
        &hooks,
        own("webhooks-resend.json").param("id", &id).param("delivery_id", "dlv_0000000000000000000000000000ffff"),
    )
    .await;
    assert_envelope(&missing, 404);
    let since = keyhive::model::rfc3339(keyhive::model::now() - time::Duration::hours(1));
    let recovered = send(&hooks, own("webhooks-recover.json").param("id", &id).query("since", &since)).await;
    assert_eq!(assert_envelope(&recovered, 202)["data"]["requeued"], 0);
    let attempts = assert_envelope(&send(&hooks, own("webhooks-deliveries.json").param("id", &id)).await, 200);
    assert!(attempts["data"].is_array());

    let deleted = assert_envelope(&send(&hooks, own("webhooks-delete.json").param("id", &id)).await, 200);
    assert_eq!(deleted["data"]["id"], id.as_str());
    assert_envelope(&send(&hooks, own("webhooks-get.json").param("id", &id)).await, 404);

    // The idempotent creation: a retry is 409 naming what it created, never the secret again.
    let retry = |_: ()| {
        Event::load("webhooks-create.json").authorized_as(&admin).body(&body).header("Idempotency-Key", "wh-create-1")
    };
    let first = assert_envelope(&send(&hooks, retry(())).await, 201);
    let again = send(&hooks, retry(())).await;
    let text = raw(&again);
    let again = assert_envelope(&again, 409);
    assert_eq!(again["error"]["details"]["id"], first["data"]["id"]);
    assert!(!text.contains("whsec_"));
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let hooks = webhooks(false).await;
    let (_, admin) = new_org(&hooks.api, Environment::Live).await;
    let admin = identity_of(&admin);
    let cases = [
        (json!({"url": "http://hooks.example.com/", "events": ["*"]}), "url"),
        (json!({"url": "https://127.0.0.1/", "events": ["*"]}), "url"),
        (json!({"url": "https://169.254.169.254/latest", "events": ["*"]}), "url"),
        (json!({"url": "https://[::1]/", "events": ["*"]}), "url"),
        (json!({"url": "https://0x7f.1/", "events": ["*"]}), "url"),
        (json!({"url": "https://u:p@93.184.215.14/", "events": ["*"]}), "url"),
        (json!({"url": "https://93.184.215.14/", "events": ["key.exploded"]}), "events"),
        (json!({"url": "https://93.184.215.14/", "events": []}), "events"),
        (json!({"url": "https://93.184.215.14/", "events": "*"}), "events"),
        (json!({"url": "https://93.184.215.14/", "events": ["*"], "secret": "mine"}), "secret"),
        (json!({"url": "https://93.184.215.14/", "events": ["*"], "description": "\u{200B}"}), "description"),
        (json!({"events": ["*"]}), "url"),
    ];
    for (body, field) in cases {
        let answer = send(&hooks, Event::load("webhooks-create.json").authorized_as(&admin).body(&body)).await;
        assert_eq!(assert_envelope(&answer, 400)["error"]["details"]["field"], field, "{body}");
    }
    let list = assert_envelope(&send(&hooks, Event::load("webhooks-list.json").authorized_as(&admin)).await, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let old = keyhive::model::rfc3339(keyhive::model::now() - time::Duration::days(8));
    let recover = send(&hooks, Event::load("webhooks-recover.json").authorized_as(&admin).query("since", &old)).await;
    assert!(recover.status() == 400 || recover.status() == 404);
}

#[tokio::test]
async fn endpoints_keep_to_their_tenant_and_permissions() {
    let hooks = webhooks(true).await;
    let (_, admin) = new_org(&hooks.api, Environment::Live).await;
    let admin = identity_of(&admin);
    let mut test_key = admin.clone();
    test_key.environment = Environment::Test;
    let (_, stranger) = new_org(&hooks.api, Environment::Live).await;
    let stranger = identity_of(&stranger);
    let mut reader = admin.clone();
    reader.permissions = Permissions::from_json("permissions", &json!({"webhooks": ["read"]})).unwrap();
    let body = json!({"url": "http://127.0.0.1:9/x", "events": ["*"]});
    let created = assert_envelope(
        &send(&hooks, Event::load("webhooks-create.json").authorized_as(&admin).body(&body)).await,
        201,
    );
    let id = created["data"]["id"].as_str().unwrap();
    for identity in [&test_key, &stranger] {
        for name in ["webhooks-get.json", "webhooks-rotate-secret.json", "webhooks-delete.json", "webhooks-test.json"] {
            assert_envelope(&send(&hooks, Event::load(name).authorized_as(identity).param("id", id)).await, 404);
        }
        let list = assert_envelope(&send(&hooks, Event::load("webhooks-list.json").authorized_as(identity)).await, 200);
        assert_eq!(list["data"].as_array().unwrap().len(), 0);
    }
    let forbidden =
        send(&hooks, Event::load("webhooks-rotate-secret.json").authorized_as(&reader).param("id", id)).await;
    assert_eq!(assert_envelope(&forbidden, 403)["error"]["details"]["required"], "webhooks:update");
    // An endpoint receives only what its creator could read.
    let mut creator = admin.clone();
    creator.permissions =
        Permissions::from_json("permissions", &json!({"webhooks": ["create", "update"], "shortLinks": ["read"]}))
            .unwrap();
    let everything = send(&hooks, Event::load("webhooks-create.json").authorized_as(&creator).body(&body)).await;
    assert_eq!(assert_envelope(&everything, 403)["error"]["details"]["required"], "apiKeys:read");
    let links_only = json!({"url": "http://127.0.0.1:9/x", "events": ["link.created", "link.deleted"]});
    let allowed = send(&hooks, Event::load("webhooks-create.json").authorized_as(&creator).body(&links_only)).await;
    let own_id = assert_envelope(&allowed, 201)["data"]["id"].as_str().unwrap().to_string();
    let widen = send(&hooks, Event::load("webhooks-update.json").authorized_as(&creator).param("id", &own_id)).await;
    assert_eq!(assert_envelope(&widen, 403)["error"]["details"]["required"], "apiKeys:read");
    let no_audit = send(&hooks, Event::load("audit-log.json").authorized_as(&reader)).await;
    assert_eq!(assert_envelope(&no_audit, 403)["error"]["details"]["required"], "audit:read");
}

#[tokio::test]
async fn the_audit_log_filters_in_the_query_and_a_test_key_reads_test_entries_only() {
    let hooks = webhooks(true).await;
    let (_, admin) = new_org(&hooks.api, Environment::Live).await;
    let admin = identity_of(&admin);
    let mut test_key = admin.clone();
    test_key.environment = Environment::Test;
    // Entries of both environments: endpoints created and deleted by each.
    let body = json!({"url": "http://127.0.0.1:9/x", "events": ["*"]});
    let mut live_ids = Vec::new();
    for _ in 0..3 {
        let created = assert_envelope(
            &send(&hooks, Event::load("webhooks-create.json").authorized_as(&admin).body(&body)).await,
            201,
        );
        live_ids.push(created["data"]["id"].as_str().unwrap().to_string());
    }
    let test_hook = assert_envelope(
        &send(&hooks, Event::load("webhooks-create.json").authorized_as(&test_key).body(&body)).await,
        201,
    );
    let test_id = test_hook["data"]["id"].as_str().unwrap().to_string();
    assert_envelope(
        &send(&hooks, Event::load("webhooks-delete.json").authorized_as(&admin).param("id", &live_ids[0])).await,
        200,
    );

    let read = |identity: &keyhive::auth::Identity, query: &[(&str, &str)]| {
        let mut event = Event::load("audit-log.json").authorized_as(identity);
        event.0["queryStringParameters"] = json!({});
        event.0["multiValueQueryStringParameters"] = json!({});
        for (k, v) in query {
            event = event.query(k, v);
        }
        event
    };
    let all = assert_envelope(&send(&hooks, read(&admin, &[])).await, 200);
    let actions: Vec<&str> = all["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[..2], &["webhook.deleted", "webhook.created"], "newest first: {actions:?}");
    assert!(actions.contains(&"org.bootstrapped"));
    let entry = &all["data"][0];
    assert_eq!(
        (entry["actor"]["key_id"].as_str(), entry["target_id"].as_str()),
        (Some(admin.key_id.as_str()), Some(live_ids[0].as_str()))
    );
    assert!(entry["request_id"].is_string() && entry["at"].is_string() && entry["environment"] == "live");

    // A filtered page is full while more match (one per page, three created entries in live).
    let created_only = |cursor: Option<&str>| {
        let mut q = vec![("action", "webhook.created"), ("limit", "1")];
        if let Some(c) = cursor {
            q.push(("cursor", c));
        }
        read(&admin, &q)
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = assert_envelope(&send(&hooks, created_only(cursor.as_deref())).await, 200);
        let data = page["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{page}");
        seen.push(data[0]["target_id"].as_str().unwrap().to_string());
        match page["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "three live creations and the test one: {seen:?}");
    let by_resource = assert_envelope(&send(&hooks, read(&admin, &[("resource", &live_ids[1])])).await, 200);
    assert_eq!(by_resource["data"].as_array().unwrap().len(), 1);
    let by_actor = assert_envelope(&send(&hooks, read(&admin, &[("actor", "NoSuchKey000")])).await, 200);
    assert_eq!(by_actor["data"].as_array().unwrap().len(), 0);
    let future = keyhive::model::rfc3339(keyhive::model::now() + time::Duration::minutes(5));
    let later = assert_envelope(&send(&hooks, read(&admin, &[("since", &future)])).await, 200);
    assert_eq!(later["data"].as_array().unwrap().len(), 0);

    // The test key sees the test environment's entries only.
    let test_view = assert_envelope(&send(&hooks, read(&test_key, &[])).await, 200);
    let entries = test_view["data"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|e| e["environment"] == "test"), "{test_view}");
    assert!(entries.iter().any(|e| e["target_id"] == test_id.as_str()));

    let long = "x".repeat(201);
    for (name, value) in [
        ("action", "key.exploded"),
        ("since", "yesterday"),
        ("sort", "asc"),
        ("resource", long.as_str()),
        ("actor", ""),
    ] {
        let answer = send(&hooks, read(&admin, &[(name, value)])).await;
        assert_eq!(assert_envelope(&answer, 400)["error"]["details"]["field"], name);
    }
    let _: Value = body_json(&send(&hooks, read(&admin, &[])).await);
}

// Outbound policy (issue 21 finding 6)

#[tokio::test]
async fn refused_ports_and_special_purpose_ranges_are_400_on_url() {
    let hooks = webhooks(false).await;
    let (_, admin) = new_org(&hooks.api, Environment::Live).await;
    let admin = identity_of(&admin);
    let create = |url: &str| {
        Event::load("webhooks-create.json").authorized_as(&admin).body(&json!({"url": url, "events": ["*"]}))
    };
    for (url, reason) in [
        ("https://93.184.215.14:6379/hook", "port 6379"),
        ("https://93.184.215.14:22/hook", "port 22"),
        // A name's port is refused before any lookup.
        ("https://hooks.example.com:2375/hook", "port 2375"),
        ("https://[fec0::1]/hook", "non-public"),
        ("https://[2001:10::1]/hook", "non-public"),
        ("https://192.88.99.1/hook", "non-public"),
        ("https://[64:ff9b::a00:1]/hook", "non-public"),
    ] {
        let answer = send(&hooks, create(url)).await;
        let error = assert_envelope(&answer, 400)["error"].clone();
        assert_eq!(error["code"], "VALIDATION_FAILED", "{url}");
        assert_eq!(error["details"]["field"], "url", "{url}");
        let said = error["details"]["reason"].as_str().unwrap();
        assert!(said.contains(reason), "{url}: {said}");
    }
    let list = assert_envelope(&send(&hooks, Event::load("webhooks-list.json").authorized_as(&admin)).await, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 0);

    // A public address on an allowed high port is fine; a PATCH to a refused port is 400 and
    // changes nothing.
    let created = assert_envelope(&send(&hooks, create("https://93.184.215.14:8443/hook")).await, 201);
    let id = created["data"]["id"].as_str().unwrap();
    let patch = Event::load("webhooks-update.json")
        .authorized_as(&admin)
        .param("id", id)
        .body(&json!({"url": "https://93.184.215.14:11211/hook"}));
    assert_eq!(assert_envelope(&send(&hooks, patch).await, 400)["error"]["details"]["field"], "url");
    let got = assert_envelope(
        &send(&hooks, Event::load("webhooks-get.json").authorized_as(&admin).param("id", id)).await,
        200,
    );
    assert_eq!(got["data"]["url"], "https://93.184.215.14:8443/hook");

    // Local development reaches loopback on any port, and nothing more.
    let local = webhooks(true).await;
    let loopback = json!({"url": "http://127.0.0.1:6379/hook", "events": ["*"]});
    assert_envelope(
        &send(&local, Event::load("webhooks-create.json").authorized_as(&admin).body(&loopback)).await,
        201,
    );
    let public = json!({"url": "http://93.184.215.14:6379/hook", "events": ["*"]});
    let refused = send(&local, Event::load("webhooks-create.json").authorized_as(&admin).body(&public)).await;
    assert_eq!(assert_envelope(&refused, 400)["error"]["details"]["field"], "url");
}
