//! The INI store (Compliant Kubernetes keeps `.state/s3cfg.ini` in it).
//!
//! sops parses INI with Go's `gopkg.in/ini.v1` at its default options, and the MAC covers the
//! values exactly as that parser returns them, so its rules are reproduced here: `=` or `:`
//! separates key and value, `#` or `;` anywhere in an unquoted value starts an inline comment,
//! surrounding quotes are dropped, `"""` and backquotes open multi-line values, a trailing `\`
//! continues a line, a repeated key keeps its first position and its last value, and keys
//! before the first section belong to the `DEFAULT` section.
//!
//! The metadata is the `[sops]` section, flattened: `age__list_0__map_enc = ...` is
//! `sops.age[0].enc`, with newlines written as `\n`.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::{IniSyntax, SopsError};
use super::store::{NumberModel, StoreDocument};

const DEFAULT_SECTION: &str = "DEFAULT";
const METADATA_SECTION: &str = "sops";

pub(crate) fn parse(text: &str, origin: &Path) -> Result<StoreDocument, SopsError> {
    let mut sections = parse_sections(text).map_err(|(line, syntax)| SopsError::Malformed {
        path: origin.to_path_buf(),
        format: "INI",
        location: Some((line as u64, 1)),
        message: syntax.to_string(),
    })?;

    let metadata = sections
        .shift_remove(METADATA_SECTION)
        .map(|section| metadata_from_flat_section(section, origin))
        .transpose()?;

    // ini.v1 always has a DEFAULT section; it only matters when keys were put in it.
    if sections
        .get(DEFAULT_SECTION)
        .is_some_and(|section| section.as_object().is_some_and(Map::is_empty))
    {
        sections.shift_remove(DEFAULT_SECTION);
    }

    Ok(StoreDocument {
        documents: vec![Value::Object(sections)],
        metadata,
        numbers: NumberModel::FloatsOnly,
    })
}

/// `{section: {key: "value"}}` in file order, DEFAULT first. Errors carry a 1-based line.
fn parse_sections(text: &str) -> Result<Map<String, Value>, (usize, IniSyntax)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut sections = Map::new();
    sections.insert(DEFAULT_SECTION.to_string(), Value::Object(Map::new()));
    let mut current = DEFAULT_SECTION.to_string();

    let mut index = 0;
    while index < lines.len() {
        let line_number = index + 1;
        let line = lines[index].trim_start();
        index += 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            let close = line
                .rfind(']')
                .ok_or((line_number, IniSyntax::UnclosedSectionHeader))?;
            let name = &line[1..close];
            if name.is_empty() {
                return Err((line_number, IniSyntax::EmptySectionName));
            }
            sections
                .entry(name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            current = name.to_string();
            continue;
        }

        let (key, value_start) = read_key_name(line).map_err(|message| (line_number, message))?;
        let value = read_value(&line[value_start..], &lines, &mut index)
            .map_err(|message| (line_number, message))?;
        if let Some(Value::Object(section)) = sections.get_mut(&current) {
            // ini.v1 keeps the first position of a repeated key and its last value.
            section.insert(key, Value::String(value));
        }
    }
    Ok(sections)
}

/// The key name and the byte offset where its value starts.
fn read_key_name(line: &str) -> Result<(String, usize), IniSyntax> {
    const DELIMITERS: &[char] = &['=', ':'];
    let quote = if line.starts_with("\"\"\"") && line.len() > 6 {
        Some("\"\"\"")
    } else if line.starts_with('"') {
        Some("\"")
    } else if line.starts_with('`') {
        Some("`")
    } else {
        None
    };
    if let Some(quote) = quote {
        let start = quote.len();
        let close = line[start..]
            .find(quote)
            .ok_or(IniSyntax::UnclosedKeyQuote)?
            + start;
        let delimiter = line[close + start..]
            .find(DELIMITERS)
            .ok_or(IniSyntax::NoDelimiter)?;
        return Ok((
            line[start..close].trim().to_string(),
            close + delimiter + start + 1,
        ));
    }
    match line.find(DELIMITERS) {
        None => Err(IniSyntax::NoDelimiter),
        Some(0) => Err(IniSyntax::EmptyKeyName),
        Some(end) => Ok((line[..end].trim().to_string(), end + 1)),
    }
}

/// ini.v1's `readValue` at default options. `next_line` is the index of the line after the
/// current one; multi-line values advance it.
fn read_value(raw: &str, lines: &[&str], next_line: &mut usize) -> Result<String, IniSyntax> {
    let line = raw.trim_start();
    if line.is_empty() {
        return Ok(String::new());
    }

    let quote = if line.len() > 3 && line.starts_with("\"\"\"") {
        Some("\"\"\"")
    } else if line.starts_with('`') {
        Some("`")
    } else {
        None
    };
    if let Some(quote) = quote {
        let body = &line[quote.len()..];
        if let Some(end) = body.rfind(quote) {
            return Ok(body[..end].to_string());
        }
        // The value continues on the next lines, up to the closing quote.
        let mut value = body.to_string();
        while *next_line < lines.len() {
            let next = lines[*next_line];
            *next_line += 1;
            if let Some(end) = next.rfind(quote) {
                value.push_str(&next[..end]);
                return Ok(value);
            }
            value.push_str(next);
        }
        return Err(IniSyntax::UnclosedValueQuote { quote });
    }

    let mut line = line.trim().to_string();
    if line.ends_with('\\') {
        line.pop();
        while *next_line < lines.len() {
            let next = lines[*next_line].trim();
            *next_line += 1;
            if next.is_empty() {
                break;
            }
            line.push_str(next);
            if !line.ends_with('\\') {
                break;
            }
            line.pop();
        }
        return Ok(line);
    }

    // Inline comment: ini.v1 cuts at the first `#` or `;`, even without a space before it.
    if let Some(comment) = line.find(['#', ';']) {
        line = line[..comment].trim().to_string();
    }
    for quote in ['\'', '"'] {
        if line.len() >= 2
            && line.starts_with(quote)
            && line.ends_with(quote)
            && line.matches(quote).count() == 2
        {
            return Ok(line[1..line.len() - 1].to_string());
        }
    }
    Ok(line)
}

/// Rebuilds the metadata tree from the `[sops]` section (sops' `stores.Unflatten`, plus the
/// typed fields that INI can only hold as strings).
fn metadata_from_flat_section(section: Value, origin: &Path) -> Result<Value, SopsError> {
    let Value::Object(flat) = section else {
        return Ok(Value::Object(Map::new()));
    };
    let mut tree = Value::Object(Map::new());
    for (flat_key, value) in flat {
        let value = match value {
            Value::String(text) => Value::String(text.replace("\\n", "\n")),
            other => other,
        };
        let value = match flat_key.as_str() {
            "mac_only_encrypted" => Value::Bool(value.as_str() == Some("true")),
            "shamir_threshold" => {
                let text = value.as_str().unwrap_or_default();
                let threshold: u64 =
                    text.trim()
                        .parse()
                        .map_err(|_| SopsError::MalformedMetadata {
                            path: origin.to_path_buf(),
                            message: "shamir_threshold is not an integer".to_string(),
                        })?;
                Value::from(threshold)
            }
            _ => value,
        };
        insert_flattened(&mut tree, &tokenize(&flat_key), value);
    }
    Ok(tree)
}

#[derive(Debug, PartialEq)]
enum Token {
    Key(String),
    Index(usize),
}

const MAP_SEPARATOR: &str = "__map_";
const LIST_SEPARATOR: &str = "__list_";

/// `age__list_0__map_enc` -> [Key(age), Index(0), Key(enc)].
fn tokenize(path: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = path;
    let mut next_is_index = false;
    loop {
        let next_map = rest.find(MAP_SEPARATOR);
        let next_list = rest.find(LIST_SEPARATOR);
        let (end, separator_is_list) = match (next_map, next_list) {
            (None, None) => (rest.len(), false),
            (Some(map), None) => (map, false),
            (None, Some(list)) => (list, true),
            (Some(map), Some(list)) if map < list => (map, false),
            (_, Some(list)) => (list, true),
        };
        let text = &rest[..end];
        tokens.push(if next_is_index {
            Token::Index(text.parse().unwrap_or(0))
        } else {
            Token::Key(text.to_string())
        });
        if end == rest.len() {
            return tokens;
        }
        let separator = if separator_is_list {
            LIST_SEPARATOR
        } else {
            MAP_SEPARATOR
        };
        rest = &rest[end + separator.len()..];
        next_is_index = separator_is_list;
    }
}

fn insert_flattened(node: &mut Value, tokens: &[Token], value: Value) {
    let Some((first, rest)) = tokens.split_first() else {
        *node = value;
        return;
    };
    let empty_container = || match rest.first() {
        Some(Token::Index(_)) => Value::Array(Vec::new()),
        _ => Value::Object(Map::new()),
    };
    match first {
        Token::Key(key) => {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            if let Value::Object(map) = node {
                let child = map.entry(key.clone()).or_insert_with(empty_container);
                insert_flattened(child, rest, value);
            }
        }
        Token::Index(position) => {
            if !node.is_array() {
                *node = Value::Array(Vec::new());
            }
            if let Value::Array(list) = node {
                if list.len() <= *position {
                    list.resize(*position + 1, Value::Null);
                }
                if list[*position].is_null() && !rest.is_empty() {
                    list[*position] = empty_container();
                }
                insert_flattened(&mut list[*position], rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_flattened_metadata_keys() {
        assert_eq!(
            tokenize("key_groups__list_1__map_pgp__list_0__map_fp"),
            vec![
                Token::Key("key_groups".into()),
                Token::Index(1),
                Token::Key("pgp".into()),
                Token::Index(0),
                Token::Key("fp".into()),
            ]
        );
        assert_eq!(tokenize("mac"), vec![Token::Key("mac".into())]);
    }

    #[test]
    fn reads_values_like_ini_v1() {
        let text = "top = level\n[s]\na = 1 ; note\nb=\"quoted\"\nc: colon\n\
                    d = \"\"\"multi\nline\"\"\"\ne = cont\\\n  inued\nb = again\n[s]\nf = x#y\n";
        let sections = parse_sections(text).unwrap();
        assert_eq!(
            Value::Object(sections),
            serde_json::json!({
                "DEFAULT": {"top": "level"},
                "s": {"a": "1", "b": "again", "c": "colon", "d": "multi\nline",
                      "e": "continued", "f": "x"}
            })
        );
    }

    #[test]
    fn a_line_without_delimiter_is_an_error_with_its_line() {
        assert_eq!(
            parse_sections("[s]\nok = 1\nbroken\n")
                .map_err(|(line, syntax)| (line, syntax.to_string()))
                .unwrap_err(),
            (3, "key-value delimiter (= or :) not found".to_string())
        );
    }
}
