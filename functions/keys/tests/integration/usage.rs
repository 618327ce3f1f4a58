//! Key usage against DynamoDB Local and its real stream: requests made through the one
//! authentication write, read back from the table's stream, counted by the aggregator's code, and
//! counted once whatever is delivered again. Each test has a table of its own, so that no other
//! reader of the stack's stream (the local aggregator loop) counts its records first.

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::StreamExt;
use keyhive::auth::permissions::{Action, Resource};
use keyhive::auth::{authenticate, read_credential, Credential, KeyRecord, Tier};
use keyhive::model::now;
use keyhive::schema::{self, table_definition};
use keyhive::store::dynamo::{ensure_table, DynamoStore};
use keyhive::store::stream::StreamRecord;
use keyhive::testkit::{api_key_headers, stack_api, whole_stream};
use keyhive::ApiState;
use keys::usage::report::Span;
use keys::usage::store::UsageStore;
use keys::usage::UseRecord;
use keys::usage::{count_batch, Counts, Granularity};
use time::{Duration, OffsetDateTime};

/// A stack API on a table of its own (stream on), with a key holding `shortLinks:read` only.
async fn own_table() -> (ApiState, String, Credential, KeyRecord) {
    let shared = stack_api().await;
    let name = format!("keyhive-usage-{}", rand::random::<u32>());
    ensure_table(shared.store.client(), &name, &table_definition()).await.expect("create table");
    let api = ApiState::new(
        shared.config.clone(),
        DynamoStore::new(shared.store.client().clone(), name.clone()),
        shared.secrets().clone(),
    );
    let secret = api.hashing_secret().await.expect("secret");
    let (_, mut record, credential) = keyhive::bootstrap::bootstrap_org(
        &api.store,
        &api.config.key_prefix,
        secret,
        "usage",
        keyhive::auth::Environment::Live,
        Tier::Enterprise(100_000),
    )
    .await
    .expect("bootstrap");
    // The fixture narrows the key to one permission, as a PATCH would.
    api.store
        .client()
        .update_item()
        .table_name(&name)
        .key(schema::PK, AttributeValue::S(schema::key_pk(record.key_id.as_str())))
        .key(schema::SK, AttributeValue::S(schema::KEY_SK.into()))
        .update_expression("SET #p = :p")
        .expression_attribute_names("#p", "permissions")
        .expression_attribute_values(":p", AttributeValue::S("shortLinks:read".into()))
        .send()
        .await
        .expect("narrow the key");
    record.permissions = keyhive::auth::permissions::Permissions::from_compact("shortLinks:read").unwrap();
    (api, name, credential, record)
}

async fn request(
    api: &ApiState,
    credential: &Credential,
    at: OffsetDateTime,
    purpose: (Resource, Action),
) -> &'static str {
    let secret = api.hashing_secret().await.expect("secret");
    let parsed = read_credential(&api_key_headers(credential.reveal()), &api.config.key_prefix).expect("well-formed");
    match authenticate(&api.store, secret, &parsed, at, Some(purpose), &api.refusals).await {
        Ok(_) => "OK",
        Err(err) => err.status_and_code().1,
    }
}

async fn totals(api: &ApiState, key: &KeyRecord, granularity: Granularity) -> Counts {
    let at = now();
    let span = Span::new(Some(at - Duration::HOUR * 3), Some(at + Duration::HOUR), Some(granularity), at).unwrap();
    let buckets = api.store.buckets(&key.key_id, granularity, span.first(), span.last()).await.expect("buckets");
    buckets.iter().fold(Counts::default(), |mut total, (_, b)| {
        total.add(&b.counts);
        total
    })
}

async fn drop_table(api: &ApiState, name: &str) {
    api.store.client().delete_table().table_name(name).send().await.expect("clean up");
}

#[tokio::test]
async fn a_thousand_concurrent_requests_count_exactly_once_whatever_is_delivered_again() {
    let (api, table, credential, key) = own_table().await;
    let at = now();
    // 600 permitted (shortLinks:read), 400 refused for the want of shortLinks:create.
    let outcomes: Vec<&str> = futures_util::stream::iter(0..1000)
        .map(|n| {
            let purpose =
                if n % 5 < 3 { (Resource::ShortLinks, Action::Read) } else { (Resource::ShortLinks, Action::Create) };
            let (api, credential) = (&api, &credential);
            async move { request(api, credential, at, purpose).await }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    assert!(outcomes.iter().all(|o| *o == "OK"), "every request authenticates: {outcomes:?}");

    let records = whole_stream(&api).await;
    let uses = records.iter().filter_map(UseRecord::from_stream).filter(|u| u.key_id == key.key_id).count();
    assert_eq!(uses, 1000, "one stream record per counted request");

    // Lambda's batches of 100, the third delivered twice (a retried batch).
    let batches: Vec<&[StreamRecord]> = records.chunks(100).collect();
    for (i, batch) in batches.iter().enumerate() {
        assert_eq!(count_batch(&api.store, batch).await, None);
        if i == 2 {
            assert_eq!(count_batch(&api.store, batch).await, None);
        }
    }
    let expected = Counts { success: 600, forbidden: 400, rate_limited: 0, unauthorized: 0 };
    assert_eq!(totals(&api, &key, Granularity::Day).await, expected);

    // A retried window across batch boundaries, and the whole stream read again from its
    // oldest record by a new reader (as after a shard split or a restarted consumer).
    assert_eq!(count_batch(&api.store, &records[250..650]).await, None);
    assert_eq!(count_batch(&api.store, &whole_stream(&api).await).await, None);
    for granularity in [Granularity::Minute, Granularity::Hour, Granularity::Day] {
        assert_eq!(totals(&api, &key, granularity).await, expected, "{granularity:?}");
    }
    let span = Span::new(Some(at - Duration::HOUR), None, Some(Granularity::Hour), now()).unwrap();
    let usage = keys::usage::report::key_usage(&api.store, &key, span).await.expect("usage");
    assert_eq!(usage["by_permission"][0]["permission"], "shortLinks:create");
    assert_eq!(
        (usage["by_permission"][0]["success"].as_u64(), usage["by_permission"][0]["forbidden"].as_u64()),
        (Some(0), Some(400))
    );
    assert_eq!(usage["by_permission"][1]["permission"], "shortLinks:read");
    assert_eq!(
        (usage["by_permission"][1]["success"].as_u64(), usage["by_permission"][1]["forbidden"].as_u64()),
        (Some(600), Some(0))
    );
    // The organization's ranking reads the tenant's day totals: the same counts.
    let tenant = keyhive::model::Tenant::new(key.org_id.clone(), key.environment);
    let ranked = keys::usage::report::keys_by_use(&api.store, &tenant, vec![key.clone()], at - Duration::HOUR, now())
        .await
        .expect("ranking");
    assert_eq!(ranked[0].1, expected);
    drop_table(&api, &table).await;
}

/// Refusals leave no record of their own: an instance tallies them and writes each key's tally
/// once, after its minute, on a later request; the aggregator counts the tally in its minute.
#[tokio::test]
async fn refusals_are_tallied_per_instance_and_written_once_a_minute() {
    let (api, table, credential, key) = own_table().await;
    let counter = keyhive::aws::RequestCounter::default();
    let counted = ApiState::new(
        api.config.clone(),
        DynamoStore::new(keyhive::aws::counted_dynamodb(api.store.client(), &counter), table.clone()),
        api.secrets().clone(),
    );
    let minute = OffsetDateTime::from_unix_timestamp(now().unix_timestamp().div_euclid(60) * 60).unwrap();
    let text = credential.reveal();
    let wrong = Credential::parse(
        &format!("{}{}", &text[..text.len() - 4], if text.ends_with("AAAA") { "EEEE" } else { "AAAA" }),
        &api.config.key_prefix,
    )
    .expect("well-formed");
    let secret = counted.hashing_secret().await.expect("secret");
    for _ in 0..30 {
        let refused = authenticate(&counted.store, secret, &wrong, minute, None, &counted.refusals).await;
        assert_eq!(refused.map(|_| ()).map_err(|e| e.status_and_code().1), Err("UNAUTHORIZED"));
    }
    assert_eq!(counter.count(), 30, "one conditional write per attempt, nothing more");
    assert_eq!(counted.refusals.len(), 1, "tallied");
    // The next minute's first request writes the tally beside its own write.
    let next = minute + Duration::MINUTE;
    assert_eq!(request(&counted, &credential, next, (Resource::ShortLinks, Action::Read)).await, "OK");
    assert_eq!(counter.count(), 32, "its own write and the tally's");
    assert!(counted.refusals.is_empty());
    assert_eq!(request(&counted, &credential, next, (Resource::ShortLinks, Action::Read)).await, "OK");
    assert_eq!(counter.count(), 33, "written once");

    assert_eq!(count_batch(&api.store, &whole_stream(&api).await).await, None);
    let buckets = api.store.buckets(&key.key_id, Granularity::Minute, minute, next).await.expect("buckets");
    let by_minute: Vec<(OffsetDateTime, Counts)> = buckets.iter().map(|(start, b)| (*start, b.counts)).collect();
    assert_eq!(
        by_minute,
        vec![
            (minute, Counts { unauthorized: 30, ..Counts::default() }),
            (next, Counts { success: 2, ..Counts::default() }),
        ]
    );
    drop_table(&api, &table).await;
}

/// A key's secret under the other environment's label is no credential: refused by the one
/// write's condition (nothing counted as a use), and tallied as an unauthorized attempt.
#[tokio::test]
async fn the_right_secret_under_the_wrong_environment_label_is_refused_and_counted_as_such() {
    let (api, table, credential, key) = own_table().await;
    let text = credential.reveal().replacen("_live_", "_test_", 1);
    let relabeled = Credential::parse(&text, &api.config.key_prefix).expect("well-formed");
    let secret = api.hashing_secret().await.expect("secret");
    let minute = OffsetDateTime::from_unix_timestamp(now().unix_timestamp().div_euclid(60) * 60).unwrap();
    for _ in 0..3 {
        let refused = authenticate(&api.store, secret, &relabeled, minute, None, &api.refusals).await;
        assert_eq!(refused.map(|_| ()).map_err(|e| e.status_and_code().1), Err("UNAUTHORIZED"));
    }
    // The next minute's request writes the tally; nothing was counted as a use.
    let next = minute + Duration::MINUTE;
    assert_eq!(request(&api, &credential, next, (Resource::ShortLinks, Action::Read)).await, "OK");
    assert_eq!(count_batch(&api.store, &whole_stream(&api).await).await, None);
    let buckets = api.store.buckets(&key.key_id, Granularity::Minute, minute, next).await.expect("buckets");
    let by_minute: Vec<Counts> = buckets.iter().map(|(_, b)| b.counts).collect();
    assert_eq!(
        by_minute,
        vec![Counts { unauthorized: 3, ..Counts::default() }, Counts { success: 1, ..Counts::default() }]
    );
    drop_table(&api, &table).await;
}
