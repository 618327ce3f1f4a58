//! The links store: the `LinkStore` trait (what the rules need of the table) and the store-level
//! types it speaks in. Items are encoded and decoded in `items`; the DynamoDB implementation is
//! in `dynamo`.
//!
//! A link is one item (`LINK#<id>`), its slug another (`SLUG#<domain>#<slug>`: the claim that
//! keeps a slug unique per domain, and all a redirect touches), written together in one
//! transaction with the tenant's link counter and the change log. A counted redirect is one
//! conditional `UpdateItem` on the slug's item: it counts the click in the link's running totals
//! and records it for the click aggregator (`crate::clicks`), which keeps the link's day
//! statistics in their own partition (`stats`).
//!
//! Deleting a link does not free its slug: the slug's item becomes a reservation of the link's
//! organization and environment (no `link_id`, no destination; `reserved_until` and the table's
//! TTL attribute), so a printed link or QR code cannot be taken over by anyone else for
//! `SLUG_RESERVATION`. DynamoDB removes expired items late (within days), so every read and
//! condition checks the expiry itself: a redirect never follows a reservation, and a claim may
//! take one over when it is its own tenant's or has expired.

mod dynamo;
pub(crate) mod items;
pub mod stats;

use crate::model::{Clicks, DayStats, Domain, DomainId, Hostname, Link, LinkId, Slug, SlugTarget, Visit, Visitor};
use async_trait::async_trait;
use keyhive::change::ChangeLog;
use keyhive::model::Tenant;
use keyhive::store::cursor::Position;
use keyhive::store::{ChangeError, Page, StoreError};
use time::OffsetDateTime;

#[async_trait]
pub trait LinkStore: Send + Sync {
    async fn get_link(&self, id: &LinkId) -> Result<Option<Link>, StoreError>;
    /// A link's all-time click totals (the running totals on its slug's item).
    async fn clicks(&self, link: &Link) -> Result<Clicks, StoreError>;
    /// The click totals of several links, read at once.
    async fn clicks_of(&self, links: &[Link]) -> Result<std::collections::HashMap<LinkId, Clicks>, StoreError>;
    /// A tenant's links, newest first, each read whole.
    async fn list_links(
        &self,
        tenant: &Tenant,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Link>, ChangeError>;
    /// Steps over up to `limit` of a tenant's links from `start` (reading the index only): how
    /// many there were, and where the next step starts.
    async fn skip_links(
        &self,
        tenant: &Tenant,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<(u32, Option<Position>), ChangeError>;
    /// How many links a tenant has (a counter, not a count).
    async fn link_count(&self, tenant: &Tenant) -> Result<i64, StoreError>;
    /// Records a link, takes one of the tenant's `max_links` slots (`ChangeError::Quota` when
    /// full) and claims its slug on its domain (`ChangeError::Conflict` when taken, or reserved
    /// for another tenant). A slug reserved for the link's own tenant is taken over when `claim`
    /// is `SlugClaim::Named`; an expired reservation (as of the link's `created_at`) by anyone.
    /// A custom domain must be the tenant's and verified, and a preview image a ready
    /// `social_image` file of the tenant, counted in its `uses` (`ChangeError::Missing`).
    async fn create_link(
        &self,
        link: &Link,
        claim: SlugClaim,
        max_links: u32,
        log: &ChangeLog,
    ) -> Result<(), ChangeError>;
    /// Writes a link's changeable fields (destination, title, preview, expiry), on the link and
    /// its slug, as `before` (how it was read) became `link`. A new preview image must be a ready
    /// `social_image` file of the link's tenant (`ChangeError::Missing` on `preview.image`); its
    /// `uses` count moves from the old image to the new one in the same transaction. `Stale` when
    /// the link's preview image changed since `before` was read.
    async fn update_link(&self, before: &Link, link: &Link, log: &ChangeLog) -> Result<(), ChangeError>;
    /// Deletes a link, gives its slot back (and its preview image's use), and keeps its slug
    /// reserved for its tenant until `reserved_until` (`ChangeError::NotFound` if it went, or its
    /// preview image changed, meanwhile).
    async fn delete_link(
        &self,
        link: &Link,
        reserved_until: OffsetDateTime,
        log: &ChangeLog,
    ) -> Result<(), ChangeError>;
    /// What a `HEAD` needs of a slug on a domain (`None` for the deployment's own); `None` too
    /// for a reserved (deleted) slug. Reads only.
    async fn resolve_slug(&self, domain: Option<&Hostname>, slug: &Slug) -> Result<Option<SlugTarget>, StoreError>;
    /// A counted visit of a slug at `at`: one conditional write that counts the click when the
    /// slug has a live link and answers its destination, or tells a missing link from an
    /// expired one (and then counts nothing).
    async fn visit(
        &self,
        domain: Option<&Hostname>,
        slug: &Slug,
        visitor: &Visitor,
        at: OffsetDateTime,
    ) -> Result<Visit, StoreError>;
    /// A link's days from `from` to `to` (`yyyy-mm-dd`, both included), ascending.
    async fn day_stats(&self, id: &LinkId, from: &str, to: &str) -> Result<Vec<DayStats>, StoreError>;

    async fn get_domain(&self, id: &DomainId) -> Result<Option<Domain>, StoreError>;
    async fn list_domains(
        &self,
        tenant: &Tenant,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Domain>, ChangeError>;
    /// Records a domain, registered in its tenant, in one of the tenant's `max_domains` slots
    /// (`Quota` when full; `Conflict`, with `domain_conflict`'s message whatever the reason, when
    /// the tenant has it already or it is verified anywhere).
    async fn create_domain(&self, domain: &Domain, max_domains: u32, log: &ChangeLog) -> Result<(), ChangeError>;
    /// Marks a domain verified and claims its host name for its tenant (`Conflict`, with
    /// `domain_conflict`'s message, when it is verified elsewhere). `Ok(false)` when it was
    /// verified already.
    async fn mark_verified(&self, domain: &Domain, at: OffsetDateTime, log: &ChangeLog) -> Result<bool, ChangeError>;
    /// Deletes a domain, gives its slot back and frees its host name; `Conflict` while links use
    /// it.
    async fn delete_domain(&self, domain: &Domain, log: &ChangeLog) -> Result<(), ChangeError>;
    /// A tenant's links on a custom domain (up to `limit`).
    async fn links_on(&self, tenant: &Tenant, domain: &Hostname, limit: u32) -> Result<Vec<Link>, ChangeError>;
}

/// How a creation may take its slug over from a reservation (a deleted link's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlugClaim {
    /// The caller named the slug: its own tenant's reservation is its to take back.
    Named,
    /// Drawn at random: never one of the tenant's reservations (a printed link of the past
    /// would start pointing at an unrelated destination), only a free or expired slug.
    Generated,
}

/// The one message of every 409 about a custom domain's host name (registered in this tenant
/// already, verified by another organization or in the other environment): the same whatever
/// the reason, so nobody learns from it that another organization holds a name.
pub fn domain_conflict(hostname: &Hostname) -> String {
    format!("{} cannot be registered or verified for this organization and environment", hostname.as_str())
}
