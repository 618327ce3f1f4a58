//! The key schema of keyhive's single DynamoDB table: attribute names, partition and sort key
//! builders, index names, and the table definition that `keyhive-admin create-table` creates
//! locally and that `template.yaml` declares in AWS (a test keeps the two equal).
//!
//! Access patterns (each served by one key shape below):
//!
//! | # | pattern                                   | key                                                        | call |
//! |---|-------------------------------------------|------------------------------------------------------------|------|
//! | 1 | authenticate a request by key id          | `PK=KEY#<key_id>`, `SK=KEY`                                 | UpdateItem (one round trip) |
//! | 2 | get / update / revoke / roll a key        | same item                                                  | Get/Update/TransactWrite |
//! | 3 | list an organization's keys, newest first | `GSI1PK=ORG#<org>#KEYS`, `GSI1SK=<created_at>#<key_id>`     | Query GSI1, descending |
//! | 4 | one user key per member (claim)           | `PK=ORG#<org>`, `SK=USERKEY#<user_id>`                      | conditional Put in the key's transaction |
//! | 5 | an organization                           | `PK=ORG#<org>`, `SK=ORG`                                    | Get/Put |
//! | 6 | a member / list members                   | `PK=ORG#<org>`, `SK=MEMBER#<user_id>` / begins_with MEMBER# | Get/Query |
//! | 7 | audit trail of an organization, newest first | `PK=ORG#<org>#AUDIT`, `SK=<time>#<entry_id>`               | Put in the change's transaction; Query descending |
//! | 8 | outbox of events to deliver               | `PK=OUTBOX#<org>#<env>`, `SK=<time>#<event_id>`             | Put in the change's transaction; Streams |
//! | 9 | health probe                              | `PK=HEALTH`, `SK=HEALTH`                                    | GetItem |
//! | 10 | a creation's Idempotency-Key (24 h)      | `PK=IDEM#<org>#<env>#<key id>#<sha256 of the key>`, `SK=IDEM` | conditional Put in the creation's transaction; consistent GetItem |
//! | 11 | a sandbox by id                           | `PK=SBX#<sandbox_id>`, `SK=SBX`                             | Get/TransactWrite |
//! | 12 | an org+env's sandboxes, newest first      | `GSI1PK=ORG#<org>#<env>#SANDBOXES`, `GSI1SK=<created_at>#<id>` | Query GSI1, descending, status as a filter |
//! | 13 | running sandboxes by deadline (sweep)     | `GSI2PK=RUNNING#<org>#<env>`, `GSI2SK=<expires_at>#<id>`, only while running (sparse) | Query GSI2 `<= now` per tenant; Scan GSI2 for the sweep |
//! | 14 | an org+env's running-sandbox count (quota) | `PK=QUOTA#SBX#<org>#<env>`, `SK=COUNT`, attribute `running` | conditional ADD in the change's transaction |
//! | 15 | a short link by id | `PK=LINK#<link_id>`, `SK=LINK` | Get/TransactWrite |
//! | 16 | a slug on a domain (claim, the redirect's one write: its click totals and click sequence, and a deleted link's 90-day reservation for its organization and environment) | `PK=SLUG#<domain or @>#<lowercase slug>`, `SK=SLUG` | conditional Update in the link's transaction (free, reservation expired, or the caller's own); one conditional `UpdateItem` per counted redirect (`ALL_NEW`); GetItem for a `HEAD` and a link's totals |
//! | 17 | an org+env's links, newest first          | `GSI1PK=ORG#<org>#<env>#LINKS`, `GSI1SK=<created_at>#<id>`   | Query GSI1, descending |
//! | 18 | an org+env's key, link, domain, webhook endpoint count (ceilings) | `PK=QUOTA#KEY\|LINK\|DOM\|WHK\|FILE#<org>#<env>`, `SK=COUNT`, attribute `count` | conditional ADD in the creating transaction, ADD -1 in the deleting one |
//! | 19 | a custom domain by id; an org+env's domains | `PK=DOM#<domain_id>`, `SK=DOMAIN`; `GSI1PK=ORG#<org>#<env>#DOMAINS` | Get/TransactWrite; Query GSI1 |
//! | 20 | a verified hostname's claim (one organization per hostname) | `PK=HOST#<hostname>`, `SK=HOST`, attribute `links` | conditional Put in the verification's transaction; ADD in each link's |
//! | 21 | a tenant's registration of a hostname     | `PK=ORG#<org>#<env>#HOST#<hostname>`, `SK=HOST`             | conditional Put in the domain's transaction |
//! | 22 | outbox events not yet fanned out to endpoints (dispatcher) | `GSI2PK=EVENTS#<shard 0..3>`, `GSI2SK=<time>#<event_id>`, only while pending (sparse) | Query GSI2; keys removed in the fan-out's transaction |
//! | 23 | a webhook endpoint by id; an org+env's endpoints | `PK=WHK#<endpoint_id>`, `SK=WHK`; `GSI1PK=ORG#<org>#<env>#WEBHOOKS` | Get/TransactWrite; Query GSI1 (the tenant's endpoints, for a listing and each fan-out) |
//! | 24 | one delivery of one event to one endpoint (id derived from both, so a fan-out is idempotent) | `PK=DLV#<delivery_id>`, `SK=DLV`; `GSI1PK=WHK#<endpoint_id>#DELIVERIES`, `GSI1SK=<created_at>#<delivery_id>` | conditional Put in the fan-out's transaction; Query GSI1 for `recover` |
//! | 25 | deliveries due (pending, by organization, then next attempt) | `GSI2PK=DUE#<shard 0..3>`, `GSI2SK=<org>#<next_at>#<delivery_id>`, only while pending (sparse) | Query GSI2: the next organization (Limit 1), then its entries `<= now`, organization by organization |
//! | 26 | an endpoint's delivery attempts, newest first (30 days) | `PK=WHK#<endpoint_id>#ATTEMPTS`, `SK=<time>#<attempt_id>` | Put with the attempt's outcome; Query descending |
//! | 27 | an endpoint's re-sends in one UTC hour (bounded) | `PK=WHK#<endpoint_id>#REQUEUES`, `SK=<yyyy-mm-ddThh>`, attribute `count`, TTL | conditional ADD in each re-send's transaction |
//! | 28 | a key's usage per minute, hour and day, by outcome and permission (TTL: 7, 90, 400 days) | `PK=USAGE#<key_id>`, `SK=M\|H\|D#<bucket start>` | the usage aggregator's transaction (ADD); Query a span |
//! | 29 | a key's aggregated use sequence and each permission's last use | `PK=USAGE#<key_id>`, `SK=ACCESS` | conditional Update in the same transaction; GetItem |
//! | 31 | an org+env's keys' totals on one UTC day (TTL 400 days) | `PK=USAGE#ORG#<org>#<env>#<yyyy-mm-dd>`, `SK=<key_id>` | ADD in the same transaction; Query a day |
//! | 32 | a key's `meta` and `external_id` (off the key item, which every request rewrites) | `PK=KEY#<key_id>`, `SK=META`; `GSI1PK=ORG#<org>#KEYEXT#<external_id>`, `GSI1SK=<created_at>#<key_id>` (only with an external id) | Put/Delete in the key's transaction; GetItem; Query GSI1 for `?external_id=` |
//! | 33 | a key's expiry notices sent (`key.expiring` 7 and 1 day before, `key.expired`) | `PK=KEY#<key_id>`, `SK=EXPIRY`; `GSI2PK=KEYEXP#<yyyy-mm-dd of the next notice>`, `GSI2SK=<next notice time>#<key_id>` (sparse: until `key.expired` is sent) | Put/Delete in the key's transaction; the notices job's Query of the days up to now (`<= now`) and a conditional Update (the next notice's time) or Delete |
//! | 34 | a file (a QR logo, a link's social image; its bytes in the files bucket) | `PK=FILE#<file_id>`, `SK=FILE`; `GSI1PK=ORG#<org>#<env>#FILES`, `GSI1SK=<created_at>#<id>` | Get/TransactWrite; Query GSI1 (keys), then each file read |
//! | 30 | a link's clicks per UTC day (referrers, countries; TTL 400 days), and the last click sequence counted | `PK=STATS#<link_id>`, `SK=DAY#<yyyy-mm-dd>` / `SK=SEQ` | the click aggregator's transaction (ADD); Query a range; deleted with the link |

/// Partition key attribute.
pub const PK: &str = "PK";
/// Sort key attribute.
pub const SK: &str = "SK";
/// The general-purpose inverted-listing index.
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
/// The sparse index of running sandboxes by deadline (only running sandboxes carry its keys).
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// Epoch seconds after which DynamoDB may delete an item. DynamoDB Local never deletes, and
/// AWS deletes late, so every read that cares filters on expiry itself.
pub const TTL_ATTRIBUTE: &str = "expires_at_epoch";

pub fn key_pk(key_id: &str) -> String {
    format!("KEY#{key_id}")
}
pub const KEY_SK: &str = "KEY";

pub fn org_pk(org_id: &str) -> String {
    format!("ORG#{org_id}")
}
pub const ORG_SK: &str = "ORG";

pub fn org_keys_gsi1pk(org_id: &str) -> String {
    format!("ORG#{org_id}#KEYS")
}
pub fn org_keys_gsi1sk(created_at: &str, key_id: &str) -> String {
    format!("{created_at}#{key_id}")
}

/// A file's record (its bytes are in the files bucket).
pub fn file_pk(file_id: &str) -> String {
    format!("FILE#{file_id}")
}
pub const FILE_SK: &str = "FILE";
pub fn org_files_gsi1pk(org_id: &str, environment: &str) -> String {
    format!("ORG#{org_id}#{environment}#FILES")
}

/// A key's metadata item (`meta`, `external_id`), beside the key item.
pub const KEY_META_SK: &str = "META";
/// The keys of an organization with one external id (every environment; the query filters).
pub fn key_external_gsi1pk(org_id: &str, external_id: &str) -> String {
    format!("ORG#{org_id}#KEYEXT#{external_id}")
}
/// A key's expiry-notice item, beside the key item.
pub const KEY_EXPIRY_SK: &str = "EXPIRY";
/// Keys whose next expiry notice falls due on one UTC day (`yyyy-mm-dd`), by that time: what the
/// notices job reads.
pub fn key_expiry_gsi2pk(date: &str) -> String {
    format!("KEYEXP#{date}")
}
pub fn key_expiry_gsi2sk(expires_at: &str, key_id: &str) -> String {
    format!("{expires_at}#{key_id}")
}

pub fn user_key_sk(user_id: &str) -> String {
    format!("USERKEY#{user_id}")
}

pub const MEMBER_SK_PREFIX: &str = "MEMBER#";
pub fn member_sk(user_id: &str) -> String {
    format!("{MEMBER_SK_PREFIX}{user_id}")
}

pub fn audit_pk(org_id: &str) -> String {
    format!("ORG#{org_id}#AUDIT")
}
/// `entry_id` keeps two entries of one request in one second apart.
pub fn audit_sk(at: &str, entry_id: &str) -> String {
    format!("{at}#{entry_id}")
}

pub fn outbox_pk(org_id: &str, environment: &str) -> String {
    format!("OUTBOX#{org_id}#{environment}")
}
pub fn outbox_sk(at: &str, event_id: &str) -> String {
    format!("{at}#{event_id}")
}

/// Records belong to the calling key (organization, environment, key id). The client's value is
/// hashed: an `Idempotency-Key` may be any 255 visible characters.
pub fn idempotency_pk(org_id: &str, environment: &str, key_id: &str, key_hash: &str) -> String {
    format!("IDEM#{org_id}#{environment}#{key_id}#{key_hash}")
}
pub const IDEMPOTENCY_SK: &str = "IDEM";

pub fn sandbox_pk(sandbox_id: &str) -> String {
    format!("SBX#{sandbox_id}")
}
pub const SANDBOX_SK: &str = "SBX";
pub fn org_sandboxes_gsi1pk(org_id: &str, environment: &str) -> String {
    format!("ORG#{org_id}#{environment}#SANDBOXES")
}
/// Deadlines are RFC 3339 UTC to the second, which sort as they compare.
pub fn running_gsi2pk(org_id: &str, environment: &str) -> String {
    format!("RUNNING#{org_id}#{environment}")
}
pub fn running_gsi2sk(expires_at: &str, sandbox_id: &str) -> String {
    format!("{expires_at}#{sandbox_id}")
}
/// Per-resource counters of an organization (and environment), each under its own partition
/// prefix so a role can be granted its own counters and no other's (`QUOTA#<RESOURCE>#...`).
/// Each is taken by a conditional `ADD` in the creating transaction and given back in the
/// deleting one (`store::transact::Transaction::take_slot`).
pub const QUOTA_SK: &str = "COUNT";
/// Running sandboxes of an org+env (attribute `running`).
pub fn sandbox_quota_pk(org_id: &str, environment: &str) -> String {
    format!("QUOTA#SBX#{org_id}#{environment}")
}
/// Short links of an org+env (attribute `count`).
pub fn link_quota_pk(org_id: &str, environment: &str) -> String {
    format!("QUOTA#LINK#{org_id}#{environment}")
}
/// Custom domains of an org+env (attribute `count`).
pub fn domain_quota_pk(org_id: &str, environment: &str) -> String {
    format!("QUOTA#DOM#{org_id}#{environment}")
}
/// Webhook endpoints of an org+env (attribute `count`).
pub fn webhook_quota_pk(org_id: &str, environment: &str) -> String {
    format!("QUOTA#WHK#{org_id}#{environment}")
}
/// Unrevoked keys of an org+env (attribute `count`).
pub fn file_quota_pk(org_id: &str, environment: &str) -> String {
    format!("QUOTA#FILE#{org_id}#{environment}")
}

pub fn key_quota_pk(org_id: &str, environment: &str) -> String {
    format!("QUOTA#KEY#{org_id}#{environment}")
}

pub fn link_pk(link_id: &str) -> String {
    format!("LINK#{link_id}")
}
pub const LINK_SK: &str = "LINK";
/// A link's click statistics: one item per UTC day, and the click sequence counted (`SEQ`),
/// written by the click aggregator alone.
pub fn stats_pk(link_id: &str) -> String {
    format!("STATS#{link_id}")
}
pub const LINK_DAY_SK_PREFIX: &str = "DAY#";
/// One UTC day's click counters of a link (`date` is `yyyy-mm-dd`, which sorts as it compares).
pub fn link_day_sk(date: &str) -> String {
    format!("{LINK_DAY_SK_PREFIX}{date}")
}
pub const STATS_SEQUENCE_SK: &str = "SEQ";
/// The deployment's own link domain in slug keys: custom domains are host names, which never
/// contain `@`, so changing the link domain setting never orphans a link.
pub const OWN_LINK_DOMAIN: &str = "@";
/// Slugs are unique per domain without regard to case: `Promo` and `promo` are one link.
pub fn slug_pk(domain: &str, slug: &str) -> String {
    format!("SLUG#{domain}#{}", slug.to_ascii_lowercase())
}
pub const SLUG_SK: &str = "SLUG";
pub fn org_links_gsi1pk(org_id: &str, environment: &str) -> String {
    format!("ORG#{org_id}#{environment}#LINKS")
}
pub fn domain_pk(domain_id: &str) -> String {
    format!("DOM#{domain_id}")
}
pub const DOMAIN_SK: &str = "DOMAIN";
pub fn org_domains_gsi1pk(org_id: &str, environment: &str) -> String {
    format!("ORG#{org_id}#{environment}#DOMAINS")
}
pub fn hostname_pk(hostname: &str) -> String {
    format!("HOST#{hostname}")
}
pub const HOSTNAME_SK: &str = "HOST";
/// A tenant's registration of a host name, verified or not (one per tenant).
pub fn tenant_hostname_pk(org_id: &str, environment: &str, hostname: &str) -> String {
    format!("ORG#{org_id}#{environment}#HOST#{hostname}")
}

/// The dispatcher's work is spread over a few index partitions, not one hot key.
pub const WORK_SHARDS: u32 = 4;
/// The shard of an id (stable: a function of the id's bytes).
pub fn shard_of(id: &str) -> u32 {
    id.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % WORK_SHARDS
}
pub fn pending_events_gsi2pk(shard: u32) -> String {
    format!("EVENTS#{shard}")
}
pub fn webhook_pk(endpoint_id: &str) -> String {
    format!("WHK#{endpoint_id}")
}
pub const WEBHOOK_SK: &str = "WHK";
pub fn org_webhooks_gsi1pk(org_id: &str, environment: &str) -> String {
    format!("ORG#{org_id}#{environment}#WEBHOOKS")
}
pub fn delivery_pk(delivery_id: &str) -> String {
    format!("DLV#{delivery_id}")
}
pub const DELIVERY_SK: &str = "DLV";
pub fn endpoint_deliveries_gsi1pk(endpoint_id: &str) -> String {
    format!("WHK#{endpoint_id}#DELIVERIES")
}
pub fn due_gsi2pk(shard: u32) -> String {
    format!("DUE#{shard}")
}
/// By organization first: the dispatcher takes each organization's oldest due deliveries in turn.
pub fn due_gsi2sk(org_id: &str, next_at: &str, delivery_id: &str) -> String {
    format!("{org_id}#{next_at}#{delivery_id}")
}
/// An endpoint's re-sends (resend, recover) in one UTC hour, bounded per endpoint.
pub fn requeues_pk(endpoint_id: &str) -> String {
    format!("WHK#{endpoint_id}#REQUEUES")
}
pub fn attempts_pk(endpoint_id: &str) -> String {
    format!("WHK#{endpoint_id}#ATTEMPTS")
}

/// A key's usage: its buckets and its access record, written by the usage aggregator alone.
pub fn usage_pk(key_id: &str) -> String {
    format!("USAGE#{key_id}")
}
/// A bucket of `granularity` (`M`, `H`, `D`) starting at `start` (RFC 3339 UTC, which sorts as
/// it compares).
pub fn usage_bucket_sk(granularity: &str, start: &str) -> String {
    format!("{granularity}#{start}")
}
pub const USAGE_ACCESS_SK: &str = "ACCESS";
/// An organization and environment's usage on one UTC day, one item per key (`SK` = key id):
/// what `GET /v1/usage` ranks, without reading each key's buckets.
pub fn usage_org_day_pk(org_id: &str, environment: &str, date: &str) -> String {
    format!("USAGE#ORG#{org_id}#{environment}#{date}")
}

pub const HEALTH_PK: &str = "HEALTH";
pub const HEALTH_SK: &str = "HEALTH";

/// The item actions a role may be granted on the table (IAM names). A `TransactWriteItems` is
/// authorized action by action: each Put, Update, Delete and ConditionCheck it holds needs its own
/// `PutItem`, `UpdateItem`, `DeleteItem` or `ConditionCheckItem` on that item's partition.
pub const GET_ITEM: &str = "dynamodb:GetItem";
pub const PUT_ITEM: &str = "dynamodb:PutItem";
pub const UPDATE_ITEM: &str = "dynamodb:UpdateItem";
pub const DELETE_ITEM: &str = "dynamodb:DeleteItem";
pub const CONDITION_CHECK_ITEM: &str = "dynamodb:ConditionCheckItem";
pub const QUERY: &str = "dynamodb:Query";
pub const SCAN: &str = "dynamodb:Scan";
/// Every item action above but `Scan` (which no role may make on the table itself).
pub const ITEM_ACTIONS: &[&str] = &[GET_ITEM, PUT_ITEM, UPDATE_ITEM, DELETE_ITEM, CONDITION_CHECK_ITEM, QUERY];
/// The trails every change appends to: who did what, and the events to deliver. Appended by every
/// role that changes something, changed by none (but the dispatcher, which marks an event
/// dispatched): a compromised function can add entries, never rewrite or remove them.
pub const AUDIT_PARTITIONS: &str = "ORG#*#AUDIT";
pub const OUTBOX_PARTITIONS: &str = "OUTBOX#*";

/// One statement on the table's items: `actions` on the partitions whose key matches one of
/// `partitions` (IAM `StringLike` on `dynamodb:LeadingKeys`, `*` any characters, `#` included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemGrant {
    pub actions: &'static [&'static str],
    pub partitions: &'static [&'static str],
}

/// One statement on one index: `Query` bounded to the index partitions whose key (the index's
/// partition key, `GSI1PK` or `GSI2PK`) matches `partitions`, or an unbounded `Scan`
/// (`partitions` empty: a Scan names no partition key, so no `dynamodb:LeadingKeys` condition
/// can bound it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexGrant {
    pub index: &'static str,
    pub action: &'static str,
    pub partitions: &'static [&'static str],
}

/// What one binary's role may do on the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleAccess {
    /// The binary (`Metadata.BuildProperties.Binary` of its function in `template.yaml`).
    pub role: &'static str,
    /// Partitions the role owns: the item actions its code makes on them (Allow,
    /// `ForAllValues:StringLike`).
    pub owns: &'static [ItemGrant],
    /// Partitions it may only append to: `PutItem`, plus the reads (`GetItem`, `Query`) it
    /// makes there, nothing that changes or removes an item (Allow, `ForAllValues:StringLike`).
    pub appends: &'static [ItemGrant],
    /// Taken back from `owns` where an owned pattern also matches partitions the role must not
    /// change (Deny, `ForAnyValue:StringLike`: any key of the request in them denies it).
    pub denies: &'static [ItemGrant],
    /// Its index reads, one statement per index and action.
    pub indexes: &'static [IndexGrant],
}

/// Least privilege on the table, per binary: the `dynamodb:LeadingKeys` patterns of each of its
/// statements in `template.yaml`. `shared/tests/integration/drift.rs` holds the template to this list
/// statement for statement, every pattern to a partition the builders above make, and each
/// role's effective actions on each partition to what its store code does.
///
/// - Per-resource counters: each role holds its own `QUOTA#<RESOURCE>#` prefix, none the
///   others' (the links function cannot move the sandbox quota).
/// - The audit trail and the outbox are append-only (`PutItem`) for every role; only the
///   webhook dispatcher updates outbox events (it marks them dispatched), and only the
///   webhooks API reads the audit trail (`GET /v1/audit-log`).
/// - The keys function owns `ORG#<org>` (the organization, its members, user-key claims), and
///   `ORG#*` also matches `ORG#<org>#AUDIT` and the links function's `ORG#<org>#<env>#HOST#..`
///   under `StringLike` (`*` spans `#`; an IAM pattern cannot say "no `#` here"). Explicit Deny
///   statements take those back: on the audit trail everything but `PutItem`, on the hostname
///   registrations everything. A Deny wins over any Allow, so this holds whatever is granted.
/// - Indexes: AWS documents `dynamodb:LeadingKeys` as the partition key of the request (to be
///   used with `ForAllValues`) and bounds a table and one of its indexes with it in a single
///   statement (DynamoDB developer guide, "Using IAM policy conditions for fine-grained access
///   control", example 5). A `Query` on an index names exactly one partition key value, the
///   index's own (`GSI1PK`, `GSI2PK`), so each index statement is bounded by the index
///   partitions the role reads. The guide does not spell out a GSI whose partition key differs
///   from the table's; were the key absent from such a Query, `ForAllValues` would pass it, so
///   the bound can only narrow what the code does, never refuse it. For the same reason a `Scan`
///   (no key at all) is bounded by nothing: only the sandbox sweep scans, GSI2 alone (keys only).
pub const ROLE_PARTITIONS: &[RoleAccess] = &[
    RoleAccess {
        role: "health",
        owns: &[ItemGrant { actions: &[GET_ITEM], partitions: &[HEALTH_PK] }],
        appends: &[],
        denies: &[],
        indexes: &[],
    },
    // The operator console's page and assets: built into the binary, nothing on the table.
    RoleAccess { role: "console", owns: &[], appends: &[], denies: &[], indexes: &[] },
    // Authentication: one UpdateItem on the key's own item (check, count, touch).
    RoleAccess {
        role: "authorizer",
        owns: &[ItemGrant { actions: &[UPDATE_ITEM], partitions: &["KEY#*"] }],
        appends: &[],
        denies: &[],
        indexes: &[],
    },
    // Keys, the organization's members and user-key claims (ORG#<org>), its key count; it reads
    // the keys' usage.
    RoleAccess {
        role: "keys",
        owns: &[
            ItemGrant { actions: ITEM_ACTIONS, partitions: &["KEY#*", "ORG#*", "QUOTA#KEY#*", "IDEM#*"] },
            ItemGrant { actions: &[GET_ITEM, QUERY], partitions: &["USAGE#*"] },
        ],
        appends: &[ItemGrant { actions: &[PUT_ITEM], partitions: &[AUDIT_PARTITIONS, OUTBOX_PARTITIONS] }],
        denies: &[
            ItemGrant {
                actions: &[GET_ITEM, UPDATE_ITEM, DELETE_ITEM, CONDITION_CHECK_ITEM, QUERY],
                partitions: &[AUDIT_PARTITIONS],
            },
            ItemGrant { actions: ITEM_ACTIONS, partitions: &["ORG#*#HOST#*"] },
        ],
        indexes: &[IndexGrant { index: GSI1, action: QUERY, partitions: &["ORG#*#KEYS", "ORG#*#KEYEXT#*"] }],
    },
    // Files: their records and the idempotency of their creation; it reads a link for its QR code.
    RoleAccess {
        role: "files",
        owns: &[
            ItemGrant {
                actions: &[GET_ITEM, PUT_ITEM, UPDATE_ITEM, DELETE_ITEM],
                partitions: &["FILE#*", "QUOTA#FILE#*", "IDEM#*"],
            },
            ItemGrant { actions: &[GET_ITEM], partitions: &["LINK#*"] },
        ],
        appends: &[ItemGrant { actions: &[PUT_ITEM], partitions: &[AUDIT_PARTITIONS, OUTBOX_PARTITIONS] }],
        denies: &[],
        indexes: &[IndexGrant { index: GSI1, action: QUERY, partitions: &["ORG#*#FILES"] }],
    },
    // Sends a key's expiry notices: reads the key and its notice item, marks the notice sent and
    // moves the item to its next notice's time (or removes it after `key.expired`).
    RoleAccess {
        role: "key-notices",
        owns: &[ItemGrant { actions: &[GET_ITEM, UPDATE_ITEM, DELETE_ITEM], partitions: &["KEY#*"] }],
        appends: &[ItemGrant { actions: &[PUT_ITEM], partitions: &[AUDIT_PARTITIONS, OUTBOX_PARTITIONS] }],
        denies: &[],
        indexes: &[IndexGrant { index: GSI2, action: QUERY, partitions: &["KEYEXP#*"] }],
    },
    RoleAccess {
        role: "sandboxes",
        owns: &[ItemGrant {
            actions: &[GET_ITEM, PUT_ITEM, UPDATE_ITEM],
            partitions: &["SBX#*", "QUOTA#SBX#*", "IDEM#*"],
        }],
        appends: &[ItemGrant { actions: &[PUT_ITEM], partitions: &[AUDIT_PARTITIONS, OUTBOX_PARTITIONS] }],
        denies: &[],
        indexes: &[
            IndexGrant { index: GSI1, action: QUERY, partitions: &["ORG#*#SANDBOXES"] },
            IndexGrant { index: GSI2, action: QUERY, partitions: &["RUNNING#*"] },
        ],
    },
    // Reads and ends overdue sandboxes, frees their slots: it creates none.
    RoleAccess {
        role: "sandbox-sweep",
        owns: &[ItemGrant { actions: &[GET_ITEM, UPDATE_ITEM], partitions: &["SBX#*", "QUOTA#SBX#*"] }],
        appends: &[ItemGrant { actions: &[PUT_ITEM], partitions: &[AUDIT_PARTITIONS, OUTBOX_PARTITIONS] }],
        denies: &[],
        indexes: &[IndexGrant { index: GSI2, action: SCAN, partitions: &[] }],
    },
    RoleAccess {
        role: "links",
        owns: &[
            ItemGrant {
                actions: ITEM_ACTIONS,
                partitions: &[
                    "LINK#*",
                    "SLUG#*",
                    "DOM#*",
                    "HOST#*",
                    "ORG#*#HOST#*",
                    "QUOTA#LINK#*",
                    "QUOTA#DOM#*",
                    "IDEM#*",
                ],
            },
            // Its links' click statistics, read only (the click aggregator writes them).
            ItemGrant { actions: &[GET_ITEM, QUERY], partitions: &["STATS#*"] },
            // A preview image's `uses`, counted in the link's transactions.
            ItemGrant { actions: &[UPDATE_ITEM], partitions: &["FILE#*"] },
        ],
        appends: &[ItemGrant { actions: &[PUT_ITEM], partitions: &[AUDIT_PARTITIONS, OUTBOX_PARTITIONS] }],
        denies: &[],
        indexes: &[IndexGrant { index: GSI1, action: QUERY, partitions: &["ORG#*#LINKS", "ORG#*#DOMAINS"] }],
    },
    // Endpoints, their attempts and deliveries, the endpoint count. It writes no events (an
    // endpoint's own changes are audited only) and reads the audit trail.
    RoleAccess {
        role: "webhooks",
        owns: &[ItemGrant {
            actions: &[GET_ITEM, PUT_ITEM, UPDATE_ITEM, DELETE_ITEM, QUERY],
            partitions: &["WHK#*", "DLV#*", "QUOTA#WHK#*", "IDEM#*"],
        }],
        appends: &[ItemGrant { actions: &[PUT_ITEM, QUERY], partitions: &[AUDIT_PARTITIONS] }],
        denies: &[],
        indexes: &[IndexGrant { index: GSI1, action: QUERY, partitions: &["ORG#*#WEBHOOKS", "WHK#*#DELIVERIES"] }],
    },
    // Fans events out (deliveries created, the event marked dispatched), sends deliveries and
    // records attempts and their effect on the endpoint.
    RoleAccess {
        role: "webhook-dispatcher",
        owns: &[
            ItemGrant { actions: &[GET_ITEM, PUT_ITEM, UPDATE_ITEM], partitions: &["WHK#*", "DLV#*"] },
            // Marks events dispatched, and writes `webhook.disabled` when it disables an endpoint.
            ItemGrant { actions: &[GET_ITEM, PUT_ITEM, UPDATE_ITEM], partitions: &[OUTBOX_PARTITIONS] },
        ],
        appends: &[ItemGrant { actions: &[PUT_ITEM], partitions: &[AUDIT_PARTITIONS] }],
        denies: &[],
        indexes: &[
            IndexGrant { index: GSI1, action: QUERY, partitions: &["ORG#*#WEBHOOKS"] },
            IndexGrant { index: GSI2, action: QUERY, partitions: &["EVENTS#*", "DUE#*"] },
        ],
    },
    // Counts the keys' requests from the table's stream into their usage partitions (the
    // stream's records carry all it needs of the key items).
    RoleAccess {
        role: "usage-aggregator",
        owns: &[ItemGrant { actions: &[GET_ITEM, UPDATE_ITEM], partitions: &["USAGE#*"] }],
        appends: &[],
        denies: &[],
        indexes: &[],
    },
    // Counts clicks from the table's stream into the links' statistics, and deletes a deleted
    // link's statistics.
    RoleAccess {
        role: "click-aggregator",
        owns: &[ItemGrant { actions: &[GET_ITEM, UPDATE_ITEM, DELETE_ITEM, QUERY], partitions: &["STATS#*"] }],
        appends: &[],
        denies: &[],
        indexes: &[],
    },
];

/// The table's shape, independent of any SDK: what create-table sends and what
/// `template.yaml` must declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// (attribute name, DynamoDB scalar type `S`/`N`/`B`), sorted by name.
    pub attributes: Vec<(&'static str, &'static str)>,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    pub global_indexes: Vec<IndexDefinition>,
    pub ttl_attribute: &'static str,
    pub billing_mode: &'static str,
    /// Streams feed the webhook dispatcher from the outbox.
    pub stream_view_type: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    pub projection: &'static str,
    /// With an `INCLUDE` projection, the attributes the index carries besides the keys.
    pub non_key_attributes: &'static [&'static str],
}

/// What GSI1 carries: what the key and sandbox listings show and filter on, and nothing an
/// authentication writes (rate-window counters, `last_used_at`), so that counting a request
/// rewrites the key item only, one write unit, and never the index. A key listing reads
/// `last_used_at` from the items themselves.
pub const GSI1_ATTRIBUTES: &[&str] = &[
    "key_id",
    "org_id",
    "environment",
    "key_type",
    "user_id",
    "owner_name",
    "name",
    "permissions",
    "tier",
    "rate_limit",
    "last4",
    "created_at",
    "expires_at",
    "expires_epoch",
    "created_by",
    "created_by_user",
    "id",
    "template_id",
    "status",
    "timeout_seconds",
    "ended_at",
    "slug",
    "domain",
    "destination",
    "title",
    "updated_at",
    "hostname",
    "token",
    "verified",
    "verified_at",
];

pub fn table_definition() -> TableDefinition {
    TableDefinition {
        attributes: vec![(GSI1PK, "S"), (GSI1SK, "S"), (GSI2PK, "S"), (GSI2SK, "S"), (PK, "S"), (SK, "S")],
        partition_key: PK,
        sort_key: SK,
        global_indexes: vec![
            IndexDefinition {
                name: GSI1,
                partition_key: GSI1PK,
                sort_key: GSI1SK,
                projection: "INCLUDE",
                non_key_attributes: GSI1_ATTRIBUTES,
            },
            // The sweep reads each overdue sandbox before ending it: keys are enough here.
            IndexDefinition {
                name: GSI2,
                partition_key: GSI2PK,
                sort_key: GSI2SK,
                projection: "KEYS_ONLY",
                non_key_attributes: &[],
            },
        ],
        ttl_attribute: TTL_ATTRIBUTE,
        billing_mode: "PAY_PER_REQUEST",
        stream_view_type: "NEW_IMAGE",
    }
}
