//! Figures that need the local stack, measured in one run and printed as one JSON object:
//!
//! - `round_trips_per_authenticated_request`: DynamoDB requests transmitted (counted by an SDK
//!   interceptor, retries included) while the authorizer handles one request, steady state.
//! - `authorizer_over_getitem_ratio`: median time of the authorizer handler (event in, policy
//!   out, real SDK, DynamoDB Local) over the median of one bare GetItem with the same client and
//!   server, the two interleaved so that machine noise hits both alike.
//!
//! - `authorizer_over_updateitem_ratio`: the authorizer handler over the bare UpdateItem it makes
//!   (built by the same `touch_request`, so the two cannot drift), same client, item and server,
//!   interleaved: the authorizer's own overhead.
//! - `write_units_per_authenticated_request` / `read_units_per_authenticated_request`: what that
//!   UpdateItem consumes, table and indexes (`ReturnConsumedCapacity=INDEXES`), goal 1 and 0.
//! - `round_trips_per_sandbox_create`: DynamoDB requests transmitted while one sandbox is created
//!   (one transaction: the sandbox, its quota slot, audit entry and event), quota not full.
//!
//! - `round_trips_per_redirect` / `round_trips_per_head_redirect`: DynamoDB requests transmitted
//!   while the links function answers one public `GET /{slug}` (one read of the slug, one click
//!   write) and one `HEAD /{slug}` (the read only), through its handler on a REST event.
//!   `round_trips_per_redirect_past_referrer_cap`: the same from new referrer hosts once the
//!   link's day has its fill of them (still one read and one write).
//! - `round_trips_per_preview_card` / `write_units_per_preview_card_longest`: a link-preview
//!   fetcher's `GET /{slug}` of a link with the longest preview (the card from the same one
//!   write), and what that write costs with the preview's text on the slug's item.
//!
//! - `event_to_delivery_ms_median`: a change committed (its outbox event written) to a local
//!   receiver's answer, through the stack's running dispatcher loop (the local shape of the
//!   stream-triggered dispatcher), median of a few.
//!
//! - `verify_median_us`, `round_trips_per_verification`: the keys function's handler answering one
//!   `POST /v1/keys/verify` of a valid key (authorizer context given, so only the verification's
//!   own calls: the verified key's one write, its metadata read beside it).
//! - `verify_wrong_secret_median_us` / `verify_unknown_id_median_us`: the same for a known key id
//!   with a wrong secret and for an id no key has, interleaved: both are `NOT_FOUND`, and their
//!   times should not tell them apart (`verify_not_found_ratio`, near 1).
//!
//! Bounded: a fixed number of iterations, loopback only.

use aws_sdk_dynamodb::types::AttributeValue;
use keyhive::auth::Environment;
use keyhive::schema;
use serde_json::json;
use std::time::{Duration, Instant};

const ITERATIONS: usize = 400;
const SANDBOX_ITERATIONS: usize = 50;
const REDIRECT_ITERATIONS: usize = 50;
const DELIVERY_ITERATIONS: usize = 9;
const USAGE_ITERATIONS: usize = 7;
const VERIFY_ITERATIONS: usize = 300;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn authorizer_event(key: &str) -> lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest {
    let text = std::fs::read_to_string("events/authorizer-request.json").expect("run from the workspace root");
    let mut event: serde_json::Value = serde_json::from_str(&text).expect("event JSON");
    event["headers"] = json!({ "X-API-Key": key });
    event["multiValueHeaders"] = json!({ "X-API-Key": [key] });
    serde_json::from_value(event).expect("authorizer event")
}

#[tokio::main]
async fn main() {
    let counter = keyhive::aws::RequestCounter::default();
    let base = keyhive::ApiState::from_env().await;
    let client = keyhive::aws::counted_dynamodb(base.store.client(), &counter);
    let store = keyhive::store::dynamo::DynamoStore::new(client.clone(), base.store.table());
    let sdk = keyhive::aws::sdk_config(&base.config).await;
    let api = keyhive::ApiState::new(base.config.clone(), store, keyhive::aws::secretsmanager(&sdk));

    // An enterprise key with room for every iteration, minted like `keyhive-admin bootstrap`.
    let secret = api.hashing_secret().await.expect("hashing secret");
    let (_, record, credential) = keyhive::bootstrap::bootstrap_org(
        &api.store,
        &api.config.key_prefix,
        secret,
        "bench",
        Environment::Live,
        keyhive::auth::Tier::Enterprise(100_000),
    )
    .await
    .expect("bootstrap");
    let event = authorizer_event(credential.reveal());

    // Warm up both paths (connections, JIT of DynamoDB Local).
    for _ in 0..50 {
        authorizer::handler(&api, event.clone()).await.expect("allowed");
    }
    let get_item = || {
        client
            .get_item()
            .table_name(api.store.table())
            .key(schema::PK, AttributeValue::S(schema::key_pk(record.key_id.as_str())))
            .key(schema::SK, AttributeValue::S(schema::KEY_SK.into()))
            .send()
    };
    for _ in 0..50 {
        get_item().await.expect("get item");
    }

    let presented = credential.hash(secret);
    let use_event = keyhive::auth::usage::UseEvent::Request {
        permission: Some((keyhive::auth::permissions::Resource::ApiKeys, keyhive::auth::permissions::Action::Read)),
    };
    let touch = || {
        api.store
            .touch_request(&record.key_id, &presented, record.environment, None, keyhive::model::now(), &use_event)
            .send()
    };
    for _ in 0..50 {
        touch().await.expect("touch");
    }

    let before = counter.count();
    let mut authorizer_times = Vec::with_capacity(ITERATIONS);
    let mut get_item_times = Vec::with_capacity(ITERATIONS);
    let mut update_item_times = Vec::with_capacity(ITERATIONS);
    let (mut write_units, mut read_units) = (0.0, 0.0);
    let mut authorizer_trips = 0;
    for _ in 0..ITERATIONS {
        let start = counter.count();
        let t = Instant::now();
        authorizer::handler(&api, event.clone()).await.expect("allowed");
        authorizer_times.push(t.elapsed());
        authorizer_trips += counter.count() - start;
        let t = Instant::now();
        get_item().await.expect("get item");
        get_item_times.push(t.elapsed());
        let t = Instant::now();
        let touched = touch().await.expect("touch");
        update_item_times.push(t.elapsed());
        let consumed = touched.consumed_capacity.expect("consumed capacity is returned");
        // The total: the table's units and every index's (an UpdateItem consumes write units only).
        write_units += consumed.capacity_units.unwrap_or(0.0) - consumed.read_capacity_units.unwrap_or(0.0);
        read_units += consumed.read_capacity_units.unwrap_or(0.0);
    }
    let total = counter.count() - before;

    // Sandbox creations by the same key, each killed right after so the quota never fills.
    let mut headers = http::HeaderMap::new();
    headers.insert("x-api-key", http::HeaderValue::from_str(credential.reveal()).expect("ASCII key"));
    let identity = api.authenticate(&headers, None).await.expect("the bench key authenticates");
    let mut create_trips = 0;
    for _ in 0..SANDBOX_ITERATIONS {
        let change = keyhive::change::Change::by(&identity, "bench", keyhive::model::now());
        let template = sandboxes::model::template("52").expect("catalog template");
        let start = counter.count();
        let sandbox = sandboxes::rules::create(&api.store, &change, template, 600, 10).await.expect("create");
        create_trips += counter.count() - start;
        sandboxes::rules::kill(&api.store, &change, &sandbox.id).await.expect("kill");
    }
    assert_eq!(total, authorizer_trips + 2 * ITERATIONS, "every transmitted request is accounted for");

    // Redirects of one link through the links function's handler (public: no authentication).
    let links_api = keyhive::ApiState::new(
        base.config.clone(),
        keyhive::store::dynamo::DynamoStore::new(client.clone(), base.store.table()),
        keyhive::aws::secretsmanager(&sdk),
    );
    let links = links::Links { api: links_api, dns: None };
    let change = keyhive::change::Change::by(&identity, "bench", keyhive::model::now());
    let new = links::rules::NewLink {
        destination: links::model::Destination::parse("https://example.com/bench").expect("destination"),
        slug: None,
        domain: None,
        title: None,
        preview: None,
        expires_at: None,
    };
    let link = links::rules::create_link(&links.api.store, &change, new.clone(), "https://bench").await.expect("link");
    // A link with the longest preview a request may give (no image: an image adds its 28-byte id).
    let preview = links::model::Preview { title: "T".repeat(120), description: Some("D".repeat(300)), image: None };
    let carded = links::rules::NewLink { preview: Some(preview), ..new };
    let carded = links::rules::create_link(&links.api.store, &change, carded, "https://bench").await.expect("link");
    let event_of = |name: &str, slug: &links::model::Slug, method: &str, referrer: &str| {
        let text = std::fs::read_to_string(format!("events/{name}")).expect("run from the workspace root");
        let mut event: serde_json::Value = serde_json::from_str(&text).expect("event JSON");
        event["headers"]["Referer"] = json!(referrer);
        event["multiValueHeaders"]["Referer"] = json!([referrer]);
        let path = format!("/{}", slug.as_str());
        event["httpMethod"] = json!(method);
        event["path"] = json!(path);
        event["pathParameters"] = json!({ "slug": slug.as_str() });
        event["requestContext"]["path"] = json!(format!("/prod{path}"));
        lambda_http::request::from_str(&event.to_string()).expect("REST event")
    };
    let redirect_event_from =
        |method: &str, referrer: &str| event_of("links-redirect.json", &link.slug, method, referrer);
    let redirect_event = |method: &str| redirect_event_from(method, "https://news.example/story");
    let (mut get_trips, mut head_trips) = (0, 0);
    for _ in 0..REDIRECT_ITERATIONS {
        let start = counter.count();
        let answer = links::handle(&links, redirect_event("GET")).await;
        assert_eq!(answer.status(), 302);
        get_trips += counter.count() - start;
        let start = counter.count();
        let answer = links::handle(&links, redirect_event("HEAD")).await;
        assert_eq!(answer.status(), 302);
        head_trips += counter.count() - start;
    }
    // The write units of a counted redirect, through the store's own call, with visitors from
    // ever new referrer hosts (what a client controls): one unit each, whatever they send.
    let mut redirect_write_units = 0.0;
    for i in 0..REDIRECT_ITERATIONS {
        let visitor = links::model::Visitor::Human { referrer: format!("new{i}.example"), country: "DE".into() };
        match links::store::LinkStore::visit(&links.api.store, None, &link.slug, &visitor, keyhive::model::now())
            .await
            .expect("visit")
        {
            links::model::Visit::Followed { write_units, .. } => {
                redirect_write_units += write_units.unwrap_or(f64::NAN)
            }
            other => panic!("{other:?}"),
        }
    }
    // A link-preview fetcher of the link with the longest preview: the card, from the same one write.
    let (mut card_trips, mut card_write_units) = (0, 0.0);
    for _ in 0..REDIRECT_ITERATIONS {
        let start = counter.count();
        let answer = links::handle(&links, event_of("links-redirect-bot.json", &carded.slug, "GET", "")).await;
        assert_eq!(answer.status(), 200, "the preview card");
        card_trips += counter.count() - start;
        match links::store::LinkStore::visit(
            &links.api.store,
            None,
            &carded.slug,
            &links::model::Visitor::Bot,
            keyhive::model::now(),
        )
        .await
        .expect("visit")
        {
            links::model::Visit::Followed { write_units, preview: Some(_), .. } => {
                card_write_units += write_units.unwrap_or(f64::NAN)
            }
            other => panic!("{other:?}"),
        }
    }
    let authorizer_median = median(authorizer_times);
    let get_item_median = median(get_item_times);
    let update_item_median = median(update_item_times);
    // Event to delivery through the stack's dispatcher loop, to a receiver on loopback.
    let hooks_api = keyhive::ApiState::new(base.config.clone(), base.store.clone(), keyhive::aws::secretsmanager(&sdk));
    let outbound = webhooks::rules::Outbound {
        policy: webhooks::ssrf::Policy { local: true },
        resolver: webhooks::ssrf::Resolver::new(None).expect("resolver"),
        sender: webhooks::sender::Sender::new(),
    };
    let hooks = webhooks::Webhooks::new(hooks_api, outbound);
    let sealing = hooks.sealing_key().await.expect("sealing key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let (arrived, mut arrivals) = tokio::sync::mpsc::unbounded_channel::<(Instant, String)>();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let arrived = arrived.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 16384];
                let read = socket.read(&mut buffer).await.unwrap_or(0);
                let _ = arrived.send((Instant::now(), String::from_utf8_lossy(&buffer[..read]).to_string()));
                let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
            });
        }
    });
    let subscription = webhooks::model::Subscription::All;
    let endpoint_change = keyhive::change::Change::by(&identity, "bench", keyhive::model::now());
    let (endpoint, _) =
        webhooks::rules::create(&hooks.api.store, sealing, &endpoint_change, url, subscription, None, 50)
            .await
            .expect("endpoint");
    let mut event_to_delivery = Vec::new();
    for _ in 0..DELIVERY_ITERATIONS {
        let change = keyhive::change::Change::by(&identity, "bench", keyhive::model::now());
        let event = change.event(identity.environment, keyhive::change::EventType::KeyUpdated, json!({"bench": true}));
        // Its `webhook-id` header names the event's delivery to this endpoint.
        let delivery_id = webhooks::model::DeliveryId::of(&event.event_id, &endpoint.id);
        let mut tx = hooks.api.store.transaction();
        tx.log(&keyhive::change::ChangeLog { audits: Vec::new(), events: vec![event], idempotency: None })
            .expect("log");
        tx.commit().await.expect("commit");
        let committed = Instant::now();
        // Earlier events of the bench's organization (its sandboxes) may arrive too: wait for
        // this one.
        let delivered = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match arrivals.recv().await {
                    Some((at, request)) if request.contains(delivery_id.as_str()) => return at,
                    Some(_) => continue,
                    None => panic!("the receiver stopped"),
                }
            }
        })
        .await
        .expect("a delivery within 20 s (is the stack's dispatcher running?)");
        event_to_delivery.push(delivered - committed);
    }

    // A request to its count being readable, through the stack's aggregator loop (the local
    // shape of the stream-triggered aggregator): a fresh key, so that each count is its own.
    let mut usage_lag = Vec::new();
    {
        use keys::usage::store::UsageStore;
        let (_, usage_key, usage_credential) = keyhive::bootstrap::bootstrap_org(
            &base.store,
            &api.config.key_prefix,
            secret,
            "bench usage",
            Environment::Live,
            keyhive::auth::Tier::Enterprise(100_000),
        )
        .await
        .expect("bootstrap");
        let mut usage_headers = http::HeaderMap::new();
        usage_headers.insert("x-api-key", http::HeaderValue::from_str(usage_credential.reveal()).expect("ASCII key"));
        let purpose = Some((keyhive::auth::permissions::Resource::ApiKeys, keyhive::auth::permissions::Action::Read));
        for n in 1..=USAGE_ITERATIONS as u64 {
            base.authenticate(&usage_headers, purpose).await.expect("authenticates");
            let sent = Instant::now();
            let day = keys::usage::Granularity::Day.floor(keyhive::model::now());
            tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    let buckets = base
                        .store
                        .buckets(&usage_key.key_id, keys::usage::Granularity::Day, day - time::Duration::DAY, day)
                        .await
                        .expect("buckets");
                    if buckets.iter().map(|(_, b)| b.counts.success).sum::<u64>() >= n {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .expect("counted within 20 s (is the stack's aggregator running?)");
            usage_lag.push(sent.elapsed());
        }
    }

    // Verifications through the keys handler: a valid key, then a wrong secret and an unknown id
    // interleaved (both NOT_FOUND).
    let caller = keyhive::testkit::identity_of(&record);
    let verify = |key: String| {
        let event =
            keyhive::testkit::Event::load("keys-verify.json").authorized_as(&caller).body(&json!({ "key": key }));
        let api = &api;
        async move {
            let response = keys::handle(api, &Default::default(), event.request()).await;
            keyhive::testkit::body_json(&response)["data"]["code"].as_str().unwrap_or("?").to_string()
        }
    };
    let (public, secret_part) = credential.reveal().split_once('.').expect("a key");
    let wrong_secret = format!("{public}.{}", "A".repeat(secret_part.len()));
    let unknown_id = format!("{}_live_ZZZZZZZZZZZZ.{secret_part}", api.config.key_prefix);
    for _ in 0..30 {
        assert_eq!(verify(credential.reveal().to_string()).await, "VALID");
        assert_eq!(verify(wrong_secret.clone()).await, "NOT_FOUND");
        assert_eq!(verify(unknown_id.clone()).await, "NOT_FOUND");
    }
    let (mut valid_times, mut wrong_times, mut unknown_times) = (Vec::new(), Vec::new(), Vec::new());
    let mut verify_trips = 0;
    for i in 0..VERIFY_ITERATIONS {
        let start = counter.count();
        let t = Instant::now();
        verify(credential.reveal().to_string()).await;
        valid_times.push(t.elapsed());
        verify_trips += counter.count() - start;
        // Alternate which goes first, so neither always follows the other.
        let order = if i % 2 == 0 { [&wrong_secret, &unknown_id] } else { [&unknown_id, &wrong_secret] };
        for key in order {
            let t = Instant::now();
            verify(key.clone()).await;
            if key == &wrong_secret {
                wrong_times.push(t.elapsed())
            } else {
                unknown_times.push(t.elapsed())
            }
        }
    }
    let (wrong_median, unknown_median) = (median(wrong_times), median(unknown_times));

    let report = json!({
        "verify_median_us": median(valid_times).as_micros() as u64,
        "round_trips_per_verification": verify_trips as f64 / VERIFY_ITERATIONS as f64,
        "verify_wrong_secret_median_us": wrong_median.as_micros() as u64,
        "verify_unknown_id_median_us": unknown_median.as_micros() as u64,
        "verify_not_found_ratio": (wrong_median.as_secs_f64() / unknown_median.as_secs_f64() * 1000.0).round() / 1000.0,
        "round_trips_per_authenticated_request": authorizer_trips as f64 / ITERATIONS as f64,
        "authorizer_median_us": authorizer_median.as_micros() as u64,
        "getitem_median_us": get_item_median.as_micros() as u64,
        "authorizer_over_getitem_ratio": (authorizer_median.as_secs_f64() / get_item_median.as_secs_f64() * 1000.0).round() / 1000.0,
        "updateitem_median_us": update_item_median.as_micros() as u64,
        "authorizer_over_updateitem_ratio": (authorizer_median.as_secs_f64() / update_item_median.as_secs_f64() * 1000.0).round() / 1000.0,
        "write_units_per_authenticated_request": write_units / ITERATIONS as f64,
        "read_units_per_authenticated_request": read_units / ITERATIONS as f64,
        "stack_iterations": ITERATIONS,
        "round_trips_per_sandbox_create": create_trips as f64 / SANDBOX_ITERATIONS as f64,
        "round_trips_per_redirect": get_trips as f64 / REDIRECT_ITERATIONS as f64,
        "round_trips_per_head_redirect": head_trips as f64 / REDIRECT_ITERATIONS as f64,
        "write_units_per_redirect": redirect_write_units / REDIRECT_ITERATIONS as f64,
        "round_trips_per_preview_card": card_trips as f64 / REDIRECT_ITERATIONS as f64,
        "write_units_per_preview_card_longest": card_write_units / REDIRECT_ITERATIONS as f64,
        "event_to_delivery_ms_median": median(event_to_delivery).as_millis() as u64,
        "usage_lag_ms_median": median(usage_lag).as_millis() as u64,
    });
    println!("{report}");
}
