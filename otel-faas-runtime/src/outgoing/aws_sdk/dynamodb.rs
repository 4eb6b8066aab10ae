//! DynamoDB: the attributes each operation's span definition lists (`span.dynamodb.*.client`
//! in `model/aws/sdk-spans.yaml`, every one `recommended`), and `db.system.name`, which each
//! of them says MUST be set at the span's start. What is left out, and why, is in the
//! [parent module](super#dynamodb).

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::create_table::CreateTableInput;
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::delete_table::DeleteTableInput;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableInput;
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::list_tables::{ListTablesInput, ListTablesOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::scan::{ScanInput, ScanOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::operation::update_table::UpdateTableInput;
use aws_sdk_dynamodb::types::{Capacity, ConsumedCapacity, ProvisionedThroughput, Select};
use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_semantic_conventions::attribute::{
    AWS_DYNAMODB_ATTRIBUTES_TO_GET, AWS_DYNAMODB_CONSISTENT_READ, AWS_DYNAMODB_CONSUMED_CAPACITY,
    AWS_DYNAMODB_COUNT, AWS_DYNAMODB_EXCLUSIVE_START_TABLE, AWS_DYNAMODB_INDEX_NAME,
    AWS_DYNAMODB_LIMIT, AWS_DYNAMODB_PROJECTION, AWS_DYNAMODB_PROVISIONED_READ_CAPACITY,
    AWS_DYNAMODB_PROVISIONED_WRITE_CAPACITY, AWS_DYNAMODB_SCAN_FORWARD, AWS_DYNAMODB_SCANNED_COUNT,
    AWS_DYNAMODB_SEGMENT, AWS_DYNAMODB_SELECT, AWS_DYNAMODB_TABLE_COUNT, AWS_DYNAMODB_TABLE_NAMES,
    AWS_DYNAMODB_TOTAL_SEGMENTS, DB_SYSTEM_NAME,
};
use serde_json::{Map, Value as Json, json};

use super::{OutgoingSpan, SpanShape};
use crate::redact::bounded;

/// The attributes of a DynamoDB operation's span known before the call.
pub(super) fn describe(input: &Input, shape: &mut SpanShape, limit: usize) {
    let mut out = Attributes {
        list: &mut shape.attributes,
        limit,
    };
    out.list.push(KeyValue::new(DB_SYSTEM_NAME, "aws.dynamodb"));
    if let Some(get) = input.downcast_ref::<GetItemInput>() {
        out.table(&get.table_name);
        out.flag(AWS_DYNAMODB_CONSISTENT_READ, get.consistent_read);
        out.string(AWS_DYNAMODB_PROJECTION, &get.projection_expression);
    } else if let Some(put) = input.downcast_ref::<PutItemInput>() {
        out.table(&put.table_name);
    } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
        out.table(&update.table_name);
    } else if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
        out.table(&delete.table_name);
    } else if let Some(query) = input.downcast_ref::<QueryInput>() {
        out.table(&query.table_name);
        out.flag(AWS_DYNAMODB_SCAN_FORWARD, query.scan_index_forward);
        out.flag(AWS_DYNAMODB_CONSISTENT_READ, query.consistent_read);
        out.int(AWS_DYNAMODB_LIMIT, query.limit);
        out.string(AWS_DYNAMODB_PROJECTION, &query.projection_expression);
        out.strings(
            AWS_DYNAMODB_ATTRIBUTES_TO_GET,
            query.attributes_to_get.iter().flatten(),
        );
        out.string(AWS_DYNAMODB_INDEX_NAME, &query.index_name);
        out.select(query.select.as_ref());
    } else if let Some(scan) = input.downcast_ref::<ScanInput>() {
        out.table(&scan.table_name);
        out.int(AWS_DYNAMODB_SEGMENT, scan.segment);
        out.int(AWS_DYNAMODB_TOTAL_SEGMENTS, scan.total_segments);
        out.flag(AWS_DYNAMODB_CONSISTENT_READ, scan.consistent_read);
        out.int(AWS_DYNAMODB_LIMIT, scan.limit);
        out.string(AWS_DYNAMODB_PROJECTION, &scan.projection_expression);
        out.strings(
            AWS_DYNAMODB_ATTRIBUTES_TO_GET,
            scan.attributes_to_get.iter().flatten(),
        );
        out.string(AWS_DYNAMODB_INDEX_NAME, &scan.index_name);
        out.select(scan.select.as_ref());
    } else if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
        out.strings(
            AWS_DYNAMODB_TABLE_NAMES,
            batch.request_items.iter().flatten().map(|(table, _)| table),
        );
    } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
        out.strings(
            AWS_DYNAMODB_TABLE_NAMES,
            batch.request_items.iter().flatten().map(|(table, _)| table),
        );
    } else if let Some(create) = input.downcast_ref::<CreateTableInput>() {
        out.table(&create.table_name);
        out.throughput(create.provisioned_throughput.as_ref());
    } else if let Some(update) = input.downcast_ref::<UpdateTableInput>() {
        out.table(&update.table_name);
        out.throughput(update.provisioned_throughput.as_ref());
    } else if let Some(describe) = input.downcast_ref::<DescribeTableInput>() {
        out.table(&describe.table_name);
    } else if let Some(delete) = input.downcast_ref::<DeleteTableInput>() {
        out.table(&delete.table_name);
    } else if let Some(list) = input.downcast_ref::<ListTablesInput>() {
        out.string(
            AWS_DYNAMODB_EXCLUSIVE_START_TABLE,
            &list.exclusive_start_table_name,
        );
        out.int(AWS_DYNAMODB_LIMIT, list.limit);
    }
}

/// The attributes the answer gives: consumed capacity, counts.
pub(super) fn finish(span: &OutgoingSpan, output: &Output) {
    let Some(limit) = span.value_limit() else {
        return;
    };
    let mut attributes = Vec::with_capacity(3);
    let mut out = Attributes {
        list: &mut attributes,
        limit,
    };
    fn one(capacity: &Option<ConsumedCapacity>) -> Vec<&ConsumedCapacity> {
        capacity.iter().collect()
    }
    let consumed: Vec<&ConsumedCapacity> = if let Some(get) = output.downcast_ref::<GetItemOutput>()
    {
        one(&get.consumed_capacity)
    } else if let Some(put) = output.downcast_ref::<PutItemOutput>() {
        one(&put.consumed_capacity)
    } else if let Some(update) = output.downcast_ref::<UpdateItemOutput>() {
        one(&update.consumed_capacity)
    } else if let Some(delete) = output.downcast_ref::<DeleteItemOutput>() {
        one(&delete.consumed_capacity)
    } else if let Some(query) = output.downcast_ref::<QueryOutput>() {
        one(&query.consumed_capacity)
    } else if let Some(scan) = output.downcast_ref::<ScanOutput>() {
        out.int(AWS_DYNAMODB_COUNT, Some(scan.count));
        out.int(AWS_DYNAMODB_SCANNED_COUNT, Some(scan.scanned_count));
        one(&scan.consumed_capacity)
    } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
        batch.consumed_capacity.iter().flatten().collect()
    } else if let Some(batch) = output.downcast_ref::<BatchWriteItemOutput>() {
        batch.consumed_capacity.iter().flatten().collect()
    } else if let Some(list) = output.downcast_ref::<ListTablesOutput>() {
        let count = list.table_names.as_deref().unwrap_or_default().len();
        out.int(AWS_DYNAMODB_TABLE_COUNT, i32::try_from(count).ok());
        vec![]
    } else {
        vec![]
    };
    if !consumed.is_empty() {
        let values = consumed
            .into_iter()
            .map(|c| StringValue::from(bounded(&consumed_capacity_json(c), limit)))
            .collect();
        attributes.push(KeyValue::new(
            AWS_DYNAMODB_CONSUMED_CAPACITY,
            Value::Array(Array::String(values)),
        ));
    }
    for attribute in attributes {
        span.set_attribute(attribute);
    }
}

/// Attributes being gathered, each value bounded.
struct Attributes<'a> {
    list: &'a mut Vec<KeyValue>,
    limit: usize,
}

impl Attributes<'_> {
    /// `aws.dynamodb.table_names`: the one table of the request.
    fn table(&mut self, table: &Option<String>) {
        self.strings(AWS_DYNAMODB_TABLE_NAMES, table.iter());
    }

    fn strings<'s>(&mut self, key: &'static str, values: impl Iterator<Item = &'s String>) {
        let values: Vec<StringValue> = values
            .map(|v| StringValue::from(bounded(v, self.limit)))
            .collect();
        if !values.is_empty() {
            self.list
                .push(KeyValue::new(key, Value::Array(Array::String(values))));
        }
    }

    fn string(&mut self, key: &'static str, value: &Option<String>) {
        if let Some(value) = value {
            self.list
                .push(KeyValue::new(key, bounded(value, self.limit)));
        }
    }

    fn flag(&mut self, key: &'static str, value: Option<bool>) {
        if let Some(value) = value {
            self.list.push(KeyValue::new(key, value));
        }
    }

    fn int(&mut self, key: &'static str, value: Option<i32>) {
        if let Some(value) = value {
            self.list.push(KeyValue::new(key, i64::from(value)));
        }
    }

    fn select(&mut self, select: Option<&Select>) {
        if let Some(select) = select {
            self.list.push(KeyValue::new(
                AWS_DYNAMODB_SELECT,
                bounded(select.as_str(), self.limit),
            ));
        }
    }

    /// `aws.dynamodb.provisioned_read_capacity` and `_write_capacity` (doubles, as the
    /// registry types them).
    #[allow(clippy::cast_precision_loss)] // capacity units are far below 2^53
    fn throughput(&mut self, throughput: Option<&ProvisionedThroughput>) {
        if let Some(throughput) = throughput {
            self.list.push(KeyValue::new(
                AWS_DYNAMODB_PROVISIONED_READ_CAPACITY,
                throughput.read_capacity_units as f64,
            ));
            self.list.push(KeyValue::new(
                AWS_DYNAMODB_PROVISIONED_WRITE_CAPACITY,
                throughput.write_capacity_units as f64,
            ));
        }
    }
}

/// One `ConsumedCapacity` as the JSON the DynamoDB API writes it (the form
/// `aws.dynamodb.consumed_capacity`'s example shows).
fn consumed_capacity_json(consumed: &ConsumedCapacity) -> String {
    let mut json = Map::new();
    if let Some(table) = &consumed.table_name {
        json.insert("TableName".into(), table.as_str().into());
    }
    insert_units(
        &mut json,
        consumed.capacity_units,
        consumed.read_capacity_units,
        consumed.write_capacity_units,
    );
    if let Some(table) = &consumed.table {
        json.insert("Table".into(), capacity_json(table));
    }
    for (key, indexes) in [
        ("LocalSecondaryIndexes", &consumed.local_secondary_indexes),
        ("GlobalSecondaryIndexes", &consumed.global_secondary_indexes),
    ] {
        if let Some(indexes) = indexes {
            let indexes: Map<String, Json> = indexes
                .iter()
                .map(|(name, capacity)| (name.clone(), capacity_json(capacity)))
                .collect();
            json.insert(key.into(), indexes.into());
        }
    }
    Json::Object(json).to_string()
}

fn capacity_json(capacity: &Capacity) -> Json {
    let mut json = Map::new();
    insert_units(
        &mut json,
        capacity.capacity_units,
        capacity.read_capacity_units,
        capacity.write_capacity_units,
    );
    Json::Object(json)
}

fn insert_units(
    json: &mut Map<String, Json>,
    all: Option<f64>,
    read: Option<f64>,
    write: Option<f64>,
) {
    for (key, units) in [
        ("CapacityUnits", all),
        ("ReadCapacityUnits", read),
        ("WriteCapacityUnits", write),
    ] {
        if let Some(units) = units {
            json.insert(key.into(), json!(units));
        }
    }
}
