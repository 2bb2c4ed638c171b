//! Reading the files an operator names (runbooks and what they include, params, vars, secrets,
//! config, manifests): bounded in size, so `--params /dev/zero` is an error rather than a machine
//! out of memory, and text that is not UTF-8 refused at the line and column of its first bad byte.

use std::io::Read;
use std::path::Path;

pub use crate::error::InputFileError;

/// The largest input file read: far above any runbook, config or secrets file, far below what
/// would hurt a laptop.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;

impl InputFileError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputFileError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The file's bytes, at most [`MAX_BYTES`] of them.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, InputFileError> {
    let read = |source| InputFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(InputFileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

/// The file as UTF-8 text, at most [`MAX_BYTES`].
pub fn read_text(path: &Path) -> Result<String, InputFileError> {
    String::from_utf8(read_bytes(path)?).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let (line, column) = position(&bytes[..valid]);
        InputFileError::NotUtf8 {
            path: path.to_path_buf(),
            line,
            column,
            byte: bytes[valid],
        }
    })
}

/// Line and column (both from 1, the column in characters) just after `before`.
fn position(before: &[u8]) -> (usize, usize) {
    let text = std::str::from_utf8(before).expect("the valid prefix");
    let line = text.matches('\n').count() + 1;
    let column = text.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_byte_is_found_at_its_line_and_column() {
        let path = std::env::temp_dir().join(format!("runbook-utf8-{}.yaml", std::process::id()));
        std::fs::write(&path, b"name: x\nsteps: \xc3\xa9t\xe9\n").unwrap();
        let read = read_text(&path);
        std::fs::remove_file(&path).unwrap();
        match read {
            Err(InputFileError::NotUtf8 {
                line, column, byte, ..
            }) => assert_eq!((line, column, byte), (2, 10, 0xe9)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_endless_file_stops_at_the_limit() {
        match read_text(Path::new("/dev/zero")) {
            Err(InputFileError::TooLarge { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
