//! Permissions: a map resource -> actions. Parsing is where validation happens: a
//! `Permissions` value only ever holds known resources and actions.

use crate::error::ApiError;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Sandboxes,
    ShortLinks,
    Domains,
    Stats,
    Files,
    ApiKeys,
    Webhooks,
    Members,
    Audit,
}

impl Resource {
    pub const ALL: [Resource; 9] = [
        Resource::Sandboxes,
        Resource::ShortLinks,
        Resource::Domains,
        Resource::Stats,
        Resource::Files,
        Resource::ApiKeys,
        Resource::Webhooks,
        Resource::Members,
        Resource::Audit,
    ];

    /// The public spelling (`shortLinks`, `apiKeys`).
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Sandboxes => "sandboxes",
            Resource::ShortLinks => "shortLinks",
            Resource::Domains => "domains",
            Resource::Stats => "stats",
            Resource::Files => "files",
            Resource::ApiKeys => "apiKeys",
            Resource::Webhooks => "webhooks",
            Resource::Members => "members",
            Resource::Audit => "audit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Create, Action::Read, Action::Update, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The action's letter in the compact form (`c`, `r`, `u`, `d`).
    fn letter(self) -> char {
        match self {
            Action::Create => 'c',
            Action::Read => 'r',
            Action::Update => 'u',
            Action::Delete => 'd',
        }
    }
}

/// `resource:action`, as named in `details.required`.
pub fn permission_name(resource: Resource, action: Action) -> String {
    format!("{}:{}", resource.as_str(), action.as_str())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(BTreeMap<Resource, BTreeSet<Action>>);

impl Permissions {
    /// Every action on every resource (a bootstrap admin key).
    pub fn all() -> Self {
        Permissions(Resource::ALL.into_iter().map(|r| (r, Action::ALL.into_iter().collect())).collect())
    }

    pub fn allows(&self, resource: Resource, action: Action) -> bool {
        self.0.get(&resource).is_some_and(|actions| actions.contains(&action))
    }

    /// True when every permission of `self` is held by `other` (no escalation).
    pub fn is_subset_of(&self, other: &Permissions) -> bool {
        self.0.iter().all(|(resource, actions)| actions.iter().all(|a| other.allows(*resource, *a)))
    }

    /// The permissions of `self` that `other` lacks, as `resource:action` names.
    pub fn missing_from(&self, other: &Permissions) -> Vec<String> {
        self.0
            .iter()
            .flat_map(|(r, actions)| actions.iter().map(move |a| (*r, *a)))
            .filter(|(r, a)| !other.allows(*r, *a))
            .map(|(r, a)| permission_name(r, a))
            .collect()
    }

    /// Parses the public JSON form `{"shortLinks": ["create", "read"], ...}`. `field` names the
    /// body field for error details.
    pub fn from_json(field: &str, value: &Value) -> Result<Self, ApiError> {
        let Value::Object(map) = value else {
            return Err(ApiError::validation(field, "must be an object of resource -> array of actions"));
        };
        let mut out = BTreeMap::new();
        for (resource_name, actions) in map {
            let path = format!("{field}.{resource_name}");
            let resource =
                Resource::parse(resource_name).ok_or_else(|| ApiError::validation(&path, "is not a known resource"))?;
            let Value::Array(actions) = actions else {
                return Err(ApiError::validation(&path, "must be an array of actions"));
            };
            let mut set = BTreeSet::new();
            for action in actions {
                let action = action.as_str().and_then(Action::parse).ok_or_else(|| {
                    ApiError::validation(&path, "holds an unknown action (create, read, update, delete)")
                })?;
                set.insert(action);
            }
            if !set.is_empty() {
                out.insert(resource, set);
            }
        }
        Ok(Permissions(out))
    }

    pub fn to_json(&self) -> Value {
        let map: Map<String, Value> = self
            .0
            .iter()
            .map(|(r, actions)| {
                (
                    r.as_str().to_string(),
                    Value::Array(actions.iter().map(|a| Value::String(a.as_str().into())).collect()),
                )
            })
            .collect();
        Value::Object(map)
    }

    /// Compact scalar form for the authorizer context and the stored key item, a resource's
    /// actions as letters: `shortLinks:cr,apiKeys:crud` (every permission in about 120 bytes:
    /// the key item that every request writes stays one write unit).
    pub fn to_compact(&self) -> String {
        self.0
            .iter()
            .map(|(r, actions)| format!("{}:{}", r.as_str(), actions.iter().map(|a| a.letter()).collect::<String>()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The form items were stored in before the letters: `apiKeys:create,apiKeys:read,...`. A
    /// condition on a stored key's permissions accepts either.
    pub fn to_long_compact(&self) -> String {
        self.0
            .iter()
            .flat_map(|(r, actions)| actions.iter().map(move |a| permission_name(*r, *a)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads either compact form (and a mix: each `resource:` takes an action's name or letters).
    pub fn from_compact(s: &str) -> Option<Self> {
        let mut out: BTreeMap<Resource, BTreeSet<Action>> = BTreeMap::new();
        for item in s.split(',').filter(|i| !i.is_empty()) {
            let (r, a) = item.split_once(':')?;
            let actions = out.entry(Resource::parse(r)?).or_default();
            match Action::parse(a) {
                Some(action) => {
                    actions.insert(action);
                }
                None if !a.is_empty() => {
                    for letter in a.chars() {
                        actions.insert(Action::ALL.into_iter().find(|x| x.letter() == letter)?);
                    }
                }
                None => return None,
            }
        }
        Some(Permissions(out))
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_compact())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_public_spelling_and_round_trips_both_forms() {
        let p = Permissions::from_json("permissions", &json!({"shortLinks": ["create", "read"], "apiKeys": ["read"]}))
            .unwrap();
        assert!(p.allows(Resource::ShortLinks, Action::Create));
        assert!(!p.allows(Resource::ShortLinks, Action::Delete));
        assert_eq!(Permissions::from_compact(&p.to_compact()), Some(p.clone()));
        assert_eq!(Permissions::from_json("p", &p.to_json()).unwrap(), p);
        assert_eq!(p.to_compact(), "shortLinks:cr,apiKeys:r");
        assert_eq!(p.to_long_compact(), "shortLinks:create,shortLinks:read,apiKeys:read");
        assert_eq!(Permissions::from_compact(&p.to_long_compact()), Some(p.clone()), "items stored before");
        assert_eq!(Permissions::all().to_compact().len(), 116, "every permission, compact");
    }

    #[test]
    fn unknown_resources_and_actions_are_validation_errors_naming_the_field() {
        let err = Permissions::from_json("permissions", &json!({"links": ["read"]})).unwrap_err();
        assert!(matches!(err, ApiError::Validation { ref field, .. } if field == "permissions.links"));
        let err = Permissions::from_json("permissions", &json!({"sandboxes": ["execute"]})).unwrap_err();
        assert!(matches!(err, ApiError::Validation { ref field, .. } if field == "permissions.sandboxes"));
        assert!(Permissions::from_json("permissions", &json!(["sandboxes"])).is_err());
        assert!(Permissions::from_compact("sandboxes:fly").is_none());
        assert!(Permissions::from_compact("sandboxes:").is_none());
        assert!(Permissions::from_compact("sandboxes:crx").is_none());
    }

    #[test]
    fn subset_is_what_prevents_escalation() {
        let admin = Permissions::all();
        let reader = Permissions::from_json("p", &json!({"apiKeys": ["read", "create"]})).unwrap();
        let more = Permissions::from_json("p", &json!({"apiKeys": ["read", "create", "delete"]})).unwrap();
        assert!(reader.is_subset_of(&admin));
        assert!(!more.is_subset_of(&reader));
        assert_eq!(more.missing_from(&reader), vec!["apiKeys:delete".to_string()]);
        assert!(Permissions::default().is_subset_of(&reader));
    }
}
