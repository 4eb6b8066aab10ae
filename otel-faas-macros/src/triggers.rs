//! THE trigger table: everything the macro knows about a trigger, one row per trigger.
//!
//! A row says the trigger's name, the platforms it exists on and the `__private` module its
//! expansion calls on each, the options it accepts besides the ones every trigger takes,
//! its `links_from` values and default, the trigger to use in its place on the other
//! platform, and the names people write for it. `valid.rs`, `provider.rs` and `expand.rs`
//! read only this table, so adding a trigger is one row here (plus its runtime file).
//!
//! The event types a trigger accepts are not listed here: the macro never guesses a type.
//! Each `__private::<module>::instrument` bounds the event by the trigger's input trait
//! (`SqsEventInput`, …), whose `#[diagnostic::on_unimplemented]` message is what a user
//! sees on a wrong event type; the one type the macro reads, `AzureEvent<…>`, only picks
//! the platform of a trigger that has two (see `provider.rs`).

/// A platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provider {
    Aws,
    Azure,
}

impl Provider {
    /// The `provider = "…"` value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
        }
    }

    /// The platform's name in prose.
    pub(crate) fn platform(self) -> &'static str {
        match self {
            Provider::Aws => "AWS Lambda",
            Provider::Azure => "Azure Functions",
        }
    }
}

/// The `__private` modules a trigger's expansion calls on one platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Glue {
    /// The module whose `instrument` traces the handler of the whole event.
    pub(crate) module: &'static str,
    /// The module whose `read_outcome` reads the handler's return value, when the trigger
    /// reads more than errors (partial batch failures); `None`: the shared reader.
    pub(crate) reader: Option<&'static str>,
    /// The module of `per_message`/`per_record` mode, when the trigger has it.
    pub(crate) per_record: Option<&'static str>,
}

impl Glue {
    /// Glue with only a module for the whole event.
    const fn plain(module: &'static str) -> Glue {
        Glue {
            module,
            reader: None,
            per_record: None,
        }
    }
}

/// One trigger; see the module documentation.
#[derive(Debug)]
pub(crate) struct Row {
    /// The `trigger = "…"` value.
    pub(crate) name: &'static str,
    /// The platforms it exists on, each with its glue; the first is its home platform.
    pub(crate) platforms: &'static [(Provider, Glue)],
    /// The options it accepts besides [`UNIVERSAL_OPTIONS`].
    pub(crate) options: &'static [&'static str],
    /// Its `links_from` values, each with the runtime's `LinksFrom` variant it selects.
    pub(crate) links_from: &'static [(&'static str, &'static str)],
    /// The runtime's `LinksFrom` variant without `links_from`.
    pub(crate) default_links_from: &'static str,
    /// What to use in its place on the platform it does not exist on, when there is a
    /// closest match; `None`: the list of that platform's triggers.
    pub(crate) elsewhere: Option<&'static str>,
    /// Other names people write for it (`trigger = "api_gateway"`), lower case.
    pub(crate) aliases: &'static [&'static str],
}

/// Every option, in the order the error messages list them.
pub(crate) const OPTIONS: &[&str] = &[
    "trigger",
    "name",
    "per_message",
    "per_record",
    "links_from",
    "parent_from",
    "cron",
    "provider",
];

/// The options every trigger accepts.
pub(crate) const UNIVERSAL_OPTIONS: &[&str] = &["trigger", "name", "provider"];

/// `links_from` without a value for this trigger: the runtime reads no links.
const NOWHERE: &str = "Nowhere";

/// The table. Its order is the order in which messages list the triggers.
pub(crate) const TRIGGERS: &[Row] = &[
    Row {
        name: "http",
        platforms: &[
            (Provider::Aws, Glue::plain("http")),
            (Provider::Azure, Glue::plain("azure_http")),
        ],
        options: &[],
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: None,
        aliases: &[
            "api_gateway",
            "apigateway",
            "apigw",
            "api_gateway_v2",
            "rest",
            "alb",
            "function_url",
            "lambda_url",
            "url",
            "https",
        ],
    },
    Row {
        name: "sqs",
        platforms: &[(
            Provider::Aws,
            Glue {
                module: "sqs",
                reader: Some("sqs"),
                per_record: Some("sqs_message"),
            },
        )],
        options: &["per_message", "links_from"],
        links_from: &[
            ("aws_trace_header", "AwsTraceHeader"),
            ("message_attributes", "MessageAttributes"),
            ("both", "Both"),
        ],
        // The system attribute the semantic conventions name for SQS.
        default_links_from: "AwsTraceHeader",
        elsewhere: Some("`queue` (Storage queues) or `service_bus`"),
        aliases: &["aws_sqs"],
    },
    Row {
        name: "sns",
        platforms: &[(Provider::Aws, Glue::plain("sns"))],
        options: &[],
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: Some("`service_bus`"),
        aliases: &["topic", "aws_sns"],
    },
    Row {
        name: "eventbridge",
        platforms: &[(Provider::Aws, Glue::plain("eventbridge"))],
        options: &["links_from", "parent_from"],
        links_from: &[("detail", "Detail")],
        default_links_from: NOWHERE,
        elsewhere: None,
        aliases: &["event_bridge", "events", "cloudwatch_events"],
    },
    Row {
        name: "schedule",
        platforms: &[(Provider::Aws, Glue::plain("schedule"))],
        options: &["cron"],
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: Some("`timer`"),
        aliases: &["cron", "scheduled", "scheduler", "rate"],
    },
    Row {
        name: "s3",
        platforms: &[(
            Provider::Aws,
            Glue {
                module: "s3",
                reader: None,
                per_record: Some("s3_record"),
            },
        )],
        options: &["per_record"],
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: None,
        aliases: &["s3_event", "bucket"],
    },
    Row {
        name: "dynamodb",
        platforms: &[(
            Provider::Aws,
            Glue {
                module: "dynamodb",
                reader: Some("dynamodb"),
                per_record: Some("dynamodb_record"),
            },
        )],
        options: &["per_record"],
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: None,
        aliases: &["dynamo", "ddb", "dynamodb_stream", "dynamodb_streams"],
    },
    Row {
        name: "kinesis",
        platforms: &[(
            Provider::Aws,
            Glue {
                module: "kinesis",
                reader: Some("kinesis"),
                per_record: Some("kinesis_record"),
            },
        )],
        options: &["per_record", "links_from"],
        links_from: &[("data", "Data")],
        default_links_from: NOWHERE,
        elsewhere: Some("`event_hubs`"),
        aliases: &["kinesis_stream", "stream"],
    },
    Row {
        name: "kafka",
        platforms: &[(
            Provider::Aws,
            Glue {
                module: "kafka",
                reader: None,
                per_record: Some("kafka_record"),
            },
        )],
        options: &["per_record"],
        // Links always come from the records' `traceparent` headers, Kafka's own carrier.
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: Some("`event_hubs`"),
        aliases: &[
            "msk",
            "amazon_msk",
            "self_managed_kafka",
            "selfmanagedkafka",
            "apache_kafka",
        ],
    },
    Row {
        name: "other",
        platforms: &[(Provider::Aws, Glue::plain("other"))],
        options: &[],
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: None,
        aliases: &["direct", "invoke", "custom", "raw"],
    },
    Row {
        name: "queue",
        platforms: &[(Provider::Azure, Glue::plain("azure_queue"))],
        options: &[],
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: Some("`sqs`"),
        aliases: &["storage_queue", "azure_queue"],
    },
    Row {
        name: "service_bus",
        platforms: &[(Provider::Azure, Glue::plain("azure_service_bus"))],
        options: &[],
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: Some("`sqs` or `sns`"),
        aliases: &["servicebus", "azure_service_bus"],
    },
    Row {
        name: "event_hubs",
        platforms: &[(Provider::Azure, Glue::plain("azure_event_hubs"))],
        options: &[],
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: Some("`kinesis`"),
        aliases: &["eventhubs", "event_hub", "eventhub"],
    },
    Row {
        name: "timer",
        platforms: &[(Provider::Azure, Glue::plain("azure_timer"))],
        options: &[],
        links_from: &[],
        default_links_from: NOWHERE,
        elsewhere: Some("`schedule`"),
        aliases: &["timer_trigger"],
    },
];

/// A trigger: a row of [`TRIGGERS`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trigger(&'static Row);

impl PartialEq for Trigger {
    fn eq(&self, other: &Trigger) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Trigger {}

impl Trigger {
    /// Every trigger, in table order.
    pub(crate) fn all() -> impl Iterator<Item = Trigger> {
        TRIGGERS.iter().map(Trigger)
    }

    /// The trigger named `name` exactly.
    pub(crate) fn named(name: &str) -> Option<Trigger> {
        Trigger::all().find(|t| t.name() == name)
    }

    /// The trigger an alias stands for (`api_gateway` → `http`).
    pub(crate) fn aliased(alias: &str) -> Option<Trigger> {
        Trigger::all().find(|t| t.0.aliases.contains(&alias))
    }

    /// The `trigger = "…"` value.
    pub(crate) fn name(self) -> &'static str {
        self.0.name
    }

    /// The platforms it exists on, its home platform first.
    pub(crate) fn platforms(self) -> impl Iterator<Item = Provider> {
        self.0.platforms.iter().map(|(provider, _)| *provider)
    }

    /// Whether it exists on `provider`.
    pub(crate) fn is_on(self, provider: Provider) -> bool {
        self.platforms().any(|p| p == provider)
    }

    /// Its glue on `provider`, or on its home platform when it does not exist there (the
    /// provider check has reported that already).
    pub(crate) fn glue(self, provider: Provider) -> Glue {
        self.0
            .platforms
            .iter()
            .find(|(p, _)| *p == provider)
            .unwrap_or(&self.0.platforms[0])
            .1
    }

    /// Whether it accepts `option`.
    pub(crate) fn accepts(self, option: &str) -> bool {
        UNIVERSAL_OPTIONS.contains(&option) || self.0.options.contains(&option)
    }

    /// Its `links_from` values and the runtime variant each selects.
    pub(crate) fn links_from(self) -> &'static [(&'static str, &'static str)] {
        self.0.links_from
    }

    /// The runtime's `LinksFrom` variant without `links_from`.
    pub(crate) fn default_links_from(self) -> &'static str {
        self.0.default_links_from
    }

    /// What to use in its place on `provider`: its closest match there, else the list of
    /// `provider`'s triggers.
    pub(crate) fn elsewhere(self, provider: Provider) -> String {
        if let Some(closest) = self.0.elsewhere {
            return closest.to_owned();
        }
        let there: Vec<String> = Trigger::all()
            .filter(|t| t.is_on(provider))
            .map(|t| format!("`{}`", t.name()))
            .collect();
        format!("one of {}", there.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for row in TRIGGERS {
            assert!(seen.insert(row.name), "{} twice", row.name);
        }
        for row in TRIGGERS {
            for alias in row.aliases {
                assert!(seen.insert(alias), "{alias} is a name or another alias");
                assert_eq!(*alias, alias.to_ascii_lowercase());
            }
        }
    }

    #[test]
    fn every_row_is_consistent_with_itself() {
        for row in TRIGGERS {
            let trigger = Trigger(row);
            assert!(!row.platforms.is_empty(), "{}", row.name);
            for option in row.options {
                assert!(OPTIONS.contains(option), "{}: {option}", row.name);
                assert!(
                    !UNIVERSAL_OPTIONS.contains(option),
                    "{}: {option}",
                    row.name
                );
            }
            let per_record = trigger.accepts("per_record") || trigger.accepts("per_message");
            for (_, glue) in row.platforms {
                assert_eq!(per_record, glue.per_record.is_some(), "{}", row.name);
            }
            assert_eq!(
                trigger.accepts("links_from"),
                !row.links_from.is_empty(),
                "{}",
                row.name
            );
            let single_platform = row.platforms.len() == 1;
            assert!(
                single_platform || row.elsewhere.is_none(),
                "{}: a trigger of both platforms needs no stand-in",
                row.name
            );
        }
    }

    #[test]
    fn a_trigger_of_one_platform_names_the_other_platform_s_triggers() {
        let other = Trigger::named("other").unwrap();
        assert_eq!(
            other.elsewhere(Provider::Azure),
            "one of `http`, `queue`, `service_bus`, `event_hubs`, `timer`"
        );
        assert_eq!(Trigger::aliased("apigw"), Trigger::named("http"));
    }
}
