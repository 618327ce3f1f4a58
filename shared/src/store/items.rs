//! Conversions between records and DynamoDB items. Attribute names live here and in `schema`.

use super::StoreError;
use crate::model::{parse_rfc3339, Environment, OrgId, Tenant};
use crate::schema;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use time::OffsetDateTime;

pub type Item = HashMap<String, AttributeValue>;

pub fn string_attr(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub fn number_attr(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub fn binary_attr(v: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(v))
}

/// The primary key of an item.
pub fn key_of(pk: String, sk: impl Into<String>) -> Item {
    Item::from([(schema::PK.into(), string_attr(pk)), (schema::SK.into(), string_attr(sk))])
}

pub fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).ok_or_else(|| corrupt(name))
}
pub fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}
pub fn opt_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}
pub fn time_of(item: &Item, name: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    opt_s(item, name).map(|v| parse_rfc3339(v).ok_or_else(|| corrupt(name))).transpose()
}

/// The attributes every tenant-owned item carries (`org_id`, `environment`): the one encoder.
pub fn tenant_attributes(tenant: &Tenant) -> [(String, AttributeValue); 2] {
    [
        ("org_id".into(), string_attr(tenant.org_id.as_str())),
        ("environment".into(), string_attr(tenant.environment.as_str())),
    ]
}

/// The tenant a tenant-owned item belongs to: the one decoder.
pub fn tenant_of(item: &Item) -> Result<Tenant, StoreError> {
    Ok(Tenant::new(
        OrgId::parse(get_s(item, "org_id")?).ok_or_else(|| corrupt("org_id"))?,
        Environment::parse(get_s(item, "environment")?).ok_or_else(|| corrupt("environment"))?,
    ))
}
