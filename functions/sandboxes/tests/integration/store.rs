//! Sandboxes against DynamoDB Local through the real SDK, with clocks passed in: the quota under
//! concurrency, slots freed exactly once by kill, expiry and the sweep, and each change's audit
//! entry and event in its own transaction.

use keyhive::auth::Environment;
use keyhive::change::Change;
use keyhive::model::{now, OrgId, Tenant};
use keyhive::schema;
use keyhive::testkit::{identity_of, new_org, stack_api};
use keyhive::{ApiError, ApiState};
use sandboxes::model::{template, Status};
use sandboxes::rules;
use sandboxes::store::SandboxStore;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

async fn tenant(api: &ApiState, environment: Environment) -> keyhive::auth::Identity {
    let (_, admin) = new_org(api, Environment::Live).await;
    let mut identity = identity_of(&admin);
    identity.environment = environment;
    identity
}

fn change_at(identity: &keyhive::auth::Identity, at: OffsetDateTime) -> Change {
    Change::by(identity, "req_sandbox_test", at)
}

async fn partition_values(api: &ApiState, pk: String, attr: &str) -> Vec<String> {
    let items = keyhive::testkit::partition(api, pk).await;
    items.iter().filter_map(|i| i.get(attr)?.as_s().ok().cloned()).collect()
}

async fn running_slots(api: &ApiState, org: &OrgId, environment: Environment) -> i64 {
    let key =
        keyhive::store::items::key_of(schema::sandbox_quota_pk(org.as_str(), environment.as_str()), schema::QUOTA_SK);
    let item = api.store.get_consistent(key).await.unwrap().unwrap_or_default();
    keyhive::store::items::opt_n(&item, "running").unwrap_or(0)
}

#[tokio::test]
async fn thirty_concurrent_creations_at_quota_ten_create_exactly_ten() {
    let api = Arc::new(stack_api().await);
    let caller = tenant(&api, Environment::Live).await;
    let counts = keyhive::testkit::tally(30, |_| {
        let (api, caller) = (api.clone(), caller.clone());
        async move {
            let change = change_at(&caller, now());
            match rules::create(&api.store, &change, template("52").unwrap(), 600, 10).await {
                Ok(_) => "CREATED",
                Err(err) => err.status_and_code().1,
            }
        }
    })
    .await;
    assert_eq!(counts.get("CREATED"), Some(&10), "{counts:?}");
    assert_eq!(counts.get("QUOTA_EXCEEDED"), Some(&20), "{counts:?}");
    assert_eq!(running_slots(&api, &caller.org_id, caller.environment).await, 10);
    // The other environment of the same organization has a quota of its own.
    let mut tester = caller.clone();
    tester.environment = Environment::Test;
    rules::create(&api.store, &change_at(&tester, now()), template("52").unwrap(), 600, 10).await.expect("test env");
}

#[tokio::test]
async fn kill_expiry_and_the_sweep_each_free_a_slot_exactly_once() {
    let api = stack_api().await;
    let caller = tenant(&api, Environment::Live).await;
    // An hour ahead: the stack's own sweep loop (real time) never ends these sandboxes before the
    // test does, however slow a cold DynamoDB Local makes it (a fresh clone's CI once saw 0 here).
    let t0 = now() + Duration::hours(1);
    let python = template("52").unwrap();
    let first = rules::create(&api.store, &change_at(&caller, t0), python, 600, 1).await.unwrap();
    let full = rules::create(&api.store, &change_at(&caller, t0), python, 600, 1).await.unwrap_err();
    assert_eq!(full.status_and_code().1, "QUOTA_EXCEEDED");

    // Kill frees the slot; a second kill answers the killed sandbox and writes nothing.
    let killed = rules::kill(&api.store, &change_at(&caller, t0), &first.id).await.unwrap();
    assert_eq!(killed.status, Status::Killed);
    let again = rules::kill(&api.store, &change_at(&caller, t0), &first.id).await.unwrap();
    assert_eq!(again.status, Status::Killed);
    assert_eq!(running_slots(&api, &caller.org_id, caller.environment).await, 0, "freed once");

    // A one-second sandbox reads expired a second later, before any sweep ...
    let short = rules::create(&api.store, &change_at(&caller, t0), python, 1, 1).await.unwrap();
    let later = t0 + Duration::seconds(2);
    let seen = rules::visible(&api.store, &change_at(&caller, later), &short.id).await.unwrap();
    assert_eq!(seen.status_at(later), Status::Expired);
    assert_eq!(seen.status, Status::Running, "not swept yet");
    // ... and its slot is free for the next creation, which expires it first.
    let next = rules::create(&api.store, &change_at(&caller, later), python, 1, 1).await.expect("the slot is free");
    let stored = api.store.get_sandbox(&short.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Expired);
    assert_eq!(running_slots(&api, &caller.org_id, caller.environment).await, 1);

    // The sweep ends `next` once; running it again finds nothing.
    let much_later = t0 + Duration::seconds(10);
    let caller_tenant = Tenant::new(caller.org_id.clone(), caller.environment);
    let tenant_scope = Some(&caller_tenant);
    assert_eq!(rules::expire_overdue(&api.store, tenant_scope, much_later).await.unwrap(), 1);
    assert_eq!(rules::expire_overdue(&api.store, tenant_scope, much_later).await.unwrap(), 0);
    assert_eq!(api.store.get_sandbox(&next.id).await.unwrap().unwrap().status, Status::Expired);
    assert_eq!(running_slots(&api, &caller.org_id, caller.environment).await, 0);
    // Killing an expired sandbox is answered as expired and frees nothing more.
    let dead = rules::kill(&api.store, &change_at(&caller, much_later), &next.id).await.unwrap();
    assert_eq!(dead.status_at(much_later), Status::Expired);
    assert_eq!(running_slots(&api, &caller.org_id, caller.environment).await, 0);

    // Every change wrote its audit entry and its event beside it.
    let audit = partition_values(&api, schema::audit_pk(caller.org_id.as_str()), "action").await;
    for action in ["sandbox.created", "sandbox.killed", "sandbox.expired"] {
        assert!(audit.iter().any(|a| a == action), "{action}: {audit:?}");
    }
    let events = partition_values(&api, schema::outbox_pk(caller.org_id.as_str(), "live"), "event_type").await;
    assert_eq!(events.iter().filter(|e| *e == "sandbox.created").count(), 3, "{events:?}");
    assert_eq!(events.iter().filter(|e| *e == "sandbox.killed").count(), 1, "{events:?}");
    assert_eq!(events.iter().filter(|e| *e == "sandbox.expired").count(), 2, "{events:?}");
}

#[tokio::test]
async fn the_sweep_finds_overdue_sandboxes_of_every_tenant() {
    let api = stack_api().await;
    let a = tenant(&api, Environment::Live).await;
    let b = tenant(&api, Environment::Test).await;
    let t0 = now();
    let python = template("52").unwrap();
    let a1 = rules::create(&api.store, &change_at(&a, t0), python, 1, 10).await.unwrap();
    let b1 = rules::create(&api.store, &change_at(&b, t0), python, 1, 10).await.unwrap();
    let keep = rules::create(&api.store, &change_at(&b, t0), python, 3600, 10).await.unwrap();
    rules::expire_overdue(&api.store, None, t0 + Duration::seconds(5)).await.unwrap();
    for id in [&a1.id, &b1.id] {
        assert_eq!(api.store.get_sandbox(id).await.unwrap().unwrap().status, Status::Expired, "{}", id.as_str());
    }
    assert_eq!(api.store.get_sandbox(&keep.id).await.unwrap().unwrap().status, Status::Running);
}

#[tokio::test]
async fn extending_sets_the_deadline_from_now_and_refuses_ended_sandboxes() {
    let api = stack_api().await;
    let caller = tenant(&api, Environment::Live).await;
    let t0 = now();
    let shell = template("12").unwrap();
    let sandbox = rules::create(&api.store, &change_at(&caller, t0), shell, 60, 10).await.unwrap();
    let t1 = t0 + Duration::seconds(30);
    let extended = rules::extend(&api.store, &change_at(&caller, t1), &sandbox.id, 600).await.unwrap();
    assert_eq!(extended.expires_at, t1 + Duration::seconds(600));
    let stored = api.store.get_sandbox(&sandbox.id).await.unwrap().unwrap();
    assert_eq!((stored.expires_at, stored.timeout_seconds), (t1 + Duration::seconds(600), 600));
    let over = rules::extend(&api.store, &change_at(&caller, t1), &sandbox.id, 7201).await.unwrap_err();
    assert!(matches!(over, ApiError::Validation { ref field, .. } if field == "timeout_seconds"), "{over:?}");
    rules::kill(&api.store, &change_at(&caller, t1), &sandbox.id).await.unwrap();
    let ended = rules::extend(&api.store, &change_at(&caller, t1), &sandbox.id, 60).await.unwrap_err();
    assert_eq!(ended.status_and_code().1, "CONFLICT");
    let expired = rules::create(&api.store, &change_at(&caller, t0), shell, 1, 10).await.unwrap();
    let late = rules::extend(&api.store, &change_at(&caller, t0 + Duration::seconds(2)), &expired.id, 60).await;
    assert_eq!(late.unwrap_err().status_and_code().1, "CONFLICT");
}

#[tokio::test]
async fn sandboxes_are_scoped_to_organization_and_environment() {
    let api = stack_api().await;
    let live = tenant(&api, Environment::Live).await;
    let mut test = live.clone();
    test.environment = Environment::Test;
    let other = tenant(&api, Environment::Live).await;
    let t0 = now();
    let sandbox = rules::create(&api.store, &change_at(&live, t0), template("73").unwrap(), 600, 10).await.unwrap();
    for stranger in [&test, &other] {
        let change = change_at(stranger, t0);
        assert!(matches!(rules::visible(&api.store, &change, &sandbox.id).await, Err(ApiError::NotFound(_))));
        assert!(matches!(rules::kill(&api.store, &change, &sandbox.id).await, Err(ApiError::NotFound(_))));
        let page = api.store.list_sandboxes(&change.tenant, None, t0, None, 100).await.unwrap();
        assert!(page.items.iter().all(|s| s.id != sandbox.id));
    }
    let live_tenant = Tenant::new(live.org_id.clone(), live.environment);
    let mine = api.store.list_sandboxes(&live_tenant, Some(Status::Running), t0, None, 100).await;
    assert_eq!(mine.unwrap().items.len(), 1);
}
