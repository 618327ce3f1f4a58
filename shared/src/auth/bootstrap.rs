//! An organization's bootstrap: the operator's command (`keyhive-admin bootstrap`) creates an
//! organization and its first admin key together, outside any request.

use crate::auth::permissions::Permissions;
use crate::auth::secrets::HashingSecret;
use crate::auth::{Credential, Environment, KeyId, KeyType, Tier};
use crate::change::{AuditAction, AuditEntry, ChangeLog};
use crate::http::error::ApiError;
use crate::model::{CreatedBy, KeyRecord, OrgId};
use crate::store::OrgStore;

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
    let org = crate::model::Organization { org_id: OrgId::generate(), name: org_name.to_string(), created_at: now };
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
            action: AuditAction::OrgBootstrapped,
            target_id: record.key_id.to_string(),
        }],
        events: Vec::new(),
        idempotency: None,
    };
    store.create_org(&org, &record, &log).await?;
    Ok((org.org_id, record, credential))
}
