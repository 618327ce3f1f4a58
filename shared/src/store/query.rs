//! Query pages: one listing (a partition of the table or of an index, narrowed by a sort-key
//! range and a filter), read newest first, a page at a time. A page is full, or the listing is
//! exhausted: never an empty page while more items match.

use super::cursor::Position;
use super::dynamo::{classify, DynamoStore};
use super::items::{get_s, key_of, string_attr, Item};
use super::{ChangeError, Page, StoreError};
use crate::schema;

/// The sort-key range of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortRange {
    All,
    /// Sort keys beginning with the prefix (one item type in a shared partition).
    Prefix(String),
    /// Sort keys from `from` to `to`, both included (e.g. a `since` filter on a time-ordered key).
    Between {
        from: String,
        to: String,
    },
    /// Sort keys at or after `from`.
    From(String),
    /// Sort keys at or before `to`.
    UpTo(String),
}

/// A filter on a listing's items, applied by DynamoDB (`FilterExpression`): names are `#n`
/// placeholders for attributes, values `:v` placeholders for string values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub expression: String,
    pub names: Vec<(String, String)>,
    pub values: Vec<(String, String)>,
    /// `:v` placeholders for number values (an expiry in epoch seconds).
    pub numbers: Vec<(String, i64)>,
}

impl Filter {
    /// Adds `clause` (joined with AND) with its placeholders.
    pub fn and(&mut self, clause: &str, names: &[(&str, &str)], values: &[(&str, &str)]) -> &mut Self {
        if !self.expression.is_empty() {
            self.expression.push_str(" AND ");
        }
        self.expression.push_str(clause);
        self.names.extend(names.iter().map(|(n, a)| (n.to_string(), a.to_string())));
        self.values.extend(values.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        self
    }

    /// Adds `clause` (joined with AND) comparing with a number value.
    pub fn and_number(&mut self, clause: &str, names: &[(&str, &str)], value: (&str, i64)) -> &mut Self {
        self.and(clause, names, &[]);
        self.numbers.push((value.0.to_string(), value.1));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.expression.is_empty()
    }
}

/// One listing.
#[derive(Debug, Clone)]
pub struct Listing<'a> {
    pub index: Option<&'a str>,
    pub partition_attr: &'a str,
    pub partition: String,
    pub sort_attr: &'a str,
    pub range: SortRange,
    pub filter: Filter,
    /// The key attributes of an item in this listing (table keys, plus the index's): a page's
    /// position is made of them.
    pub key_attrs: &'a [&'a str],
}

impl Listing<'static> {
    /// A partition of GSI1, the listing index of every resource: all of it, unfiltered (set
    /// `range` and `filter` to narrow it).
    pub fn gsi1(partition: String) -> Self {
        Listing {
            index: Some(schema::GSI1),
            partition_attr: schema::GSI1PK,
            partition,
            sort_attr: schema::GSI1SK,
            range: SortRange::All,
            filter: Filter::default(),
            key_attrs: &[schema::PK, schema::SK, schema::GSI1PK, schema::GSI1SK],
        }
    }
}

type QueryBuilder = aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

/// A query's key condition: the partition (`#p = :p`, named and valued by the caller) and
/// `range` on the sort key `sort_attr`.
fn key_condition(query: QueryBuilder, sort_attr: &str, range: &SortRange) -> QueryBuilder {
    let sort = |q: QueryBuilder| q.expression_attribute_names("#s", sort_attr);
    match range {
        SortRange::All => query.key_condition_expression("#p = :p"),
        SortRange::Prefix(prefix) => sort(query)
            .key_condition_expression("#p = :p AND begins_with(#s, :s)")
            .expression_attribute_values(":s", string_attr(prefix)),
        SortRange::Between { from, to } => sort(query)
            .key_condition_expression("#p = :p AND #s BETWEEN :from AND :to")
            .expression_attribute_values(":from", string_attr(from))
            .expression_attribute_values(":to", string_attr(to)),
        SortRange::From(from) => sort(query)
            .key_condition_expression("#p = :p AND #s >= :from")
            .expression_attribute_values(":from", string_attr(from)),
        SortRange::UpTo(to) => sort(query)
            .key_condition_expression("#p = :p AND #s <= :to")
            .expression_attribute_values(":to", string_attr(to)),
    }
}

impl DynamoStore {
    /// Every item of a table partition whose sort key is in `range`, ascending, page after page
    /// (for partitions a caller bounds itself: a key's usage buckets of a span, a link's days).
    pub async fn query_partition(&self, partition: String, range: SortRange) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let query = self
                .client()
                .query()
                .table_name(self.table())
                .expression_attribute_names("#p", schema::PK)
                .expression_attribute_values(":p", string_attr(&partition))
                .set_exclusive_start_key(start.take());
            let out = key_condition(query, schema::SK, &range).send().await.map_err(classify)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(items),
            }
        }
    }

    /// `list_page`, each item read into its record.
    pub async fn list_records<T>(
        &self,
        listing: &Listing<'_>,
        start: Option<&Position>,
        limit: u32,
        record: fn(&Item) -> Result<T, StoreError>,
    ) -> Result<Page<T>, ChangeError> {
        let (found, next) = self.list_page(listing, start, limit).await?;
        let items = found.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next })
    }

    /// One page of `listing`: up to `limit` matching items from `start` on, newest first, and the
    /// position of the last one when more match. DynamoDB applies `Limit` before the filter, so a
    /// filtered listing may read several rounds.
    pub async fn list_page(
        &self,
        listing: &Listing<'_>,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<(Vec<Item>, Option<Position>), ChangeError> {
        self.read_page(listing, start, limit, false).await
    }

    /// `list_page` of an index whose entries carry less than the records (a link's preview, a
    /// file's fields): each entry's item read whole by its table key, all at once, in the
    /// listing's order; one deleted meanwhile is left out.
    pub async fn list_page_whole(
        &self,
        listing: &Listing<'_>,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<(Vec<Item>, Option<Position>), ChangeError> {
        let (entries, next) = self.list_page(listing, start, limit).await?;
        // An index entry always carries its item's table key.
        let keys = entries
            .iter()
            .map(|entry| Ok(key_of(get_s(entry, schema::PK)?.to_string(), get_s(entry, schema::SK)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let items = self.get_all_consistent(keys).await?.into_iter().flatten().collect();
        Ok((items, next))
    }

    /// Like `list_page`, oldest first: for work queues, where the oldest item goes first.
    pub async fn list_page_oldest_first(
        &self,
        listing: &Listing<'_>,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<(Vec<Item>, Option<Position>), ChangeError> {
        self.read_page(listing, start, limit, true).await
    }

    async fn read_page(
        &self,
        listing: &Listing<'_>,
        start: Option<&Position>,
        limit: u32,
        oldest_first: bool,
    ) -> Result<(Vec<Item>, Option<Position>), ChangeError> {
        let wanted = limit as usize + 1;
        let mut found: Vec<Item> = Vec::new();
        let mut exclusive_start = start.map(|position| start_key(listing, position)).transpose()?;
        let mut read = 0usize;
        // Where a filtered read stopped at its bound before the page filled: the next page starts
        // there.
        let mut stopped_at: Option<Item> = None;
        loop {
            // Unfiltered, one more item than the page tells whether more follow; filtered, read
            // wider rounds so sparse matches take few round trips.
            let round = if listing.filter.is_empty() { wanted } else { wanted.max(100) };
            let mut query = self
                .client()
                .query()
                .table_name(self.table())
                .set_index_name(listing.index.map(str::to_string))
                .scan_index_forward(oldest_first)
                .limit(round as i32)
                .expression_attribute_names("#p", listing.partition_attr)
                .expression_attribute_values(":p", string_attr(&listing.partition))
                .set_exclusive_start_key(exclusive_start.take());
            query = key_condition(query, listing.sort_attr, &listing.range);
            if !listing.filter.is_empty() {
                query = query.filter_expression(&listing.filter.expression);
                for (name, attr) in &listing.filter.names {
                    query = query.expression_attribute_names(name, attr);
                }
                for (name, value) in &listing.filter.numbers {
                    query = query.expression_attribute_values(name, super::items::number_attr(value));
                }
                for (name, value) in &listing.filter.values {
                    query = query.expression_attribute_values(name, string_attr(value));
                }
            }
            let out = query.send().await.map_err(classify)?;
            read += usize::try_from(out.scanned_count).unwrap_or(0);
            found.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(last) if found.len() < wanted && read >= MAX_ITEMS_READ => {
                    stopped_at = Some(last);
                    break;
                }
                Some(last) if found.len() < wanted => exclusive_start = Some(last),
                _ => break,
            }
        }
        if found.len() <= limit as usize {
            let position = stopped_at.map(|last| position_of(listing, &last));
            return Ok((found, position));
        }
        found.truncate(limit as usize);
        let position = found.last().map(|last| position_of(listing, last));
        Ok((found, position))
    }
}

/// The items one filtered listing request reads at most (DynamoDB's scanned count, matching or
/// not): a filter that matches little answers a short page, or an empty one, with a cursor to
/// go on from, instead of reading the whole partition in one request.
pub const MAX_ITEMS_READ: usize = 1000;

/// The position after `item` (a page's last item, or the last key a query evaluated).
fn position_of(listing: &Listing<'_>, item: &Item) -> Position {
    listing
        .key_attrs
        .iter()
        .filter_map(|attr| Some((attr.to_string(), item.get(*attr)?.as_s().ok()?.clone())))
        .collect()
}

/// The exclusive start key of a page that begins after `position`. The position came sealed from
/// this listing; it is still checked to be the key of one of its items.
fn start_key(listing: &Listing<'_>, position: &Position) -> Result<Item, ChangeError> {
    let invalid = || ChangeError::Invalid { field: "cursor", reason: "is not a cursor this list returned".into() };
    let shape_ok = position.len() == listing.key_attrs.len()
        && listing.key_attrs.iter().all(|attr| position.get(*attr).is_some_and(|v| !v.is_empty() && v.len() <= 1024))
        && position.get(listing.partition_attr) == Some(&listing.partition);
    if !shape_ok {
        return Err(invalid());
    }
    Ok(position.iter().map(|(k, v)| (k.clone(), string_attr(v))).collect())
}
