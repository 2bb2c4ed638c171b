use crate::exit;

pub fn run() -> i32 {
    let schema = runbook_engine::schema::runbook_schema(&runbook_steps::registry());
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    );
    exit::OK
}
