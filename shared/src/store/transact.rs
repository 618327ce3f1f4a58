//! Transactions: every multi-item change is one `TransactWriteItems`, built here (the change log's
//! items join it through `change::ChangeLog`), and each failed condition is mapped to the error it
//! means, at one place per change.

use super::dynamo::{built, classify, DynamoStore};
use super::items::{number_attr, string_attr, Item};
use super::{ChangeError, StoreError};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, DeleteBuilder, PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};

/// A transaction being built: the writes in order, and what a failed condition at a position
/// means. A failed condition nobody named is a collision with a concurrent change (409).
pub struct Transaction<'a> {
    store: &'a DynamoStore,
    writes: Vec<TransactWriteItem>,
    meanings: Vec<(usize, ChangeError)>,
}

/// How a transaction ended when it did not commit.
enum Failure {
    Condition(usize),
    /// Cancelled by a concurrent transaction on the same items: worth a retry.
    Conflict(StoreError),
    Store(StoreError),
}

impl DynamoStore {
    pub fn transaction(&self) -> Transaction<'_> {
        Transaction { store: self, writes: Vec::new(), meanings: Vec::new() }
    }
}

impl Transaction<'_> {
    fn push(&mut self, write: TransactWriteItem) -> usize {
        self.writes.push(write);
        self.writes.len() - 1
    }

    /// A put, conditional when `condition` is given; returns its position.
    pub fn put(&mut self, item: Item, condition: Option<&str>) -> Result<usize, StoreError> {
        let mut put = Put::builder().table_name(self.store.table()).set_item(Some(item));
        if let Some(condition) = condition {
            put = put.condition_expression(condition);
        }
        Ok(self.push(TransactWriteItem::builder().put(built(put.build())?).build()))
    }

    /// A put of an item that must not exist yet.
    pub fn create(&mut self, item: Item) -> Result<usize, StoreError> {
        self.put(item, Some("attribute_not_exists(PK)"))
    }

    /// An update of the item at `key`; `build` adds the expressions.
    pub fn update(
        &mut self,
        key: Item,
        build: impl FnOnce(UpdateBuilder) -> UpdateBuilder,
    ) -> Result<usize, StoreError> {
        let update = build(Update::builder().table_name(self.store.table()).set_key(Some(key)));
        Ok(self.push(TransactWriteItem::builder().update(built(update.build())?).build()))
    }

    /// A conditional delete; `value`, when given, is `:v` in the condition.
    pub fn delete(&mut self, key: Item, condition: &str, value: Option<&str>) -> Result<usize, StoreError> {
        let mut delete =
            Delete::builder().table_name(self.store.table()).set_key(Some(key)).condition_expression(condition);
        if let Some(value) = value {
            delete = delete.expression_attribute_values(":v", string_attr(value));
        }
        Ok(self.push(TransactWriteItem::builder().delete(built(delete.build())?).build()))
    }

    /// A delete whose condition `build` writes, with its own placeholders.
    pub fn delete_where(
        &mut self,
        key: Item,
        build: impl FnOnce(DeleteBuilder) -> DeleteBuilder,
    ) -> Result<usize, StoreError> {
        let delete = build(Delete::builder().table_name(self.store.table()).set_key(Some(key)));
        Ok(self.push(TransactWriteItem::builder().delete(built(delete.build())?).build()))
    }

    /// Takes one slot of a counter (`attribute` on the item at `key`) that may hold at most
    /// `limit`: a conditional `ADD`, so concurrent creations can never overshoot the ceiling.
    /// When it is full the transaction fails with `full`.
    pub fn take_slot(
        &mut self,
        key: Item,
        attribute: &str,
        limit: u32,
        full: ChangeError,
    ) -> Result<usize, StoreError> {
        let position = self.update(key, |u| {
            u.update_expression("ADD #count :one")
                .condition_expression("attribute_not_exists(#count) OR #count < :limit")
                .expression_attribute_names("#count", attribute)
                .expression_attribute_values(":one", number_attr(1))
                .expression_attribute_values(":limit", number_attr(limit))
        })?;
        self.on_condition(position, full);
        Ok(position)
    }

    /// Gives back a slot `take_slot` took, in the deleting transaction (unconditional: a
    /// condition here would make the deletion itself fail).
    pub fn give_back_slot(&mut self, key: Item, attribute: &str) -> Result<usize, StoreError> {
        self.update(key, |u| {
            u.update_expression("ADD #count :minus_one")
                .expression_attribute_names("#count", attribute)
                .expression_attribute_values(":minus_one", number_attr(-1))
        })
    }

    /// Adds each non-zero counter (`ADD`) to the item at `key`, creating it if need be, and sets
    /// its expiry (the table's TTL attribute, unix seconds): an aggregator's bucket.
    pub fn add_counters(
        &mut self,
        key: Item,
        counters: &[(String, i64)],
        expires_at: i64,
    ) -> Result<usize, StoreError> {
        let adds: Vec<&(String, i64)> = counters.iter().filter(|(_, n)| *n != 0).collect();
        self.update(key, |u| {
            let terms: Vec<String> = (0..adds.len()).map(|i| format!("#a{i} :a{i}")).collect();
            let expression = match terms.is_empty() {
                true => "SET #ttl = :ttl".to_string(),
                false => format!("SET #ttl = :ttl ADD {}", terms.join(", ")),
            };
            let mut u = u
                .update_expression(expression)
                .expression_attribute_names("#ttl", crate::schema::TTL_ATTRIBUTE)
                .expression_attribute_values(":ttl", number_attr(expires_at));
            for (i, (name, n)) in adds.iter().enumerate() {
                u = u
                    .expression_attribute_names(format!("#a{i}"), name.as_str())
                    .expression_attribute_values(format!(":a{i}"), number_attr(n));
            }
            u
        })
    }

    /// Moves a counted sequence (`attribute` on the item at `key`) from `from` (0: none counted
    /// yet) to `to`, with the item's expiry and the attributes `also` beside it. When the sequence
    /// is no longer `from` (another run counted meanwhile) the transaction fails as
    /// `ChangeError::Stale`: `commit_unless_stale` answers `false`, and nothing is written.
    pub fn advance_sequence(
        &mut self,
        key: Item,
        attribute: &str,
        (from, to): (u64, u64),
        expires_at: i64,
        also: Vec<(String, AttributeValue)>,
    ) -> Result<usize, StoreError> {
        let position = self.update(key, |u| {
            let mut set = vec!["#seq = :to".to_string(), "#ttl = :ttl".to_string()];
            let mut u = u
                .condition_expression(if from == 0 { "attribute_not_exists(#seq)" } else { "#seq = :from" })
                .expression_attribute_names("#seq", attribute)
                .expression_attribute_names("#ttl", crate::schema::TTL_ATTRIBUTE)
                .expression_attribute_values(":to", number_attr(to))
                .expression_attribute_values(":ttl", number_attr(expires_at));
            if from != 0 {
                u = u.expression_attribute_values(":from", number_attr(from));
            }
            for (i, (name, value)) in also.into_iter().enumerate() {
                set.push(format!("#v{i} = :v{i}"));
                u = u
                    .expression_attribute_names(format!("#v{i}"), name)
                    .expression_attribute_values(format!(":v{i}"), value);
            }
            u.update_expression(format!("SET {}", set.join(", ")))
        })?;
        self.on_condition(position, ChangeError::Stale);
        Ok(position)
    }

    /// A condition on an item the transaction does not write.
    pub fn check(&mut self, key: Item, condition: &str) -> Result<usize, StoreError> {
        let check =
            ConditionCheck::builder().table_name(self.store.table()).set_key(Some(key)).condition_expression(condition);
        Ok(self.push(TransactWriteItem::builder().condition_check(built(check.build())?).build()))
    }

    /// A condition with its own placeholders on an item the transaction does not write.
    pub fn check_where(
        &mut self,
        key: Item,
        build: impl FnOnce(ConditionCheckBuilder) -> ConditionCheckBuilder,
    ) -> Result<usize, StoreError> {
        let check = build(ConditionCheck::builder().table_name(self.store.table()).set_key(Some(key)));
        Ok(self.push(TransactWriteItem::builder().condition_check(built(check.build())?).build()))
    }

    /// What a failed condition at `position` means.
    pub fn on_condition(&mut self, position: usize, meaning: ChangeError) -> &mut Self {
        self.meanings.push((position, meaning));
        self
    }

    /// A put whose condition `build` writes, with its own placeholders.
    pub fn put_where(&mut self, item: Item, build: impl FnOnce(PutBuilder) -> PutBuilder) -> Result<usize, StoreError> {
        let put = build(Put::builder().table_name(self.store.table()).set_item(Some(item)));
        Ok(self.push(TransactWriteItem::builder().put(built(put.build())?).build()))
    }

    /// Runs a transaction guarded by `advance_sequence`: `Ok(false)` when the sequence had moved
    /// (nothing written), `Ok(true)` when committed.
    pub async fn commit_unless_stale(self) -> Result<bool, StoreError> {
        match self.commit().await {
            Ok(()) => Ok(true),
            Err(ChangeError::Stale) => Ok(false),
            Err(ChangeError::Store(err)) => Err(err),
            Err(other) => Err(StoreError::Other(Box::new(other))),
        }
    }

    /// Runs the transaction. A transaction cancelled only by a concurrent one touching the same
    /// items is retried a few times, so racing requests end in their real outcome (say 409), not
    /// a spurious 503.
    pub async fn commit(self) -> Result<(), ChangeError> {
        let mut attempt = 0;
        let outcome = loop {
            match once(self.store, self.writes.clone()).await {
                Err(Failure::Conflict(_)) if attempt < 5 => {
                    attempt += 1;
                    let jitter = rand::random::<u64>() % (20 * attempt);
                    tokio::time::sleep(std::time::Duration::from_millis(5 + jitter)).await;
                }
                other => break other,
            }
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(Failure::Condition(index)) => Err(self
                .meanings
                .into_iter()
                .find(|(position, _)| *position == index)
                .map(|(_, meaning)| meaning)
                .unwrap_or_else(|| ChangeError::Conflict("the change collided with another; retry".into()))),
            Err(Failure::Conflict(err) | Failure::Store(err)) => Err(err.into()),
        }
    }
}

async fn once(store: &DynamoStore, writes: Vec<TransactWriteItem>) -> Result<(), Failure> {
    match store.client().transact_write_items().set_transact_items(Some(writes)).send().await {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(service)) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                let reasons = cancelled.cancellation_reasons();
                let failed = reasons.iter().position(|r| r.code() == Some("ConditionalCheckFailed"));
                let conflict = reasons.iter().any(|r| r.code() == Some("TransactionConflict"));
                match failed {
                    Some(index) => Err(Failure::Condition(index)),
                    None => {
                        // Otherwise throttled or cancelled by the service: a dependency problem.
                        let err = StoreError::Unavailable(Box::new(SdkError::ServiceError(service)));
                        Err(if conflict { Failure::Conflict(err) } else { Failure::Store(err) })
                    }
                }
            }
            _ => Err(Failure::Store(classify(SdkError::ServiceError(service)))),
        },
        Err(other) => Err(Failure::Store(classify(other))),
    }
}
