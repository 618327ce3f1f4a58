//! DynamoDB implementation of the store traits.

use super::{HealthProbe, StoreError};
use crate::schema::{self, IndexDefinition, TableDefinition};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One item by key, strongly consistent (a change just made must be seen).
    pub async fn get_consistent(&self, key: super::items::Item) -> Result<Option<super::items::Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }

    /// Items by key, strongly consistent, all read at once, in the order of `keys`: a page's
    /// items a listing's index does not carry whole (GetItem, which every role reading them is
    /// granted; BatchGetItem would add 20 KB to each zip).
    pub async fn get_all_consistent(
        &self,
        keys: Vec<super::items::Item>,
    ) -> Result<Vec<Option<super::items::Item>>, StoreError> {
        futures_util::future::try_join_all(keys.into_iter().map(|key| self.get_consistent(key))).await
    }
}

/// Maps an SDK failure to a `StoreError`: transport failures, timeouts, throttling and server
/// errors mean "unavailable" (503); anything else is ours to fix.
pub fn classify<E>(err: SdkError<E, HttpResponse>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
{
    let unavailable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            status >= 500
                || matches!(
                    code,
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                )
        }
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::Other(Box::new(err))
    }
}

#[async_trait::async_trait]
impl HealthProbe for DynamoStore {
    async fn probe(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key(schema::PK, AttributeValue::S(schema::HEALTH_PK.into()))
            .key(schema::SK, AttributeValue::S(schema::HEALTH_SK.into()))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// Creates the table from its definition unless it exists; an existing table gets the indexes
/// the definition has and it lacks (so a new index reaches `.dev/` data without wiping it).
/// Returns whether the table was created. Used by `keyhive-admin` for the local stack and by
/// tests; in AWS the table comes from `template.yaml`.
pub async fn ensure_table(client: &Client, name: &str, def: &TableDefinition) -> Result<bool, StoreError> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => {
            for index in add_missing_indexes(client, name, def).await? {
                tracing::info!(table = name, index, "added a missing index");
            }
            return Ok(false);
        }
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {}
        Err(err) => return Err(classify(err)),
    }
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(def.billing_mode))
        .key_schema(key(def.partition_key, KeyType::Hash)?)
        .key_schema(key(def.sort_key, KeyType::Range)?)
        .stream_specification(built(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(def.stream_view_type))
                .build(),
        )?);
    for attribute in &def.attributes {
        request = request.attribute_definitions(attribute_definition(attribute)?);
    }
    for index in &def.global_indexes {
        let (name, keys, projection) = index_parts(index)?;
        request = request.global_secondary_indexes(built(
            GlobalSecondaryIndex::builder().index_name(name).set_key_schema(Some(keys)).projection(projection).build(),
        )?);
    }
    request.send().await.map_err(classify)?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(built(
            TimeToLiveSpecification::builder().enabled(true).attribute_name(def.ttl_attribute).build(),
        )?)
        .send()
        .await
        .map_err(classify)?;
    Ok(true)
}

/// Waits (at most a minute) for a new index to finish building.
/// Deletes an index and waits until it is gone.
async fn drop_index(client: &Client, table: &str, index: &str) -> Result<(), StoreError> {
    let delete = built(aws_sdk_dynamodb::types::DeleteGlobalSecondaryIndexAction::builder().index_name(index).build())?;
    client
        .update_table()
        .table_name(table)
        .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().delete(delete).build())
        .send()
        .await
        .map_err(classify)?;
    for _ in 0..120 {
        match client.describe_table().table_name(table).send().await {
            Ok(described) => {
                let present = described
                    .table
                    .as_ref()
                    .is_some_and(|t| t.global_secondary_indexes().iter().any(|i| i.index_name() == Some(index)));
                if !present {
                    return Ok(());
                }
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {}
            Err(err) => return Err(classify(err)),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(StoreError::Corrupt(format!("index {index} of {table} was not deleted within a minute")))
}

async fn wait_until_active(client: &Client, table: &str, index: &str) -> Result<(), StoreError> {
    for _ in 0..120 {
        let described = match client.describe_table().table_name(table).send().await {
            Ok(described) => described,
            // DynamoDB Local reports the table missing for a moment while it builds the index.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            }
            Err(err) => return Err(classify(err)),
        };
        let active = described.table.as_ref().is_some_and(|t| {
            t.global_secondary_indexes().iter().any(|i| {
                i.index_name() == Some(index) && i.index_status() == Some(&aws_sdk_dynamodb::types::IndexStatus::Active)
            })
        });
        if active {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(StoreError::Corrupt(format!("index {index} of {table} did not become active within a minute")))
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    built(KeySchemaElement::builder().attribute_name(name).key_type(key_type).build())
}

fn attribute_definition((name, kind): &(&str, &str)) -> Result<AttributeDefinition, StoreError> {
    built(AttributeDefinition::builder().attribute_name(*name).attribute_type(ScalarAttributeType::from(*kind)).build())
}

/// An index's name, key schema and projection, as both table creation and index creation take them.
fn index_parts(index: &IndexDefinition) -> Result<(&'static str, Vec<KeySchemaElement>, Projection), StoreError> {
    let keys = vec![key(index.partition_key, KeyType::Hash)?, key(index.sort_key, KeyType::Range)?];
    let mut projection = Projection::builder().projection_type(ProjectionType::from(index.projection));
    for attribute in index.non_key_attributes {
        projection = projection.non_key_attributes(*attribute);
    }
    Ok((index.name, keys, projection.build()))
}

/// Creates, on an existing table, every index of `def` it lacks; returns their names.
pub async fn add_missing_indexes(
    client: &Client,
    name: &str,
    def: &TableDefinition,
) -> Result<Vec<&'static str>, StoreError> {
    let table = client.describe_table().table_name(name).send().await.map_err(classify)?.table;
    let mut existing: Vec<String> = Vec::new();
    for index in table.as_ref().map(|t| t.global_secondary_indexes()).unwrap_or_default() {
        let Some(index_name) = index.index_name() else { continue };
        // An index whose projected attributes differ from the definition (a local table from
        // before a new resource) is rebuilt: listings read what the definition projects.
        let wanted = def.global_indexes.iter().find(|i| i.name == index_name);
        let projected: std::collections::BTreeSet<&str> =
            index.projection().map(|p| p.non_key_attributes().iter().map(String::as_str).collect()).unwrap_or_default();
        let stale = wanted.is_some_and(|w| {
            w.non_key_attributes.iter().copied().collect::<std::collections::BTreeSet<_>>() != projected
        });
        if stale {
            drop_index(client, name, index_name).await?;
        } else {
            existing.push(index_name.to_string());
        }
    }
    let mut added = Vec::new();
    for index in def.global_indexes.iter().filter(|i| !existing.iter().any(|e| e == i.name)) {
        let mut request = client.update_table().table_name(name);
        for attribute in def.attributes.iter().filter(|(a, _)| *a == index.partition_key || *a == index.sort_key) {
            request = request.attribute_definitions(attribute_definition(attribute)?);
        }
        let (index_name, keys, projection) = index_parts(index)?;
        let create = built(
            CreateGlobalSecondaryIndexAction::builder()
                .index_name(index_name)
                .set_key_schema(Some(keys))
                .projection(projection)
                .build(),
        )?;
        request = request.global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build());
        // One index per call, and the next only once this one is active: DynamoDB builds one at a
        // time per table (and DynamoDB Local briefly reports the table missing right after).
        let mut attempts = 0;
        loop {
            match request.clone().send().await {
                Ok(_) => break,
                Err(err)
                    if attempts < 40
                        && err.as_service_error().is_some_and(|e| {
                            e.is_resource_not_found_exception()
                                || e.is_limit_exceeded_exception()
                                || e.is_resource_in_use_exception()
                        }) =>
                {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Err(err) => return Err(classify(err)),
            }
        }
        wait_until_active(client, name, index.name).await?;
        added.push(index.name);
    }
    Ok(added)
}

/// A built SDK value, or the builder's error as a store error.
pub(crate) fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Other(Box::new(e)))
}
