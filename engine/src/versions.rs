//! Release versions in templates, so a runbook can choose what differs between the releases it
//! supports: `config.global.ck8sVersion is version_at_least("v0.36")`,
//! `... is version_below("v0.20")`.
//!
//! A version is `v` (optional), then numbers separated by dots; anything after the numbers
//! (`-rc.1`, `-upcloud`) is a build of that release and compares as the release itself. Missing
//! parts are zero, so `v0.36` is `v0.36.0`. A value that is not a version is an error, never
//! false: a typo in a config must not silently choose the other branch.

use minijinja::{Error, ErrorKind};

/// `value is version_at_least("v0.36")`
pub fn version_at_least(value: &str, than: &str) -> Result<bool, Error> {
    Ok(parse(value)? >= parse(than)?)
}

/// `value is version_below("v0.20")`
pub fn version_below(value: &str, than: &str) -> Result<bool, Error> {
    Ok(parse(value)? < parse(than)?)
}

fn parse(text: &str) -> Result<[u64; 3], Error> {
    let invalid = || {
        Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "`{text}` is not a version (expected v<major>.<minor>[.<patch>], e.g. v0.38.1)"
            ),
        )
    };
    let digits = text.trim().strip_prefix('v').unwrap_or(text.trim());
    let numbers = digits.split(['-', '+']).next().unwrap_or_default();
    let mut parts = [0u64; 3];
    for (count, part) in numbers.split('.').enumerate() {
        let slot = parts.get_mut(count).ok_or_else(invalid)?;
        *slot = part.parse().map_err(|_| invalid())?;
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_compare_by_number_not_by_text() {
        assert!(version_at_least("v0.100.0", "v0.38").unwrap());
        assert!(version_below("v0.9.0", "v0.10").unwrap());
        assert!(version_at_least("v0.36.0", "v0.36").unwrap());
        assert!(!version_below("v0.36.0", "0.36").unwrap());
        assert!(version_below("v0.35.2", "v0.36").unwrap());
    }

    #[test]
    fn a_build_suffix_is_the_release_itself() {
        assert!(version_at_least("v0.21.1-upcloud", "v0.21.1").unwrap());
        assert!(version_below("v0.21.1-upcloud", "v0.21.2").unwrap());
    }

    #[test]
    fn text_that_is_not_a_version_is_an_error() {
        for bad in ["", "latest", "v0.x", "0.1.2.3", "set-me"] {
            let e = version_at_least(bad, "v0.1").unwrap_err();
            assert!(e.to_string().contains("is not a version"), "{bad}: {e}");
        }
    }
}
