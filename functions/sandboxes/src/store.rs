//! The sandboxes store: a small trait and its DynamoDB implementation. A sandbox is one item;
//! the running ones also sit in the sparse deadline index (GSI2) and hold a slot of their
//! organization and environment's quota counter, taken and given back in the same transaction as
//! the change, with its change log.

use crate::model::{Sandbox, SandboxId, Status};
use async_trait::async_trait;
use keyhive::change::ChangeLog;
use keyhive::model::{rfc3339, Tenant};
use keyhive::schema;
use keyhive::store::cursor::Position;
use keyhive::store::dynamo::{classify, DynamoStore};
use keyhive::store::items::{
    corrupt, get_s, key_of, number_attr, opt_n, string_attr, tenant_attributes, tenant_of, time_of, Item,
};
use keyhive::store::query::{Filter, Listing, SortRange};
use keyhive::store::{ChangeError, Page, StoreError};
use time::OffsetDateTime;

#[async_trait]
pub trait SandboxStore: Send + Sync {
    async fn get_sandbox(&self, id: &SandboxId) -> Result<Option<Sandbox>, StoreError>;
    /// A tenant's sandboxes, newest first; `status` as a reader sees it at `now`.
    async fn list_sandboxes(
        &self,
        tenant: &Tenant,
        status: Option<Status>,
        now: OffsetDateTime,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Sandbox>, ChangeError>;
    /// Records a running sandbox and takes a slot of its tenant's quota (`ChangeError::Quota`
    /// when none is free), in one transaction with `log`.
    async fn create_sandbox(&self, sandbox: &Sandbox, quota: u32, log: &ChangeLog) -> Result<(), ChangeError>;
    /// A running sandbox's new deadline (`ChangeError::Stale` if it ended meanwhile).
    async fn extend_sandbox(
        &self,
        sandbox: &Sandbox,
        timeout_seconds: i64,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        log: &ChangeLog,
    ) -> Result<(), ChangeError>;
    /// Ends a running sandbox (`Killed` before its deadline, `Expired` from it on) and gives its
    /// slot back. `Ok(false)` when it had ended already: a slot is freed exactly once.
    async fn end_sandbox(
        &self,
        sandbox: &Sandbox,
        end: Status,
        now: OffsetDateTime,
        log: &ChangeLog,
    ) -> Result<bool, ChangeError>;
    /// Running sandboxes past their deadline: a tenant's, or (`None`) every tenant's.
    async fn overdue(
        &self,
        tenant: Option<&Tenant>,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<SandboxId>, ChangeError>;
}

fn sandbox_key(id: &SandboxId) -> Item {
    key_of(schema::sandbox_pk(id.as_str()), schema::SANDBOX_SK)
}

fn quota_key(tenant: &Tenant) -> Item {
    key_of(schema::sandbox_quota_pk(tenant.org_id.as_str(), tenant.environment.as_str()), schema::QUOTA_SK)
}

/// The highest GSI2 sort key of a deadline at or before `now` (`#~` sorts after every id).
fn overdue_bound(now: OffsetDateTime) -> String {
    format!("{}#~", rfc3339(now))
}

fn sandbox_item(x: &Sandbox) -> Item {
    let mut item = sandbox_key(&x.id);
    let (org, env) = (x.org_id.as_str(), x.environment.as_str());
    let created = rfc3339(x.created_at);
    let expires = rfc3339(x.expires_at);
    item.extend([
        (schema::GSI1PK.into(), string_attr(schema::org_sandboxes_gsi1pk(org, env))),
        (schema::GSI1SK.into(), string_attr(format!("{created}#{}", x.id.as_str()))),
        ("id".into(), string_attr(x.id.as_str())),
        ("template_id".into(), string_attr(&x.template_id)),
        ("status".into(), string_attr(x.status.as_str())),
        ("timeout_seconds".into(), number_attr(x.timeout_seconds)),
        ("created_at".into(), string_attr(created)),
        ("expires_at".into(), string_attr(&expires)),
    ]);
    item.extend(tenant_attributes(&x.tenant()));
    if x.status == Status::Running {
        item.insert(schema::GSI2PK.into(), string_attr(schema::running_gsi2pk(org, env)));
        item.insert(schema::GSI2SK.into(), string_attr(schema::running_gsi2sk(&expires, x.id.as_str())));
    }
    item
}

fn sandbox_record(item: &Item) -> Result<Sandbox, StoreError> {
    let Tenant { org_id, environment } = tenant_of(item)?;
    Ok(Sandbox {
        id: SandboxId::parse(get_s(item, "id")?).ok_or_else(|| corrupt("id"))?,
        org_id,
        environment,
        template_id: get_s(item, "template_id")?.to_string(),
        status: Status::parse(get_s(item, "status")?).ok_or_else(|| corrupt("status"))?,
        timeout_seconds: opt_n(item, "timeout_seconds").ok_or_else(|| corrupt("timeout_seconds"))?,
        created_at: time_of(item, "created_at")?.ok_or_else(|| corrupt("created_at"))?,
        expires_at: time_of(item, "expires_at")?.ok_or_else(|| corrupt("expires_at"))?,
        ended_at: time_of(item, "ended_at")?,
    })
}

/// The sandbox id a GSI2 (keys only) entry points at.
fn id_of(entry: &Item) -> Option<SandboxId> {
    entry.get(schema::PK)?.as_s().ok()?.strip_prefix("SBX#").and_then(SandboxId::parse)
}

#[async_trait]
impl SandboxStore for DynamoStore {
    async fn get_sandbox(&self, id: &SandboxId) -> Result<Option<Sandbox>, StoreError> {
        self.get_consistent(sandbox_key(id)).await?.as_ref().map(sandbox_record).transpose()
    }

    async fn list_sandboxes(
        &self,
        tenant: &Tenant,
        status: Option<Status>,
        now: OffsetDateTime,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Sandbox>, ChangeError> {
        let mut filter = Filter::default();
        let now = rfc3339(now);
        let st = [("#st", "status")];
        match status {
            None => {}
            Some(Status::Running) => {
                filter.and("#st = :running AND expires_at > :now", &st, &[(":running", "running"), (":now", &now)]);
            }
            Some(Status::Expired) => {
                let clause = "(#st = :expired OR (#st = :running AND expires_at <= :now))";
                filter.and(clause, &st, &[(":expired", "expired"), (":running", "running"), (":now", &now)]);
            }
            Some(Status::Killed) => {
                filter.and("#st = :killed", &st, &[(":killed", "killed")]);
            }
        }
        let partition = schema::org_sandboxes_gsi1pk(tenant.org_id.as_str(), tenant.environment.as_str());
        self.list_records(&Listing { filter, ..Listing::gsi1(partition) }, start, limit, sandbox_record).await
    }

    async fn create_sandbox(&self, sandbox: &Sandbox, quota: u32, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let created = tx.create(sandbox_item(sandbox))?;
        tx.take_slot(
            quota_key(&sandbox.tenant()),
            "running",
            quota,
            ChangeError::Quota(format!("this organization runs {quota} sandboxes in this environment already")),
        )?;
        tx.on_condition(created, ChangeError::Conflict("sandbox id collision; retry".into()));
        tx.log(log)?;
        tx.commit().await
    }

    async fn extend_sandbox(
        &self,
        sandbox: &Sandbox,
        timeout_seconds: i64,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        log: &ChangeLog,
    ) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let expires = rfc3339(expires_at);
        let changed = tx.update(sandbox_key(&sandbox.id), |u| {
            u.update_expression("SET expires_at = :exp, timeout_seconds = :t, #gsk = :gsk")
                .condition_expression("#st = :running AND expires_at > :now")
                .expression_attribute_names("#st", "status")
                .expression_attribute_names("#gsk", schema::GSI2SK)
                .expression_attribute_values(":exp", string_attr(&expires))
                .expression_attribute_values(":t", number_attr(timeout_seconds))
                .expression_attribute_values(":gsk", string_attr(schema::running_gsi2sk(&expires, sandbox.id.as_str())))
                .expression_attribute_values(":running", string_attr("running"))
                .expression_attribute_values(":now", string_attr(rfc3339(now)))
        })?;
        tx.on_condition(changed, ChangeError::Stale).log(log)?;
        tx.commit().await
    }

    async fn end_sandbox(
        &self,
        sandbox: &Sandbox,
        end: Status,
        now: OffsetDateTime,
        log: &ChangeLog,
    ) -> Result<bool, ChangeError> {
        let deadline = match end {
            Status::Killed => "expires_at > :now",
            Status::Expired => "expires_at <= :now",
            Status::Running => return Err(ChangeError::Invalid { field: "status", reason: "is not an end".into() }),
        };
        let mut tx = self.transaction();
        let ended = tx.update(sandbox_key(&sandbox.id), |u| {
            u.update_expression(format!(
                "SET #st = :end, ended_at = :now REMOVE {}, {}",
                schema::GSI2PK,
                schema::GSI2SK
            ))
            .condition_expression(format!("#st = :running AND {deadline}"))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":end", string_attr(end.as_str()))
            .expression_attribute_values(":running", string_attr("running"))
            .expression_attribute_values(":now", string_attr(rfc3339(now)))
        })?;
        let slot = tx.update(quota_key(&sandbox.tenant()), |u| {
            u.update_expression("ADD running :minus")
                .condition_expression("running > :zero")
                .expression_attribute_values(":minus", number_attr(-1))
                .expression_attribute_values(":zero", number_attr(0))
        })?;
        tx.on_condition(ended, ChangeError::Stale)
            .on_condition(slot, ChangeError::Conflict("the sandbox quota counter is out of step".into()))
            .log(log)?;
        match tx.commit().await {
            Ok(()) => Ok(true),
            Err(ChangeError::Stale) => Ok(false),
            Err(other) => Err(other),
        }
    }

    async fn overdue(
        &self,
        tenant: Option<&Tenant>,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<SandboxId>, ChangeError> {
        let bound = overdue_bound(now);
        let mut found = Vec::new();
        match tenant {
            Some(tenant) => {
                let listing = Listing {
                    index: Some(schema::GSI2),
                    partition_attr: schema::GSI2PK,
                    partition: schema::running_gsi2pk(tenant.org_id.as_str(), tenant.environment.as_str()),
                    sort_attr: schema::GSI2SK,
                    range: SortRange::UpTo(bound),
                    filter: Filter::default(),
                    key_attrs: &[schema::PK, schema::SK, schema::GSI2PK, schema::GSI2SK],
                };
                let (items, _) = self.list_page(&listing, None, limit as u32).await?;
                found.extend(items.iter().filter_map(id_of));
            }
            None => {
                // The index is sparse (running sandboxes, and the dispatcher's pending work, which the
                // filter drops).
                let mut start = None;
                loop {
                    let out = self
                        .client()
                        .scan()
                        .table_name(self.table())
                        .index_name(schema::GSI2)
                        .filter_expression("#gsk <= :bound AND begins_with(#gpk, :running)")
                        .expression_attribute_names("#gsk", schema::GSI2SK)
                        .expression_attribute_names("#gpk", schema::GSI2PK)
                        .expression_attribute_values(":running", string_attr("RUNNING#"))
                        .expression_attribute_values(":bound", string_attr(&bound))
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(classify)?;
                    found.extend(out.items().iter().filter_map(id_of));
                    match out.last_evaluated_key {
                        Some(last) if found.len() < limit => start = Some(last),
                        _ => break,
                    }
                }
                found.truncate(limit);
            }
        }
        Ok(found)
    }
}
