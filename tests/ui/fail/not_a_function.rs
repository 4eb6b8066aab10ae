use otel_faas_runtime::traced_function;

#[traced_function(trigger = "sqs")]
struct Handler;

fn main() {}
