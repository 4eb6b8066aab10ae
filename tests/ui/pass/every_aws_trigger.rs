//! One handler per AWS trigger, in every shape it accepts, each servable by `lambda::run`.
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use aws_lambda_events::event::sns::{SnsEvent, SnsEventObj};
use aws_lambda_events::event::streams::{DynamoDbEventResponse, KinesisEventResponse};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
struct Order {
    id: u64,
}

#[traced_function(trigger = "sns")]
async fn sns(_event: LambdaEvent<SnsEvent>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "sns")]
async fn sns_typed(event: LambdaEvent<SnsEventObj<Order>>) -> Result<u64, Error> {
    Ok(event.payload.records[0].sns.message.id)
}

#[traced_function(trigger = "eventbridge", links_from = "detail")]
async fn eventbridge(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "eventbridge", parent_from = "detail")]
async fn eventbridge_typed(event: LambdaEvent<EventBridgeEvent<Order>>) -> Result<u64, Error> {
    Ok(event.payload.detail.id)
}

#[traced_function(trigger = "eventbridge")]
async fn cloudwatch(_event: LambdaEvent<CloudWatchEvent>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "schedule", cron = "cron(0 9 * * ? *)")]
async fn schedule(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "s3")]
async fn s3(_event: LambdaEvent<S3Event>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "s3", per_record)]
async fn s3_record(record: S3EventRecord) -> Result<(), Error> {
    record.s3.object.key.ok_or("no key")?;
    Ok(())
}

#[traced_function(trigger = "dynamodb")]
async fn dynamodb(_event: LambdaEvent<Event>) -> Result<DynamoDbEventResponse, Error> {
    Ok(DynamoDbEventResponse::default())
}

#[traced_function(trigger = "dynamodb", per_record)]
async fn dynamodb_record(_record: EventRecord) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "kinesis", links_from = "data")]
async fn kinesis(_event: LambdaEvent<KinesisEvent>) -> Result<KinesisEventResponse, Error> {
    Ok(KinesisEventResponse::default())
}

#[traced_function(trigger = "kinesis", per_record, links_from = "data")]
async fn kinesis_record(_record: KinesisEventRecord) -> Result<(), std::io::Error> {
    Ok(())
}

#[traced_function(trigger = "kafka")]
async fn kafka(event: LambdaEvent<KafkaEvent>) -> Result<usize, Error> {
    Ok(event.payload.records.len())
}

#[traced_function(trigger = "kafka", per_record)]
async fn kafka_record(record: KafkaRecord) -> Result<(), std::io::Error> {
    let _offset = record.offset;
    Ok(())
}

fn main() {
    drop(otel_faas_runtime::lambda::run(sns));
    drop(otel_faas_runtime::lambda::run(sns_typed));
    drop(otel_faas_runtime::lambda::run(eventbridge));
    drop(otel_faas_runtime::lambda::run(eventbridge_typed));
    drop(otel_faas_runtime::lambda::run(cloudwatch));
    drop(otel_faas_runtime::lambda::run(schedule));
    drop(otel_faas_runtime::lambda::run(s3));
    drop(otel_faas_runtime::lambda::run(s3_record));
    drop(otel_faas_runtime::lambda::run(dynamodb));
    drop(otel_faas_runtime::lambda::run(dynamodb_record));
    drop(otel_faas_runtime::lambda::run(kinesis));
    drop(otel_faas_runtime::lambda::run(kinesis_record));
    drop(otel_faas_runtime::lambda::run(kafka));
    drop(otel_faas_runtime::lambda::run(kafka_record));
}
