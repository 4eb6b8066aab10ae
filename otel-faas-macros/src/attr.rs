//! Parsing the attribute's arguments into `key`, `key = value` entries that keep every
//! token's span, so each later error points at the token it is about.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

/// One `key` or `key = value` of the attribute.
pub(crate) struct Entry {
    pub(crate) key: Ident,
    pub(crate) value: Option<Expr>,
}

impl Entry {
    /// The key as written (a raw identifier loses its `r#`).
    pub(crate) fn name(&self) -> String {
        self.key.unraw().to_string()
    }

    /// The span of the whole entry, for errors about it.
    pub(crate) fn span(&self) -> Span {
        match &self.value {
            Some(value) => self
                .key
                .span()
                .join(span_of(value))
                .unwrap_or_else(|| self.key.span()),
            None => self.key.span(),
        }
    }

    /// The value as a string literal, or an error on the value (or the key, when there is
    /// none) showing how the entry is written.
    pub(crate) fn string(&self, example: &str) -> syn::Result<LitStr> {
        match &self.value {
            Some(Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            })) => Ok(lit.clone()),
            Some(other) => Err(syn::Error::new(
                span_of(other),
                format!(
                    "`{}` takes a string literal, as in `{example}`",
                    self.name()
                ),
            )),
            None => Err(syn::Error::new(
                self.key.span(),
                format!("`{}` needs a value, as in `{example}`", self.name()),
            )),
        }
    }

    /// The value of a flag: `true` when written alone, else its `true`/`false` literal.
    pub(crate) fn flag(&self) -> syn::Result<bool> {
        match &self.value {
            None => Ok(true),
            Some(Expr::Lit(ExprLit {
                lit: Lit::Bool(lit),
                ..
            })) => Ok(lit.value),
            Some(other) => Err(syn::Error::new(
                span_of(other),
                format!(
                    "`{0}` is a flag: write `{0}` alone, or `{0} = true` / `{0} = false`",
                    self.name()
                ),
            )),
        }
    }
}

fn span_of(expr: &Expr) -> Span {
    syn::spanned::Spanned::span(expr)
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // Any identifier, keywords included, so `type = "sqs"` gets a helpful error too.
        let key = Ident::parse_any(input).map_err(|e| {
            syn::Error::new(e.span(), "expected an option such as `trigger = \"sqs\"`")
        })?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse::<Expr>()?)
        } else {
            None
        };
        Ok(Entry { key, value })
    }
}

/// All entries, in order.
pub(crate) struct Args {
    pub(crate) entries: Vec<Entry>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let entries = Punctuated::<Entry, Token![,]>::parse_terminated(input)?;
        Ok(Args {
            entries: entries.into_iter().collect(),
        })
    }
}
