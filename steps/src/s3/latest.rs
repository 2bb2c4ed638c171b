//! `s3.latest`: the newest object, or common prefix, under a prefix: by modification time or by
//! name (e.g. the 14-digit `YYYYmmddHHMMSS` folders of InfluxDB backups, or epoch-named dumps).

use std::collections::BTreeMap;

use async_trait::async_trait;
use regex::Regex;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::connect;
use super::list::{ObjectInfo, list_all};

pub struct Latest;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatestInput {
    /// The `s3` connection to use.
    pub connection: String,
    pub bucket: String,
    /// Look only under this prefix (e.g. `backups/`).
    #[serde(default)]
    pub prefix: String,
    /// A regular expression the name (the part after `prefix`, without a trailing `/`) must match
    /// in full, e.g. `[0-9]{14}` for InfluxDB backup folders.
    pub pattern: Option<String>,
    /// `time` (newest modification; for a prefix, its newest object) or `name` (greatest name;
    /// numbers of different lengths compare as numbers).
    #[serde(default)]
    pub by: By,
    /// Pick among the folders (common prefixes by `/`) directly under `prefix`, not the objects.
    #[serde(default)]
    pub prefixes: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum By {
    #[default]
    Time,
    Name,
}

/// A candidate: an object, or a folder with its newest object's time and total size.
struct Candidate {
    key: String,
    name: String,
    millis: i64,
    last_modified: String,
    size: u64,
    objects: u64,
}

#[async_trait]
impl Kind for Latest {
    type Input = LatestInput;
    fn name(&self) -> &'static str {
        "s3.latest"
    }
    fn about(&self) -> &'static str {
        "The newest object (or, with `prefixes: true`, folder) under a prefix, by time or by name, optionally matching a pattern. Outputs key, name, last_modified, size."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["key", "name", "last_modified", "size"]
    }
    fn check(&self, input: &LatestInput) -> Vec<String> {
        match &input.pattern {
            Some(p) if !p.contains("{{") => match Regex::new(&format!("^(?:{p})$")) {
                Err(e) => vec![format!("`pattern` is not a valid regular expression: {e}")],
                Ok(_) => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
    fn idempotent(&self, _input: &LatestInput) -> bool {
        true
    }
    fn describe(&self, input: &LatestInput) -> String {
        let what = if input.prefixes { "folder" } else { "object" };
        format!(
            "find the newest {what} in {}",
            super::describe_place(&input.connection, &input.bucket, None, &input.prefix)
        )
    }
    async fn run(&self, ctx: &StepContext, input: LatestInput) -> Result<Value, StepError> {
        let pattern = match &input.pattern {
            Some(p) => Some(Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                StepError::permanent(format!("`pattern` is not a valid regular expression: {e}"))
            })?),
            None => None,
        };
        let s3 = connect(ctx, &input.connection)?;
        // Folders by time need their objects' times, so list everything below the prefix.
        let (objects, _) = list_all(&s3, &input.bucket, &input.prefix, None).await?;
        let candidates = if input.prefixes {
            folders(&input.prefix, &objects)
        } else {
            plain(&input.prefix, &objects)
        };
        let total = candidates.len();
        let matching: Vec<Candidate> = candidates
            .into_iter()
            .filter(|c| pattern.as_ref().is_none_or(|p| p.is_match(&c.name)))
            .collect();
        let best = match input.by {
            By::Time => matching.into_iter().max_by(|a, b| {
                a.millis
                    .cmp(&b.millis)
                    .then_with(|| by_name(&a.name, &b.name))
            }),
            By::Name => matching
                .into_iter()
                .max_by(|a, b| by_name(&a.name, &b.name)),
        };
        let Some(best) = best else {
            let what = if input.prefixes { "folder" } else { "object" };
            let filter = input
                .pattern
                .as_ref()
                .map(|p| format!(" matching `{p}`"))
                .unwrap_or_default();
            return Err(StepError::permanent(format!(
                "no {what}{filter} under s3://{}/{} ({total} {what}s there); check the bucket, prefix and pattern",
                input.bucket, input.prefix
            )));
        };
        Ok(json!({
            "key": best.key, "name": best.name, "last_modified": best.last_modified,
            "size": best.size, "objects": best.objects, "candidates": total,
        }))
    }
}

fn plain(prefix: &str, objects: &[ObjectInfo]) -> Vec<Candidate> {
    objects
        .iter()
        .filter(|o| !o.key.ends_with('/'))
        .map(|o| Candidate {
            key: o.key.clone(),
            name: o.key[prefix.len()..].to_string(),
            millis: o.modified_millis,
            last_modified: o.last_modified.clone(),
            size: o.size,
            objects: 1,
        })
        .collect()
}

fn folders(prefix: &str, objects: &[ObjectInfo]) -> Vec<Candidate> {
    let mut by_folder: BTreeMap<String, Candidate> = BTreeMap::new();
    for object in objects {
        let rest = &object.key[prefix.len()..];
        let Some((folder, _)) = rest.split_once('/') else {
            continue;
        };
        let entry = by_folder
            .entry(folder.to_string())
            .or_insert_with(|| Candidate {
                key: format!("{prefix}{folder}/"),
                name: folder.to_string(),
                millis: i64::MIN,
                last_modified: String::new(),
                size: 0,
                objects: 0,
            });
        entry.size += object.size;
        entry.objects += 1;
        if object.modified_millis > entry.millis {
            entry.millis = object.modified_millis;
            entry.last_modified = object.last_modified.clone();
        }
    }
    by_folder.into_values().collect()
}

/// Names compare as numbers when both are all digits (epoch seconds grow a digit now and then),
/// otherwise as text.
fn by_name(a: &str, b: &str) -> std::cmp::Ordering {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if digits(a) && digits(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_names_compare_as_numbers() {
        assert_eq!(by_name("999", "1000"), std::cmp::Ordering::Less);
        assert_eq!(
            by_name("20261123000000", "20261122235959"),
            std::cmp::Ordering::Greater
        );
        assert_eq!(by_name("b", "a"), std::cmp::Ordering::Greater);
    }
}
