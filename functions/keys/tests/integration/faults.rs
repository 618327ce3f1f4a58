//! Dependencies away: every request still gets an enveloped, quick answer, and nothing is cached
//! from the failure.

use keyhive::auth::Environment;
use keyhive::testkit::{assert_envelope, new_org, secretless_api, stack_api, unreachable_api, Event};
use std::time::{Duration, Instant};

#[tokio::test]
async fn secrets_manager_unreachable_at_start_is_a_503_per_request_not_a_crash() {
    let api = secretless_api().await;
    let minted = keyhive::auth::Credential::mint("kh", Environment::Live, keyhive::auth::KeyId::generate());
    let well_formed = minted.reveal();
    for _ in 0..2 {
        let started = Instant::now();
        let response = keys::handle(
            &api,
            &Default::default(),
            Event::load("keys-self.json").without_authorizer().header("X-API-Key", well_formed).request(),
        )
        .await;
        let body = assert_envelope(&response, 503);
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    }
    // A malformed credential is still a plain 401: nothing needed fetching to refuse it.
    let response = keys::handle(
        &api,
        &Default::default(),
        Event::load("keys-self.json").without_authorizer().header("X-API-Key", "nope").request(),
    )
    .await;
    assert_envelope(&response, 401);
    // Routes that need no secret are unaffected, and so are requests the authorizer already
    // checked (they carry its context and need no secret here).
    let (_, record) = new_org(&stack_api().await, Environment::Live).await;
    let response = keys::handle(
        &api,
        &Default::default(),
        Event::load("keys-self.json").authorized_as(&keyhive::testkit::identity_of(&record)).request(),
    )
    .await;
    assert_envelope(&response, 200);
}

#[tokio::test]
async fn dynamodb_unreachable_is_a_503_envelope_within_the_call_bound() {
    let api = unreachable_api().await;
    let minted = keyhive::auth::Credential::mint("kh", Environment::Live, keyhive::auth::KeyId::generate());
    let started = Instant::now();
    let response = keys::handle(
        &api,
        &Default::default(),
        Event::load("keys-self.json").without_authorizer().header("X-API-Key", minted.reveal()).request(),
    )
    .await;
    let body = assert_envelope(&response, 503);
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(!body.to_string().contains("127.0.0.1"), "no internals: {body}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}
