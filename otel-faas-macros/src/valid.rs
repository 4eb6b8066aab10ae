//! Checking the parsed entries against each other and against the trigger: the final
//! configuration, or every problem at once, each on its own token with the fix.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{Ident, LitStr};

use crate::attr::{Args, Entry};
use crate::provider;
use crate::triggers::{OPTIONS, Provider, Trigger};

/// The checked configuration.
pub(crate) struct Config {
    pub(crate) trigger: Trigger,
    pub(crate) name: Option<LitStr>,
    /// `per_message` (SQS) or `per_record` (streams, S3): the handler takes one record.
    pub(crate) per_record: bool,
    /// The runtime's `LinksFrom` variant (`links_from`, or the trigger's default).
    pub(crate) links_from: &'static str,
    /// `parent_from = "detail"`.
    pub(crate) parent_from_detail: bool,
    /// The cron expression, without `cron(...)`.
    pub(crate) cron: Option<LitStr>,
    /// `provider = "…"`, when written.
    pub(crate) provider: Option<Provider>,
}

/// Option names people reach for, and what they mean here.
const OPTION_ALIASES: &[(&str, &str)] = &[
    ("span_name", "name"),
    ("kind", "trigger"),
    ("event", "trigger"),
    ("source", "trigger"),
    ("type", "trigger"),
    ("per_item", "per_record"),
    ("batch", "per_record"),
    ("links", "links_from"),
    ("parent", "parent_from"),
    ("schedule", "cron"),
    ("schedule_expression", "cron"),
    ("platform", "provider"),
    ("cloud", "provider"),
    ("expression", "cron"),
];

/// Triggers of the roadmap that do not exist yet.
const NOT_YET: &[&str] = &["cloudwatch_logs", "firehose", "mq", "cognito"];

/// Checks `args`; returns the configuration or every error found, combined.
pub(crate) fn check(args: &Args) -> Result<Config, syn::Error> {
    let mut errors = Errors::default();
    let mut seen: HashMap<String, &Entry> = HashMap::new();
    let mut misspelled_trigger = false;
    for entry in &args.entries {
        let name = entry.name();
        if !OPTIONS.contains(&name.as_str()) {
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
                format!(
                    "missing `trigger`: say which event the handler receives, as in \
                     `#[traced_function(trigger = \"sqs\")]` (triggers: {})",
                    Trigger::all()
                        .map(|t| format!("`{}`", t.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            None
        }
    };
    let name = seen
        .get("name")
        .and_then(|entry| errors.take(entry.string("name = \"checkout\"").and_then(span_name)));
    let per_record = ["per_message", "per_record"]
        .iter()
        .filter_map(|option| seen.get(*option))
        .filter_map(|entry| errors.take(entry.flag()))
        .any(|on| on);
    let links_from_lit = seen
        .get("links_from")
        .and_then(|entry| errors.take(entry.string("links_from = \"both\"")));
    let parent_from_detail = seen
        .get("parent_from")
        .and_then(|entry| {
            errors.take(
                entry
                    .string("parent_from = \"detail\"")
                    .and_then(|lit| parent_from(&lit)),
            )
        })
        .unwrap_or(false);
    let provider = seen.get("provider").and_then(|entry| {
        errors.take(
            entry
                .string("provider = \"azure\"")
                .and_then(|lit| provider::parse(&lit)),
        )
    });
    if let (Some(provider), Some(trigger), Some(entry)) = (provider, trigger, seen.get("trigger"))
        && let Ok(lit) = entry.string("")
    {
        errors.take(provider::check_trigger(trigger, &lit, provider));
    }
    let cron = seen
        .get("cron")
        .and_then(|entry| errors.take(entry.string("cron = \"0 9 * * ? *\"").and_then(cron)));

    if let Some(trigger) = trigger {
        for option in OPTIONS {
            let Some(entry) = seen.get(*option) else {
                continue;
            };
            if !trigger.accepts(option) {
                let valid: Vec<String> = Trigger::all()
                    .filter(|t| t.accepts(option))
                    .map(|t| format!("`trigger = \"{}\"`", t.name()))
                    .collect();
                let instead = match *option {
                    "per_message" if trigger.accepts("per_record") => {
                        "; for its records use `per_record`"
                    }
                    "per_record" if trigger.accepts("per_message") => {
                        "; for SQS messages use `per_message`"
                    }
                    _ => "",
                };
                errors.push(syn::Error::new(
                    entry.key.span(),
                    format!(
                        "`{option}` does not apply to `trigger = \"{}\"`; it applies only to {}{instead}",
                        trigger.name(),
                        valid.join(", ")
                    ),
                ));
            }
        }
    }
    let trigger = trigger.unwrap_or_else(|| Trigger::named("other").expect("in the table"));
    let links_from = match &links_from_lit {
        Some(lit) if trigger.accepts("links_from") => errors.take(links_from(trigger, lit)),
        _ => None,
    }
    .unwrap_or_else(|| trigger.default_links_from());
    errors.finish()?;
    Ok(Config {
        trigger,
        name,
        per_record,
        links_from,
        parent_from_detail,
        cron,
        provider,
    })
}

/// The error for an unknown option, and the option it was probably meant to be.
fn unknown_option(key: &Ident) -> (syn::Error, Option<&'static str>) {
    let name = key.to_string();
    let options: Vec<String> = OPTIONS.iter().map(|o| format!("`{o}`")).collect();
    let meant = OPTION_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name.to_ascii_lowercase())
        .map(|(_, option)| *option)
        .or_else(|| closest(&name, OPTIONS.iter().copied()));
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
    if let Some(trigger) = Trigger::named(&value) {
        return Ok(trigger);
    }
    let lower = value.to_ascii_lowercase();
    let valid: Vec<String> = Trigger::all()
        .map(|t| format!("`\"{}\"`", t.name()))
        .collect();
    let hint = if Trigger::named(&lower).is_some() {
        format!("trigger names are lower case: use `trigger = \"{lower}\"`")
    } else if let Some(target) = Trigger::aliased(&lower) {
        let target = target.name();
        format!("that event arrives through the `{target}` trigger: use `trigger = \"{target}\"`")
    } else if NOT_YET.contains(&lower.as_str()) {
        format!(
            "the `{lower}` trigger is not available yet; receive its event with `trigger = \"other\"` \
             and `LambdaEvent<T>` meanwhile"
        )
    } else if let Some(close) = closest(&lower, Trigger::all().map(Trigger::name)) {
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

/// The runtime's `LinksFrom` variant a `links_from` value selects for `trigger`.
fn links_from(trigger: Trigger, lit: &LitStr) -> syn::Result<&'static str> {
    let values = trigger.links_from();
    let value = lit.value();
    if let Some((_, variant)) = values.iter().find(|(name, _)| *name == value) {
        return Ok(variant);
    }
    let valid: Vec<String> = values.iter().map(|(n, _)| format!("`\"{n}\"`")).collect();
    Err(syn::Error::new(
        lit.span(),
        format!(
            "unknown `links_from` value `{value}` for `trigger = \"{}\"`: use {}",
            trigger.name(),
            valid.join(" or ")
        ),
    ))
}

fn parent_from(lit: &LitStr) -> syn::Result<bool> {
    match lit.value().as_str() {
        "detail" => Ok(true),
        other => Err(syn::Error::new(
            lit.span(),
            format!("unknown `parent_from` value `{other}`: use `\"detail\"`"),
        )),
    }
}

/// A schedule's cron expression, as EventBridge writes it (six fields, `cron(...)` optional);
/// the result is the bare expression `faas.cron` records.
fn cron(lit: LitStr) -> syn::Result<LitStr> {
    let value = lit.value();
    let trimmed = value.trim();
    if trimmed.starts_with("rate(") || trimmed.starts_with("at(") {
        return Err(syn::Error::new(
            lit.span(),
            "`faas.cron` holds a cron expression, and a `rate(...)` or `at(...)` schedule has \
             none: remove `cron`",
        ));
    }
    let bare = trimmed
        .strip_prefix("cron(")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(trimmed)
        .trim();
    let fields = bare.split_whitespace().count();
    if fields != 6 {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`{value}` is not an EventBridge cron expression: it has {fields} fields, and \
                 EventBridge's have six (minutes hours day-of-month month day-of-week year), \
                 as in `cron = \"0 9 * * ? *\"`"
            ),
        ));
    }
    Ok(LitStr::new(bare, lit.span()))
}

/// The candidate nearest `word` within two edits, if no other is as near.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let scored: Vec<(usize, &str)> = candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= 2)
        .collect();
    let best = scored.iter().map(|(d, _)| *d).min()?;
    match scored
        .iter()
        .filter(|(d, _)| *d == best)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [(_, one)] => Some(one),
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
        assert_eq!(config.trigger.name(), "sqs");
        assert!(config.per_record);
        assert_eq!(config.links_from, "Both");
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
        assert!(errors(r#"trigger = "cloudwatch_logs""#)[0].contains("not available yet"));
        assert!(errors(r#"trigger = "cron""#)[0].contains("use `trigger = \"schedule\"`"));
        assert!(errors(r#"trigger = "msk""#)[0].contains("use `trigger = \"kafka\"`"));
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
    fn per_record_and_per_message_point_at_each_other() {
        let kinesis = errors(r#"trigger = "kinesis", per_message"#);
        assert!(kinesis[0].contains("use `per_record`"), "{kinesis:?}");
        let sqs = errors(r#"trigger = "sqs", per_record"#);
        assert!(sqs[0].contains("use `per_message`"), "{sqs:?}");
    }

    #[test]
    fn links_from_values_depend_on_the_trigger() {
        let config = |tokens: &str| check(&syn::parse_str::<Args>(tokens).unwrap()).ok();
        let kinesis = config(r#"trigger = "kinesis", links_from = "data""#).expect("valid");
        assert_eq!(kinesis.links_from, "Data");
        assert_eq!(config(r#"trigger = "sns""#).unwrap().links_from, "Nowhere");
        assert_eq!(
            config(r#"trigger = "eventbridge""#).unwrap().links_from,
            "Nowhere"
        );
        assert_eq!(
            config(r#"trigger = "sqs""#).unwrap().links_from,
            "AwsTraceHeader"
        );
        let wrong = errors(r#"trigger = "eventbridge", links_from = "both""#);
        assert!(wrong[0].contains("use `\"detail\"`"), "{wrong:?}");
    }

    #[test]
    fn cron_expressions_are_checked() {
        let config = |tokens: &str| check(&syn::parse_str::<Args>(tokens).unwrap()).ok();
        let bare = config(r#"trigger = "schedule", cron = "cron(0 9 * * ? *)""#).unwrap();
        assert_eq!(bare.cron.unwrap().value(), "0 9 * * ? *");
        assert!(
            errors(r#"trigger = "schedule", cron = "rate(5 minutes)""#)[0]
                .contains("remove `cron`")
        );
        assert!(errors(r#"trigger = "schedule", cron = "0 9 * * *""#)[0].contains("has 5 fields"));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("trigger", "triger"), 1);
        assert_eq!(edit_distance("sqs", "sns"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
