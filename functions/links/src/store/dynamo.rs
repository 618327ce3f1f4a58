//! The DynamoDB implementation of `LinkStore`: each change is one transaction with its change
//! log; a counted redirect is one conditional write on the slug's item (`visit`).

use super::items::{
    day_record, domain_count_key, domain_item, domain_key, domain_record, domains_gsi1pk, file_key, hostname_key,
    link_count_key, link_item, link_key, link_record, links_gsi1pk, preview_of, slug_item, slug_key, target_attrs,
    tenant_hostname_key, CLICK_ATTRIBUTES, PREVIEW_IMAGE, RESERVATION_ATTRIBUTES, SLUG_EXPIRES_EPOCH,
    TARGET_ATTRIBUTES,
};
use super::{domain_conflict, LinkStore, SlugClaim};
use crate::clicks::{ClickEvent, CLICK_EVENT, CLICK_SEQUENCE};
use crate::model::{
    Clicks, DayStats, Destination, Domain, DomainId, Hostname, Link, LinkId, Slug, SlugTarget, Visit, Visitor,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure,
};
use keyhive::change::ChangeLog;
use keyhive::model::{rfc3339, FileId, Tenant};
use keyhive::schema;
use keyhive::store::cursor::Position;
use keyhive::store::dynamo::{classify, DynamoStore};
use keyhive::store::items::{corrupt, get_s, number_attr, opt_n, opt_s, string_attr, tenant_attributes, time_of, Item};
use keyhive::store::query::{Filter, Listing, SortRange};
use keyhive::store::{ChangeError, Page, StoreError};
use time::OffsetDateTime;

/// How long a force-delete looks for a domain's links (the API functions have 10 s); what it
/// does not reach stays, and the deletion answers 409 to call again.
const LINKS_ON_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Claims a link's slug: an update that writes the slug's item whole (an update rather than a
/// put, so that its condition can name the tenant), on the condition that the slug is free, or
/// a reservation that has expired as of the link's creation, or (`Named`) a reservation of the
/// link's own tenant. Returns its position.
fn claim_slug(
    tx: &mut keyhive::store::transact::Transaction<'_>,
    link: &Link,
    claim: SlugClaim,
) -> Result<usize, StoreError> {
    let attrs: Vec<(String, AttributeValue)> =
        slug_item(link).into_iter().filter(|(name, _)| name != schema::PK && name != schema::SK).collect();
    let sets: Vec<String> = (0..attrs.len()).map(|i| format!("#a{i} = :a{i}")).collect();
    let removes: Vec<String> = (0..RESERVATION_ATTRIBUTES.len()).map(|i| format!("#r{i}")).collect();
    let expression = format!(
        "SET {} REMOVE {}, {}, refs_full_on, refs_known",
        sets.join(", "),
        removes.join(", "),
        CLICK_ATTRIBUTES.join(", ")
    );
    let reserved_for_us = match claim {
        SlugClaim::Named => " OR (org_id = :org AND environment = :env)",
        SlugClaim::Generated => "",
    };
    let condition =
        format!("attribute_not_exists(PK) OR (attribute_not_exists(link_id) AND (#r1 <= :now{reserved_for_us}))");
    tx.update(slug_key(link.domain.as_ref(), link.slug.as_str()), |u| {
        let mut u = u
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_values(":now", number_attr(link.created_at.unix_timestamp()));
        for (i, (name, value)) in attrs.into_iter().enumerate() {
            u = u
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), value);
        }
        for (i, name) in RESERVATION_ATTRIBUTES.iter().enumerate() {
            u = u.expression_attribute_names(format!("#r{i}"), *name);
        }
        if claim == SlugClaim::Named {
            u = u
                .expression_attribute_values(":org", string_attr(link.tenant.org_id.as_str()))
                .expression_attribute_values(":env", string_attr(link.tenant.environment.as_str()));
        }
        u
    })
}

/// An update that sets each attribute with a value and removes each without one.
fn set_or_remove(mut u: UpdateBuilder, attrs: &[(&str, Option<AttributeValue>)]) -> UpdateBuilder {
    let (mut sets, mut removes) = (Vec::new(), Vec::new());
    for (i, (name, value)) in attrs.iter().enumerate() {
        u = u.expression_attribute_names(format!("#t{i}"), *name);
        match value {
            Some(value) => {
                sets.push(format!("#t{i} = :t{i}"));
                u = u.expression_attribute_values(format!(":t{i}"), value.clone());
            }
            None => removes.push(format!("#t{i}")),
        }
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    u.update_expression(expression)
}

/// The condition that a link's item still shows the preview image `link` was read with (`#img`
/// names the attribute, `:img` is the value when there is one): the image's `uses` are counted
/// from it, so a change or deletion must not act on a link changed meanwhile.
fn same_image(link: &Link) -> (&'static str, Option<AttributeValue>) {
    match image_of(link) {
        Some(image) => ("attribute_exists(PK) AND #img = :img", Some(string_attr(image.as_str()))),
        None => ("attribute_exists(PK) AND attribute_not_exists(#img)", None),
    }
}

/// Counts a use of a preview image: on the condition that it is a ready social image of the
/// link's organization and environment (whatever else it is, the answer is the same).
fn use_image(
    tx: &mut keyhive::store::transact::Transaction<'_>,
    image: &FileId,
    tenant: &Tenant,
) -> Result<(), StoreError> {
    let used = tx.update(file_key(image), |u| {
        u.update_expression("ADD uses :one")
            .condition_expression("org_id = :org AND environment = :env AND #status = :ready AND purpose = :purpose")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", number_attr(1))
            .expression_attribute_values(":org", string_attr(tenant.org_id.as_str()))
            .expression_attribute_values(":env", string_attr(tenant.environment.as_str()))
            .expression_attribute_values(":ready", string_attr("ready"))
            .expression_attribute_values(":purpose", string_attr("social_image"))
    })?;
    tx.on_condition(
        used,
        ChangeError::Missing {
            field: "preview.image",
            reason: format!("{} is not a ready social_image file of this organization and environment", image.as_str()),
        },
    );
    Ok(())
}

/// Gives back a use of a preview image (the file cannot have gone: its deletion waits for its
/// uses to reach zero).
fn release_image(tx: &mut keyhive::store::transact::Transaction<'_>, image: &FileId) -> Result<(), StoreError> {
    tx.update(file_key(image), |u| {
        u.update_expression("ADD uses :minus")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":minus", number_attr(-1))
    })?;
    Ok(())
}

fn image_of(link: &Link) -> Option<&FileId> {
    link.preview.as_ref().and_then(|p| p.image.as_ref())
}

/// How many links use a domain: the count on its host name's claim, which each link's transaction
/// updates (only a verified domain has the claim, and only its own counts).
async fn links_of(store: &DynamoStore, domain: &Domain) -> Result<i64, StoreError> {
    if domain.verified_at.is_none() {
        return Ok(0);
    }
    let claim = store.get_consistent(hostname_key(&domain.hostname)).await?;
    Ok(claim
        .filter(|c| opt_s(c, "domain_id") == Some(domain.id.as_str()))
        .and_then(|c| opt_n(&c, "links"))
        .unwrap_or(0))
}

/// A link's running totals from its slug's item (nothing while the slug is another link's).
fn totals_of(slug: &Item, link: &LinkId) -> Clicks {
    if opt_s(slug, "link_id") != Some(link.as_str()) {
        return Clicks::default();
    }
    Clicks { clicks: opt_n(slug, "clicks").unwrap_or(0), bot_clicks: opt_n(slug, "bot_clicks").unwrap_or(0) }
}

/// The one write of a counted redirect: the click added to the link's running totals and
/// recorded as the next step of its click sequence, on the condition that the slug has a link
/// that has not expired; the new item on success (its destination), the stored one otherwise.
/// `legacy` is the expiry seen on a slug item written before `expires_epoch` existed: the write
/// then conditions on it and adds the number.
async fn count_visit(
    store: &DynamoStore,
    key: Item,
    event: &ClickEvent,
    legacy: Option<(&str, &str, i64)>,
) -> Result<Result<(Item, Option<f64>), Option<Item>>, StoreError> {
    let counter = match event.visitor {
        Visitor::Bot => "bot_clicks",
        Visitor::Human { .. } => "clicks",
    };
    // Attributes of earlier versions that no redirect needs any longer go on the first click.
    let mut set = "#ev = :ev".to_string();
    let update = store
        .client()
        .update_item()
        .table_name(store.table())
        .set_key(Some(key))
        .expression_attribute_names("#n", CLICK_SEQUENCE)
        .expression_attribute_names("#ev", CLICK_EVENT)
        .expression_attribute_names("#count", counter)
        .expression_attribute_values(":one", number_attr(1))
        .expression_attribute_values(":ev", string_attr(event.encode()))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .return_consumed_capacity(ReturnConsumedCapacity::Total);
    let update = match legacy {
        None => update
            .condition_expression("attribute_exists(link_id) AND (attribute_not_exists(expires_at) OR #exp > :now)")
            .expression_attribute_names("#exp", SLUG_EXPIRES_EPOCH)
            .expression_attribute_values(":now", number_attr(event.at.unix_timestamp())),
        Some((link_id, expires_at, epoch)) => {
            set.push_str(", #exp = :epoch");
            update
                .condition_expression("link_id = :link AND expires_at = :seen")
                .expression_attribute_names("#exp", SLUG_EXPIRES_EPOCH)
                .expression_attribute_values(":link", string_attr(link_id))
                .expression_attribute_values(":seen", string_attr(expires_at))
                .expression_attribute_values(":epoch", number_attr(epoch))
        }
    };
    let update =
        update.update_expression(format!("SET {set} ADD #n :one, #count :one REMOVE refs_full_on, refs_known"));
    match update.send().await {
        Ok(out) => Ok(Ok((out.attributes.unwrap_or_default(), out.consumed_capacity.and_then(|c| c.capacity_units)))),
        Err(err) => match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(refused)) => Ok(Err(refused.item().cloned())),
            _ => Err(classify(err)),
        },
    }
}

#[async_trait]
impl LinkStore for DynamoStore {
    async fn get_link(&self, id: &LinkId) -> Result<Option<Link>, StoreError> {
        self.get_consistent(link_key(id)).await?.as_ref().map(link_record).transpose()
    }

    async fn clicks(&self, link: &Link) -> Result<Clicks, StoreError> {
        let slug = self.get_consistent(slug_key(link.domain.as_ref(), link.slug.as_str())).await?;
        Ok(slug.map(|slug| totals_of(&slug, &link.id)).unwrap_or_default())
    }

    async fn clicks_of(&self, links: &[Link]) -> Result<std::collections::HashMap<LinkId, Clicks>, StoreError> {
        let keys = links.iter().map(|link| slug_key(link.domain.as_ref(), link.slug.as_str())).collect();
        let slugs = self.get_all_consistent(keys).await?;
        Ok(links
            .iter()
            .zip(slugs)
            .map(|(link, slug)| (link.id.clone(), slug.map(|slug| totals_of(&slug, &link.id)).unwrap_or_default()))
            .collect())
    }

    async fn list_links(
        &self,
        tenant: &Tenant,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Link>, ChangeError> {
        // Read whole: the index does not carry a link's preview.
        let (found, next) = self.list_page_whole(&Listing::gsi1(links_gsi1pk(tenant)), start, limit).await?;
        Ok(Page { items: found.iter().map(link_record).collect::<Result<_, _>>()?, next })
    }

    async fn skip_links(
        &self,
        tenant: &Tenant,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<(u32, Option<Position>), ChangeError> {
        let (found, next) = self.list_page(&Listing::gsi1(links_gsi1pk(tenant)), start, limit).await?;
        Ok((found.len() as u32, next))
    }

    async fn link_count(&self, tenant: &Tenant) -> Result<i64, StoreError> {
        Ok(self.get_consistent(link_count_key(tenant)).await?.and_then(|item| opt_n(&item, "count")).unwrap_or(0))
    }

    async fn create_link(
        &self,
        link: &Link,
        claim: SlugClaim,
        max_links: u32,
        log: &ChangeLog,
    ) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        // The ceiling first: when full, that is the answer, whatever the slug.
        tx.take_slot(
            link_count_key(&link.tenant),
            "count",
            max_links,
            ChangeError::Quota(format!(
                "this organization has reached its limit of {max_links} short links in this environment: \
                 delete some to make room"
            )),
        )?;
        let created = tx.create(link_item(link))?;
        let claimed = claim_slug(&mut tx, link, claim)?;
        tx.on_condition(created, ChangeError::Conflict("link id collision; retry".into())).on_condition(
            claimed,
            ChangeError::Conflict(format!("the slug {} is taken on this domain", link.slug.as_str())),
        );
        if let Some(domain) = &link.domain {
            let used = tx.update(hostname_key(domain), |u| {
                u.update_expression("ADD links :one")
                    .condition_expression("org_id = :org AND environment = :env AND verified = :yes")
                    .expression_attribute_values(":one", number_attr(1))
                    .expression_attribute_values(":org", string_attr(link.tenant.org_id.as_str()))
                    .expression_attribute_values(":env", string_attr(link.tenant.environment.as_str()))
                    .expression_attribute_values(":yes", AttributeValue::Bool(true))
            })?;
            tx.on_condition(
                used,
                ChangeError::Missing {
                    field: "domain",
                    reason: format!("{} is not a verified domain of this organization", domain.as_str()),
                },
            );
        }
        if let Some(image) = image_of(link) {
            use_image(&mut tx, image, &link.tenant)?;
        }
        tx.log(log)?;
        tx.commit().await
    }

    async fn update_link(&self, before: &Link, link: &Link, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let targets = target_attrs(link);
        let mut own = targets.to_vec();
        own.push(("title", link.title.as_deref().map(string_attr)));
        own.push(("updated_at", Some(string_attr(rfc3339(link.updated_at)))));
        let (unchanged, image) = same_image(before);
        let changed = tx.update(link_key(&link.id), |u| {
            let u = set_or_remove(u, &own)
                .condition_expression(unchanged)
                .expression_attribute_names("#img", PREVIEW_IMAGE);
            match image {
                Some(image) => u.expression_attribute_values(":img", image),
                None => u,
            }
        })?;
        let followed = tx.update(slug_key(link.domain.as_ref(), link.slug.as_str()), |u| {
            set_or_remove(u, &targets)
                .condition_expression("link_id = :id")
                .expression_attribute_values(":id", string_attr(link.id.as_str()))
        })?;
        if image_of(before) != image_of(link) {
            if let Some(image) = image_of(link) {
                use_image(&mut tx, image, &link.tenant)?;
            }
            if let Some(image) = image_of(before) {
                release_image(&mut tx, image)?;
            }
        }
        tx.on_condition(changed, ChangeError::Stale).on_condition(followed, ChangeError::NotFound);
        tx.log(log)?;
        tx.commit().await
    }

    async fn delete_link(
        &self,
        link: &Link,
        reserved_until: OffsetDateTime,
        log: &ChangeLog,
    ) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let (unchanged, image) = same_image(link);
        let deleted = tx.delete_where(link_key(&link.id), |d| {
            let d = d.condition_expression(unchanged).expression_attribute_names("#img", PREVIEW_IMAGE);
            match image {
                Some(image) => d.expression_attribute_values(":img", image),
                None => d,
            }
        })?;
        if let Some(image) = image_of(link) {
            release_image(&mut tx, image)?;
        }
        // The slug's item stays, as the tenant's reservation: nothing a redirect follows (no
        // link, no destination), and the tenant's `org_id` and `environment` kept.
        let reserved = tx.update(slug_key(link.domain.as_ref(), link.slug.as_str()), |u| {
            u.update_expression(format!(
                "SET reserved_until = :until, #ttl = :epoch, deleted_link_id = :id \
                 REMOVE link_id, {}, {}, refs_full_on, refs_known",
                TARGET_ATTRIBUTES.join(", "),
                CLICK_ATTRIBUTES.join(", ")
            ))
            .condition_expression("link_id = :id")
            .expression_attribute_names("#ttl", schema::TTL_ATTRIBUTE)
            .expression_attribute_values(":until", string_attr(rfc3339(reserved_until)))
            .expression_attribute_values(":epoch", number_attr(reserved_until.unix_timestamp()))
            .expression_attribute_values(":id", string_attr(link.id.as_str()))
        })?;
        tx.give_back_slot(link_count_key(&link.tenant), "count")?;
        if let Some(domain) = &link.domain {
            tx.update(hostname_key(domain), |u| {
                u.update_expression("ADD links :minus")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_values(":minus", number_attr(-1))
            })?;
        }
        tx.on_condition(deleted, ChangeError::NotFound).on_condition(reserved, ChangeError::NotFound);
        tx.log(log)?;
        tx.commit().await
    }

    async fn resolve_slug(&self, domain: Option<&Hostname>, slug: &Slug) -> Result<Option<SlugTarget>, StoreError> {
        // Eventually consistent: a `HEAD` may miss a link created a moment ago.
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(slug_key(domain, slug.as_str())))
            .projection_expression(format!("link_id, {}", TARGET_ATTRIBUTES.join(", ")))
            .send()
            .await
            .map_err(classify)?;
        let Some(item) = out.item else { return Ok(None) };
        // A deleted link's reservation, expired or not: no link.
        let Some(link_id) = opt_s(&item, "link_id") else { return Ok(None) };
        Ok(Some(SlugTarget {
            link_id: LinkId::parse(link_id).ok_or_else(|| corrupt("link_id"))?,
            destination: Destination::parse(get_s(&item, "destination")?).ok_or_else(|| corrupt("destination"))?,
            preview: preview_of(&item)?,
            expires_at: time_of(&item, "expires_at")?,
        }))
    }

    async fn visit(
        &self,
        domain: Option<&Hostname>,
        slug: &Slug,
        visitor: &Visitor,
        at: OffsetDateTime,
    ) -> Result<Visit, StoreError> {
        let key = slug_key(domain, slug.as_str());
        let event = ClickEvent { at, visitor: visitor.clone() };
        let followed = |(item, write_units): (Item, Option<f64>)| -> Result<Visit, StoreError> {
            let destination = Destination::parse(get_s(&item, "destination")?).ok_or_else(|| corrupt("destination"))?;
            Ok(Visit::Followed { destination, preview: preview_of(&item)?, write_units })
        };
        let stored = match count_visit(self, key.clone(), &event, None).await? {
            Ok(counted) => return followed(counted),
            Err(stored) => stored,
        };
        // Refused: no link (a missing slug, a reservation), or an expired one.
        let Some(stored) = stored else { return Ok(Visit::Missing) };
        let Some(link_id) = opt_s(&stored, "link_id") else { return Ok(Visit::Missing) };
        let Some(expires_at) = time_of(&stored, "expires_at")? else { return Ok(Visit::Missing) };
        if expires_at <= at {
            return Ok(Visit::Expired);
        }
        // A live expiry without its number: a slug item of an earlier version. Counted against the
        // expiry it has, which gets its number (once per such link).
        let seen = get_s(&stored, "expires_at")?;
        match count_visit(self, key, &event, Some((link_id, seen, expires_at.unix_timestamp()))).await? {
            Ok(counted) => followed(counted),
            // Changed meanwhile (updated, deleted): as if it had been missed.
            Err(_) => Ok(Visit::Missing),
        }
    }

    async fn day_stats(&self, id: &LinkId, from: &str, to: &str) -> Result<Vec<DayStats>, StoreError> {
        let range = SortRange::Between { from: schema::link_day_sk(from), to: schema::link_day_sk(to) };
        self.query_partition(schema::stats_pk(id.as_str()), range).await?.iter().map(day_record).collect()
    }

    async fn get_domain(&self, id: &DomainId) -> Result<Option<Domain>, StoreError> {
        let Some(item) = self.get_consistent(domain_key(id)).await? else { return Ok(None) };
        let mut domain = domain_record(&item)?;
        domain.links = links_of(self, &domain).await?;
        Ok(Some(domain))
    }

    async fn list_domains(
        &self,
        tenant: &Tenant,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Domain>, ChangeError> {
        let mut page = self.list_records(&Listing::gsi1(domains_gsi1pk(tenant)), start, limit, domain_record).await?;
        // Each verified domain's count, read at once rather than one after another.
        let counts = futures_util::future::try_join_all(page.items.iter().map(|domain| links_of(self, domain))).await?;
        for (domain, links) in page.items.iter_mut().zip(counts) {
            domain.links = links;
        }
        Ok(page)
    }

    async fn create_domain(&self, domain: &Domain, max_domains: u32, log: &ChangeLog) -> Result<(), ChangeError> {
        // Registering claims the name in the tenant only: the global claim comes with the proof
        // (verification), so nobody can hold a name they do not control.
        let mut pending = tenant_hostname_key(domain);
        pending.insert("domain_id".into(), string_attr(domain.id.as_str()));
        let mut tx = self.transaction();
        tx.take_slot(
            domain_count_key(&domain.tenant),
            "count",
            max_domains,
            ChangeError::Quota(format!(
                "this organization has reached its limit of {max_domains} custom domains in this environment: \
                 delete one to make room"
            )),
        )?;
        let created = tx.create(domain_item(domain))?;
        let registered = tx.create(pending)?;
        let free = tx.check(hostname_key(&domain.hostname), "attribute_not_exists(PK)")?;
        // One message for every conflict: which one it is would tell whether another
        // organization verified the name.
        let conflict = || ChangeError::Conflict(domain_conflict(&domain.hostname));
        tx.on_condition(created, conflict()).on_condition(registered, conflict()).on_condition(free, conflict());
        tx.log(log)?;
        tx.commit().await
    }

    async fn mark_verified(&self, domain: &Domain, at: OffsetDateTime, log: &ChangeLog) -> Result<bool, ChangeError> {
        let mut claim = hostname_key(&domain.hostname);
        claim.extend([
            ("domain_id".into(), string_attr(domain.id.as_str())),
            ("verified".into(), AttributeValue::Bool(true)),
            ("links".into(), number_attr(0)),
        ]);
        claim.extend(tenant_attributes(&domain.tenant));
        let mut tx = self.transaction();
        let marked = tx.update(domain_key(&domain.id), |u| {
            u.update_expression("SET verified = :yes, verified_at = :at")
                .condition_expression("verified = :no")
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .expression_attribute_values(":no", AttributeValue::Bool(false))
                .expression_attribute_values(":at", string_attr(rfc3339(at)))
        })?;
        let claimed = tx.create(claim)?;
        tx.on_condition(marked, ChangeError::Stale)
            .on_condition(claimed, ChangeError::Conflict(domain_conflict(&domain.hostname)));
        tx.log(log)?;
        match tx.commit().await {
            Ok(()) => Ok(true),
            Err(ChangeError::Stale) => Ok(false),
            Err(other) => Err(other),
        }
    }

    async fn delete_domain(&self, domain: &Domain, log: &ChangeLog) -> Result<(), ChangeError> {
        let mut tx = self.transaction();
        let deleted = tx.delete(domain_key(&domain.id), "attribute_exists(PK)", None)?;
        tx.delete(tenant_hostname_key(domain), "domain_id = :v", Some(domain.id.as_str()))?;
        tx.give_back_slot(domain_count_key(&domain.tenant), "count")?;
        tx.on_condition(deleted, ChangeError::NotFound);
        if domain.verified_at.is_some() {
            let freed = tx.delete_where(hostname_key(&domain.hostname), |d| {
                d.condition_expression("domain_id = :id AND (attribute_not_exists(links) OR links <= :zero)")
                    .expression_attribute_values(":id", string_attr(domain.id.as_str()))
                    .expression_attribute_values(":zero", number_attr(0))
            })?;
            tx.on_condition(
                freed,
                ChangeError::Conflict(format!(
                    "links use {}: delete them first, or delete with ?force=true",
                    domain.hostname.as_str()
                )),
            );
        }
        tx.log(log)?;
        tx.commit().await
    }

    async fn links_on(&self, tenant: &Tenant, domain: &Hostname, limit: u32) -> Result<Vec<Link>, ChangeError> {
        let mut filter = Filter::default();
        filter.and("#domain = :domain", &[("#domain", "domain")], &[(":domain", domain.as_str())]);
        let listing = Listing { filter, ..Listing::gsi1(links_gsi1pk(tenant)) };
        // Each page reads a bounded number of links; follow the pages (within a time bound well
        // inside the function's) so that links older than the newest thousand are reached too.
        let started = std::time::Instant::now();
        let (mut found, mut start) = (Vec::new(), None);
        loop {
            let (links, next) = self.list_page_whole(&listing, start.as_ref(), limit).await?;
            found.extend(links.iter().map(link_record).collect::<Result<Vec<_>, _>>()?);
            match next {
                Some(next) if found.len() < limit as usize && started.elapsed() < LINKS_ON_TIME => start = Some(next),
                _ => break,
            }
        }
        found.truncate(limit as usize);
        Ok(found)
    }
}
