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

/// An item in the DynamoDB JSON of a Lambda event (`{"S": "..."}`, `{"N": "1"}`, base64 `B`,
/// sets, lists, maps), as the table's stream delivers `Keys` and `NewImage`. `None` when a value
/// is not one.
pub fn item_from_event_json(value: &serde_json::Value) -> Option<Item> {
    value.as_object()?.iter().map(|(name, v)| Some((name.clone(), attribute_from_event_json(v)?))).collect()
}

fn attribute_from_event_json(value: &serde_json::Value) -> Option<AttributeValue> {
    use base64::Engine as _;
    let blob = |v: &serde_json::Value| -> Option<Blob> {
        base64::engine::general_purpose::STANDARD.decode(v.as_str()?).ok().map(Blob::new)
    };
    let strings = |v: &serde_json::Value| -> Option<Vec<String>> {
        v.as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect()
    };
    let (kind, v) = value.as_object().filter(|o| o.len() == 1)?.iter().next()?;
    Some(match kind.as_str() {
        "S" => AttributeValue::S(v.as_str()?.to_string()),
        "N" => AttributeValue::N(v.as_str()?.to_string()),
        "B" => AttributeValue::B(blob(v)?),
        "BOOL" => AttributeValue::Bool(v.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings(v)?),
        "NS" => AttributeValue::Ns(strings(v)?),
        "BS" => AttributeValue::Bs(v.as_array()?.iter().map(blob).collect::<Option<_>>()?),
        "L" => AttributeValue::L(v.as_array()?.iter().map(attribute_from_event_json).collect::<Option<_>>()?),
        "M" => AttributeValue::M(item_from_event_json(v)?),
        _ => return None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stream_image_reads_as_the_item_it_is() {
        let image = json!({
            "PK": {"S": "KEY#abc"}, "u_n": {"N": "7"}, "h": {"B": "AAEC"}, "ok": {"BOOL": true},
            "gone": {"NULL": true}, "refs": {"SS": ["a", "b"]}, "l": {"L": [{"N": "1"}, {"M": {"x": {"S": "y"}}}]}
        });
        let item = item_from_event_json(&image).expect("an item");
        assert_eq!(item["PK"], string_attr("KEY#abc"));
        assert_eq!(opt_n(&item, "u_n"), Some(7));
        assert_eq!(item["h"], binary_attr(&[0, 1, 2]));
        assert_eq!(item["refs"], AttributeValue::Ss(vec!["a".into(), "b".into()]));
        assert_eq!(
            item["l"],
            AttributeValue::L(vec![number_attr(1), AttributeValue::M(Item::from([("x".into(), string_attr("y"))]))])
        );
        for bad in [json!({"PK": {"Q": "x"}}), json!({"PK": {"S": 1}}), json!({"PK": {"S": "a", "N": "1"}}), json!([])]
        {
            assert_eq!(item_from_event_json(&bad), None, "{bad}");
        }
    }
}
