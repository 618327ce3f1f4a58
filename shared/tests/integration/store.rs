//! The DynamoDB store against DynamoDB Local, through the real SDK.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{KeyType, ProjectionType};
use keyhive::schema::{self, table_definition};
use keyhive::store::dynamo::{ensure_table, DynamoStore};
use keyhive::store::HealthProbe;
use keyhive::testkit::{stack_api, unreachable_api};

#[tokio::test]
async fn ensure_table_creates_the_defined_table_once() {
    let api = stack_api().await;
    let client = api.store.client();
    let name = format!("keyhive-test-{}", rand::random::<u32>());
    assert!(ensure_table(client, &name, &table_definition()).await.expect("create"));
    assert!(
        !ensure_table(client, &name, &table_definition()).await.expect("second call"),
        "second call must not recreate"
    );

    let table = client.describe_table().table_name(&name).send().await.expect("describe").table.expect("table");
    let def = table_definition();
    let keys: Vec<_> =
        table.key_schema().iter().map(|k| (k.attribute_name().to_string(), k.key_type().clone())).collect();
    assert_eq!(keys, vec![(def.partition_key.to_string(), KeyType::Hash), (def.sort_key.to_string(), KeyType::Range)]);
    let gsis = table.global_secondary_indexes();
    assert_eq!(gsis.len(), def.global_indexes.len());
    // DynamoDB lists indexes in no particular order: match them by name.
    for index in &def.global_indexes {
        let found = gsis.iter().find(|g| g.index_name() == Some(index.name)).expect(index.name);
        let projection = found.projection().and_then(|p| p.projection_type()).map(ProjectionType::as_str);
        assert_eq!(projection, Some(index.projection), "{}", index.name);
    }
    let ttl = client.describe_time_to_live().table_name(&name).send().await.expect("ttl");
    assert_eq!(ttl.time_to_live_description().and_then(|d| d.attribute_name()), Some(def.ttl_attribute));
    client.delete_table().table_name(&name).send().await.expect("clean up");
}

/// A table made before an index existed (a `.dev/` table from an older version) gets the index,
/// and keeps its data.
#[tokio::test]
async fn ensure_table_adds_missing_indexes_to_an_existing_table_and_keeps_its_items() {
    let api = stack_api().await;
    let client = api.store.client();
    let name = format!("keyhive-old-{}", rand::random::<u32>());
    let mut old = table_definition();
    old.global_indexes.clear();
    old.attributes.retain(|(a, _)| *a == old.partition_key || *a == old.sort_key);
    assert!(ensure_table(client, &name, &old).await.expect("create the old shape"));
    let item = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_string());
    client.put_item().table_name(&name).item("PK", item("KEEP")).item("SK", item("ME")).send().await.expect("put");

    assert!(!ensure_table(client, &name, &table_definition()).await.expect("upgrade"), "not recreated");
    let table = client.describe_table().table_name(&name).send().await.expect("describe").table.expect("table");
    let mut names: Vec<_> = table.global_secondary_indexes().iter().filter_map(|i| i.index_name()).collect();
    names.sort();
    let mut wanted: Vec<_> = table_definition().global_indexes.iter().map(|i| i.name).collect();
    wanted.sort();
    assert_eq!(names, wanted);
    let kept = client.get_item().table_name(&name).key("PK", item("KEEP")).key("SK", item("ME")).send().await;
    assert!(kept.expect("get").item.is_some(), "the data stays");
    client.delete_table().table_name(&name).send().await.expect("clean up");
}

/// A table whose GSI1 projects fewer attributes than the definition (a `.dev/` table from before
/// short links) gets GSI1 rebuilt with the defined projection, and keeps its items.
#[tokio::test]
async fn ensure_table_rebuilds_an_index_whose_projection_is_stale() {
    let api = stack_api().await;
    let client = api.store.client();
    let name = format!("keyhive-stale-{}", rand::random::<u32>());
    let mut old = table_definition();
    old.global_indexes[0].non_key_attributes = &["key_id", "org_id"];
    assert!(ensure_table(client, &name, &old).await.expect("create the old shape"));
    let item = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_string());
    client.put_item().table_name(&name).item("PK", item("KEEP")).item("SK", item("ME")).send().await.expect("put");

    assert!(!ensure_table(client, &name, &table_definition()).await.expect("upgrade"), "not recreated");
    let table = client.describe_table().table_name(&name).send().await.expect("describe").table.expect("table");
    let def = table_definition();
    for index in &def.global_indexes {
        let found =
            table.global_secondary_indexes().iter().find(|g| g.index_name() == Some(index.name)).expect(index.name);
        let mut projected: Vec<&str> =
            found.projection().map(|p| p.non_key_attributes().iter().map(String::as_str).collect()).unwrap_or_default();
        let mut wanted = index.non_key_attributes.to_vec();
        projected.sort_unstable();
        wanted.sort_unstable();
        assert_eq!(projected, wanted, "{}", index.name);
    }
    let kept = client.get_item().table_name(&name).key("PK", item("KEEP")).key("SK", item("ME")).send().await;
    assert!(kept.expect("get").item.is_some(), "the data stays");
    client.delete_table().table_name(&name).send().await.expect("clean up");
}

#[tokio::test]
async fn the_probe_succeeds_on_the_stack_and_fails_as_unavailable_without_it() {
    let api = stack_api().await;
    api.store.probe().await.expect("DynamoDB Local answers");
    let missing = DynamoStore::new(api.store.client().clone(), "no-such-table");
    assert!(
        matches!(missing.probe().await, Err(keyhive::store::StoreError::Other(_))),
        "a missing table is our bug, not an outage"
    );
    let dead = unreachable_api().await;
    assert!(matches!(dead.store.probe().await, Err(keyhive::store::StoreError::Unavailable(_))));
}

/// Counting an authenticated request rewrites the key item only: GSI1 does not carry what the
/// count writes, so the write costs one unit, not one for the table and one for the index.
#[tokio::test]
async fn an_authenticated_request_costs_one_write_unit_and_no_read_unit() {
    use keyhive::auth::{KeyStore, KeyUse};
    let api = stack_api().await;
    let client = api.store.client();
    let name = format!("keyhive-units-{}", rand::random::<u32>());
    ensure_table(client, &name, &table_definition()).await.expect("create");
    let store = DynamoStore::new(client.clone(), name.clone());
    let secret = api.hashing_secret().await.expect("secret");
    let (_, record, credential) = keyhive::bootstrap::bootstrap_org(
        &store,
        &api.config.key_prefix,
        secret,
        "units",
        keyhive::auth::Environment::Live,
        keyhive::auth::Tier::Enterprise(1000),
    )
    .await
    .expect("bootstrap");
    // Every permission granted (a bootstrap key), the longest permission name recorded for the
    // usage stream, and the heaviest shape of the rest: a user key's 100-character name and
    // owner's name, an expiry, a roll's previous secret in its grace. The item stays under 1 KB:
    // one write unit.
    assert_eq!(record.permissions, keyhive::auth::permissions::Permissions::all());
    let long = "n".repeat(100);
    let later = keyhive::model::now() + time::Duration::days(30);
    client
        .update_item()
        .table_name(&name)
        .key(schema::PK, AttributeValue::S(schema::key_pk(record.key_id.as_str())))
        .key(schema::SK, AttributeValue::S(schema::KEY_SK.into()))
        .update_expression(
            "SET #n = :long, owner_name = :long, user_id = :user, created_by_user = :user, key_type = :user_type, \
             expires_at = :exp, expires_epoch = :epoch, prev_hash = :hash, prev_valid_until = :epoch",
        )
        .expression_attribute_names("#n", "name")
        .expression_attribute_values(":long", AttributeValue::S(long))
        .expression_attribute_values(":user", AttributeValue::S(format!("usr_{}", "u".repeat(60))))
        .expression_attribute_values(":user_type", AttributeValue::S("user".into()))
        .expression_attribute_values(":exp", AttributeValue::S(keyhive::model::rfc3339(later)))
        .expression_attribute_values(":epoch", AttributeValue::N(later.unix_timestamp().to_string()))
        .expression_attribute_values(":hash", AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new([7u8; 32])))
        .send()
        .await
        .expect("the heaviest key");
    let longest = keyhive::auth::permissions::Resource::ALL
        .into_iter()
        .flat_map(|r| keyhive::auth::permissions::Action::ALL.into_iter().map(move |a| (r, a)))
        .max_by_key(|(r, a)| keyhive::auth::permissions::permission_name(*r, *a).len());
    let event = keyhive::auth::usage::UseEvent::Request { permission: longest };
    for _ in 0..3 {
        let out = store
            .touch_request(
                &record.key_id,
                &credential.hash(secret),
                record.environment,
                None,
                keyhive::model::now(),
                &event,
            )
            .send()
            .await;
        let consumed = out.expect("touch").consumed_capacity.expect("consumed capacity");
        assert_eq!(consumed.capacity_units, Some(1.0), "{consumed:?}");
        assert!(consumed
            .global_secondary_indexes
            .unwrap_or_default()
            .values()
            .all(|c| c.capacity_units.unwrap_or(0.0) == 0.0));
        assert_eq!(consumed.read_capacity_units.unwrap_or(0.0), 0.0);
    }
    match store
        .touch_key(&record.key_id, &credential.hash(secret), record.environment, None, keyhive::model::now(), &event)
        .await
        .expect("touch")
    {
        KeyUse::Counted { write_units, .. } => assert_eq!(write_units, Some(1.0)),
        other => panic!("{other:?}"),
    }
    client.delete_table().table_name(&name).send().await.expect("clean up");
}

/// A filtered listing reads at most `MAX_ITEMS_READ` items per request: a filter that matches
/// nothing in that many answers an empty page with a cursor, and following the cursors finds
/// every match, once.
#[tokio::test]
async fn a_filtered_listing_reads_a_bounded_number_of_items_per_request() {
    use keyhive::store::items::{key_of, string_attr};
    use keyhive::store::query::{Filter, Listing, SortRange, MAX_ITEMS_READ};
    let api = stack_api().await;
    let partition = format!("TEST#{}", rand::random::<u64>());
    let total = MAX_ITEMS_READ + 300;
    for chunk in (0..total).collect::<Vec<_>>().chunks(50) {
        let puts = chunk.iter().map(|i| {
            let mut item = key_of(partition.clone(), format!("{i:06}"));
            // Two matches: one past the first request's bound, one in the last stretch.
            let kind = if *i == MAX_ITEMS_READ + 10 || *i == total - 1 { "match" } else { "other" };
            item.insert("kind".into(), string_attr(kind));
            api.store.client().put_item().table_name(api.store.table()).set_item(Some(item)).send()
        });
        for put in futures_util::future::join_all(puts).await {
            put.expect("put");
        }
    }
    let mut filter = Filter::default();
    filter.and("kind = :kind", &[], &[(":kind", "match")]);
    let listing = Listing {
        index: None,
        partition_attr: keyhive::schema::PK,
        partition,
        sort_attr: keyhive::schema::SK,
        range: SortRange::All,
        filter,
        key_attrs: &[keyhive::schema::PK, keyhive::schema::SK],
    };
    let (first, next) = api.store.list_page_oldest_first(&listing, None, 10).await.expect("first page");
    assert!(first.is_empty(), "no match among the first {MAX_ITEMS_READ} items");
    let mut start = Some(next.expect("a cursor past the items read"));
    let mut matches = Vec::new();
    let mut requests = 1;
    while let Some(position) = start {
        let (items, next) = api.store.list_page_oldest_first(&listing, Some(&position), 10).await.expect("page");
        matches.extend(items.iter().filter_map(|i| i.get("SK")?.as_s().ok().cloned()));
        start = next;
        requests += 1;
        assert!(requests < 10, "the listing ends");
    }
    assert_eq!(matches, vec![format!("{:06}", MAX_ITEMS_READ + 10), format!("{:06}", total - 1)]);
}
