//! Checking the parsed entries against each other and against the trigger: the final
//! configuration, or every problem at once, each on its own token with the fix.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{Ident, LitStr};

use crate::attr::{Args, Entry};

/// A trigger the attribute accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    Http,
    Sqs,
    Other,
}

impl Trigger {
    const ALL: &'static [(&'static str, Trigger)] = &[
        ("http", Trigger::Http),
        ("sqs", Trigger::Sqs),
        ("other", Trigger::Other),
    ];

    fn name(self) -> &'static str {
        Trigger::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or_default()
    }
}

/// Where SQS links come from (`links_from`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinksFrom {
    AwsTraceHeader,
    MessageAttributes,
    Both,
}

/// The checked configuration.
pub(crate) struct Config {
    pub(crate) trigger: Trigger,
    pub(crate) name: Option<LitStr>,
    pub(crate) per_message: bool,
    pub(crate) links_from: LinksFrom,
}

/// Every option, and the triggers it applies to (`None`: all).
const OPTIONS: &[(&str, Option<&[Trigger]>)] = &[
    ("trigger", None),
    ("name", None),
    ("per_message", Some(&[Trigger::Sqs])),
    ("links_from", Some(&[Trigger::Sqs])),
];

/// Option names people reach for, and what they mean here.
const OPTION_ALIASES: &[(&str, &str)] = &[
    ("span_name", "name"),
    ("kind", "trigger"),
    ("event", "trigger"),
    ("source", "trigger"),
    ("type", "trigger"),
    ("per_record", "per_message"),
    ("batch", "per_message"),
    ("links", "links_from"),
];

/// Trigger names people reach for, and which trigger handles that event.
const TRIGGER_ALIASES: &[(&str, &str)] = &[
    ("api_gateway", "http"),
    ("apigateway", "http"),
    ("apigw", "http"),
    ("api_gateway_v2", "http"),
    ("rest", "http"),
    ("alb", "http"),
    ("function_url", "http"),
    ("lambda_url", "http"),
    ("url", "http"),
    ("https", "http"),
    ("queue", "sqs"),
    ("aws_sqs", "sqs"),
    ("direct", "other"),
    ("invoke", "other"),
    ("custom", "other"),
    ("raw", "other"),
];

/// Triggers of the roadmap that do not exist yet.
const NOT_YET: &[&str] = &[
    "sns",
    "eventbridge",
    "schedule",
    "s3",
    "dynamodb",
    "kinesis",
    "cloudwatch_logs",
];

/// Checks `args`; returns the configuration or every error found, combined.
pub(crate) fn check(args: &Args) -> Result<Config, syn::Error> {
    let mut errors = Errors::default();
    let mut seen: HashMap<String, &Entry> = HashMap::new();
    let mut misspelled_trigger = false;
    for entry in &args.entries {
        let name = entry.name();
        if !OPTIONS.iter().any(|(option, _)| *option == name) {
            let (error, meant) = unknown_option(&entry.key);
            misspelled_trigger |= meant == Some("trigger");
            errors.push(error);
            continue;
        }
        if let Some(first) = seen.get(&name) {
            errors.push(syn::Error::new(
                entry.span(),
                format!("`{name}` is set twice; keep one"),
            ));
            errors.push(syn::Error::new(
                first.span(),
                format!("`{name}` is first set here"),
            ));
            continue;
        }
        seen.insert(name, entry);
    }

    let trigger = match seen.get("trigger") {
        Some(entry) => errors.take(
            entry
                .string("trigger = \"sqs\"")
                .and_then(|lit| trigger(&lit)),
        ),
        // A misspelled `trigger` was reported already, with its fix.
        None if misspelled_trigger => None,
        None => {
            errors.push(syn::Error::new(
                Span::call_site(),
                "missing `trigger`: say which event the handler receives, as in \
                 `#[traced_function(trigger = \"sqs\")]` (triggers: `http`, `sqs`, `other`)",
            ));
            None
        }
    };
    let name = seen
        .get("name")
        .and_then(|entry| errors.take(entry.string("name = \"checkout\"").and_then(span_name)));
    let per_message = seen
        .get("per_message")
        .and_then(|entry| errors.take(entry.flag()))
        .unwrap_or(false);
    let links_from = seen
        .get("links_from")
        .and_then(|entry| {
            errors.take(
                entry
                    .string("links_from = \"both\"")
                    .and_then(|lit| links_from(&lit)),
            )
        })
        .unwrap_or(LinksFrom::AwsTraceHeader);

    if let Some(trigger) = trigger {
        for (option, applies_to) in OPTIONS {
            let (Some(entry), Some(applies_to)) = (seen.get(*option), applies_to) else {
                continue;
            };
            if !applies_to.contains(&trigger) {
                let valid: Vec<String> = applies_to
                    .iter()
                    .map(|t| format!("`trigger = \"{}\"`", t.name()))
                    .collect();
                errors.push(syn::Error::new(
                    entry.key.span(),
                    format!(
                        "`{option}` does not apply to `trigger = \"{}\"`; it applies only to {}",
                        trigger.name(),
                        valid.join(", ")
                    ),
                ));
            }
        }
    }
    errors.finish()?;
    Ok(Config {
        trigger: trigger.unwrap_or(Trigger::Other),
        name,
        per_message,
        links_from,
    })
}

/// The error for an unknown option, and the option it was probably meant to be.
fn unknown_option(key: &Ident) -> (syn::Error, Option<&'static str>) {
    let name = key.to_string();
    let options: Vec<String> = OPTIONS.iter().map(|(o, _)| format!("`{o}`")).collect();
    let meant = OPTION_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name.to_ascii_lowercase())
        .map(|(_, option)| *option)
        .or_else(|| closest(&name, OPTIONS.iter().map(|(o, _)| *o)));
    let hint = match meant {
        Some(option) => format!(": did you mean `{option}`?"),
        None => ".".to_owned(),
    };
    let message = format!(
        "unknown option `{name}`{hint} The options are {}",
        options.join(", ")
    );
    (syn::Error::new(key.span(), message), meant)
}

fn trigger(lit: &LitStr) -> syn::Result<Trigger> {
    let value = lit.value();
    if let Some((_, trigger)) = Trigger::ALL.iter().find(|(name, _)| *name == value) {
        return Ok(*trigger);
    }
    let lower = value.to_ascii_lowercase();
    let valid: Vec<String> = Trigger::ALL
        .iter()
        .map(|(n, _)| format!("`\"{n}\"`"))
        .collect();
    let hint = if Trigger::ALL.iter().any(|(name, _)| *name == lower) {
        format!("trigger names are lower case: use `trigger = \"{lower}\"`")
    } else if let Some((_, target)) = TRIGGER_ALIASES.iter().find(|(alias, _)| *alias == lower) {
        format!("that event arrives through the `{target}` trigger: use `trigger = \"{target}\"`")
    } else if NOT_YET.contains(&lower.as_str()) {
        format!(
            "the `{lower}` trigger is not available yet; receive its event with `trigger = \"other\"` \
             and `LambdaEvent<T>` meanwhile"
        )
    } else if let Some(close) = closest(&lower, Trigger::ALL.iter().map(|(n, _)| *n)) {
        format!("did you mean `trigger = \"{close}\"`?")
    } else {
        "use `other` for an event of any other shape".to_owned()
    };
    Err(syn::Error::new(
        lit.span(),
        format!(
            "unknown trigger `{value}`: {hint}. The triggers are {}",
            valid.join(", ")
        ),
    ))
}

fn span_name(lit: LitStr) -> syn::Result<LitStr> {
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "`name` cannot be empty; remove it to keep the trigger's span name",
        ));
    }
    Ok(lit)
}

fn links_from(lit: &LitStr) -> syn::Result<LinksFrom> {
    match lit.value().as_str() {
        "aws_trace_header" => Ok(LinksFrom::AwsTraceHeader),
        "message_attributes" => Ok(LinksFrom::MessageAttributes),
        "both" => Ok(LinksFrom::Both),
        other => Err(syn::Error::new(
            lit.span(),
            format!(
                "unknown `links_from` value `{other}`: use `\"aws_trace_header\"` (the default), \
                 `\"message_attributes\"` or `\"both\"`"
            ),
        )),
    }
}

/// The candidate within two edits of `word`, if exactly one is that close.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let close: Vec<&str> = candidates.filter(|c| edit_distance(word, c) <= 2).collect();
    match close.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Errors collected to be reported together.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(tokens: &str) -> Vec<String> {
        let args: Args = syn::parse_str(tokens).expect("parses");
        match check(&args) {
            Ok(_) => vec![],
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_valid_configuration_passes() {
        let args: Args =
            syn::parse_str(r#"trigger = "sqs", name = "orders", per_message, links_from = "both""#)
                .unwrap();
        let config = check(&args).expect("valid");
        assert_eq!(config.trigger, Trigger::Sqs);
        assert!(config.per_message);
        assert_eq!(config.links_from, LinksFrom::Both);
        assert_eq!(config.name.map(|n| n.value()).as_deref(), Some("orders"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let all = errors(r#"trigger = "SQS", colour = "red", name = """#);
        assert_eq!(all.len(), 3, "{all:?}");
    }

    #[test]
    fn near_misses_get_a_hint() {
        let misspelled = errors(r#"triger = "sqs""#);
        assert_eq!(
            misspelled.len(),
            1,
            "no cascade of `missing trigger`: {misspelled:?}"
        );
        assert!(misspelled[0].contains("did you mean `trigger`?"));
        assert!(errors(r#"trigger = "sqss""#)[0].contains("did you mean `trigger = \"sqs\"`?"));
        assert!(errors(r#"trigger = "api_gateway""#)[0].contains("use `trigger = \"http\"`"));
        assert!(errors(r#"trigger = "Http""#)[0].contains("lower case"));
        assert!(errors(r#"trigger = "kinesis""#)[0].contains("not available yet"));
    }

    #[test]
    fn duplicates_point_at_both_places() {
        let all = errors(r#"trigger = "sqs", trigger = "http""#);
        assert_eq!(
            all,
            vec![
                "`trigger` is set twice; keep one",
                "`trigger` is first set here"
            ]
        );
    }

    #[test]
    fn options_of_another_trigger_are_refused() {
        assert!(
            errors(r#"trigger = "http", per_message"#)[0]
                .contains("applies only to `trigger = \"sqs\"`")
        );
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("trigger", "triger"), 1);
        assert_eq!(edit_distance("sqs", "sns"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
