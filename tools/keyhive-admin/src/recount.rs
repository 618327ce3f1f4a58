//! `keyhive-admin recount`: sets every per-tenant counter (running sandboxes, keys, links,
//! domains, webhook endpoints) to what the table holds. The counters are kept in each creating
//! and deleting transaction; this sets them right for data written before they existed (the
//! version that introduced the ceilings), or after a restore. Run it while the API is quiet: a
//! creation between the scan and the write is not seen.

use aws_sdk_dynamodb::types::AttributeValue;
use keyhive::schema;
use keyhive::store::dynamo::DynamoStore;
use std::collections::BTreeMap;

type Failure = Box<dyn std::error::Error>;

/// A counter: its partition key and the attribute that holds the count.
type Counter = (String, &'static str);

/// What the table holds, counted per counter.
fn counter_of(item: &std::collections::HashMap<String, AttributeValue>) -> Option<Counter> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
    let (pk, sk) = (text(schema::PK)?, text(schema::SK)?);
    let tenant = || Some((text("org_id")?, text("environment")?));
    if pk.starts_with("SBX#") && sk == schema::SANDBOX_SK && text("status") == Some("running") {
        let (org, env) = tenant()?;
        Some((schema::sandbox_quota_pk(org, env), "running"))
    } else if pk.starts_with("LINK#") && sk == schema::LINK_SK {
        let (org, env) = tenant()?;
        Some((schema::link_quota_pk(org, env), "count"))
    } else if pk.starts_with("DOM#") && sk == schema::DOMAIN_SK {
        let (org, env) = tenant()?;
        Some((schema::domain_quota_pk(org, env), "count"))
    } else if pk.starts_with("WHK#") && sk == schema::WEBHOOK_SK {
        let (org, env) = tenant()?;
        Some((schema::webhook_quota_pk(org, env), "count"))
    } else if pk.starts_with("KEY#") && sk == schema::KEY_SK && !item.contains_key("revoked_at") {
        let (org, env) = tenant()?;
        Some((schema::key_quota_pk(org, env), "count"))
    } else {
        None
    }
}

/// The attribute a counter partition keeps its count in.
fn attribute_of(pk: &str) -> Option<&'static str> {
    if pk.starts_with("QUOTA#SBX#") {
        Some("running")
    } else if ["QUOTA#LINK#", "QUOTA#DOM#", "QUOTA#WHK#", "QUOTA#KEY#"].iter().any(|p| pk.starts_with(p)) {
        Some("count")
    } else {
        None
    }
}

/// Scans the table, and for each counter that differs from what it holds, prints it and (unless
/// `check`) sets it. Returns how many differed.
pub async fn recount(store: &DynamoStore, check: bool) -> Result<usize, Failure> {
    let mut want: BTreeMap<Counter, i64> = BTreeMap::new();
    let mut have: BTreeMap<Counter, i64> = BTreeMap::new();
    let mut start = None;
    loop {
        let page = store.client().scan().table_name(store.table()).set_exclusive_start_key(start.take()).send().await?;
        for item in page.items() {
            if let Some(counter) = counter_of(item) {
                *want.entry(counter).or_default() += 1;
            }
            let pk = item.get(schema::PK).and_then(|v| v.as_s().ok());
            let is_counter =
                item.get(schema::SK).and_then(|v| v.as_s().ok()).map(String::as_str) == Some(schema::QUOTA_SK);
            if let (Some(pk), true) = (pk, is_counter) {
                if let Some(attribute) = attribute_of(pk) {
                    let count = item.get(attribute).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
                    have.insert((pk.clone(), attribute), count.unwrap_or(0));
                }
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => break,
        }
    }
    let mut differing = 0;
    let counters: std::collections::BTreeSet<&Counter> = want.keys().chain(have.keys()).collect();
    for counter in counters {
        let (wanted, held) = (want.get(counter).copied().unwrap_or(0), have.get(counter).copied().unwrap_or(0));
        if wanted == held {
            continue;
        }
        differing += 1;
        println!("{} {}: {held} -> {wanted}", counter.0, counter.1);
        if !check {
            store
                .client()
                .update_item()
                .table_name(store.table())
                .key(schema::PK, AttributeValue::S(counter.0.clone()))
                .key(schema::SK, AttributeValue::S(schema::QUOTA_SK.to_string()))
                .update_expression("SET #count = :n")
                .expression_attribute_names("#count", counter.1)
                .expression_attribute_values(":n", AttributeValue::N(wanted.to_string()))
                .send()
                .await?;
        }
    }
    Ok(differing)
}
