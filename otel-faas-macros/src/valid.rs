//! Checking the parsed entries against each other and against the trigger: the final
//! configuration, or every problem at once, each on its own token with the fix.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{Ident, LitStr};

use crate::attr::{Args, Entry};
use crate::provider::{self, Provider};

/// A trigger the attribute accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    Http,
    Sqs,
    Sns,
    EventBridge,
    Schedule,
    S3,
    DynamoDb,
    Kinesis,
    Other,
    /// Azure Storage queues.
    AzureQueue,
    ServiceBus,
    EventHubs,
    Timer,
}

impl Trigger {
    const ALL: &'static [(&'static str, Trigger)] = &[
        ("http", Trigger::Http),
        ("sqs", Trigger::Sqs),
        ("sns", Trigger::Sns),
        ("eventbridge", Trigger::EventBridge),
        ("schedule", Trigger::Schedule),
        ("s3", Trigger::S3),
        ("dynamodb", Trigger::DynamoDb),
        ("kinesis", Trigger::Kinesis),
        ("other", Trigger::Other),
        ("queue", Trigger::AzureQueue),
        ("service_bus", Trigger::ServiceBus),
        ("event_hubs", Trigger::EventHubs),
        ("timer", Trigger::Timer),
    ];

    pub(crate) fn name(self) -> &'static str {
        Trigger::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or_default()
    }
}

/// Where consumer spans take their links from (`links_from`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinksFrom {
    AwsTraceHeader,
    MessageAttributes,
    Both,
    Detail,
    Data,
    Nowhere,
}

/// The `links_from` values of each trigger.
const LINKS_FROM: &[(Trigger, &[(&str, LinksFrom)])] = &[
    (
        Trigger::Sqs,
        &[
            ("aws_trace_header", LinksFrom::AwsTraceHeader),
            ("message_attributes", LinksFrom::MessageAttributes),
            ("both", LinksFrom::Both),
        ],
    ),
    (Trigger::Kinesis, &[("data", LinksFrom::Data)]),
    (Trigger::EventBridge, &[("detail", LinksFrom::Detail)]),
];

/// The checked configuration.
pub(crate) struct Config {
    pub(crate) trigger: Trigger,
    pub(crate) name: Option<LitStr>,
    /// `per_message` (SQS) or `per_record` (streams, S3): the handler takes one record.
    pub(crate) per_record: bool,
    pub(crate) links_from: LinksFrom,
    /// `parent_from = "detail"`.
    pub(crate) parent_from_detail: bool,
    /// The cron expression, without `cron(...)`.
    pub(crate) cron: Option<LitStr>,
    /// `provider = "…"`, when written.
    pub(crate) provider: Option<Provider>,
}

/// Every option, and the triggers it applies to (`None`: all).
const OPTIONS: &[(&str, Option<&[Trigger]>)] = &[
    ("trigger", None),
    ("name", None),
    ("per_message", Some(&[Trigger::Sqs])),
    (
        "per_record",
        Some(&[Trigger::Kinesis, Trigger::DynamoDb, Trigger::S3]),
    ),
    (
        "links_from",
        Some(&[Trigger::Sqs, Trigger::Kinesis, Trigger::EventBridge]),
    ),
    ("parent_from", Some(&[Trigger::EventBridge])),
    ("cron", Some(&[Trigger::Schedule])),
    ("provider", None),
];

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
    ("storage_queue", "queue"),
    ("azure_queue", "queue"),
    ("servicebus", "service_bus"),
    ("azure_service_bus", "service_bus"),
    ("eventhubs", "event_hubs"),
    ("event_hub", "event_hubs"),
    ("eventhub", "event_hubs"),
    ("timer_trigger", "timer"),
    ("aws_sqs", "sqs"),
    ("topic", "sns"),
    ("aws_sns", "sns"),
    ("event_bridge", "eventbridge"),
    ("events", "eventbridge"),
    ("cloudwatch_events", "eventbridge"),
    ("cron", "schedule"),
    ("scheduled", "schedule"),
    ("scheduler", "schedule"),
    ("rate", "schedule"),
    ("s3_event", "s3"),
    ("bucket", "s3"),
    ("dynamo", "dynamodb"),
    ("ddb", "dynamodb"),
    ("dynamodb_stream", "dynamodb"),
    ("dynamodb_streams", "dynamodb"),
    ("kinesis_stream", "kinesis"),
    ("stream", "kinesis"),
    ("direct", "other"),
    ("invoke", "other"),
    ("custom", "other"),
    ("raw", "other"),
];

/// Triggers of the roadmap that do not exist yet.
const NOT_YET: &[&str] = &[
    "cloudwatch_logs",
    "firehose",
    "msk",
    "kafka",
    "mq",
    "cognito",
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
                format!(
                    "missing `trigger`: say which event the handler receives, as in \
                     `#[traced_function(trigger = \"sqs\")]` (triggers: {})",
                    Trigger::ALL
                        .iter()
                        .map(|(n, _)| format!("`{n}`"))
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
        for (option, applies_to) in OPTIONS {
            let (Some(entry), Some(applies_to)) = (seen.get(*option), applies_to) else {
                continue;
            };
            if !applies_to.contains(&trigger) {
                let valid: Vec<String> = applies_to
                    .iter()
                    .map(|t| format!("`trigger = \"{}\"`", t.name()))
                    .collect();
                let instead = match *option {
                    "per_message" if applies("per_record", trigger) => {
                        "; for its records use `per_record`"
                    }
                    "per_record" if applies("per_message", trigger) => {
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
    let trigger = trigger.unwrap_or(Trigger::Other);
    let links_from = match &links_from_lit {
        Some(lit) if applies("links_from", trigger) => errors.take(links_from(trigger, lit)),
        _ => None,
    }
    .unwrap_or_else(|| default_links_from(trigger));
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

fn applies(option: &str, trigger: Trigger) -> bool {
    OPTIONS
        .iter()
        .find(|(o, _)| *o == option)
        .is_some_and(|(_, to)| to.is_none_or(|to| to.contains(&trigger)))
}

/// Where links come from without `links_from`: SQS reads the system attribute the
/// conventions name; the others read nothing unless asked.
fn default_links_from(trigger: Trigger) -> LinksFrom {
    match trigger {
        Trigger::Sqs => LinksFrom::AwsTraceHeader,
        _ => LinksFrom::Nowhere,
    }
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

fn links_from(trigger: Trigger, lit: &LitStr) -> syn::Result<LinksFrom> {
    let values = LINKS_FROM
        .iter()
        .find(|(t, _)| *t == trigger)
        .map_or(&[][..], |(_, values)| values);
    let value = lit.value();
    if let Some((_, links_from)) = values.iter().find(|(name, _)| *name == value) {
        return Ok(*links_from);
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
        assert_eq!(config.trigger, Trigger::Sqs);
        assert!(config.per_record);
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
        assert!(errors(r#"trigger = "cloudwatch_logs""#)[0].contains("not available yet"));
        assert!(errors(r#"trigger = "cron""#)[0].contains("use `trigger = \"schedule\"`"));
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
        assert_eq!(kinesis.links_from, LinksFrom::Data);
        assert_eq!(
            config(r#"trigger = "sns""#).unwrap().links_from,
            LinksFrom::Nowhere
        );
        assert_eq!(
            config(r#"trigger = "eventbridge""#).unwrap().links_from,
            LinksFrom::Nowhere
        );
        assert_eq!(
            config(r#"trigger = "sqs""#).unwrap().links_from,
            LinksFrom::AwsTraceHeader
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
