//! The keys function's store: key management and members, behind two small traits, with their
//! DynamoDB implementation beside them. Every change is one transaction carrying its change log.

use crate::model::{KeyMeta, Member};
use async_trait::async_trait;
use keyhive::auth::permissions::Permissions;
use keyhive::auth::store::{key_item, key_record};
use keyhive::auth::Environment;
use keyhive::auth::KeyRecord;
use keyhive::auth::KeyStore;
use keyhive::auth::{KeyId, KeyType, SecretHash, Tier};
use keyhive::change::ChangeLog;
use keyhive::model::{rfc3339, OrgId, UserId};
use keyhive::schema;
use keyhive::store::cursor::Position;
use keyhive::store::dynamo::DynamoStore;
use keyhive::store::items::{binary_attr, corrupt, get_s, key_of, number_attr, string_attr, time_of, Item};
use keyhive::store::query::{Filter, Listing, SortRange};
use keyhive::store::{ChangeError, Page, StoreError};
use time::OffsetDateTime;

/// What a key listing keeps, applied in the query (never after it, so pages stay full).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// Only keys of this environment (a test key's listing).
    pub environment: Option<Environment>,
    /// Only keys created by this key id, or by keys of this user id.
    pub created_by: Option<String>,
    /// Only keys with this external id (read from its own index partition).
    pub external_id: Option<String>,
}

/// A change to an existing key. Each is one transaction with its change log, and each is refused
/// if the key was revoked or its permissions changed since it was read.
#[derive(Debug)]
pub enum KeyChange {
    Settings {
        name: String,
        permissions: Permissions,
        tier: Tier,
        expires_at: Option<OffsetDateTime>,
        /// `Some`: switched off since then; `None`: on.
        disabled_at: Option<OffsetDateTime>,
        /// `Some`: the metadata as it will be (replacing what is stored); `None`: unchanged.
        meta: Option<KeyMeta>,
    },
    Roll {
        secret_hash: SecretHash,
        last4: String,
        previous: Option<(SecretHash, i64)>,
    },
    Revoke {
        at: OffsetDateTime,
        /// The hash of a leaked secret it is revoked for, kept so that a repeated report of the
        /// same secret is still recognised (the key's own hashes are removed).
        leaked: Option<SecretHash>,
    },
}

/// Managing API keys (authentication reads them through the kernel's `KeyStore`).
#[async_trait]
pub trait KeyAdminStore: KeyStore {
    /// The organization's unrevoked keys that pass `filter`, newest first, from `start` on,
    /// each with its metadata.
    async fn list_keys(
        &self,
        org: &OrgId,
        filter: &KeyFilter,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<(KeyRecord, KeyMeta)>, ChangeError>;
    /// Creates a key with its metadata, taking one of its organization and environment's `max_keys` slots (`ChangeError::Quota`
    /// when none is left); a user key also claims its member's one-key slot (409 if taken).
    async fn create_key(
        &self,
        record: &KeyRecord,
        meta: &KeyMeta,
        max_keys: u32,
        log: &ChangeLog,
    ) -> Result<(), ChangeError>;
    /// A key's metadata (empty when it has none), strongly consistent.
    async fn get_key_meta(&self, key_id: &KeyId) -> Result<KeyMeta, StoreError>;
    /// A key as stored and its metadata, in one strongly consistent read.
    async fn get_key_with_meta(&self, key_id: &KeyId) -> Result<(Option<KeyRecord>, KeyMeta), StoreError>;
    /// A key as stored, with the hash of the leaked secret it was revoked for, if it was (one
    /// read).
    async fn key_with_leak(&self, key_id: &KeyId) -> Result<Option<(KeyRecord, Option<SecretHash>)>, StoreError>;
    async fn change_key(&self, current: &KeyRecord, change: &KeyChange, log: &ChangeLog) -> Result<(), ChangeError>;
}

/// An organization's members.
#[async_trait]
pub trait MemberStore: Send + Sync {
    async fn get_member(&self, org: &OrgId, user_id: &UserId) -> Result<Option<Member>, StoreError>;
    async fn list_members(
        &self,
        org: &OrgId,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Member>, ChangeError>;
    async fn create_member(&self, member: &Member, log: &ChangeLog) -> Result<(), ChangeError>;
    /// The id of the member's user key, if they hold one (strongly consistent).
    async fn user_key_of(&self, member: &Member) -> Result<Option<KeyId>, StoreError>;
    /// Removes the member and, in the same transaction, deletes `user_key` (what `user_key_of`
    /// found, with its environment, whose key count it gives back). Refused as a conflict when
    /// the member's key changed since: no key is orphaned.
    async fn remove_member(
        &self,
        member: &Member,
        user_key: Option<(&KeyId, Environment)>,
        log: &ChangeLog,
    ) -> Result<(), ChangeError>;
}

fn key_item_key(key_id: &KeyId) -> Item {
    key_of(schema::key_pk(key_id.as_str()), schema::KEY_SK)
}

fn key_meta_key(key_id: &KeyId) -> Item {
    key_of(schema::key_pk(key_id.as_str()), schema::KEY_META_SK)
}

fn key_expiry_key(key_id: &KeyId) -> Item {
    key_of(schema::key_pk(key_id.as_str()), schema::KEY_EXPIRY_SK)
}

/// The metadata item of `record`: in the external-id index when it has one.
fn key_meta_item(record: &KeyRecord, meta: &KeyMeta) -> Item {
    let mut item = key_meta_key(&record.key_id);
    item.extend([
        ("key_id".into(), string_attr(record.key_id.as_str())),
        ("org_id".into(), string_attr(record.org_id.as_str())),
        ("environment".into(), string_attr(record.environment.as_str())),
        ("created_at".into(), string_attr(rfc3339(record.created_at))),
        ("created_by".into(), string_attr(record.created_by.key_id_str())),
        ("meta".into(), string_attr(serde_json::Value::Object(meta.meta.clone()).to_string())),
    ]);
    if let Some(creator_user) = record.created_by.user_id() {
        item.insert("created_by_user".into(), string_attr(creator_user.as_str()));
    }
    if let Some(external_id) = &meta.external_id {
        item.insert("external_id".into(), string_attr(external_id));
        item.insert(
            schema::GSI1PK.into(),
            string_attr(schema::key_external_gsi1pk(record.org_id.as_str(), external_id)),
        );
        item.insert(
            schema::GSI1SK.into(),
            string_attr(schema::org_keys_gsi1sk(&rfc3339(record.created_at), record.key_id.as_str())),
        );
    }
    item
}

fn key_meta_of(item: &Item) -> Result<KeyMeta, StoreError> {
    let meta = match keyhive::store::items::opt_s(item, "meta") {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(corrupt("meta")),
        },
    };
    Ok(KeyMeta { meta, external_id: keyhive::store::items::opt_s(item, "external_id").map(str::to_string) })
}

/// The expiry-notice item of a key that expires at `expires_at`, no notice sent yet: in the
/// notices job's index under the time its first notice falls due (7 days before the expiry, or
/// now if that is past), until its `key.expired` is sent.
pub fn key_expiry_item(key_id: &KeyId, expires_at: OffsetDateTime) -> Item {
    let first_due = (expires_at - time::Duration::days(crate::notices::FIRST_NOTICE_DAYS)).max(keyhive::model::now());
    let mut item = key_expiry_key(key_id);
    item.extend([
        ("key_id".into(), string_attr(key_id.as_str())),
        ("expires_epoch".into(), number_attr(expires_at.unix_timestamp())),
    ]);
    item.extend(expiry_index_keys(key_id, first_due));
    item
}

/// The notices job's index keys of a key whose next notice falls due at `due`.
pub fn expiry_index_keys(
    key_id: &KeyId,
    due: OffsetDateTime,
) -> [(String, aws_sdk_dynamodb::types::AttributeValue); 2] {
    let due = rfc3339(due);
    let day = due.get(..10).unwrap_or_default().to_string();
    [
        (schema::GSI2PK.into(), string_attr(schema::key_expiry_gsi2pk(&day))),
        (schema::GSI2SK.into(), string_attr(schema::key_expiry_gsi2sk(&due, key_id.as_str()))),
    ]
}

fn user_key_claim(org: &OrgId, user: &UserId) -> Item {
    key_of(schema::org_pk(org.as_str()), schema::user_key_sk(user.as_str()))
}

#[async_trait]
impl KeyAdminStore for DynamoStore {
    async fn list_keys(
        &self,
        org: &OrgId,
        filter: &KeyFilter,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<(KeyRecord, KeyMeta)>, ChangeError> {
        let mut query_filter = Filter::default();
        if let Some(environment) = filter.environment {
            query_filter.and("#env = :env", &[("#env", "environment")], &[(":env", environment.as_str())]);
        }
        if let Some(creator) = &filter.created_by {
            query_filter.and("(created_by = :creator OR created_by_user = :creator)", &[], &[(":creator", creator)]);
        }
        // The metadata items of one external id have an index partition of their own, with the
        // key's environment and creator copied onto them for the same filters.
        let partition = match &filter.external_id {
            Some(external_id) => schema::key_external_gsi1pk(org.as_str(), external_id),
            None => schema::org_keys_gsi1pk(org.as_str()),
        };
        let listing = Listing {
            index: Some(schema::GSI1),
            partition_attr: schema::GSI1PK,
            partition,
            sort_attr: schema::GSI1SK,
            range: SortRange::All,
            filter: query_filter,
            key_attrs: &[schema::PK, schema::SK, schema::GSI1PK, schema::GSI1SK],
        };
        let (found, next) = self.list_page(&listing, start, limit).await?;
        let ids = found
            .iter()
            .map(|item| KeyId::parse(get_s(item, "key_id")?).ok_or_else(|| corrupt("key_id")))
            .collect::<Result<Vec<_>, _>>()?;
        // GSI1 carries neither what every request writes (`last_used_at`) nor what changes after
        // creation (`disabled_at`, metadata): each key is read whole, with its metadata.
        let items = keys_with_meta(self, &ids).await?;
        Ok(Page { items, next })
    }

    async fn create_key(
        &self,
        record: &KeyRecord,
        meta: &KeyMeta,
        max_keys: u32,
        log: &ChangeLog,
    ) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let key = tx.create(key_item(record))?;
        tx.on_condition(key, ChangeError::Conflict("key id collision; retry".into()));
        if !meta.is_empty() {
            tx.put(key_meta_item(record, meta), None)?;
        }
        if let Some(expires_at) = record.expires_at {
            tx.put(key_expiry_item(&record.key_id, expires_at), None)?;
        }
        tx.take_slot(
            key_count_key(&record.org_id, record.environment),
            "count",
            max_keys,
            ChangeError::Quota(format!(
                "this organization has {max_keys} keys in this environment already; revoke one first"
            )),
        )?;
        if let (KeyType::User, Some(user)) = (record.key_type, &record.user_id) {
            let mut claim = user_key_claim(&record.org_id, user);
            claim.insert("key_id".into(), string_attr(record.key_id.as_str()));
            let claimed = tx.create(claim)?;
            let member = key_of(schema::org_pk(record.org_id.as_str()), schema::member_sk(user.as_str()));
            let is_member = tx.check(member, "attribute_exists(PK)")?;
            tx.on_condition(claimed, ChangeError::Claimed("this user already has a user key".into())).on_condition(
                is_member,
                ChangeError::Missing { field: "user_id", reason: "is not a member of this organization".into() },
            );
        }
        tx.log(log)?;
        tx.commit().await
    }

    async fn get_key_meta(&self, key_id: &KeyId) -> Result<KeyMeta, StoreError> {
        let item = self.get_consistent(key_meta_key(key_id)).await?;
        Ok(item.as_ref().map(key_meta_of).transpose()?.unwrap_or_default())
    }

    async fn get_key_with_meta(&self, key_id: &KeyId) -> Result<(Option<KeyRecord>, KeyMeta), StoreError> {
        // The key item (`KEY`) and its metadata (`META`) share the key's partition and sort next
        // to each other: one Query reads both, one round trip (and one SDK call's CPU) where two
        // reads took two, and one read unit where they took two (while both come to 4 KB).
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#p = :p AND #s BETWEEN :key AND :meta")
            .expression_attribute_names("#p", schema::PK)
            .expression_attribute_names("#s", schema::SK)
            .expression_attribute_values(":p", string_attr(schema::key_pk(key_id.as_str())))
            .expression_attribute_values(":key", string_attr(schema::KEY_SK))
            .expression_attribute_values(":meta", string_attr(schema::KEY_META_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(keyhive::store::dynamo::classify)?;
        // Two items fit in a page; a page boundary means items this read does not expect.
        if out.last_evaluated_key().is_some_and(|last| !last.is_empty()) {
            return Err(corrupt("key partition"));
        }
        let (mut key, mut meta) = (None, KeyMeta::default());
        for item in out.items() {
            match keyhive::store::items::opt_s(item, schema::SK) {
                Some(schema::KEY_SK) => key = Some(key_record(item)?),
                Some(schema::KEY_META_SK) => meta = key_meta_of(item)?,
                _ => {}
            }
        }
        Ok((key, meta))
    }

    async fn key_with_leak(&self, key_id: &KeyId) -> Result<Option<(KeyRecord, Option<SecretHash>)>, StoreError> {
        let Some(item) = self.get_consistent(key_item_key(key_id)).await? else { return Ok(None) };
        let leaked =
            item.get("leaked_hash").and_then(|v| v.as_b().ok()).and_then(|b| SecretHash::from_bytes(b.as_ref()));
        Ok(Some((key_record(&item)?, leaked)))
    }

    async fn change_key(&self, current: &KeyRecord, change: &KeyChange, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let key = tx.update(key_item_key(&current.key_id), |update| {
            // The rules judged the key as read, on every axis: it must still be so.
            let expiry_seen = match current.expires_at {
                Some(_) => "expires_epoch = :exp_seen",
                None => "attribute_not_exists(expires_epoch)",
            };
            let update = update
                .condition_expression(format!(
                    "attribute_exists(PK) AND attribute_not_exists(revoked_at) AND org_id = :org AND (#perm = :seen OR #perm = :seen_long) \
                     AND tier = :tier_seen AND rate_limit = :limit_seen AND {expiry_seen}"
                ))
                .expression_attribute_names("#perm", "permissions")
                .expression_attribute_values(":org", string_attr(current.org_id.as_str()))
                .expression_attribute_values(":seen", string_attr(current.permissions.to_compact()))
                // A key stored before the compact letters: its permissions in the long form.
                .expression_attribute_values(":seen_long", string_attr(current.permissions.to_long_compact()))
                .expression_attribute_values(":tier_seen", string_attr(current.tier.name()))
                .expression_attribute_values(":limit_seen", number_attr(current.tier.limit_per_minute()));
            let update = match current.expires_at {
                Some(at) => update.expression_attribute_values(":exp_seen", number_attr(at.unix_timestamp())),
                None => update,
            };
            match change {
                KeyChange::Settings { name, permissions, tier, expires_at, disabled_at, .. } => {
                    let mut set = "SET #name = :name, #perm = :perm, tier = :tier, rate_limit = :limit".to_string();
                    let mut remove: Vec<&str> = Vec::new();
                    let mut u = update
                        .expression_attribute_names("#name", "name")
                        .expression_attribute_values(":name", string_attr(name))
                        .expression_attribute_values(":perm", string_attr(permissions.to_compact()))
                        .expression_attribute_values(":tier", string_attr(tier.name()))
                        .expression_attribute_values(":limit", number_attr(tier.limit_per_minute()));
                    match expires_at {
                        Some(at) => {
                            set.push_str(", expires_at = :exp, expires_epoch = :exp_epoch");
                            u = u
                                .expression_attribute_values(":exp", string_attr(rfc3339(*at)))
                                .expression_attribute_values(":exp_epoch", number_attr(at.unix_timestamp()));
                        }
                        None => remove.extend(["expires_at", "expires_epoch"]),
                    }
                    match disabled_at {
                        Some(at) => {
                            set.push_str(", disabled_at = :disabled");
                            u = u.expression_attribute_values(":disabled", string_attr(rfc3339(*at)));
                        }
                        None => remove.push("disabled_at"),
                    }
                    if !remove.is_empty() {
                        set.push_str(&format!(" REMOVE {}", remove.join(", ")));
                    }
                    u.update_expression(set)
                }
                KeyChange::Roll { secret_hash, last4, previous } => match previous {
                    Some((hash, until)) => update
                        .update_expression("SET secret_hash = :h, last4 = :l4, prev_hash = :ph, prev_valid_until = :pu")
                        .expression_attribute_values(":h", binary_attr(secret_hash.as_bytes()))
                        .expression_attribute_values(":l4", string_attr(last4))
                        .expression_attribute_values(":ph", binary_attr(hash.as_bytes()))
                        .expression_attribute_values(":pu", number_attr(until)),
                    None => update
                        .update_expression("SET secret_hash = :h, last4 = :l4 REMOVE prev_hash, prev_valid_until")
                        .expression_attribute_values(":h", binary_attr(secret_hash.as_bytes()))
                        .expression_attribute_values(":l4", string_attr(last4)),
                },
                KeyChange::Revoke { at, leaked: None } => update
                    .update_expression(
                        "SET revoked_at = :at REMOVE secret_hash, prev_hash, prev_valid_until, GSI1PK, GSI1SK",
                    )
                    .expression_attribute_values(":at", string_attr(rfc3339(*at))),
                KeyChange::Revoke { at, leaked: Some(hash) } => update
                    .update_expression(
                        "SET revoked_at = :at, leaked_hash = :leaked \
                         REMOVE secret_hash, prev_hash, prev_valid_until, GSI1PK, GSI1SK",
                    )
                    .expression_attribute_values(":at", string_attr(rfc3339(*at)))
                    .expression_attribute_values(":leaked", binary_attr(hash.as_bytes())),
            }
        })?;
        tx.on_condition(key, ChangeError::Stale);
        match change {
            KeyChange::Settings { meta, expires_at, .. } => {
                match meta {
                    Some(meta) if meta.is_empty() => _ = tx.delete_where(key_meta_key(&current.key_id), |d| d)?,
                    Some(meta) => _ = tx.put(key_meta_item(current, meta), None)?,
                    None => {}
                }
                // A new expiry gets its notices afresh; the same one keeps what was sent.
                if *expires_at != current.expires_at {
                    match expires_at {
                        Some(at) => _ = tx.put(key_expiry_item(&current.key_id, *at), None)?,
                        None => _ = tx.delete_where(key_expiry_key(&current.key_id), |d| d)?,
                    }
                }
            }
            KeyChange::Revoke { .. } => {
                tx.give_back_slot(key_count_key(&current.org_id, current.environment), "count")?;
                tx.delete_where(key_meta_key(&current.key_id), |d| d)?;
                tx.delete_where(key_expiry_key(&current.key_id), |d| d)?;
            }
            KeyChange::Roll { .. } => {}
        }
        if let (KeyChange::Revoke { .. }, KeyType::User, Some(user)) = (change, current.key_type, &current.user_id) {
            // Free the member's one-key slot, but only if it is still this key's.
            let claim = user_key_claim(&current.org_id, user);
            tx.delete(claim, "attribute_not_exists(PK) OR key_id = :v", Some(current.key_id.as_str()))?;
        }
        tx.log(log)?;
        match tx.commit().await {
            // Revoked, moved or changed since it was read: re-read to tell which.
            Err(ChangeError::Stale) => match self.get_key(&current.key_id).await? {
                Some(now) if now.revoked_at.is_none() && now.org_id == current.org_id => Err(ChangeError::Stale),
                _ => Err(ChangeError::NotFound),
            },
            other => other,
        }
    }
}

/// Each key of `ids` that is still unrevoked, whole, with its metadata, in the order given (the
/// key and metadata items all read at once).
async fn keys_with_meta(store: &DynamoStore, ids: &[KeyId]) -> Result<Vec<(KeyRecord, KeyMeta)>, StoreError> {
    let keys = ids.iter().flat_map(|id| [key_item_key(id), key_meta_key(id)]).collect();
    let items = store.get_all_consistent(keys).await?;
    let mut found = Vec::with_capacity(ids.len());
    for pair in items.chunks(2) {
        let (Some(Some(key)), Some(meta)) = (pair.first(), pair.get(1)) else { continue };
        let record = key_record(key)?;
        if record.revoked_at.is_none() {
            found.push((record, meta.as_ref().map(key_meta_of).transpose()?.unwrap_or_default()));
        }
    }
    Ok(found)
}

/// The count of an organization's unrevoked keys of one environment (its ceiling is
/// `Limits::keys`): per environment, so test keys can never use up the live ones' room.
fn key_count_key(org: &OrgId, environment: Environment) -> Item {
    key_of(schema::key_quota_pk(org.as_str(), environment.as_str()), schema::QUOTA_SK)
}

fn member_item(m: &Member) -> Item {
    let mut item = key_of(schema::org_pk(m.org_id.as_str()), schema::member_sk(m.user_id.as_str()));
    item.extend([
        ("org_id".into(), string_attr(m.org_id.as_str())),
        ("user_id".into(), string_attr(m.user_id.as_str())),
        ("name".into(), string_attr(&m.name)),
        ("email".into(), string_attr(&m.email)),
        ("created_at".into(), string_attr(rfc3339(m.created_at))),
    ]);
    item
}

fn member_record(item: &Item) -> Result<Member, StoreError> {
    Ok(Member {
        org_id: OrgId::parse(get_s(item, "org_id")?).ok_or_else(|| corrupt("org_id"))?,
        user_id: UserId::parse(get_s(item, "user_id")?).ok_or_else(|| corrupt("user_id"))?,
        name: get_s(item, "name")?.to_string(),
        email: get_s(item, "email")?.to_string(),
        created_at: time_of(item, "created_at")?.ok_or_else(|| corrupt("created_at"))?,
    })
}

#[async_trait]
impl MemberStore for DynamoStore {
    async fn get_member(&self, org: &OrgId, user_id: &UserId) -> Result<Option<Member>, StoreError> {
        let item =
            self.get_consistent(key_of(schema::org_pk(org.as_str()), schema::member_sk(user_id.as_str()))).await?;
        item.as_ref().map(member_record).transpose()
    }

    async fn list_members(
        &self,
        org: &OrgId,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Member>, ChangeError> {
        let listing = Listing {
            index: None,
            partition_attr: schema::PK,
            partition: schema::org_pk(org.as_str()),
            sort_attr: schema::SK,
            range: SortRange::Prefix(schema::MEMBER_SK_PREFIX.into()),
            filter: Filter::default(),
            key_attrs: &[schema::PK, schema::SK],
        };
        let (found, next) = self.list_page(&listing, start, limit).await?;
        let items = found.iter().map(member_record).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next })
    }

    async fn create_member(&self, member: &Member, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let created = tx.create(member_item(member))?;
        tx.on_condition(created, ChangeError::Conflict("a member with this user_id exists".into())).log(log)?;
        tx.commit().await
    }

    async fn user_key_of(&self, member: &Member) -> Result<Option<KeyId>, StoreError> {
        let claim = self.get_consistent(user_key_claim(&member.org_id, &member.user_id)).await?;
        Ok(claim.as_ref().and_then(|c| c.get("key_id")).and_then(|v| v.as_s().ok()).and_then(|k| KeyId::parse(k)))
    }

    async fn remove_member(
        &self,
        member: &Member,
        user_key: Option<(&KeyId, Environment)>,
        log: &ChangeLog,
    ) -> Result<(), ChangeError> {
        let claim = user_key_claim(&member.org_id, &member.user_id);
        let mut tx = self.transaction();
        let removed = tx.delete(
            key_of(schema::org_pk(member.org_id.as_str()), schema::member_sk(member.user_id.as_str())),
            "attribute_exists(PK)",
            None,
        )?;
        tx.on_condition(removed, ChangeError::NotFound);
        match user_key {
            Some((key_id, environment)) => {
                // The claim must still name this key, and the key goes with it.
                tx.delete(claim, "key_id = :v", Some(key_id.as_str()))?;
                tx.delete(key_item_key(key_id), "org_id = :v", Some(member.org_id.as_str()))?;
                tx.delete_where(key_meta_key(key_id), |d| d)?;
                tx.delete_where(key_expiry_key(key_id), |d| d)?;
                tx.give_back_slot(key_count_key(&member.org_id, environment), "count")?;
            }
            // No key now, and none may appear while the member is removed.
            None => _ = tx.check(claim, "attribute_not_exists(PK)")?,
        }
        tx.log(log)?;
        tx.commit().await.map_err(|err| match err {
            ChangeError::Conflict(_) => ChangeError::Conflict("the member's key changed meanwhile; retry".into()),
            other => other,
        })
    }
}
