//! Generated code names everything by absolute path: a module that shadows `Result`,
//! `Option`, `Box` and friends still compiles.
#![allow(dead_code, non_camel_case_types)]

mod shadowing {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    use otel_faas_runtime::lambda::LambdaEvent;
    use otel_faas_runtime::traced_function;

    struct Result;
    struct Option;
    struct Box;
    struct Vec;
    struct String;
    struct Some;
    struct None;
    struct Ok;
    struct Err;
    struct Future;
    struct Send;
    mod core {}
    mod std {}

    type Error = ::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Send + ::core::marker::Sync>;

    #[traced_function(trigger = "sqs", name = "orders")]
    pub async fn batch(event: LambdaEvent<SqsEvent>) -> ::core::result::Result<(), Error> {
        let _ = event.payload.records.len();
        ::core::result::Result::Ok(())
    }

    #[traced_function(trigger = "sqs", per_message)]
    pub async fn message(message: SqsMessage) -> ::core::result::Result<(), Error> {
        let _ = message.body;
        ::core::result::Result::Ok(())
    }

    #[traced_function(trigger = "http")]
    pub async fn http(request: lambda_http::Request) -> ::core::result::Result<&'static str, Error> {
        let _ = request.uri();
        ::core::result::Result::Ok("ok")
    }

    #[traced_function(trigger = "other")]
    pub async fn other(event: LambdaEvent<serde_json::Value>) -> ::core::result::Result<serde_json::Value, Error> {
        ::core::result::Result::Ok(event.payload)
    }
}

fn main() {
    drop(otel_faas_runtime::lambda::run(shadowing::batch));
    drop(otel_faas_runtime::lambda::run(shadowing::message));
    drop(otel_faas_runtime::lambda::run(shadowing::http));
    drop(otel_faas_runtime::lambda::run(shadowing::other));
}
