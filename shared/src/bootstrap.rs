//! An organization's bootstrap: the operator's command (`keyhive-admin bootstrap`) creates an
//! organization and its first admin key together, outside any request, with its audit entry.
//! Organizations are stored here and nowhere else: their store trait and its DynamoDB
//! implementation sit beside the one operation that writes them.

use crate::auth::permissions::Permissions;
use crate::auth::secrets::HashingSecret;
use crate::auth::{CreatedBy, Credential, KeyRecord, Organization};
use crate::change::{AuditAction, AuditEntry, ChangeLog};
use crate::error::ApiError;
use crate::model::{rfc3339, Environment, KeyId, KeyType, OrgId, Tier};
use crate::schema;
use crate::store::dynamo::DynamoStore;
use crate::store::items::{key_of, number_attr, string_attr, Item};
use crate::store::ChangeError;

/// The operator's bootstrap: a new organization and its first admin bot key (every permission).
pub async fn bootstrap_org<S: OrgStore>(
    store: &S,
    prefix: &str,
    secret: &HashingSecret,
    org_name: &str,
    environment: Environment,
    tier: Tier,
) -> Result<(OrgId, KeyRecord, Credential), ApiError> {
    let now = crate::model::now();
    let org = Organization { org_id: OrgId::generate(), name: org_name.to_string(), created_at: now };
    let credential = Credential::mint(prefix, environment, KeyId::generate());
    let record = KeyRecord {
        key_id: credential.key_id.clone(),
        org_id: org.org_id.clone(),
        environment,
        key_type: KeyType::Bot,
        user_id: None,
        owner_name: None,
        name: "admin (bootstrap)".into(),
        permissions: Permissions::all(),
        tier,
        secret_hash: credential.hash(secret),
        previous: None,
        last4: credential.last4(),
        created_at: now,
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
        disabled_at: None,
        created_by: CreatedBy::Bootstrap,
    };
    let log = ChangeLog {
        audits: vec![AuditEntry {
            org_id: org.org_id.clone(),
            environment,
            at: now,
            request_id: crate::model::random_id("boot", 20),
            actor_key_id: None,
            actor_user_id: None,
            actor_system: None,
            action: AuditAction::OrgBootstrapped,
            target_id: record.key_id.to_string(),
        }],
        events: Vec::new(),
        idempotency: None,
    };
    store.create_org(&org, &record, &log).await?;
    Ok((org.org_id, record, credential))
}

/// Organizations: the operator's bootstrap of one and its first key.
#[async_trait::async_trait]
pub trait OrgStore: Send + Sync {
    /// An organization and its first admin key, together.
    async fn create_org(&self, org: &Organization, admin_key: &KeyRecord, log: &ChangeLog) -> Result<(), ChangeError>;
}

pub fn org_item(o: &Organization) -> Item {
    Item::from([
        (schema::PK.into(), string_attr(schema::org_pk(o.org_id.as_str()))),
        (schema::SK.into(), string_attr(schema::ORG_SK)),
        ("org_id".into(), string_attr(o.org_id.as_str())),
        ("name".into(), string_attr(&o.name)),
        ("created_at".into(), string_attr(rfc3339(o.created_at))),
    ])
}

#[async_trait::async_trait]
impl OrgStore for DynamoStore {
    async fn create_org(&self, org: &Organization, admin_key: &KeyRecord, log: &ChangeLog) -> Result<(), ChangeError> {
        let collision = || ChangeError::Conflict("organization or key id collision; retry".into());
        let mut tx = self.transaction();
        let org_item = tx.create(org_item(org))?;
        let key_item = tx.create(crate::auth::store::key_item(admin_key))?;
        // The first key counts against the organization's key ceiling like any other.
        let count = key_of(schema::key_quota_pk(org.org_id.as_str(), admin_key.environment.as_str()), schema::QUOTA_SK);
        tx.update(count, |u| {
            u.update_expression("ADD #count :one")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":one", number_attr(1))
        })?;
        tx.on_condition(org_item, collision()).on_condition(key_item, collision()).log(log)?;
        tx.commit().await
    }
}
