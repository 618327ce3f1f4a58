//! The table's stream as the aggregators read it: a Lambda stream event (in AWS, filtered by the
//! event source mapping), or DynamoDB Local's stream read with the streams API (the local loops of
//! `make dev` and the test stack). Both become `StreamRecord`s, and from there the same code
//! counts them.

use crate::store::dynamo::DynamoStore;
use crate::store::items::{item_from_event_json, Item};
use crate::store::StoreError;
use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};
use std::collections::{BTreeMap, BTreeSet};

/// One stream record: its position in the stream, what happened (`INSERT`, `MODIFY`, `REMOVE`),
/// the item's key and its new image (none for a removal).
#[derive(Debug, Clone, Default)]
pub struct StreamRecord {
    pub sequence_number: String,
    pub event_name: String,
    pub keys: Item,
    pub new_image: Option<Item>,
}

/// The records of a Lambda DynamoDB stream event, in order.
pub fn records_of_event(payload: &serde_json::Value) -> Vec<StreamRecord> {
    let records = payload["Records"].as_array().map(Vec::as_slice).unwrap_or_default();
    records
        .iter()
        .map(|record| {
            let change = &record["dynamodb"];
            StreamRecord {
                sequence_number: change["SequenceNumber"].as_str().unwrap_or_default().to_string(),
                event_name: record["eventName"].as_str().unwrap_or_default().to_string(),
                keys: item_from_event_json(&change["Keys"]).unwrap_or_default(),
                new_image: item_from_event_json(&change["NewImage"]),
            }
        })
        .collect()
}

/// The streams API's attribute values as the table API's.
fn table_value(value: StreamValue) -> Option<aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::AttributeValue as V;
    Some(match value {
        StreamValue::S(s) => V::S(s),
        StreamValue::N(n) => V::N(n),
        StreamValue::B(b) => V::B(Blob::new(b.into_inner())),
        StreamValue::Bool(b) => V::Bool(b),
        StreamValue::Null(n) => V::Null(n),
        StreamValue::Ss(v) => V::Ss(v),
        StreamValue::Ns(v) => V::Ns(v),
        StreamValue::Bs(v) => V::Bs(v.into_iter().map(|b| Blob::new(b.into_inner())).collect()),
        StreamValue::L(v) => V::L(v.into_iter().map(table_value).collect::<Option<_>>()?),
        StreamValue::M(m) => V::M(table_item(m)?),
        _ => return None,
    })
}

fn table_item(item: std::collections::HashMap<String, StreamValue>) -> Option<Item> {
    item.into_iter().map(|(name, value)| Some((name, table_value(value)?))).collect()
}

/// Reads a table's stream shard by shard from the oldest record (`TRIM_HORIZON`), as Lambda's
/// event source mapping does: a shard's records in order, a shard once closed and read, never
/// again. Local only: DynamoDB Local serves the streams API on the table's endpoint.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Where each open shard's reading stands.
    iterators: BTreeMap<String, String>,
    finished: BTreeSet<String>,
}

/// A streams client for the local stack: DynamoDB Local serves the streams API on the table's
/// endpoint (`AWS_ENDPOINT_URL_DYNAMODB`).
pub async fn local_streams_client(config: &crate::config::Config) -> aws_sdk_dynamodbstreams::Client {
    let sdk = crate::aws::sdk_config(config).await;
    let mut streams = aws_sdk_dynamodbstreams::config::Builder::from(&sdk);
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        streams = streams.endpoint_url(endpoint);
    }
    aws_sdk_dynamodbstreams::Client::from_conf(streams.build())
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(err: E) -> StoreError {
    StoreError::Unavailable(Box::new(err))
}

impl StreamReader {
    pub fn new(client: aws_sdk_dynamodbstreams::Client, stream_arn: String) -> Self {
        StreamReader { client, stream_arn, iterators: BTreeMap::new(), finished: BTreeSet::new() }
    }

    /// The table's current stream.
    pub async fn stream_of(table: &aws_sdk_dynamodb::Client, name: &str) -> Result<String, StoreError> {
        let described = table.describe_table().table_name(name).send().await.map_err(unavailable)?;
        described
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| StoreError::Other(format!("table {name} has no stream").into()))
    }

    /// The records added since the last call, shard by shard (parents before their children).
    pub async fn next_records(&mut self) -> Result<Vec<StreamRecord>, StoreError> {
        let mut shards = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .map_err(unavailable)?;
            let Some(description) = out.stream_description else { break };
            for shard in description.shards.unwrap_or_default() {
                if let Some(id) = shard.shard_id {
                    shards.push((id, shard.parent_shard_id));
                }
            }
            match description.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        // Parents first: a child's records come after its parent's.
        let ids: BTreeSet<String> = shards.iter().map(|(id, _)| id.clone()).collect();
        let mut ordered: Vec<String> = Vec::new();
        let mut pending = shards;
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|(id, parent)| {
                let ready = parent.as_ref().is_none_or(|p| !ids.contains(p) || ordered.contains(p));
                if ready {
                    ordered.push(id.clone());
                }
                !ready
            });
            if pending.len() == before {
                ordered.extend(pending.drain(..).map(|(id, _)| id));
            }
        }
        let mut records = Vec::new();
        for shard in ordered {
            if self.finished.contains(&shard) {
                continue;
            }
            let mut iterator = match self.iterators.remove(&shard) {
                Some(iterator) => iterator,
                None => {
                    let out = self
                        .client
                        .get_shard_iterator()
                        .stream_arn(&self.stream_arn)
                        .shard_id(&shard)
                        .shard_iterator_type(ShardIteratorType::TrimHorizon)
                        .send()
                        .await
                        .map_err(unavailable)?;
                    match out.shard_iterator {
                        Some(iterator) => iterator,
                        None => {
                            self.finished.insert(shard);
                            continue;
                        }
                    }
                }
            };
            // A shard's records up to where it stands now, page by page.
            loop {
                let out = self
                    .client
                    .get_records()
                    .shard_iterator(&iterator)
                    .limit(1000)
                    .send()
                    .await
                    .map_err(unavailable)?;
                let got = out.records.as_ref().map_or(0, Vec::len);
                for record in out.records.unwrap_or_default() {
                    let event_name = record.event_name.as_ref().map(|e| e.as_str().to_string()).unwrap_or_default();
                    let Some(change) = record.dynamodb else { continue };
                    records.push(StreamRecord {
                        sequence_number: change.sequence_number.unwrap_or_default(),
                        event_name,
                        keys: change.keys.and_then(table_item).unwrap_or_default(),
                        new_image: change.new_image.and_then(table_item),
                    });
                }
                match out.next_shard_iterator {
                    Some(next) if got > 0 => iterator = next,
                    Some(next) => {
                        self.iterators.insert(shard.clone(), next);
                        break;
                    }
                    None => {
                        self.finished.insert(shard.clone());
                        break;
                    }
                }
            }
        }
        Ok(records)
    }
}

/// How an aggregator counts a batch of stream records: the sequence number of the record to
/// deliver again from (as Lambda does with a failed batch, from its first failed record), or
/// `None` when everything is counted.
pub type CountBatch =
    for<'a> fn(&'a DynamoStore, &'a [StreamRecord]) -> futures_util::future::LocalBoxFuture<'a, Option<String>>;

/// An aggregator's whole run, for its `main`: in AWS a `lambda_runtime` function on the table's
/// stream (a batch not all counted is reported with `ReportBatchItemFailures` and delivered
/// again); locally (`KEYHIVE_AGGREGATE_EVERY_MS` set, as `make dev` and the test stack do) the
/// same `count` in a loop over DynamoDB Local's stream.
pub async fn serve_aggregator(count: CountBatch) -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{run, service_fn, LambdaEvent};
    crate::telemetry::init();
    let config = crate::config::Config::from_env();
    let sdk = crate::aws::sdk_config(&config).await;
    let store = DynamoStore::new(crate::aws::dynamodb(&sdk), config.table_name.clone());
    let every = std::env::var("KEYHIVE_AGGREGATE_EVERY_MS").ok().and_then(|v| v.parse::<u64>().ok());
    match every {
        Some(millis) => {
            follow_locally(&config, &store, std::time::Duration::from_millis(millis.max(50)), count).await;
            Ok(())
        }
        None => {
            let store = &store;
            run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
                let records = records_of_event(&event.payload);
                let failures: Vec<serde_json::Value> = count(store, &records)
                    .await
                    .map(|sequence| serde_json::json!({ "itemIdentifier": sequence }))
                    .into_iter()
                    .collect();
                Ok::<_, lambda_http::Error>(serde_json::json!({ "batchItemFailures": failures }))
            }))
            .await
        }
    }
}

/// The aggregators' local loop: what the table's stream added since the last round, counted; a
/// round that could not count everything keeps the rest, from the record `count` names, for the
/// next. Runs until the process ends.
async fn follow_locally(
    config: &crate::config::Config,
    table: &DynamoStore,
    every: std::time::Duration,
    count: CountBatch,
) {
    let client = local_streams_client(config).await;
    let mut reader = None;
    let mut carried: Vec<StreamRecord> = Vec::new();
    loop {
        if reader.is_none() {
            match StreamReader::stream_of(table.client(), table.table()).await {
                Ok(arn) => reader = Some(StreamReader::new(client.clone(), arn)),
                Err(err) => tracing::warn!(error = %crate::error::source_chain(&err), "no stream yet"),
            }
        }
        if let Some(reader) = reader.as_mut() {
            match reader.next_records().await {
                Ok(records) => carried.extend(records),
                Err(err) => {
                    tracing::warn!(error = %crate::error::source_chain(&err), "stream read failed; trying again next round")
                }
            }
        }
        if !carried.is_empty() {
            let resume = count(table, &carried).await;
            match resume.and_then(|sequence| carried.iter().position(|r| r.sequence_number == sequence)) {
                Some(first) => drop(carried.drain(..first)),
                None => carried.clear(),
            }
        }
        tokio::time::sleep(every).await;
    }
}
