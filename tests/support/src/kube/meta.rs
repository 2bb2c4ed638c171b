//! Object metadata helpers: timestamps, uids, generated names, and small JSON accessors.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Now as `metav1.Time` serialises it: RFC 3339, UTC, whole seconds (`2026-11-22T00:00:00Z`).
pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    now.format(&Rfc3339).unwrap_or_default()
}

/// A timestamp `seconds` from now, in the same format.
pub fn rfc3339_in(seconds: i64) -> String {
    let t = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        + time::Duration::seconds(seconds);
    t.format(&Rfc3339).unwrap_or_default()
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// A pseudo-random 64-bit value: unique per call within the process, varied across runs.
fn next_random() -> u64 {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos ^ u64::from(std::process::id());
    // splitmix64 finaliser
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A version-4-shaped UUID, as the apiserver assigns to `metadata.uid`.
pub fn new_uid() -> String {
    let a = next_random();
    let b = next_random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// The 5-character suffix `generateName` gets (the apiserver's alphabet avoids vowels and
/// look-alike digits).
pub fn random_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = next_random();
    (0..len)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x /= ALPHABET.len() as u64;
            if x == 0 {
                x = next_random();
            }
            c
        })
        .collect()
}

/// `metadata.name` or "".
pub fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

/// `metadata.namespace` or "".
pub fn namespace_of(obj: &Value) -> &str {
    obj["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// `metadata.uid` or "".
pub fn uid_of(obj: &Value) -> &str {
    obj["metadata"]["uid"].as_str().unwrap_or_default()
}

/// `metadata.labels[key]`.
pub fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj["metadata"]["labels"].get(key).and_then(Value::as_str)
}

/// `metadata.finalizers` as strings.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect()
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_terminating(obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_string()
}

/// Removes one finalizer; returns whether it was present.
pub fn remove_finalizer(obj: &mut Value, finalizer: &str) -> bool {
    let Some(list) = obj["metadata"]["finalizers"].as_array_mut() else {
        return false;
    };
    let before = list.len();
    list.retain(|f| f.as_str() != Some(finalizer));
    let removed = list.len() != before;
    if list.is_empty()
        && let Some(m) = obj["metadata"].as_object_mut()
    {
        m.remove("finalizers");
    }
    removed
}

/// Adds a finalizer if absent.
pub fn add_finalizer(obj: &mut Value, finalizer: &str) {
    if finalizers(obj).iter().any(|f| f == finalizer) {
        return;
    }
    match obj["metadata"]["finalizers"].as_array_mut() {
        Some(list) => list.push(Value::String(finalizer.to_string())),
        None => obj["metadata"]["finalizers"] = serde_json::json!([finalizer]),
    }
}

/// The uids this object's `ownerReferences` point at.
pub fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str().map(str::to_string))
        .collect()
}
