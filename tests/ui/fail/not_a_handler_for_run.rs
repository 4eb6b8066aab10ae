async fn not_a_handler(_x: u32, _y: u32) -> Result<(), otel_faas_runtime::Error> {
    Ok(())
}

fn main() {
    drop(otel_faas_runtime::lambda::run(not_a_handler));
}
