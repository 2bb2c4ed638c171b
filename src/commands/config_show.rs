//! `runbook config show`: what an operator runs when a restore reads the wrong bucket.

use runbook_engine::redact::MASK;
use runbook_inputs::{Cluster, ClusterConfig};
use serde_json::{Value, json};

use super::input_error;
use crate::args::{InputArgs, OutputFormat};
use crate::exit;
use crate::ui::json::emit;

pub fn run(args: &InputArgs, output: OutputFormat) -> i32 {
    let Some(dir) = &args.config_dir else {
        return input_error(
            "config show needs --config-dir DIR (or CK8S_CONFIG_PATH) and --cluster sc|wc",
            output,
        );
    };
    let cluster: Cluster = match args.cluster.as_deref().unwrap_or("sc").parse() {
        Ok(c) => c,
        Err(e) => return input_error(&format!("--cluster: {e}"), output),
    };
    let config = match ClusterConfig::load(dir, cluster) {
        Ok(c) => c,
        Err(e) => return input_error(&e, output),
    };
    let loaded = match crate::inputs::load(args, None) {
        Ok(l) => l,
        Err(e) => return input_error(&e, output),
    };
    let relative = |p: &std::path::Path| p.strip_prefix(dir).unwrap_or(p).display().to_string();
    let secret_keys = loaded
        .inputs
        .secrets
        .as_ref()
        .map(leaf_paths)
        .unwrap_or_default();
    match output {
        OutputFormat::Json => {
            for (key, value, origin) in config.leaves() {
                emit(&json!({"key": key, "value": value, "file": relative(origin)}));
            }
            for key in &secret_keys {
                emit(&json!({"secret": key, "value": MASK}));
            }
        }
        OutputFormat::Human => {
            println!(
                "Config for cluster {} in {} (merged, later files win):",
                cluster.as_str(),
                dir.display()
            );
            println!(
                "  looked in: {}",
                config
                    .files_looked_in()
                    .iter()
                    .map(|f| relative(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let width = config
                .leaves()
                .map(|(k, _, _)| k.len())
                .max()
                .unwrap_or(0)
                .min(60);
            for (key, value, origin) in config.leaves() {
                println!("  {key:<width$} = {:<40} # {}", value, relative(origin));
            }
            if !secret_keys.is_empty() {
                println!("\nSecrets ({} values, masked):", secret_keys.len());
                for key in &secret_keys {
                    println!("  {key} = {MASK}");
                }
            }
        }
    }
    exit::OK
}

/// Dotted paths of every leaf, in document order.
fn leaf_paths(value: &Value) -> Vec<String> {
    fn walk(value: &Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    walk(
                        v,
                        &if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        },
                        out,
                    );
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out
}
