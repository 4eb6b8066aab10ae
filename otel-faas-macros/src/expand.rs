//! Generating the glue: the handler keeps its signature, and its body becomes one call into
//! `::otel_faas_runtime::__private::<trigger>::instrument` with the event and the original
//! body as an async closure.
//!
//! ```ignore
//! async fn handler(event: LambdaEvent<SqsEvent>) -> Result<(), Error> { body }
//! // becomes
//! async fn handler(__otel_faas_event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
//!     const __OTEL_FAAS_SPEC: ::otel_faas_runtime::__private::Spec = ...;
//!     ::otel_faas_runtime::__private::sqs::instrument(&__OTEL_FAAS_SPEC, __otel_faas_event,
//!         move |event: LambdaEvent<SqsEvent>| async move { /* fake return */ body's statements }).await
//! }
//! ```
//!
//! The body's statements go into the async block as they are, not inside the body's own
//! braces: braces nested there would be the user's code warned about by `unused_braces`.
//!
//! Generated code names everything by absolute path, so a module that shadows `Result`,
//! `Option` or `Box` still compiles. The event expression carries the span of the
//! argument's type, so an event that does not fit the trigger is reported on that type; the
//! "fake return" carries the span of the return type, so a body returning the wrong type is
//! reported against the signature as it would be without the attribute.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::provider;
use crate::valid::Config;

/// The name the event argument takes in the signature.
const EVENT: &str = "__otel_faas_event";

/// The instrumented function, or an error about the item itself.
pub(crate) fn expand(config: &Config, mut item: ItemFn) -> syn::Result<TokenStream> {
    if item.sig.asyncness.is_none() {
        return Err(syn::Error::new(
            item.sig.fn_token.span,
            "`#[traced_function]` goes on an `async fn`: add `async` before `fn`",
        ));
    }
    let Some(FnArg::Typed(event)) = item
        .sig
        .inputs
        .iter_mut()
        .rev()
        .find(|arg| matches!(arg, FnArg::Typed(_)))
    else {
        return Err(syn::Error::new(
            item.sig.paren_token.span.join(),
            "a traced handler takes its event as an argument, such as `event: LambdaEvent<SqsEvent>` \
             (with several arguments, the event is the last one)",
        ));
    };
    let user_pattern = (*event.pat).clone();
    let event_type = (*event.ty).clone();
    *event.pat = Pat::Verbatim(Ident::new(EVENT, user_pattern.span()).to_token_stream());

    // Spans decide where the compiler reports a handler that does not fit its trigger: the
    // call carries the event type's span (the input trait's bound is checked there), the
    // outcome reader the return type's span (the return type's bound is checked there).
    let event_span = event_type.span();
    let return_span = match &item.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => item.sig.ident.span(),
    };
    let provider = provider::resolve(config.trigger, config.provider, &event_type)?;
    let glue = config.trigger.glue(provider);
    // `per_record` passed the checks only for a trigger that has the mode.
    let module = match (config.per_record, glue.per_record) {
        (true, Some(per_record)) => per_record,
        _ => glue.module,
    };
    let reader = match glue.reader.filter(|_| !config.per_record) {
        Some(module) => {
            let module = Ident::new(module, Span::call_site());
            quote_spanned!(return_span=> ::otel_faas_runtime::__private::#module::read_outcome)
        }
        None => quote_spanned!(return_span=> ::otel_faas_runtime::__private::read_outcome),
    };
    let module = Ident::new(module, Span::call_site());
    let event_ident = Ident::new(EVENT, event_span);
    let spec = spec(config);
    let fake_return = fake_return(&item.sig.output);
    // The body's statements, not its block: a block nested as the async block's value is
    // what `unused_braces` warns about (on the user's own braces, for a one-line body, with
    // a suggestion that does not compile).
    let body = &item.block.stmts;
    let call = quote_spanned! {event_span=>
        ::otel_faas_runtime::__private::#module::instrument(
            &__OTEL_FAAS_SPEC,
            #event_ident,
            move |#user_pattern: #event_type| async move {
                #fake_return
                #(#body)*
            },
            #reader,
        )
        .await
    };
    let new_body = quote! {
        {
            const __OTEL_FAAS_SPEC: ::otel_faas_runtime::__private::Spec = #spec;
            #call
        }
    };
    item.block = Box::new(syn::parse2(new_body)?);
    Ok(item.into_token_stream())
}

/// The `__private::Spec` constant of the options the attribute set.
fn spec(config: &Config) -> TokenStream {
    let name = match &config.name {
        Some(name) => quote!(::core::option::Option::Some(#name)),
        None => quote!(::core::option::Option::None),
    };
    let links_from = Ident::new(config.links_from, Span::call_site());
    let parent_from = match config.parent_from_detail {
        true => quote!(Detail),
        false => quote!(Trigger),
    };
    let cron = match &config.cron {
        Some(cron) => quote!(::core::option::Option::Some(#cron)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::otel_faas_runtime::__private::Spec {
            name: #name,
            links_from: ::otel_faas_runtime::__private::LinksFrom::#links_from,
            parent_from: ::otel_faas_runtime::__private::ParentFrom::#parent_from,
            cron: #cron,
        }
    }
}

/// A never-taken `return` of the declared type: it fixes the async block's output type, so
/// `?` in the body converts errors as it does in the original function. `impl Trait` in the
/// return type becomes `_`, which inference fills in.
fn fake_return(output: &ReturnType) -> TokenStream {
    let mut declared = match output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    ImplTraitToInfer.visit_type_mut(&mut declared);
    quote_spanned! {declared.span()=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let __otel_faas_fake_return: #declared = loop {};
            return __otel_faas_fake_return;
        }
    }
}

/// Replaces every `impl Trait` in a type with `_`.
struct ImplTraitToInfer;

impl VisitMut for ImplTraitToInfer {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(impl_trait) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](impl_trait.span()),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}
