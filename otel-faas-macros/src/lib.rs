//! The `#[traced_function]` attribute of otel-faas.
//!
//! Depend on `otel-faas-runtime`, which re-exports this macro and holds everything the
//! generated code calls; this crate only parses, checks and generates.
//!
//! ```ignore
//! use otel_faas_runtime::{lambda::LambdaEvent, traced_function, Error};
//! use otel_faas_runtime::aws_lambda_events::event::sqs::SqsEvent;
//!
//! #[traced_function(trigger = "sqs")]
//! async fn handler(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
//!     Ok(())
//! }
//! ```
//!
//! The handler stays an ordinary `async fn` with the same signature — a unit test can call
//! it — and its body runs inside the trigger's spans. Every mistake is a compile error on
//! the token at fault that says how to fix it:
//!
//! - an unknown option lists the valid ones (and suggests the near miss: `triger`);
//! - an unknown trigger lists the valid ones, with a hint for `"SQS"`, `"api_gateway"`, …;
//! - a duplicated option points at both places; `trigger` is required;
//! - a trigger of the other platform than `provider = "…"`, or an Azure event on an AWS
//!   trigger, names the trigger to use on that platform;
//! - an option that does not apply to the trigger says which trigger it is for;
//! - the function must be `async` and take its event as its last argument;
//! - an event type that does not fit the trigger is reported on that argument's type,
//!   naming the type the trigger expects (through `#[diagnostic::on_unimplemented]` on the
//!   runtime's input traits).
//!
//! On an error the function is still emitted unchanged beside the `compile_error!`, so the
//! rest of the crate type-checks and only the real mistake is reported.

mod attr;
mod expand;
mod provider;
mod triggers;
mod valid;

use proc_macro::TokenStream;
use quote::ToTokens as _;

/// Traces an AWS Lambda or Azure Functions handler; see the `otel_faas_runtime` documentation.
#[proc_macro_attribute]
pub fn traced_function(args: TokenStream, item: TokenStream) -> TokenStream {
    let item2 = proc_macro2::TokenStream::from(item.clone());
    let function = match syn::parse::<syn::ItemFn>(item) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &item2,
                "`#[traced_function]` goes on an `async fn` handler, such as \
                 `async fn handler(event: LambdaEvent<SqsEvent>) -> Result<(), Error>`",
            );
            return with_original(error, item2);
        }
    };
    let config = syn::parse::<attr::Args>(args).and_then(|args| valid::check(&args));
    match config.and_then(|config| expand::expand(&config, function.clone())) {
        Ok(tokens) => tokens.into(),
        Err(error) => with_original(error, function.into_token_stream()),
    }
}

/// The errors, followed by the item as it was written.
fn with_original(error: syn::Error, item: proc_macro2::TokenStream) -> TokenStream {
    let mut tokens = error.to_compile_error();
    tokens.extend(item);
    tokens.into()
}
