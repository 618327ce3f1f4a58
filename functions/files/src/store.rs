//! The files store: a small trait and its DynamoDB implementation. A file is one item (its bytes
//! are in the bucket); each change is one transaction with its change log.

use crate::model::{FileId, FileRecord, Purpose, Status};
use crate::sniff::ContentType;
use async_trait::async_trait;
use keyhive::change::ChangeLog;
use keyhive::model::{rfc3339, Tenant};
use keyhive::schema;
use keyhive::store::cursor::Position;
use keyhive::store::dynamo::DynamoStore;
use keyhive::store::items::{
    corrupt, get_s, key_of, number_attr, opt_n, opt_s, string_attr, tenant_attributes, tenant_of, time_of, Item,
};
use keyhive::store::query::Listing;
use keyhive::store::{ChangeError, Page, StoreError};
use time::OffsetDateTime;

/// How long a pending file's record lives without its upload checked (DynamoDB's TTL removes it).
pub const PENDING_LIFETIME: time::Duration = time::Duration::days(1);

/// How a pending file ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ready { width: u32, height: u32 },
    Rejected { reason: String },
}

#[async_trait]
pub trait FileStore: Send + Sync {
    async fn get_file(&self, id: &FileId) -> Result<Option<FileRecord>, StoreError>;
    /// A tenant's files, newest first.
    async fn list_files(
        &self,
        tenant: &Tenant,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<FileRecord>, ChangeError>;
    /// Records a pending file, in one transaction with `log` (its `Idempotency-Key` included).
    async fn create_file(&self, file: &FileRecord, log: &ChangeLog) -> Result<(), ChangeError>;
    /// Ends a pending file (`ChangeError::Stale` if it is pending no more). A ready file takes one
    /// of the tenant's `max_files` slots (`ChangeError::Quota` when full: it stays pending) and
    /// records `stored_at`, where its checked bytes are.
    async fn finish_file(
        &self,
        file: &FileRecord,
        outcome: &Outcome,
        at: OffsetDateTime,
        max_files: u32,
        stored_at: &str,
        log: &ChangeLog,
    ) -> Result<(), ChangeError>;
    /// Deletes a file's record (giving its slot back when it holds one), on the condition that its
    /// status is still `file`'s; `ChangeError::Conflict` while a link's preview uses it, or when
    /// it changed since it was read (read it again).
    async fn delete_file(&self, file: &FileRecord, log: &ChangeLog) -> Result<(), ChangeError>;
}

fn file_key(id: &FileId) -> Item {
    key_of(schema::file_pk(id.as_str()), schema::FILE_SK)
}

/// A tenant's count of ready files.
fn file_count_key(tenant: &Tenant) -> Item {
    key_of(schema::file_quota_pk(tenant.org_id.as_str(), tenant.environment.as_str()), schema::QUOTA_SK)
}

fn file_item(f: &FileRecord) -> Item {
    let mut item = file_key(&f.id);
    let created = rfc3339(f.created_at);
    item.extend([
        (
            schema::GSI1PK.into(),
            string_attr(schema::org_files_gsi1pk(f.tenant.org_id.as_str(), f.tenant.environment.as_str())),
        ),
        (schema::GSI1SK.into(), string_attr(format!("{created}#{}", f.id.as_str()))),
        ("id".into(), string_attr(f.id.as_str())),
        ("purpose".into(), string_attr(f.purpose.as_str())),
        ("content_type".into(), string_attr(f.content_type.as_str())),
        ("size_bytes".into(), number_attr(f.size_bytes as i64)),
        ("status".into(), string_attr(f.status.as_str())),
        ("created_at".into(), string_attr(created)),
        // A pending record whose upload is never checked goes by itself.
        (schema::TTL_ATTRIBUTE.into(), number_attr((f.created_at + PENDING_LIFETIME).unix_timestamp())),
    ]);
    item.extend(tenant_attributes(&f.tenant));
    item
}

/// Whether a stored file still is one: a pending record past its lifetime that DynamoDB has not
/// removed yet is gone.
fn is_live(item: &Item) -> bool {
    get_s(item, "status").map(|s| s != Status::Pending.as_str()).unwrap_or(false)
        || opt_n(item, schema::TTL_ATTRIBUTE).is_none_or(|ttl| ttl > keyhive::model::now().unix_timestamp())
}

fn file_record(item: &Item) -> Result<FileRecord, StoreError> {
    let dimension = |name: &str| opt_n(item, name).and_then(|v| u32::try_from(v).ok());
    Ok(FileRecord {
        id: FileId::parse(get_s(item, "id")?).ok_or_else(|| corrupt("id"))?,
        tenant: tenant_of(item)?,
        purpose: Purpose::parse(get_s(item, "purpose")?).ok_or_else(|| corrupt("purpose"))?,
        content_type: ContentType::parse(get_s(item, "content_type")?).ok_or_else(|| corrupt("content_type"))?,
        size_bytes: opt_n(item, "size_bytes")
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| corrupt("size_bytes"))?,
        status: Status::parse(get_s(item, "status")?).ok_or_else(|| corrupt("status"))?,
        dimensions: dimension("width").zip(dimension("height")),
        rejected_reason: opt_s(item, "rejected_reason").map(str::to_string),
        created_at: time_of(item, "created_at")?.ok_or_else(|| corrupt("created_at"))?,
        completed_at: time_of(item, "completed_at")?,
        stored_at: opt_s(item, "stored_at").map(str::to_string),
    })
}

#[async_trait]
impl FileStore for DynamoStore {
    async fn get_file(&self, id: &FileId) -> Result<Option<FileRecord>, StoreError> {
        let item = self.get_consistent(file_key(id)).await?;
        item.filter(is_live).as_ref().map(file_record).transpose()
    }

    async fn list_files(
        &self,
        tenant: &Tenant,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<FileRecord>, ChangeError> {
        let listing = Listing::gsi1(schema::org_files_gsi1pk(tenant.org_id.as_str(), tenant.environment.as_str()));
        // GSI1 carries what every listing shares, not a file's own fields: each is read whole.
        let (items, next) = self.list_page_whole(&listing, start, limit).await?;
        let files = items.iter().filter(|item| is_live(item)).map(file_record).collect::<Result<_, _>>()?;
        Ok(Page { items: files, next })
    }

    async fn create_file(&self, file: &FileRecord, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let created = tx.create(file_item(file))?;
        tx.on_condition(created, ChangeError::Conflict("file id collision; retry".into()));
        tx.log(log)?;
        tx.commit().await
    }

    async fn finish_file(
        &self,
        file: &FileRecord,
        outcome: &Outcome,
        at: OffsetDateTime,
        max_files: u32,
        stored_at: &str,
        log: &ChangeLog,
    ) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        if let Outcome::Ready { .. } = outcome {
            tx.take_slot(
                file_count_key(&file.tenant),
                "count",
                max_files,
                ChangeError::Quota(format!(
                    "this organization has reached its limit of {max_files} files in this environment: \
                     delete some to make room"
                )),
            )?;
        }
        let finished = tx.update(file_key(&file.id), |u| {
            let u = u
                .condition_expression("#status = :pending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":pending", string_attr(Status::Pending.as_str()))
                .expression_attribute_values(":at", string_attr(rfc3339(at)));
            match outcome {
                // Ready: kept (no TTL any more).
                Outcome::Ready { width, height } => u
                    .update_expression(
                        "SET #status = :ready, width = :w, height = :h, completed_at = :at, stored_at = :key \
                         REMOVE #ttl",
                    )
                    .expression_attribute_values(":key", string_attr(stored_at))
                    .expression_attribute_names("#ttl", schema::TTL_ATTRIBUTE)
                    .expression_attribute_values(":ready", string_attr(Status::Ready.as_str()))
                    .expression_attribute_values(":w", number_attr(i64::from(*width)))
                    .expression_attribute_values(":h", number_attr(i64::from(*height))),
                // Rejected: shown for what remains of the pending lifetime, then gone.
                Outcome::Rejected { reason } => u
                    .update_expression("SET #status = :rejected, rejected_reason = :why, completed_at = :at")
                    .expression_attribute_values(":rejected", string_attr(Status::Rejected.as_str()))
                    .expression_attribute_values(":why", string_attr(reason)),
            }
        })?;
        tx.on_condition(finished, ChangeError::Stale);
        tx.log(log)?;
        tx.commit().await
    }

    async fn delete_file(&self, file: &FileRecord, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        // `uses`: the link previews that show it (their transactions add and take away).
        // The status as read: a completion since would hold a slot this deletion did not know of.
        let deleted = tx.delete_where(file_key(&file.id), |d| {
            d.condition_expression("#status = :status AND (attribute_not_exists(uses) OR uses <= :zero)")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", string_attr(file.status.as_str()))
                .expression_attribute_values(":zero", number_attr(0))
        })?;
        tx.on_condition(
            deleted,
            ChangeError::Conflict("a link's preview uses this file; change the link first".into()),
        );
        if file.holds_slot() {
            tx.give_back_slot(file_count_key(&file.tenant), "count")?;
        }
        tx.log(log)?;
        tx.commit().await
    }
}
